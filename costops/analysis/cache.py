"""Priced requests kept in the store, so a report reads columns instead of re-pricing every
request: the first analysis after an ingest (or with other pricing) builds the cache, later ones
read it.

The cache is derived data, never the record: its key covers everything the prices depend on
(the pricing files' content and the code that loads them, the SQL that prices and judges units,
and the store's ingest runs and row counts), and a cache whose key does not match is rebuilt
before it is read. The build runs in one transaction, so an interrupted build leaves the previous
cache or none. The loaded pricing tables are kept with it: reading a fresh cache parses and loads
no pricing file, yet the simulations still find every table they price scenarios with.

The cache holds only what pricing and the units add to a request or an eval, one row per stored
row in the table's own order; the views put the two side by side (a positional join), so no
request or eval is copied. The key changes with every ingest run, the only writer of either
table, so the two stay aligned.
"""

from __future__ import annotations

import hashlib

import duckdb

from costops.analysis.rollup import ROLLUP_SQL, ROLLUP_VIEW
from costops.analysis.units import UNIT_VIEWS
from costops.rates.cost import PRICED_VIEW_SQL, PRICING_TABLES, RAW_RATE_COLUMNS
from costops.rates.match import EXTRA_MODELS_SQL

META_TABLE = "_cache_meta"
# (view every analysis reads, the stored table behind it)
CACHED = (
    ("eval_targets", "_cache_eval_targets"),
    ("unit_status", "_cache_unit_status"),
    ("evaluated_requests", "_cache_evaluated_requests"),
)
# How each view puts its stored rows beside the table they extend ({schema}: main or temp).
VIEWS_SQL = {
    "eval_targets": "SELECT e.*, c.* EXCLUDE (eval_row) "
    "FROM evals e POSITIONAL JOIN {schema}._cache_eval_targets c",
    "unit_status": "SELECT * FROM {schema}._cache_unit_status",
    "evaluated_requests": "SELECT r.*, c.* EXCLUDE (request_row) "
    "FROM requests r POSITIONAL JOIN {schema}._cache_evaluated_requests c",
}
# The stored views of the priced requests and their rollup, whichever cost a session shows
# (use_list_prices).
STORED_REQUESTS = "_stored_requests"
ROLLUP_TABLE = "_cache_rollup"
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


def use_stored(con: duckdb.DuckDBPyConnection, pricing_fingerprint: str) -> bool:
    """When the stored cache matches the store and these prices, point eval_targets,
    unit_status, evaluated_requests and priced_requests at it and copy the pricing tables it
    was built with into this session (readers need no write); else change nothing."""
    if _stored_key(con) != _key(con, pricing_fingerprint):
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
    evaluated_requests and priced_requests at the cache, building it first when it is missing
    or stale: in the file, or with store=False (a read-only connection) in this session's temp
    tables."""
    key = _key(con, pricing_fingerprint)
    if not store:
        _build(con, key, schema="temp")
    elif _stored_key(con) != key:
        _build(con, key)
    _point_views(con, "main" if store else "temp")


def is_fresh(con: duckdb.DuckDBPyConnection, pricing_fingerprint: str) -> bool:
    """Whether the stored cache matches the store and these prices (readers need no write)."""
    return _stored_key(con) == _key(con, pricing_fingerprint)


def use_list_prices(con: duckdb.DuckDBPyConnection) -> None:
    """Make every analysis read list prices: the cost before any contract discount."""
    con.execute(
        "CREATE OR REPLACE TEMP VIEW evaluated_requests AS "
        f"SELECT * REPLACE (list_cost AS cost) FROM {STORED_REQUESTS}"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {ROLLUP_VIEW} AS "
        f"SELECT * EXCLUDE (cost, list_cost), list_cost AS cost FROM {STORED_ROLLUP}"
    )


def _point_views(con: duckdb.DuckDBPyConnection, schema: str) -> None:
    for view, _ in CACHED:
        name = STORED_REQUESTS if view == "evaluated_requests" else view
        select = VIEWS_SQL[view].format(schema=schema)
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {select}")
    con.execute(f"CREATE OR REPLACE TEMP VIEW evaluated_requests AS FROM {STORED_REQUESTS}")
    con.execute(PRICED_FROM_CACHE_SQL)
    con.execute(f"CREATE OR REPLACE TEMP VIEW {STORED_ROLLUP} AS FROM {schema}.{ROLLUP_TABLE}")
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {ROLLUP_VIEW} AS "
        f"SELECT * EXCLUDE (list_cost) FROM {STORED_ROLLUP}"
    )


def _key(con: duckdb.DuckDBPyConnection, pricing_fingerprint: str) -> str:
    state = con.execute(STORE_STATE_SQL).fetchone()
    parts = [pricing_fingerprint, PRICED_VIEW_SQL, RAW_RATE_COLUMNS,
             *(sql for _, sql, _ in UNIT_VIEWS), *VIEWS_SQL.values(), ROLLUP_SQL,
             repr(PRICING_TABLES), repr(state)]  # fmt: skip
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def _stored_key(con: duckdb.DuckDBPyConnection) -> str | None:
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND NOT temporary",
        [META_TABLE],
    ).fetchone()
    if not exists or not exists[0]:
        return None
    row = con.execute(f"SELECT key FROM {META_TABLE}").fetchone()
    return str(row[0]) if row else None


def _build(con: duckdb.DuckDBPyConnection, key: str, *, schema: str = "main") -> None:
    """Each unit query straight into its cache table (the next one reads it through its view),
    then the rollup of the priced requests: in the file in one transaction with the pricing
    tables and the key, or in temp tables."""
    if schema == "temp":
        _build_units(con, "temp")
        return
    con.execute("BEGIN TRANSACTION")
    try:
        _build_units(con, "main")
        for table in PRICING_TABLES:
            con.execute(f"CREATE OR REPLACE TABLE _cache_{table} AS FROM temp.{table}")
        con.execute(f"CREATE OR REPLACE TABLE {META_TABLE} (key VARCHAR NOT NULL)")
        con.execute(f"INSERT INTO {META_TABLE} VALUES (?)", [key])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _build_units(con: duckdb.DuckDBPyConnection, schema: str) -> None:
    kind = "TEMP TABLE" if schema == "temp" else "TABLE"
    # what the stored rows leave out: the columns of the requests they stand beside
    request_columns = [d[0] for d in con.execute("SELECT * FROM requests LIMIT 0").description]
    narrow = f"{', '.join(request_columns)}, {RAW_RATE_COLUMNS}"
    for (view, sql, position), (_, table) in zip(UNIT_VIEWS, CACHED, strict=True):
        columns = f"* EXCLUDE ({narrow})" if view == "evaluated_requests" else "*"
        order = f" ORDER BY {position}" if position else ""
        con.execute(f"CREATE OR REPLACE {kind} {table} AS SELECT {columns} FROM ({sql}){order}")
        select = VIEWS_SQL[view].format(schema=schema)
        con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {select}")
    con.execute(f"CREATE OR REPLACE {kind} {ROLLUP_TABLE} AS {ROLLUP_SQL}")
