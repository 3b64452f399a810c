"""Open the costops DuckDB file: UTC session, migrations on open, clear errors when locked."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from costops.errors import DatabaseError
from costops.store.migrations import migrate

DEFAULT_DB = "costops.duckdb"
# DuckDB's own cap (COSTOPS_MEMORY_LIMIT overrides both); the process adds a few hundred MB on
# top. Ingest uses less, so a multi-GB file ingests under 2 GB of RSS (BENCHMARKS.md).
MEMORY_LIMIT = "2GB"
INGEST_MEMORY_LIMIT = "1536MB"


def resolve_db_path(db: str | None) -> str:
    return db or os.environ.get("COSTOPS_DB") or DEFAULT_DB


def connect(
    path: str, *, create: bool = True, wait: float = 0.0, memory_limit: str = MEMORY_LIMIT
) -> duckdb.DuckDBPyConnection:
    """Open and migrate the database at `path`; with create=False a missing file is an error.
    While another process holds the file, retry for up to `wait` seconds, then exit 5."""
    if not create and not Path(path).exists():
        raise DatabaseError(f"{path}: no database here; run `costops ingest` first or pass --db")
    deadline = time.monotonic() + wait
    while True:
        try:
            con = duckdb.connect(path)
            break
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower() and time.monotonic() < deadline:
                time.sleep(0.2)
                continue
            raise DatabaseError(_open_error(path, str(exc))) from exc
        except duckdb.Error as exc:
            raise DatabaseError(f"{path}: cannot open database: {_first_line(exc)}") from exc
    # Timestamps are stored as UTC; every bucketing converts explicitly with --tz.
    con.execute("SET TimeZone = 'UTC'")
    # Bounded memory whatever the input size: DuckDB spills to disk beyond this.
    con.execute("SET memory_limit = ?", [os.environ.get("COSTOPS_MEMORY_LIMIT", memory_limit)])
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")  # never DuckDB's own bar in costops output
    try:
        migrate(con, path)
    except BaseException:
        con.close()
        raise
    return con


@contextmanager
def open_db(
    path: str, *, create: bool = True, wait: float = 0.0, memory_limit: str = MEMORY_LIMIT
) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(path, create=create, wait=wait, memory_limit=memory_limit)
    try:
        yield con
    finally:
        con.close()


def _open_error(path: str, detail: str) -> str:
    if "lock" in detail.lower():
        pid = re.search(r"PID (\d+)", detail)
        who = f" (pid {pid.group(1)})" if pid else ""
        return (
            f"{path}: database is in use by another costops process{who}; "
            "wait for it to finish, or pass --wait SECONDS"
        )
    return f"{path}: cannot open database: {_first_line(detail)}"


def _first_line(exc: object) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else repr(exc)
