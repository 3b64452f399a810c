"""Data shown as plain text: control characters made visible, markup inert, CSV formulas guarded.

Names, ids and attributes come from logs, so they may hold anything: rich markup (`[/]x` crashed a
table, `[link=…]` disguised a hyperlink), terminal escape sequences, newlines that break a table
row, or a spreadsheet formula. Every writer passes data through here.
"""

from __future__ import annotations

import html
import re
from typing import Any

from rich.text import Text

# One character for one character, so the same table serves Python and DuckDB's translate():
# C0 controls become their Control Pictures (ESC → ␛, newline → ␊, tab → ␉), DEL becomes ␡, and
# C1 controls and the bidirectional overrides/isolates (which reorder what a reader sees) become
# U+FFFD. NUL is left to Python only: a DuckDB string literal cannot hold it.
_C0 = {chr(c): chr(0x2400 + c) for c in range(0x20)}
_OTHER = {chr(0x7F): "\u2421"} | {
    chr(c): "\ufffd" for c in (*range(0x80, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A))
}
VISIBLE = _C0 | _OTHER
_TABLE = str.maketrans(VISIBLE)
# Tabs, newlines and carriage returns are legal inside a quoted CSV cell: kept there.
_CSV_KEPT = "\t\n\r"
_CSV_TABLE = str.maketrans({k: v for k, v in VISIBLE.items() if k not in _CSV_KEPT})

_JSON_TABLE = str.maketrans({k: f"\\u{ord(k):04x}" for k in _OTHER})

# OWASP "CSV injection": a cell starting with one of these is a formula to a spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_MARKDOWN_SPECIAL = re.compile(r"([\\|\[\]<>`])")


def plain(value: Any) -> str:
    """One line of plain text: every control character shown as a visible symbol."""
    return str(value).translate(_TABLE)


def plain_lines(text: str) -> str:
    """Plain text that may span lines: control characters other than newline shown."""
    return "\n".join(plain(line) for line in text.split("\n"))


def cell(value: str) -> Text:
    """A rich Text that is never parsed as markup or emoji codes."""
    return Text(plain(value))


def markdown_cell(value: str) -> str:
    """Plain text that stays inside its Markdown table cell and renders as itself (no links)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", plain(value))


def html_label(value: Any) -> str:
    """Plain text for a Plotly label or title, which Plotly reads as a subset of HTML."""
    return html.escape(plain(value), quote=False)


def json_text(text: str) -> str:
    """JSON text with DEL, C1 and bidi controls as \\u escapes (json.dumps escapes only C0)."""
    return text.translate(_JSON_TABLE)


def csv_text(value: str) -> str:
    """A CSV text cell: control characters shown (tab/newline/CR kept), a formula start guarded."""
    shown = value.translate(_CSV_TABLE)
    return "'" + shown if value.startswith(FORMULA_STARTS) else shown


def csv_sql(expression: str) -> str:
    """The same guard as csv_text, as a DuckDB expression over a VARCHAR `expression`."""
    pairs = [(k, v) for k, v in VISIBLE.items() if k not in _CSV_KEPT and k != "\0"]
    source = "".join(k for k, _ in pairs).replace("'", "''")
    target = "".join(v for _, v in pairs)
    shown = f"translate({expression}, '{source}', '{target}')"
    starts = "".join(FORMULA_STARTS).replace("'", "''")
    return (
        f"CASE WHEN contains('{starts}', left({expression}, 1)) AND {expression} <> '' "
        f"THEN '''' || {shown} ELSE {shown} END"
    )
