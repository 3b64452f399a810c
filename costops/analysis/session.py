"""An analysis session: the store opened with pricing and unit views installed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb

from costops.analysis.cache import install_cached_views, is_fresh
from costops.errors import DatabaseLocked
from costops.rates.cost import install_pricing
from costops.rates.tables import PricingTables, load_tables
from costops.store.db import connect, storage_errors


def install_views(con: duckdb.DuckDBPyConnection, tables: PricingTables) -> None:
    install_cached_views(con, install_pricing(con, tables))


@contextmanager
def analysis_session(
    db_path: str, pricing_dirs: list[str] | None = None, *, wait: float = 0.0
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The store opened read-only (other readers share it), with pricing and units installed.
    A stale priced cache is refreshed in the file when no other process has it open (a write
    lock held for the build only), else priced into this session's temp tables: a reader never
    queues behind another reader."""
    tables = load_tables(pricing_dirs)
    with storage_errors(db_path):
        con = _open_priced(db_path, tables, wait)
        try:
            yield con
        finally:
            con.close()


def _open_priced(db_path: str, tables: PricingTables, wait: float) -> duckdb.DuckDBPyConnection:
    con = connect(db_path, create=False, wait=wait, read_only=True)
    fresh = False
    try:
        fingerprint = install_pricing(con, tables)
        fresh = is_fresh(con, fingerprint)
        if fresh:
            install_cached_views(con, fingerprint)
            return con
    finally:
        if not fresh:
            con.close()
    _refresh_cache(db_path, tables)
    con = connect(db_path, create=False, wait=wait, read_only=True)
    try:
        fingerprint = install_pricing(con, tables)
        # still stale when another process had the file open (or wrote since): temp tables
        install_cached_views(con, fingerprint, store=is_fresh(con, fingerprint))
    except BaseException:
        con.close()
        raise
    return con


def _refresh_cache(db_path: str, tables: PricingTables) -> None:
    try:
        con = connect(db_path, create=False)  # no --wait: a reader never queues for a refresh
    except DatabaseLocked:
        return
    try:
        install_views(con, tables)
    finally:
        con.close()


def fetch_dicts(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None
) -> list[dict[str, Any]]:
    """Run a query and return its rows as dicts keyed by column name."""
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
