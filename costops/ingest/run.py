"""Ingest sources into the store: one transaction per file, quarantine, dedupe, run records."""

from __future__ import annotations

from collections import Counter
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
CREATE OR REPLACE TEMP TABLE _raw AS
SELECT generate_subscripts(l, 1) + ? - 1 AS line_no, unnest(l) AS raw, ? AS utf8_ok
FROM (SELECT string_split(?, chr(10)) AS l)
"""

# Blank lines are skipped; a trailing CR (CRLF files) and a BOM on line 1 are stripped.
# (Plain ltrim/rtrim over every line costs more than parsing it.)
CLASSIFY_SQL = f"""
CREATE OR REPLACE TEMP TABLE _classified AS
WITH uncr AS (
    SELECT line_no, utf8_ok,
        CASE WHEN ends_with(raw, chr(13)) THEN left(raw, length(raw) - 1) ELSE raw END AS raw
    FROM _raw
),
cleaned AS (
    SELECT line_no, utf8_ok,
        CASE WHEN line_no = 1 AND starts_with(raw, chr(65279)) THEN substr(raw, 2) ELSE raw END
            AS raw
    FROM uncr
),
checked AS (
    SELECT line_no, utf8_ok, raw, json_valid(raw) AS valid FROM cleaned
    WHERE CASE WHEN ascii(raw) IN (9, 32) THEN trim(raw) <> '' ELSE raw <> '' END
),
typed AS (
    SELECT *, CASE WHEN valid THEN json_type(raw) END AS top_type FROM checked
),
shaped AS (
    SELECT *, CASE WHEN top_type = 'OBJECT' THEN {canonical.fragments(canonical.SHAPE_FIELDS)}
              END AS f
    FROM typed
)
SELECT line_no, raw,
    CASE WHEN NOT utf8_ok AND contains(raw, chr(65533)) THEN 'not valid UTF-8'
         WHEN NOT valid THEN 'not valid JSON'
         WHEN top_type <> 'OBJECT' THEN 'not a JSON object: ' || lower(top_type)
    END AS parse_error,
    CASE WHEN $kind = 'evals' THEN 'eval'
         WHEN $kind = 'requests' THEN 'request'
         WHEN top_type = 'OBJECT' AND {canonical.IS_EVAL_SQL} THEN 'eval'
         ELSE 'request'
    END AS kind
FROM shaped
"""

STAGE_REQUESTS_SQL = f"""
CREATE OR REPLACE TEMP TABLE _req AS
WITH parsed AS (
    SELECT line_no, raw, parse_error,
        CASE WHEN parse_error IS NULL THEN {canonical.fragments(canonical.REQUEST_FIELDS)}
        END AS f
    FROM _classified WHERE kind = 'request'
),
typed AS (SELECT line_no, raw, parse_error, f, {canonical.REQUEST_COLUMNS_SQL} FROM parsed)
SELECT *, COALESCE(parse_error, {canonical.REQUEST_REASON_SQL}) AS reason FROM typed
"""

STAGE_EVALS_SQL = f"""
CREATE OR REPLACE TEMP TABLE _ev AS
WITH parsed AS (
    SELECT line_no, raw, parse_error,
        CASE WHEN parse_error IS NULL THEN {canonical.fragments(canonical.EVAL_FIELDS)} END AS f
    FROM _classified WHERE kind = 'eval'
),
typed AS (SELECT line_no, raw, parse_error, f, {canonical.EVAL_COLUMNS_SQL} FROM parsed)
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

REASONS_SQL = """
SELECT line_no, reason
FROM (SELECT line_no, reason FROM _req UNION ALL SELECT line_no, reason FROM _ev)
WHERE reason IS NOT NULL ORDER BY line_no
"""

COUNTS_SQL = """
SELECT (SELECT count(*) FROM _classified),
       (SELECT count(*) FROM _req WHERE reason IS NULL)
       + (SELECT count(*) FROM _ev WHERE reason IS NULL)
"""


