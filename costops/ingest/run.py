"""Ingest sources into the store: one transaction per file, quarantine, dedupe, run records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb

from costops.errors import UsageError
from costops.ingest import canonical
from costops.ingest.sources import ChunkReader, Source

FORMATS = ("auto", "costops")
KINDS = ("auto", "requests", "evals")
RAW_CAP = 64 * 1024
SHOWN_BAD_LINES = 10

LOAD_CHUNK_SQL = """
INSERT INTO _raw
SELECT generate_subscripts(l, 1) + ? - 1, unnest(l), ?
FROM (SELECT string_split(?, chr(10)) AS l)
"""

# Blank lines are skipped; CR (CRLF files) and a leading BOM are stripped.
CLASSIFY_SQL = f"""
CREATE OR REPLACE TEMP TABLE _classified AS
WITH cleaned AS (
    SELECT line_no, utf8_ok, ltrim(rtrim(raw, chr(13)), chr(65279)) AS raw FROM _raw
),
parsed AS (
    SELECT line_no, utf8_ok, raw, CASE WHEN json_valid(raw) THEN raw::JSON END AS j
    FROM cleaned WHERE trim(raw) <> ''
)
SELECT line_no, raw, j,
    CASE WHEN NOT utf8_ok AND contains(raw, chr(65533)) THEN 'not valid UTF-8'
         WHEN j IS NULL THEN 'not valid JSON'
         WHEN json_type(j) <> 'OBJECT' THEN 'not a JSON object: ' || lower(json_type(j))
    END AS parse_error,
    CASE WHEN $kind = 'evals' THEN 'eval'
         WHEN $kind = 'requests' THEN 'request'
         WHEN json_type(j) = 'OBJECT' AND {canonical.IS_EVAL_SQL} THEN 'eval'
         ELSE 'request'
    END AS kind
FROM parsed
"""

STAGE_REQUESTS_SQL = f"""
CREATE OR REPLACE TEMP TABLE _req AS
WITH typed AS (
    SELECT line_no, raw, j, parse_error, {canonical.REQUEST_COLUMNS_SQL}
    FROM _classified WHERE kind = 'request'
)
SELECT *, COALESCE(parse_error, {canonical.REQUEST_REASON_SQL}) AS reason FROM typed
"""

STAGE_EVALS_SQL = f"""
CREATE OR REPLACE TEMP TABLE _ev AS
WITH typed AS (
    SELECT line_no, raw, j, parse_error, {canonical.EVAL_COLUMNS_SQL}
    FROM _classified WHERE kind = 'eval'
)
SELECT *, COALESCE(parse_error, {canonical.EVAL_REASON_SQL}) AS reason FROM typed
"""

QUARANTINE_SQL = """
INSERT INTO quarantine
SELECT $run_id, $file, line_no, reason, left(raw, $cap), current_timestamp::TIMESTAMP
FROM (SELECT line_no, reason, raw FROM _req UNION ALL SELECT line_no, reason, raw FROM _ev)
WHERE reason IS NOT NULL
"""

# Within a file, the most complete record per request_id: largest output, then latest.
BEST_REQUESTS_SQL = f"""
CREATE OR REPLACE TEMP TABLE _best AS
WITH good AS (
    SELECT COALESCE(request_id, {canonical.FALLBACK_ID_SQL}) AS request_id, ts,
        lower(provider) AS provider, model, feature, task_id, trace_id, session_id, customer,
        prompt_template, environment, workspace, input_tokens,
        COALESCE(cache_read_tokens, 0) AS cache_read_tokens,
        COALESCE(cache_write_5m_tokens, 0) AS cache_write_5m_tokens,
        COALESCE(cache_write_1h_tokens, 0) AS cache_write_1h_tokens,
        output_tokens, COALESCE(reasoning_tokens, 0) AS reasoning_tokens,
        prefix_hash, prefix_tokens, max_tokens, finish_reason, COALESCE(status, 'ok') AS status,
        latency_ms, COALESCE(batch, false) AS batch, service_tier, region, logged_cost,
        attributes, line_no
    FROM _req WHERE reason IS NULL
),
ranked AS (
    SELECT *, row_number() OVER (
        PARTITION BY request_id ORDER BY output_tokens DESC, ts DESC, line_no DESC) AS pick
    FROM good
)
SELECT * FROM ranked WHERE pick = 1
"""

# An earlier record of the same request is replaced only by a more complete one.
REPLACE_REQUESTS_SQL = """
DELETE FROM requests WHERE request_id IN (
    SELECT b.request_id FROM _best b JOIN requests r ON r.request_id = b.request_id
    WHERE b.output_tokens > r.output_tokens
       OR (b.output_tokens = r.output_tokens AND b.ts > r.ts)
)
"""

INSERT_REQUESTS_SQL = """
INSERT INTO requests
SELECT request_id, ts, provider, model, feature, task_id, trace_id, session_id, customer,
    prompt_template, environment, workspace, input_tokens, cache_read_tokens,
    cache_write_5m_tokens, cache_write_1h_tokens, output_tokens, reasoning_tokens, prefix_hash,
    prefix_tokens, max_tokens, finish_reason, status, latency_ms, batch, service_tier, region,
    logged_cost, attributes, $run_id, line_no
