"""One result type for every command that prints a table, and one `render` for every format.

A Result is sections of columns and rows (the first section, `rows`, is the main one: its rows
and totals are the JSON envelope's top-level `rows` and `totals`, and what CSV and Parquet
hold), meta (group_by, currency, cost_basis, tz, since, until, …) and notes (assumptions, shown
under the tables). Each format is one writer in WRITERS.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table

from costops.analysis.filters import Filters
from costops.render.columns import Column
from costops.render.safe import csv_text, json_text, markdown_cell
from costops.render.table import rich_table


@dataclass
class Section:
    key: str  # its name in the JSON envelope; the main section is "rows"
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    totals: dict[str, Any] | None = None  # shown as the table's last row, labelled "total"
    highlight: str | None = None  # a boolean key whose rows are shown bold
    caption: str = ""
    show_totals: bool = True  # False: totals (counts) only in the machine formats


@dataclass
class Result:
    meta: dict[str, Any]  # first in the JSON envelope: what the numbers are (never a path/clock)
    sections: list[Section]  # in the order shown; exactly one has key "rows"
    notes: list[str] = field(default_factory=list)  # lines under the tables
    csv_keys: list[str] | None = None  # the main section's CSV/Parquet columns (default: shown)
    layout: str = "fit"  # table: fit (drop columns to fit the width) | wide | compact

    @property
    def main(self) -> Section:
        return next(s for s in self.sections if s.key == "rows")

    def keys(self) -> list[str]:
        return self.csv_keys or [c.key for c in self.main.columns]


def scope_meta(group_by: list[str], filters: Filters) -> dict[str, Any]:
    """What every analysis' JSON says about its scope (never a path or a clock)."""
    return {"group_by": group_by, "currency": "USD", "tz": filters.tz, "since": filters.since,
            "until": filters.until, "where": [list(w) for w in filters.where]}  # fmt: skip


@dataclass
class ParquetRows:
    """Rows to be written as a Parquet file (`-o FILE.parquet`): not printable."""

    rows: list[dict[str, Any]]
    keys: list[str]

    def write(self, path: Path) -> None:
        import polars as pl

        columns = {k: [_plain(r.get(k)) for r in self.rows] for k in self.keys}
        pl.DataFrame(columns, strict=False).write_parquet(path)


Rendered = str | RenderableType | ParquetRows


def render(result: Result, fmt: str) -> Rendered:
    """`result` in format `fmt`: text for json/csv/markdown, a rich renderable for table,
    ParquetRows for parquet."""
    return WRITERS[fmt](result)


def envelope(result: Result) -> dict[str, Any]:
    """The JSON shape every command shares: meta, then `totals` and `rows`, then the other
    sections by key."""
    main = result.main
    out = {**result.meta, "totals": main.totals if main.totals is not None else {}}
    out["rows"] = main.rows
    out.update({s.key: s.rows for s in result.sections if s.key != "rows"})
    return out


def _json(result: Result) -> str:
    return json_text(json.dumps(_clean(envelope(result)), indent=2, ensure_ascii=False)) + "\n"


def _csv(result: Result) -> str:
    out = io.StringIO()
    keys = result.keys()
    writer = csv.DictWriter(out, fieldnames=keys, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in result.main.rows:
        writer.writerow({k: _csv_value(row.get(k)) for k in keys})
    return out.getvalue()


def _parquet(result: Result) -> ParquetRows:
    return ParquetRows(result.main.rows, result.keys())


def _markdown(result: Result) -> str:
    tables = [_markdown_table(s) for s in result.sections]
    notes = "".join(f"- {markdown_cell(line)}\n" for line in result.notes)
    return "\n".join(tables) + ("\n" + notes if notes else "")


def _markdown_table(section: Section) -> str:
    columns = section.columns
    lines = [
        "| " + " | ".join(markdown_cell(c.header) for c in columns) + " |",
        "| " + " | ".join("---:" if c.kind != "text" else "---" for c in columns) + " |",
    ]
    for row in [*section.rows, *([_labelled(section)] if _shows_totals(section) else [])]:
        cells = [markdown_cell(c.cell(row)) for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


COMPACT_PRIORITY = 2  # --compact keeps the columns of this priority and above


def _table(result: Result) -> RenderableType:
    return FittedTables(result)


class FittedTables:
    """The sections as tables that fit the width they are printed in: a narrow terminal drops
    the least important columns (Column.priority) rather than cutting cells short; `wide`
    keeps every column, `compact` only the important ones."""

    def __init__(self, result: Result):
        self.result = result

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        sections = self.result.sections
        for i, section in enumerate(sections):
            caption = section.caption
            if i == len(sections) - 1 and self.result.notes:
                caption = "\n".join([*([caption] if caption else []), *self.result.notes])
            columns = section.columns
            if self.result.layout == "compact":
                columns = [c for c in columns if c.priority <= COMPACT_PRIORITY]
            table = self._table(section, columns, caption)
            fit = self.result.layout != "wide"
            hidden: list[str] = []
            while fit and _width(console, options, table) > options.max_width:
                droppable = [c for c in columns if c.priority > 0]
                if not droppable:
                    break
                dropped = max(reversed(droppable), key=lambda c: c.priority)  # rightmost first
                columns = [c for c in columns if c is not dropped]
                hidden.append(dropped.header)
                note = f"hidden to fit the width: {', '.join(hidden)} (-f csv or json has them)"
                table = self._table(section, columns, "\n".join(filter(None, [caption, note])))
            yield table

    @staticmethod
    def _table(section: Section, columns: list[Column], caption: str) -> Table:
        totals = _labelled(section) if _shows_totals(section) else None
        return rich_table(section.title, columns, section.rows, totals, section.highlight,
                          caption or None)  # fmt: skip


def _width(console: Console, options: ConsoleOptions, table: Table) -> int:
    """The width a table takes when nothing in it is cut short."""
    return Measurement.get(console, options.update(width=10_000), table).maximum


def _shows_totals(section: Section) -> bool:
    return section.show_totals and section.totals is not None


def _labelled(section: Section) -> dict[str, Any]:
    """The totals row as shown: "total" in the first text column that is not a total itself,
    the other such columns blank."""
    totals = dict(section.totals or {})
    labels = [c.key for c in section.columns if c.kind == "text" and c.key not in totals]
    return {**totals, **dict.fromkeys(labels, ""), **{key: "total" for key in labels[:1]}}


WRITERS: dict[str, Callable[[Result], Rendered]] = {
    "table": _table,
    "json": _json,
    "csv": _csv,
    "markdown": _markdown,
    "parquet": _parquet,
}


def _csv_value(value: Any) -> Any:
    """Numbers stay numbers (a negative one too); text is guarded (costops.render.safe)."""
    value = _plain(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, int | float):
        return value
    return csv_text(str(value))


def _plain(value: Any) -> Any:
    """An exact sum (Decimal) as the float nearest to it: the same data, the same bytes."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and value == 0:
        return 0.0  # never -0.0
    return value


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/inf become null, Decimals floats, tuples lists."""
    value = _plain(value)
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value
