"""Rich terminal tables: data on stdout, diagnostics on a stderr console."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from costops.render.columns import Column, display

stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def rich_table(
    title: str,
    columns: list[Column],
    rows: list[dict[str, Any]],
    totals: dict[str, Any] | None = None,
    highlight_key: str | None = None,
    caption: str | None = None,
) -> Table:
    table = Table(title=title, caption=caption, title_justify="left", caption_justify="left")
    for column in columns:
        table.add_column(column.header, justify="left" if column.kind == "text" else "right")
    for row in rows:
        style = "bold" if highlight_key and row.get(highlight_key) else None
        table.add_row(*(display(row.get(c.key), c.kind) for c in columns), style=style)
    if totals is not None:
        table.add_section()
        table.add_row(*(display(totals.get(c.key), c.kind) for c in columns), style="italic")
    return table