FROM _best b
WHERE NOT EXISTS (SELECT 1 FROM requests r WHERE r.request_id = b.request_id)
"""

INSERT_EVALS_SQL = """
INSERT INTO evals
WITH good AS (
    SELECT md5(concat_ws('|', COALESCE(request_id, ''), COALESCE(task_id, ''), evaluator,
                         passed::VARCHAR, COALESCE(score::VARCHAR, ''), COALESCE(ts::VARCHAR, ''),
                         COALESCE(model, ''))) AS eval_id,
           request_id, task_id, evaluator, passed, score, ts, model, line_no,
           row_number() OVER (PARTITION BY eval_id ORDER BY line_no) AS pick
    FROM _ev WHERE reason IS NULL
)
SELECT eval_id, request_id, task_id, evaluator, passed, score, ts, model, $run_id, line_no
FROM good g
WHERE pick = 1 AND NOT EXISTS (SELECT 1 FROM evals e WHERE e.eval_id = g.eval_id)
"""

TOP_REASONS_SQL = """
SELECT split_part(reason, ':', 1) AS why, count(*) AS n
FROM (SELECT reason FROM _req UNION ALL SELECT reason FROM _ev) WHERE reason IS NOT NULL
GROUP BY why ORDER BY n DESC, why LIMIT 5
"""

BAD_LINES_SQL = """
SELECT line_no, reason
FROM (SELECT line_no, reason FROM _req UNION ALL SELECT line_no, reason FROM _ev)
WHERE reason IS NOT NULL ORDER BY line_no LIMIT ?
"""


@dataclass
class FileResult:
    """What one file's ingest did; `status` is ok, skipped (already ingested) or rejected."""

    name: str
    sha256: str = ""
    status: str = "ok"
    lines_read: int = 0
    requests_inserted: int = 0
    requests_replaced: int = 0
    evals_inserted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    top_reasons: list[tuple[str, int]] = field(default_factory=list)
    bad_lines: list[tuple[int, str]] = field(default_factory=list)


def ingest_source(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    *,
    fmt: str = "auto",
    kind: str = "auto",
    strict: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> FileResult:
    """Ingest one source in one transaction; --strict keeps nothing from a file with bad lines."""
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt}: not supported yet (supported: {', '.join(FORMATS)})")
    if kind not in KINDS:
        raise UsageError(f"--kind {kind}: expected one of {', '.join(KINDS)}")
    result = FileResult(source.name)
    con.execute("BEGIN TRANSACTION")
    try:
        reader = _load_raw(con, source, on_progress)
        result.sha256 = reader.sha256.hexdigest()
        if _already_ingested(con, result.sha256):
            con.execute("ROLLBACK")
            result.status = "skipped"
            return result
        run_id = _next_run_id(con)
        con.execute(
            "INSERT INTO ingest_runs (run_id, file, sha256, format, started_at) "
            "VALUES (?, ?, ?, ?, current_timestamp::TIMESTAMP)",
            [run_id, source.name, result.sha256, fmt],
        )
        _stage(con, kind)
        _count_lines(con, result)
        if strict and result.quarantined:
            con.execute("ROLLBACK")
            result.status = "rejected"
            return result
        _store(con, source.name, run_id, result)
        con.execute(
            "UPDATE ingest_runs SET finished_at = current_timestamp::TIMESTAMP, lines_read = ?, "
            "requests_inserted = ?, requests_replaced = ?, evals_inserted = ?, duplicates = ?, "
            "quarantined = ? WHERE run_id = ?",
            [result.lines_read, result.requests_inserted, result.requests_replaced,
             result.evals_inserted, result.duplicates, result.quarantined, run_id],
        )  # fmt: skip
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        _drop_staging(con)
    return result


