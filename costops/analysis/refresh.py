"""Building the priced cache (costops.analysis.cache says what it holds and when it is stale):
from scratch, or, when only new ingest runs came since the last build and the prices did not
change, by pricing the new requests alone.

Each query (costops.analysis.units, costops.analysis.rollup) reads its rows from a scope view:
every eval and request for a full build; for an incremental one the new requests, the evals
whose target may have moved, the units whose verdict may have changed and the hours those
touch, each re-judged or re-summed whole.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from costops.analysis import rollup, units
from costops.rates.cost import RAW_RATE_COLUMNS

# (view, stored table, how the view puts the stored rows beside the table they extend)
STORED = (
    ("eval_targets", "_cache_eval_targets",
     "SELECT e.*, c.* EXCLUDE (eval_row) "
     "FROM evals e POSITIONAL JOIN {schema}._cache_eval_targets c"),
    ("unit_status", "_cache_unit_status", "SELECT * FROM {schema}._cache_unit_status"),
    ("evaluated_requests", "_cache_evaluated_requests",
     "SELECT r.*, c.* EXCLUDE (request_row) "
     "FROM requests r POSITIONAL JOIN {schema}._cache_evaluated_requests c"),
)  # fmt: skip
ROLLUP_TABLE = "_cache_rollup"

# What a request's stored row and rollup row derive from: one of these changing in an old row
# (an ingest that completes an earlier batch result) re-prices from scratch.
PRICED_INPUTS = (
    "request_id, ts, provider, model, feature, task_id, customer, prompt_template, environment, "
    "workspace, input_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, "
    "output_tokens, reasoning_tokens, status, batch, service_tier, region"
)
OLD_ROWS_SQL = f"""
SELECT count(*), COALESCE(sum(hash({PRICED_INPUTS})), 0) FROM requests WHERE run_id <= ?
"""
NEW_ROWS_SQL = f"""
SELECT count(*), COALESCE(sum(hash({PRICED_INPUTS})), 0) FROM requests WHERE run_id > ?
"""
OLD_EVALS_SQL = "SELECT count(*) FROM evals WHERE run_id <= ?"
# The stored rows stand beside their table's rows: eval positions are their rowids (evals are
# only ever appended), and each priced request names the unit of the request beside it.
EVALS_ALIGNED_SQL = """
SELECT count(*) FROM evals e POSITIONAL JOIN _cache_eval_targets c
WHERE c.eval_row IS DISTINCT FROM e.rowid AND e.run_id <= ?
"""
REQUESTS_ALIGNED_SQL = """
SELECT count(*) FROM requests r POSITIONAL JOIN _cache_evaluated_requests c
WHERE c.unit_id IS DISTINCT FROM COALESCE(r.task_id, r.request_id)
"""

SINCE_SQL = "CREATE OR REPLACE TEMP TABLE _since AS SELECT CAST(? AS BIGINT) AS run_id"
NEW_UNITS_SQL = """
CREATE OR REPLACE TEMP TABLE _new_units AS
SELECT DISTINCT COALESCE(task_id, request_id) AS unit_id FROM requests
WHERE run_id > (SELECT run_id FROM _since)
"""
# Evals whose target may have moved: new ones, those of a unit a new request joined (its models
# decide which evals are shadow evals), and those keyed by a request that had not arrived.
REVISIT_SQL = """
CREATE OR REPLACE TEMP TABLE _revisit AS
SELECT e.rowid AS eval_row, c.unit_id AS old_unit, e.run_id > (SELECT run_id FROM _since) AS new
FROM evals e POSITIONAL JOIN _cache_eval_targets c
WHERE e.run_id > (SELECT run_id FROM _since)
   OR c.unit_id IN (SELECT unit_id FROM _new_units)
   OR (c.unit_id IS NULL AND e.task_id IS NULL AND e.request_id IN (
       SELECT request_id FROM requests WHERE run_id > (SELECT run_id FROM _since)))
"""
UPDATE_TARGETS_SQL = """
UPDATE _cache_eval_targets SET unit_id = t.unit_id, eval_model_key = t.eval_model_key,
    shadow = t.shadow
