"""An analysis session: the store opened with pricing and unit views installed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb

from costops.analysis.cache import install_cached_views, is_fresh, use_stored
from costops.errors import DatabaseLocked, UsageError
from costops.rates.cost import install_pricing, pricing_fingerprint
from costops.rates.tables import PricingSources, PricingTables, load_tables, pricing_sources
from costops.store.db import connect, storage_errors


def install_views(con: duckdb.DuckDBPyConnection, tables: PricingTables) -> None:
    install_cached_views(con, install_pricing(con, tables))


@contextmanager
def analysis_session(
    db_path: str,
    pricing_dirs: list[str] | None = None,
    *,
    wait: float = 0.0,
    engine: str | None = None,
    source: str | None = None,
) -> Iterator[Any]:
    """The store opened read-only (other readers share it), with pricing and units installed;
    with an `engine` other than duckdb, the Spark engine over `source` instead
    (costops.analysis.distributed).
    A fresh priced cache is read as it is: the pricing files are read to check its key, not
    parsed or loaded. A stale one is refreshed in the file when no other process has it open (a
    write lock held for the build only), else priced into this session's temp tables: a reader
    never queues behind another reader."""
    if engine not in (None, "duckdb"):
        if not re.fullmatch(r"spark|local\[(\d+|\*)\]|sc://\S+", engine):
            raise UsageError(
                f"--engine {engine}: expected duckdb, spark, local[N] or sc://HOST:PORT"
            )
        if not source:
            raise UsageError(
                f"--engine {engine} reads a lake: add --source DIR (written by "
                "`costops ingest LOGS --to DIR`)"
            )
        try:
            from costops.analysis.distributed import spark_session
        except ImportError as exc:
            raise UsageError(
                f"--engine {engine} needs the Spark extra: pip install 'costops[spark]' "
                f"(missing: {exc.name})"
            ) from exc
        with spark_session(engine, source, pricing_dirs) as spark:
            yield spark
        return
    if source:
        raise UsageError("--source is read by --engine spark; the duckdb engine reads --db")
    sources = pricing_sources(pricing_dirs)
    with storage_errors(db_path):
        con = _open_priced(db_path, sources, wait)
        try:
            yield con
        finally:
            con.close()


def _open_priced(db_path: str, sources: PricingSources, wait: float) -> duckdb.DuckDBPyConnection:
    fingerprint = pricing_fingerprint(sources.content_hash)
    con = _reader(db_path, wait, fingerprint)
    if con is not None:
        return con
    tables = load_tables(sources=sources)
    _refresh_cache(db_path, tables, fingerprint)
    con = _reader(db_path, wait, fingerprint)
    if con is not None:
        return con
    # still stale: another process had the file open (or wrote since), so price into temp tables
    con = connect(db_path, create=False, wait=wait, read_only=True)
    try:
        install_cached_views(con, install_pricing(con, tables), store=False)
    except BaseException:
        con.close()
        raise
    return con


def _reader(db_path: str, wait: float, fingerprint: str) -> duckdb.DuckDBPyConnection | None:
    """A read-only connection on the stored cache, or None when it is stale."""
    con = connect(db_path, create=False, wait=wait, read_only=True)
    try:
        if use_stored(con, fingerprint):
            return con
    except BaseException:
        con.close()
        raise
    con.close()
    return None


def _refresh_cache(db_path: str, tables: PricingTables, fingerprint: str) -> None:
    try:
        con = connect(db_path, create=False)  # no --wait: a reader never queues for a refresh
    except DatabaseLocked:
        return
    try:
        if not is_fresh(con, fingerprint):  # another process may have built it meanwhile
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