def _load_raw(
    con: duckdb.DuckDBPyConnection, source: Source, on_progress: Callable[[int], None] | None
) -> ChunkReader:
    con.execute("CREATE OR REPLACE TEMP TABLE _raw (line_no BIGINT, raw VARCHAR, utf8_ok BOOLEAN)")
    reader = ChunkReader(source)
    for chunk in reader.chunks():
        con.execute(LOAD_CHUNK_SQL, [chunk.first_line, chunk.utf8_ok, chunk.text])
        if on_progress:
            on_progress(reader.bytes_read)
    return reader


def _stage(con: duckdb.DuckDBPyConnection, kind: str) -> None:
    mode = {"auto": "auto", "requests": "requests", "evals": "evals"}[kind]
    con.execute(CLASSIFY_SQL, {"kind": mode})
    con.execute(STAGE_REQUESTS_SQL)
    con.execute(STAGE_EVALS_SQL)
    con.execute(BEST_REQUESTS_SQL)


def _count_lines(con: duckdb.DuckDBPyConnection, result: FileResult) -> None:
    row = con.execute(
        "SELECT (SELECT count(*) FROM _classified), "
        "(SELECT count(*) FROM _req WHERE reason IS NOT NULL) "
        "+ (SELECT count(*) FROM _ev WHERE reason IS NOT NULL)"
    ).fetchone()
    assert row is not None
    result.lines_read, result.quarantined = int(row[0]), int(row[1])
    if result.quarantined:
        result.top_reasons = [(str(r), int(n)) for r, n in con.execute(TOP_REASONS_SQL).fetchall()]
        result.bad_lines = [
            (int(n), str(r)) for n, r in con.execute(BAD_LINES_SQL, [SHOWN_BAD_LINES]).fetchall()
        ]


def _store(con: duckdb.DuckDBPyConnection, name: str, run_id: int, result: FileResult) -> None:
    con.execute(QUARANTINE_SQL, {"run_id": run_id, "file": name, "cap": RAW_CAP})
    result.requests_replaced = _count(con.execute(REPLACE_REQUESTS_SQL))
    result.requests_inserted = _count(con.execute(INSERT_REQUESTS_SQL, {"run_id": run_id}))
    result.evals_inserted = _count(con.execute(INSERT_EVALS_SQL, {"run_id": run_id}))
    good = con.execute(
        "SELECT (SELECT count(*) FROM _req WHERE reason IS NULL) "
        "+ (SELECT count(*) FROM _ev WHERE reason IS NULL)"
    ).fetchone()
    assert good is not None
    result.duplicates = int(good[0]) - result.requests_inserted - result.evals_inserted


def _already_ingested(con: duckdb.DuckDBPyConnection, sha256: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM ingest_runs WHERE sha256 = ? AND finished_at IS NOT NULL", [sha256]
    ).fetchone()
    return bool(row and row[0])


def _next_run_id(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT COALESCE(max(run_id), 0) + 1 FROM ingest_runs").fetchone()
    return int(row[0]) if row else 1


def _count(cursor: duckdb.DuckDBPyConnection) -> int:
    row = cursor.fetchone()
    return int(row[0]) if row else 0


def _drop_staging(con: duckdb.DuckDBPyConnection) -> None:
    for table in ("_raw", "_classified", "_req", "_ev", "_best"):
        con.execute(f"DROP TABLE IF EXISTS {table}")
