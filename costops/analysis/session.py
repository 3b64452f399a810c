"""An analysis session: the store opened with pricing and unit views installed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb

from costops.analysis.cache import install_cached_views
from costops.rates.cost import install_pricing
from costops.rates.tables import PricingTables, load_tables
from costops.store.db import open_db


def install_views(con: duckdb.DuckDBPyConnection, tables: PricingTables) -> None:
    install_cached_views(con, install_pricing(con, tables))


@contextmanager
def analysis_session(
    db_path: str, pricing_dirs: list[str] | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    tables = load_tables(pricing_dirs)
    with open_db(db_path, create=False) as con:
        install_views(con, tables)
        yield con


def fetch_dicts(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None
) -> list[dict[str, Any]]:
    """Run a query and return its rows as dicts keyed by column name."""
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
