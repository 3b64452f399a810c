"""Priced requests kept in the store, so a report reads columns instead of re-pricing every
request: the first analysis after an ingest (or with other pricing) brings the cache up to
date, later ones read it.

The cache is derived data, never the record: its key covers everything the prices depend on
(the pricing files' content and the code that loads them, the SQL that prices and judges units,
and the store's ingest runs and row counts), and a cache whose key does not match is brought up
to date before it is read: by pricing only the new runs' requests when nothing else changed,
else from scratch (costops.analysis.refresh). Either runs in one transaction, so an interrupted
build leaves the previous cache or none. The loaded pricing tables are kept with it: reading a
fresh cache parses and loads no pricing file, yet the simulations still find every table they
price scenarios with.

The cache holds only what pricing and the units add to a request or an eval, one row per stored
row in the table's own order; the views put the two side by side (a positional join), so no
request or eval is copied. The key changes with every ingest run, the only writer of either
table, so the two stay aligned.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import duckdb

from costops.analysis import refresh
from costops.analysis.rollup import ROLLUP_SQL, ROLLUP_VIEW
from costops.analysis.units import UNIT_VIEWS
from costops.engine import is_spark, select_list
from costops.rates.cost import PRICED_VIEW_SQL, PRICING_TABLES, RAW_RATE_COLUMNS
from costops.rates.match import EXTRA_MODELS_SQL

META_TABLE = "_cache_meta"
META_COLUMNS = (
    "key VARCHAR NOT NULL, base VARCHAR, run_id BIGINT, requests BIGINT, evals BIGINT, "
    "checksum HUGEINT"
)
# The stored views of the priced requests and their rollup, whichever cost a session shows
# (use_list_prices).
STORED_REQUESTS = "_stored_requests"
STORED_ROLLUP = "_stored_rollup"
# priced_requests reads evaluated_requests, so pointing that view at other costs moves both.
PRICED_FROM_CACHE_SQL = """
CREATE OR REPLACE TEMP VIEW priced_requests AS
SELECT * EXCLUDE (unit_evaluated, unit_success) FROM evaluated_requests
"""
STORE_STATE_SQL = """
SELECT (SELECT max(run_id) FROM ingest_runs WHERE finished_at IS NOT NULL),
       (SELECT count(*) FROM requests), (SELECT count(*) FROM evals)
"""
# Everything but the store's state that the cached rows depend on.
CODE = "\x00".join(
    [PRICED_VIEW_SQL, RAW_RATE_COLUMNS, *(sql for _, sql, _ in UNIT_VIEWS), ROLLUP_SQL,
     *(sql for _, _, sql in refresh.STORED), *refresh.FULL_SCOPES.values(),
     *refresh.INCREMENTAL_SCOPES.values(), repr(PRICING_TABLES)]
)  # fmt: skip


@dataclass(frozen=True)
class CacheKey:
    """The prices and code (base) and the store's state (last finished run, row counts)."""

    base: str
    state: tuple[Any, ...]

    @property
    def digest(self) -> str:
        return hashlib.sha256(f"{self.base}\x00{self.state!r}".encode()).hexdigest()


def use_stored(con: duckdb.DuckDBPyConnection, pricing_fingerprint: str) -> bool:
    """When the stored cache matches the store and these prices, point eval_targets,
    unit_status, evaluated_requests and priced_requests at it and copy the pricing tables it
    was built with into this session (readers need no write); else change nothing."""
    if _stored_key(con) != _key(con, pricing_fingerprint).digest:
        return False
    for table in PRICING_TABLES:  # temp tables: a cascade adds names and maps them again
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM main._cache_{table}")
    con.execute(EXTRA_MODELS_SQL)
    _point_views(con, "main")
    return True


def install_cached_views(
    con: duckdb.DuckDBPyConnection, pricing_fingerprint: str, *, store: bool = True
) -> None:
    """On a connection with pricing installed, point eval_targets, unit_status,
    evaluated_requests and priced_requests at the cache, bringing it up to date first when it
    is missing or stale: in the file, or with store=False (a read-only connection) in this
    session's temp tables."""
    key = _key(con, pricing_fingerprint)
    if not store:
        _build(con, key, schema="temp")
    elif _stored_key(con) != key.digest:
        _build(con, key)
    _point_views(con, "main" if store else "temp")


