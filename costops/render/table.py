"""Rich terminal tables: data on stdout, diagnostics on a stderr console."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from costops.render.columns import Column
from costops.render.safe import cell, plain, plain_lines


class _Diagnostics(Console):
    """stderr: messages quote data (paths, model names, reasons), so text is printed plain: never
    read as markup or emoji codes, control characters shown (costops.render.safe)."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        kwargs["markup"] = False
        super().print(*(plain_lines(o) if isinstance(o, str) else o for o in objects), **kwargs)


stderr = _Diagnostics(stderr=True, highlight=False, soft_wrap=True, emoji=False)


def rich_table(
    title: str,
    columns: list[Column],
    rows: list[dict[str, Any]],
    totals: dict[str, Any] | None = None,
    highlight_key: str | None = None,
    caption: str | None = None,
) -> Table:
    """A table whose title, caption, headers and cells are plain text (data is never markup)."""
    table = Table(
        # A Text title is not styled by the table: give it the style a str title would get.
        title=Text(plain(title), style="table.title"),
        caption=Text(plain_lines(caption), style="table.caption") if caption else None,
        title_justify="left",
        caption_justify="left",
    )
    for column in columns:
        table.add_column(cell(column.header), justify="left" if column.kind == "text" else "right")
    for row in rows:
        style = "bold" if highlight_key and row.get(highlight_key) else None
        table.add_row(*(cell(c.cell(row)) for c in columns), style=style)
    if totals is not None:
        table.add_section()
        table.add_row(*(cell(c.cell(totals)) for c in columns), style="italic")
    return table
