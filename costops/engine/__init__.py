"""Where analyses run: an engine runs a statement, materialises a named intermediate, registers a
source and fetches a result.

DuckDB (the default: embedded, the store itself) is an engine as it is: its connection's
`execute(sql, params)` returns a cursor with `fetchone`, `fetchall` and `description`. The Spark
engine (costops.engine.spark) offers the same calls over a SparkSession, transpiling costops'
SQL, written once in DuckDB's dialect, with sqlglot and costops' own rules
(costops.engine.portable). Analyses take either as `con`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class Cursor(Protocol):
    """A statement's result: its columns and rows."""

    @property
    def description(self) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Engine(Protocol):
    """What an analysis asks of the engine it runs on."""

    def execute(self, sql: str, parameters: Sequence[object] | None = None) -> Any: ...


def is_spark(con: object) -> bool:
    """Whether `con` is the Spark engine (analyses that keep a DuckDB-only shortcut ask)."""
    return getattr(con, "engine_name", "duckdb") == "spark"


def columns(con: Engine, relation: str, params: Sequence[object] | None = None) -> list[str]:
    """The column names of a table, view or parenthesised query (binding `params`), in order."""
    cursor = con.execute(f"SELECT * FROM {relation} AS _c LIMIT 0", params or [])
    return [d[0] for d in cursor.description]


def select_list(
    con: Engine,
    relation: str,
    *,
    exclude: Sequence[str] = (),
    replace: dict[str, str] | None = None,
    prefix: str = "",
) -> str:
    """A portable `* EXCLUDE (…) REPLACE (…)`: the relation's columns in order, the excluded
    left out, each replaced one as its expression (`prefix` qualifies the kept columns)."""
    replace = replace or {}
    dropped = set(exclude)
    listed = [
        f"{replace[c]} AS {quote(c)}" if c in replace else f"{prefix}{quote(c)}"
        for c in columns(con, relation)
        if c not in dropped
    ]
    return ", ".join(listed)


def quote(name: str) -> str:
    """An identifier quoted for SQL (the one place identifiers are quoted)."""
    return '"' + name.replace('"', '""') + '"'