def is_fresh(con: duckdb.DuckDBPyConnection, pricing_fingerprint: str) -> bool:
    """Whether the stored cache matches the store and these prices (readers need no write)."""
    return _stored_key(con) == _key(con, pricing_fingerprint).digest


def use_list_prices(con: duckdb.DuckDBPyConnection) -> None:
    """Make every analysis read list prices: the cost before any contract discount."""
    listed = select_list(con, STORED_REQUESTS, replace={"cost": "list_cost"})
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW evaluated_requests AS SELECT {listed} FROM {STORED_REQUESTS}"
    )
    if is_spark(con):  # no rollup there
        return
    summed = select_list(con, STORED_ROLLUP, exclude=["list_cost"], replace={"cost": "list_cost"})
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {ROLLUP_VIEW} AS SELECT {summed} FROM {STORED_ROLLUP}"
    )


def _point_views(con: duckdb.DuckDBPyConnection, schema: str) -> None:
    refresh.point_view(con, "eval_targets", schema)
    refresh.point_view(con, "unit_status", schema)
    refresh.point_view(con, "evaluated_requests", schema, STORED_REQUESTS)
    con.execute(f"CREATE OR REPLACE TEMP VIEW evaluated_requests AS FROM {STORED_REQUESTS}")
    con.execute(PRICED_FROM_CACHE_SQL)
    rollup = f"{schema}.{refresh.ROLLUP_TABLE}"
    con.execute(f"CREATE OR REPLACE TEMP VIEW {STORED_ROLLUP} AS FROM {rollup}")
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {ROLLUP_VIEW} AS "
        f"SELECT * EXCLUDE (list_cost) FROM {STORED_ROLLUP}"
    )


def _key(con: duckdb.DuckDBPyConnection, pricing_fingerprint: str) -> CacheKey:
    state = con.execute(STORE_STATE_SQL).fetchone()
    base = hashlib.sha256(f"{pricing_fingerprint}\x00{CODE}".encode()).hexdigest()
    return CacheKey(base, tuple(state or ()))


def _stored_key(con: duckdb.DuckDBPyConnection) -> str | None:
    row = _meta(con, "key")
    return str(row[0]) if row else None


def _meta(con: duckdb.DuckDBPyConnection, columns: str) -> tuple[Any, ...] | None:
    """The stored cache's meta row, or None without one (or from an older costops)."""
    found = con.execute(
        "SELECT count(*) FROM duckdb_columns() "
        "WHERE table_name = ? AND column_name = 'checksum' AND database_name <> 'temp'",
        [META_TABLE],
    ).fetchone()
    if not found or not found[0]:
        return None
    return con.execute(f"SELECT {columns} FROM {META_TABLE}").fetchone()


def _build(con: duckdb.DuckDBPyConnection, key: CacheKey, *, schema: str = "main") -> None:
    """Bring the cache up to `key`: in the file in one transaction with the pricing tables and
    the key (pricing only the new runs when the stored cache allows), or in temp tables."""
    run_id = key.state[0] if key.state else None
    if schema == "temp":
        refresh.build_full(con, "temp", run_id)
        return
    con.execute("BEGIN TRANSACTION")
    try:
        built = _appended(con, key, run_id) or refresh.build_full(con, "main", run_id)
        for table in PRICING_TABLES:
            con.execute(f"CREATE OR REPLACE TABLE _cache_{table} AS FROM temp.{table}")
        con.execute(f"CREATE OR REPLACE TABLE {META_TABLE} ({META_COLUMNS})")
        con.execute(
            f"INSERT INTO {META_TABLE} VALUES (?, ?, ?, ?, ?, ?)",
            [key.digest, key.base, built.run_id, built.requests, built.evals, built.checksum],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _appended(
    con: duckdb.DuckDBPyConnection, key: CacheKey, run_id: int | None
) -> refresh.Built | None:
    """The cache brought up to date by pricing only the runs since it was built, when it was
    built with these prices and code and new runs are all that came since."""
    stored = _meta(con, "base, run_id, requests, evals, checksum")
    if stored is None or stored[0] != key.base or stored[1] is None or run_id is None:
        return None
    if run_id <= stored[1]:  # nothing new, yet the key differs: rebuild
        return None
    since = refresh.Built(stored[1], stored[2], stored[3], int(stored[4]))
    return refresh.append(con, since, run_id)