FROM _targets t JOIN _revisit v ON v.eval_row = t.eval_row AND NOT v.new
WHERE _cache_eval_targets.eval_row = t.eval_row
"""
APPEND_TARGETS_SQL = """
INSERT INTO _cache_eval_targets
SELECT t.* FROM _targets t JOIN _revisit v ON v.eval_row = t.eval_row AND v.new
ORDER BY t.eval_row
"""
TOUCHED_UNITS_SQL = """
CREATE OR REPLACE TEMP TABLE _touched AS
SELECT old_unit AS unit_id FROM _revisit WHERE old_unit IS NOT NULL
UNION SELECT unit_id FROM _targets WHERE unit_id IS NOT NULL
UNION SELECT unit_id FROM _new_units
"""
# Units whose verdict the new evals and requests changed: their stored requests change flags.
CHANGED_UNITS_SQL = """
CREATE OR REPLACE TEMP TABLE _changed AS
SELECT t.unit_id, n.unit_id IS NOT NULL AS evaluated, COALESCE(n.success, false) AS success
FROM _touched t
LEFT JOIN _cache_unit_status o ON o.unit_id = t.unit_id
LEFT JOIN _status n ON n.unit_id = t.unit_id
WHERE (o.unit_id IS NULL) <> (n.unit_id IS NULL) OR o.success IS DISTINCT FROM n.success
"""
DROP_STATUS_SQL = "DELETE FROM _cache_unit_status WHERE unit_id IN (SELECT unit_id FROM _touched)"
UPDATE_FLAGS_SQL = """
UPDATE _cache_evaluated_requests SET unit_evaluated = c.evaluated, unit_success = c.success
FROM _changed c WHERE _cache_evaluated_requests.unit_id = c.unit_id
"""
TOUCHED_HOURS_SQL = """
CREATE OR REPLACE TEMP TABLE _hours AS
SELECT DISTINCT date_trunc('hour', ts) AS ts FROM requests
WHERE run_id > (SELECT run_id FROM _since)
UNION
SELECT DISTINCT date_trunc('hour', p.ts) FROM evaluated_requests p
WHERE p.unit_id IN (SELECT unit_id FROM _changed)
"""
INCREMENTAL_SCOPES = {
    "scoped_evals": "SELECT rowid AS eval_row, * FROM evals "
    "WHERE rowid IN (SELECT eval_row FROM _revisit)",
    "scoped_targets": "SELECT * FROM eval_targets WHERE unit_id IN (SELECT unit_id FROM _touched)",
    "scoped_requests": "SELECT rowid AS request_row, * FROM requests "
    "WHERE run_id > (SELECT run_id FROM _since)",
    "scoped_evaluated": "SELECT * FROM evaluated_requests "
    "WHERE date_trunc('hour', ts) IN (SELECT ts FROM _hours)",
}
FULL_SCOPES = {**units.FULL_SCOPES, "scoped_evaluated": rollup.FULL_SCOPE}
# The scope each stored view's query reads (the rollup's: scoped_evaluated).
SCOPE_OF = {
    "eval_targets": "scoped_evals",
    "unit_status": "scoped_targets",
    "evaluated_requests": "scoped_requests",
}


@dataclass(frozen=True)
class Built:
    """What a build covered: the last finished run, and a checksum of what its requests'
    stored rows derive from (count, sum of hashes) to tell later that they did not change."""

    run_id: int | None
    requests: int
    evals: int
    checksum: int


def build_full(con: duckdb.DuckDBPyConnection, schema: str, run_id: int | None) -> Built:
    """Every stored table from scratch, in `schema` (main, or temp for a read-only session)."""
    kind = "TEMP TABLE" if schema == "temp" else "TABLE"
    narrow = _narrow(con)
    for (view, sql, position), (_, table, _) in zip(units.UNIT_VIEWS, STORED, strict=True):
        _scope(con, SCOPE_OF[view], FULL_SCOPES)
        columns = f"* EXCLUDE ({narrow})" if view == "evaluated_requests" else "*"
        if position:
            # In two statements: sorting while the joins still hold their hash tables runs out
            # of memory at 10M rows under the default cap; a sort of a stored table spills.
            con.execute(f"CREATE OR REPLACE TEMP TABLE _unordered AS SELECT {columns} FROM ({sql})")
            con.execute(
                f"CREATE OR REPLACE {kind} {table} AS SELECT * FROM _unordered ORDER BY {position}"
            )
            con.execute("DROP TABLE _unordered")
        else:
            con.execute(f"CREATE OR REPLACE {kind} {table} AS SELECT {columns} FROM ({sql})")
        point_view(con, view, schema)
    _scope(con, "scoped_evaluated", FULL_SCOPES)
    con.execute(f"CREATE OR REPLACE {kind} {ROLLUP_TABLE} AS {rollup.ROLLUP_SQL}")
    return _built(con, run_id, (0, 0))


def append(con: duckdb.DuckDBPyConnection, since: Built, run_id: int) -> Built | None:
    """Bring the stored cache (built up to run `since`) up to run `run_id` by pricing only the
    new requests and re-judging only what they and the new evals touch, in the open
    transaction; None (nothing kept) when an old row changed or the rows no longer align."""
    assert since.run_id is not None
    old = con.execute(OLD_ROWS_SQL, [since.run_id]).fetchone()
    evals = con.execute(OLD_EVALS_SQL, [since.run_id]).fetchone()
    moved = con.execute(EVALS_ALIGNED_SQL, [since.run_id]).fetchone()
    if old != (since.requests, since.checksum) or evals != (since.evals,) or moved != (0,):
        return None
    for view, _, _ in STORED:
        point_view(con, view, "main")
    con.execute(SINCE_SQL, [since.run_id])
    con.execute(NEW_UNITS_SQL)
    con.execute(REVISIT_SQL)
    _scope(con, "scoped_evals")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _targets AS {units.EVAL_TARGETS_SQL}")
    con.execute(UPDATE_TARGETS_SQL)
    con.execute(APPEND_TARGETS_SQL)
    con.execute(TOUCHED_UNITS_SQL)
    _scope(con, "scoped_targets")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _status AS {units.UNIT_STATUS_SQL}")
    con.execute(CHANGED_UNITS_SQL)
    con.execute(DROP_STATUS_SQL)
    con.execute("INSERT INTO _cache_unit_status SELECT * FROM _status")
    con.execute(UPDATE_FLAGS_SQL)
    _scope(con, "scoped_requests")
    con.execute(
        f"INSERT INTO _cache_evaluated_requests SELECT * EXCLUDE ({_narrow(con)}) "
        f"FROM ({units.EVALUATED_REQUESTS_SQL}) ORDER BY request_row"
    )
    misplaced = con.execute(REQUESTS_ALIGNED_SQL).fetchone()
    if misplaced != (0,):
        return None
    con.execute(TOUCHED_HOURS_SQL)
    con.execute(f"DELETE FROM {ROLLUP_TABLE} WHERE ts IN (SELECT ts FROM _hours)")
    _scope(con, "scoped_evaluated")
    con.execute(f"INSERT INTO {ROLLUP_TABLE} {rollup.ROLLUP_SQL}")
    return _built(con, run_id, (since.requests, since.checksum), since=since.run_id)


def point_view(con: duckdb.DuckDBPyConnection, view: str, schema: str, name: str = "") -> None:
    """Name the stored rows of `view`, beside their table, as `name` (default: the view)."""
    select = next(sql for stored, _, sql in STORED if stored == view).format(schema=schema)
    con.execute(f"CREATE OR REPLACE TEMP VIEW {name or view} AS {select}")


def _built(
    con: duckdb.DuckDBPyConnection, run_id: int | None, old: tuple[int, int], since: int = -1
) -> Built:
    new = con.execute(NEW_ROWS_SQL, [since]).fetchone()
    evals = con.execute("SELECT count(*) FROM evals").fetchone()
    assert new is not None and evals is not None
    return Built(run_id, old[0] + int(new[0]), int(evals[0]), old[1] + int(new[1]))


def _narrow(con: duckdb.DuckDBPyConnection) -> str:
    """What a stored priced request leaves out: the columns of the request beside it."""
    columns = [d[0] for d in con.execute("SELECT * FROM requests LIMIT 0").description]
    return f"{', '.join(columns)}, {RAW_RATE_COLUMNS}"


def _scope(
    con: duckdb.DuckDBPyConnection, name: str, scopes: dict[str, str] = INCREMENTAL_SCOPES
) -> None:
    """A scope view, made once the tables it reads are."""
    con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {scopes[name]}")
