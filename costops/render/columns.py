"""Column specs shared by every renderer, and the one place numbers are rounded for display."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    kind: str = "text"  # text | int | money | pct | tokens | bool | mark | rate | ratio | num
    # What a table shows, when it is not row[key] (the machine formats keep row[key]).
    shown: Callable[[dict[str, Any]], Any] | None = None
    # Which columns a narrow terminal drops first: the highest number (0: never dropped).
    priority: int = 0

    def cell(self, row: dict[str, Any]) -> str:
        """The text of this column's cell in `row`."""
        return display(self.shown(row) if self.shown else row.get(self.key), self.kind)


def display(value: Any, kind: str) -> str:
    if kind == "mark":
        return "●" if value else ""
    if value is None:
        return "(none)" if kind == "text" else "—"
    if kind == "rate":
        return f"{value:g}" if isinstance(value, float | int) else str(value)
    if kind == "ratio":
        return f"{value:.3g}"
    if kind == "num":
        return f"{value:,.2f}"
    if kind == "money":
        return money(float(value))
    if kind == "pct":
        return f"{float(value) * 100:.1f}%" if abs(value) >= 0.0005 else "0.0%"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "tokens":
        return tokens(int(value))
    if kind == "bool":
        return "yes" if value else ""
    return str(value)


def money(value: float) -> str:
    if abs(value) < 0.00005:  # float noise of a zero difference
        return "$0.00"
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value >= 100:
        return f"{sign}${value:,.0f}"
    if value >= 0.1:
        return f"{sign}${value:,.2f}"
    return f"{sign}${value:.4f}"


def tokens(value: int) -> str:
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}{suffix}"
    return str(value)