@dataclass
class FileResult:
    """What one file's ingest did; `status` is ok, skipped (already ingested) or rejected."""

    name: str
    sha256: str = ""
    status: str = "ok"
    lines_read: int = 0
    good_lines: int = 0
    requests_inserted: int = 0  # net new rows
    requests_replaced: int = 0  # earlier, less complete records replaced
    evals_inserted: int = 0
    quarantined: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    bad_lines: list[tuple[int, str]] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return self.good_lines - self.requests_inserted - self.evals_inserted

    @property
    def top_reasons(self) -> list[tuple[str, int]]:
        return self.reasons.most_common(5)


def ingest_source(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    *,
    fmt: str = "auto",
    kind: str = "auto",
    strict: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> FileResult:
    """Ingest one source in one transaction, chunk by chunk; --strict keeps nothing from a file
    with bad lines. A file whose content was ingested before is skipped."""
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt}: not supported yet (supported: {', '.join(FORMATS)})")
    if kind not in KINDS:
        raise UsageError(f"--kind {kind}: expected one of {', '.join(KINDS)}")
    result = FileResult(source.name)
    reader = ChunkReader(source)
    if source.path is not None:
        result.sha256 = reader.content_sha256()
        if _already_ingested(con, result.sha256):
            result.status = "skipped"
            return result
    con.execute("BEGIN TRANSACTION")
    try:
        run_id = _next_run_id(con)
        con.execute(
            "INSERT INTO ingest_runs (run_id, file, sha256, format, started_at) "
            "VALUES (?, ?, ?, ?, current_timestamp::TIMESTAMP)",
            [run_id, source.name, result.sha256, fmt],
        )
        for chunk in reader.chunks():
            con.execute(LOAD_CHUNK_SQL, [chunk.first_line, chunk.utf8_ok, chunk.text])
            _stage(con, kind)
            _tally(con, result)
            if strict and result.quarantined:
                con.execute("ROLLBACK")
                result.status = "rejected"
                return result
            _store(con, source.name, run_id, result)
            if on_progress:
                on_progress(reader.bytes_read)
        if source.path is None:
            result.sha256 = reader.sha256.hexdigest()
            if _already_ingested(con, result.sha256):
                con.execute("ROLLBACK")
                result.status = "skipped"
                return result
        _finish_run(con, run_id, result)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        _drop_staging(con)
    return result


def _stage(con: duckdb.DuckDBPyConnection, kind: str) -> None:
    con.execute(CLASSIFY_SQL, {"kind": kind})
    con.execute(STAGE_REQUESTS_SQL)
    con.execute(STAGE_EVALS_SQL)
    con.execute(BEST_REQUESTS_SQL)


def _tally(con: duckdb.DuckDBPyConnection, result: FileResult) -> None:
    row = con.execute(COUNTS_SQL).fetchone()
    assert row is not None
    lines, good = int(row[0]), int(row[1])
    result.lines_read += lines
    result.good_lines += good
    if lines == good:
        return
    bad = con.execute(REASONS_SQL).fetchall()
    result.quarantined += len(bad)
    result.reasons.update(str(reason).split(":", 1)[0] for _, reason in bad)
    room = SHOWN_BAD_LINES - len(result.bad_lines)
    result.bad_lines += [(int(n), str(r)) for n, r in bad[:room]]


def _store(con: duckdb.DuckDBPyConnection, name: str, run_id: int, result: FileResult) -> None:
    con.execute(QUARANTINE_SQL, {"run_id": run_id, "file": name, "cap": RAW_CAP})
    replaced = _count(con.execute(REPLACE_REQUESTS_SQL))
    inserted = _count(con.execute(INSERT_REQUESTS_SQL, {"run_id": run_id}))
    result.requests_replaced += replaced
    result.requests_inserted += inserted - replaced
    result.evals_inserted += _count(con.execute(INSERT_EVALS_SQL, {"run_id": run_id}))


def _finish_run(con: duckdb.DuckDBPyConnection, run_id: int, result: FileResult) -> None:
    con.execute(
        "UPDATE ingest_runs SET sha256 = ?, finished_at = current_timestamp::TIMESTAMP, "
        "lines_read = ?, requests_inserted = ?, requests_replaced = ?, evals_inserted = ?, "
        "duplicates = ?, quarantined = ? WHERE run_id = ?",
        [result.sha256, result.lines_read, result.requests_inserted, result.requests_replaced,
         result.evals_inserted, result.duplicates, result.quarantined, run_id],
    )  # fmt: skip


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
