"""Where analyses run: an engine runs a statement, materialises a named intermediate, registers a
source and fetches a result.

DuckDB (the default: embedded, the store itself) is an engine as it is: its connection's
`execute(sql, params)` returns a cursor with `fetchone`, `fetchall` and `description`. The Spark
engine (costops.engine.spark) offers the same calls over a SparkSession, transpiling costops'
SQL, written once in DuckDB's dialect, with sqlglot and costops' own rules
(costops.engine.portable). Analyses take either as `con`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import duckdb


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


# DuckDB's names for the column types a result from another engine carries (Spark's names).
DUCKDB_TYPES = {"string": "VARCHAR", "bigint": "BIGINT", "int": "INTEGER", "double": "DOUBLE",
                "boolean": "BOOLEAN", "timestamp": "TIMESTAMP", "timestamp_ntz": "TIMESTAMP",
                "date": "DATE"}  # fmt: skip


@contextmanager
def fetched(con: Engine, sql: str, params: Sequence[object]) -> Iterator[duckdb.DuckDBPyConnection]:
    """A small result of another engine as the table _fetched of a local DuckDB (to write it
    as DuckDB writes its own: the same CSV and Parquet writers)."""
    cursor = con.execute(sql, params)
    described = [(str(d[0]), _duckdb_type(str(d[1]))) for d in cursor.description]
    rows = cursor.fetchall()
    local = duckdb.connect()
    try:
        local.execute("SET TimeZone = 'UTC'")
        listed = ", ".join(f"{quote(name)} {kind}" for name, kind in described)
        local.execute(f"CREATE TABLE _fetched ({listed})")
        if rows:
            values = ", ".join(f"CAST(unnest(?) AS {kind})" for _, kind in described)
            local.execute(
                f"INSERT INTO _fetched SELECT {values}", [list(c) for c in zip(*rows, strict=True)]
            )
        yield local
    finally:
        local.close()


def _duckdb_type(name: str) -> str:
    """DuckDB's name for a result column's type, as Spark (or DuckDB itself) names it."""
    if re.fullmatch(r"decimal\(\d+, ?\d+\)", name.lower()) or name in DUCKDB_TYPES.values():
        return name.upper()
    return DUCKDB_TYPES.get(name, "VARCHAR")
