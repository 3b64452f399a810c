"""Ingest sources into the store: one transaction per file, quarantine, dedupe, run records."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import duckdb

from costops.errors import UsageError
from costops.ingest import arrays, canonical, fast, quarantine
from costops.ingest.best import BEST_ORDER, BEST_ORDER_FILES, REPEATED_SQL, stored_columns_sql
from costops.ingest.formats import batch_inputs, otlp
from costops.ingest.formats.cloud import hinted_reason
from costops.ingest.formats.detect import (
    BATCH_INPUT,
    CANONICAL_CASE_SQL,
    DETECT_SQL,
    FORMATS,
    RESPONSE_CASE_SQL,
    SKIP,
    USAGE_SQL,
)
from costops.ingest.formats.gateways import CLAUDE_CODE_STRUCTURE
from costops.ingest.formats.sql import IN_FILE, json_mappings, patch
from costops.ingest.redact import redact_sql, tokens_sql
from costops.ingest.sources import (
    MAX_LINE_BYTES,
    Chunk,
    ChunkReader,
    FileIdentity,
    Source,
    first_line_is_json,
)

KINDS = ("auto", "requests", "evals")
SHOWN_BAD_LINES = 10
ARRAY_READS = 2  # an array file DuckDB reads by name: read once more if it changed meanwhile

# `part`: every line is a part of line $first (a long OTLP export, split).
# `unparsed`: why a line is not parsed (cut off for its length, or where a .gz broke off).
# `default_ts`: the time of records that carry none; `file_start`: a file's first line (its BOM).
LOAD_CHUNK_SQL = """
CREATE OR REPLACE TEMP TABLE _raw AS
WITH split AS (
    SELECT generate_subscripts(l, 1) AS i, unnest(l) AS raw
    FROM (SELECT string_split($text, chr(10)) AS l)
),
numbered AS (
    SELECT CASE WHEN $part > 0 THEN $first ELSE i + $first - 1 END AS line_no, raw FROM split
)
SELECT line_no, raw, NOT list_contains($bad_utf8::BIGINT[], line_no) AS utf8_ok,
    ($reasons::VARCHAR[])[list_position($unparsed::BIGINT[], line_no)] AS unparsed,
    $default_ts::VARCHAR AS default_ts, line_no = 1 AS file_start
FROM numbered
"""

# A count or id key given twice in one object: DuckDB reads the first value, most producers the
# last, so the line is ambiguous. Checked at the top level and in the objects where formats keep
# usage and ids (one parse for all of them; canonical lines have only the top level, and an OTLP
# export keeps its counts in attribute lists, where the last value wins).
# The objects that hold counts count too: a `usage` given twice is as ambiguous as its counts.
_COUNT_OR_ID_KEY = (
    "(^id$|_id$|Id$|[Tt]okens?$|TokenCount$|^(input|output|total)$"
    "|^(usage|usageMetadata|usageDetails|usage_details|message|response|result|body"
    "|cache_creation|[a-z_]+_details|outputBodyJson|additional_usage_values|usage_object)$)"
)
_NESTED_PATHS = [
    "$.usage", "$.usage.prompt_tokens_details", "$.usage.completion_tokens_details",
    "$.usage.input_tokens_details", "$.usage.output_tokens_details", "$.usage.cache_creation",
    "$.response", "$.response.usage", "$.response.body", "$.response.body.usage",
    "$.result.message", "$.result.message.usage", "$.message", "$.message.usage",
    "$.message.usage.cache_creation", "$.usageDetails", "$.usage_details", "$.usageMetadata",
    "$.response.usageMetadata", "$.metadata.additional_usage_values", "$.metadata.usage_object",
    "$.input", "$.output", "$.output.outputBodyJson.usage",
]  # fmt: skip


def _repeated(keys: str) -> str:
    return f"list_filter({keys}, lambda k, i: list_position({keys}, k) < i)"


REPEATED_KEY_SQL = f"""list_filter(list_concat({_repeated("keys")},
    CASE WHEN detected NOT IN ('costops', 'otlp')
        THEN flatten(list_transform(json_keys(raw, {_NESTED_PATHS!r}),
                                    lambda ks: {_repeated("ks")}))
    END),
    lambda k: regexp_matches(k, '{_COUNT_OR_ID_KEY}'))[1]"""

# Blank lines are skipped; a trailing CR (CRLF files) and a BOM on line 1 are stripped.
# (Plain ltrim/rtrim over every line costs more than parsing it.)
CLASSIFY_SQL = f"""
CREATE OR REPLACE TEMP TABLE _classified AS
WITH uncr AS (
    SELECT line_no, utf8_ok, unparsed, default_ts, file_start,
        CASE WHEN ends_with(raw, chr(13)) THEN left(raw, length(raw) - 1) ELSE raw END AS raw
    FROM _raw
),
cleaned AS (
    SELECT line_no, utf8_ok, unparsed, default_ts,
        CASE WHEN file_start AND starts_with(raw, chr(65279)) THEN substr(raw, 2) ELSE raw END
            AS raw
    FROM uncr
),
checked AS (
    SELECT line_no, utf8_ok, unparsed, default_ts, raw,
        CASE WHEN unparsed IS NULL THEN TRY(json_keys(raw)) END AS any_keys
    FROM cleaned
    WHERE unparsed IS NOT NULL
       OR CASE WHEN ascii(raw) IN (9, 32) THEN trim(raw) <> '' ELSE raw <> '' END
),
typed AS (
    -- one parse for most lines: a line with keys is a valid object; only the others (not JSON,
    -- another JSON value, an empty object) are looked at again
    SELECT *, any_keys IS NOT NULL AS valid,
        CASE WHEN len(any_keys) > 0 THEN 'OBJECT' WHEN any_keys IS NOT NULL THEN json_type(raw)
        END AS top_type
    FROM checked
),
framed AS (
    SELECT * EXCLUDE (any_keys), CASE WHEN top_type = 'OBJECT' THEN any_keys END AS keys
    FROM typed
),
detected AS (
    SELECT *,
        CASE WHEN top_type <> 'OBJECT' OR top_type IS NULL THEN 'costops'
             WHEN $kind = 'evals' THEN 'eval'
             -- a forced format still skips the non-request lines real logs carry
             WHEN $format <> 'auto' THEN
                 CASE WHEN ({DETECT_SQL}) = '{SKIP}' THEN '{SKIP}' ELSE $format END
             ELSE {DETECT_SQL}
        END AS detected
    FROM framed
),
repeats AS (
    SELECT *, CASE WHEN top_type = 'OBJECT' THEN {REPEATED_KEY_SQL} END AS repeated FROM detected
)
SELECT line_no, raw, default_ts,
    CASE WHEN $kind = 'requests' AND detected = 'eval' THEN 'costops' ELSE detected END AS format,
    CASE WHEN unparsed IS NOT NULL THEN unparsed
         WHEN NOT utf8_ok THEN 'not valid UTF-8'
         WHEN NOT valid THEN 'not valid JSON'
         WHEN top_type <> 'OBJECT' THEN 'not a JSON object: ' || lower(top_type)
         WHEN len(keys) = 0 THEN 'empty JSON object'
         WHEN repeated IS NOT NULL THEN 'duplicate key in one JSON object: ' || repeated
         WHEN detected = 'unknown' THEN 'unrecognised format (keys: '
             || array_to_string(list_slice(keys, 1, 8), ', ') || ')'
    END AS parse_error
FROM repeats
"""


_CLAUDE_CODE_STRUCTURE = json.dumps(CLAUDE_CODE_STRUCTURE)


def canon_sql(mappings: dict[str, tuple[str, ...]]) -> str:
    """One canonical JSON object per request: the line itself, an adapter's rebuild of it, or one
    per model-call span of an OTLP line; then the user's dimension mappings on top."""
    patched = patch("canon", json_mappings(mappings))
    return f"""
CREATE OR REPLACE TEMP TABLE _canon AS
WITH framed AS (
    SELECT *,
        CASE WHEN format = 'claude-code' THEN json_transform(raw, '{_CLAUDE_CODE_STRUCTURE}') END
            AS cc,
        CASE WHEN format NOT IN ('costops', 'claude-code') THEN raw::JSON END AS j
    FROM _classified
    WHERE format NOT IN ('eval', 'otlp', '{SKIP}', '{BATCH_INPUT}')
),
responses AS (
    SELECT *, CASE WHEN format NOT IN ('costops', 'claude-code') THEN {RESPONSE_CASE_SQL} END
            AS b,
        CASE WHEN format = 'litellm' THEN {USAGE_SQL} END AS u
    FROM framed
),
adapted AS (
    SELECT line_no, raw, parse_error, format,
        CASE WHEN parse_error IS NOT NULL THEN NULL
             WHEN format = 'costops' THEN raw
             ELSE {CANONICAL_CASE_SQL}
        END AS canon
    FROM responses
)
SELECT line_no, raw, parse_error, format,
    CASE WHEN parse_error IS NULL THEN {patched} END AS canon
FROM adapted
UNION ALL
{otlp.canon_sql(mappings)}
"""


STAGE_REQUESTS_SQL = f"""
CREATE OR REPLACE TEMP TABLE _req AS
WITH parsed AS (
    SELECT line_no, raw, parse_error, format,
        CASE WHEN parse_error IS NULL THEN {canonical.fragments(canonical.REQUEST_FIELDS, "canon")}
        END AS f
    FROM _canon
),
typed AS (SELECT line_no, raw, parse_error, format, f, {canonical.REQUEST_COLUMNS_SQL} FROM parsed),
checked AS (SELECT *, COALESCE(parse_error, {canonical.REQUEST_REASON_SQL}) AS why FROM typed)
SELECT * EXCLUDE (why), {hinted_reason("why")} AS reason FROM checked
"""

STAGE_EVALS_SQL = f"""
CREATE OR REPLACE TEMP TABLE _ev AS
WITH parsed AS (
    SELECT line_no, raw, parse_error,
        CASE WHEN parse_error IS NULL THEN {canonical.fragments(canonical.EVAL_FIELDS)} END AS f
    FROM _classified WHERE format = 'eval'
),
typed AS (SELECT line_no, raw, parse_error, f, {canonical.EVAL_COLUMNS_SQL} FROM parsed)
SELECT *, COALESCE(parse_error, {canonical.EVAL_REASON_SQL}) AS reason FROM typed
"""

# Within a file (or the files ingested together), one stored record per request_id.
BEST_REQUESTS_SQL = """
CREATE OR REPLACE TEMP TABLE _best AS
WITH good AS MATERIALIZED (
    SELECT {stored}, line_no{file}{raw} FROM {source} WHERE reason IS NULL
)
{dedupe}
"""
DEDUPE_SQL = f""", repeated AS ({REPEATED_SQL.format(rows="good")})
SELECT * FROM good WHERE request_id NOT IN (SELECT request_id FROM repeated)
UNION ALL
(SELECT * FROM good WHERE request_id IN (SELECT request_id FROM repeated)
 QUALIFY row_number() OVER (PARTITION BY request_id ORDER BY {{order}}) = 1)"""


def best_requests_sql(
    source: str, dedupe: bool = True, keep_text: bool = False, files: bool = False
) -> str:
    """_best from the staged requests in `source`; without `dedupe` when ids are known unique,
    and across `files` (ingested together) when more than one. Attributes lose their secrets,
    and their prompt-like keys unless --keep-text."""
    if files:
        source = f"(SELECT r.*, f.first_line AS file_first FROM {source} r {IN_FILE.format(t='r')})"
    order = BEST_ORDER_FILES if files else BEST_ORDER
    return BEST_REQUESTS_SQL.format(
        stored=stored_columns_sql(keep_text),
        source=source,
        dedupe=DEDUPE_SQL.format(order=order) if dedupe else "SELECT * FROM good",
        raw=", raw" if keep_text else "",
        file=", file_first" if files else "",
    )


PREFIXES_DROPPED_SQL = "SELECT count(*) FROM _best WHERE prefix_dropped"

# An earlier record of the same request is replaced only by a more complete one.
MORE_COMPLETE_SQL = """
SELECT b.request_id FROM _best b JOIN requests r ON r.request_id = b.request_id
WHERE b.output_tokens > r.output_tokens OR (b.output_tokens = r.output_tokens AND b.ts > r.ts)
"""
REPLACE_REQUESTS_SQL = f"DELETE FROM requests WHERE request_id IN ({MORE_COMPLETE_SQL})"

INSERT_REQUESTS_SQL = f"""
INSERT INTO requests
SELECT request_id, ts, provider, model, feature, task_id, trace_id, session_id, customer,
    prompt_template, environment, workspace, input_tokens, cache_read_tokens,
    cache_write_5m_tokens, cache_write_1h_tokens, output_tokens, reasoning_tokens, prefix_hash,
    prefix_tokens, max_tokens, finish_reason, status, latency_ms, batch, service_tier, region,
    logged_cost, attributes, f.run_id, line_no - f.shift
FROM _best b {IN_FILE.format(t="b")}
WHERE NOT EXISTS (SELECT 1 FROM requests r WHERE r.request_id = b.request_id)
"""

INSERT_EVALS_SQL = f"""
INSERT INTO evals
WITH good AS (
    SELECT md5(concat_ws('|', COALESCE(request_id, ''), COALESCE(task_id, ''), evaluator,
                         passed::VARCHAR, COALESCE(score::VARCHAR, ''), COALESCE(ts::VARCHAR, ''),
                         COALESCE(model, ''))) AS eval_id,
           request_id, task_id, evaluator, passed, score, ts, model, line_no,
           row_number() OVER (PARTITION BY eval_id ORDER BY line_no) AS pick
    FROM {{source}} WHERE reason IS NULL
)
SELECT eval_id, request_id, task_id, evaluator, passed, score, ts, model, f.run_id,
    line_no - f.shift
FROM good g {IN_FILE.format(t="g")}
WHERE pick = 1 AND NOT EXISTS (SELECT 1 FROM evals e WHERE e.eval_id = g.eval_id)
"""

# --keep-text (opt-in): the whole logged line of each stored request, prompts included, secrets not.
KEEP_TEXT_SQL = f"""
INSERT INTO request_text
SELECT request_id, f.run_id, {redact_sql("raw")}
FROM _best b {IN_FILE.format(t="b")}
WHERE NOT EXISTS (SELECT 1 FROM request_text t WHERE t.request_id = b.request_id)
"""

# What the staged lines count, per file (run id): lines by format and skipped, good, bad.
TALLY_LINES_SQL = f"""
SELECT f.run_id, c.format, count(*),
    count(*) FILTER (WHERE c.format = '{SKIP}'
        OR (c.format = 'otlp' AND c.parse_error IS NULL AND k.line_no IS NULL))
FROM _classified c {IN_FILE.format(t="c")}
LEFT JOIN (SELECT DISTINCT line_no FROM _canon) k ON k.line_no = c.line_no
GROUP BY ALL
"""

TALLY_GOOD_SQL = f"""
SELECT f.run_id, count(*)
FROM (SELECT line_no FROM _req WHERE reason IS NULL
      UNION ALL SELECT line_no FROM _ev WHERE reason IS NULL) g {IN_FILE.format(t="g")}
GROUP BY ALL
"""

TALLY_BAD_SQL = f"""
SELECT f.run_id, b.line_no - f.shift, {tokens_sql("reason")}
FROM (SELECT line_no, reason FROM _req UNION ALL SELECT line_no, reason FROM _ev) b
{IN_FILE.format(t="b")}
WHERE reason IS NOT NULL ORDER BY b.line_no
"""

# The files whose lines are staged: line numbers first_line..last_line are the file's, its own
# numbers less `shift`. One file read alone keeps its own numbers.
ONE_FILE_SQL = """
CREATE OR REPLACE TEMP TABLE _files AS
SELECT $run_id::BIGINT AS run_id, $file::VARCHAR AS file, 0::BIGINT AS first_line,
    9223372036854775807::BIGINT AS last_line, 0::BIGINT AS shift
"""


@dataclass
class FileResult:
    """What one file's ingest did; `status` is ok, skipped (already ingested), rejected
    (--strict) or refused (not read: `refused` says why)."""

    name: str
    sha256: str = ""
    status: str = "ok"
    lines_read: int = 0
    skipped: int = 0  # lines that carry no usage (transcript chatter, batch inputs, tool spans)
    good_lines: int = 0
    requests_inserted: int = 0  # net new rows
    requests_replaced: int = 0  # earlier, less complete records replaced
    evals_inserted: int = 0
    batch_inputs: int = 0  # batch input lines kept for the join with their results
    quarantined: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    formats: Counter[str] = field(default_factory=Counter)
    bad_lines: list[tuple[int, str]] = field(default_factory=list)
    damage: str | None = None  # why the file could not be read to its end (a broken .gz)
    split_rows: int = 0  # requests and bad rows so far from the line being read in parts
    prefixes_dropped: int = 0  # requests kept without their prefix (larger than the input)
    refused: str | None = None  # why the file was not read at all (binary, not a JSON array)
    identity: FileIdentity | None = None  # the file whose content (sha256) the store now has

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
    default_time: str | None = None,
    mappings: dict[str, tuple[str, ...]] | None = None,
    keep_text: bool = False,
    on_progress: Callable[[int, int | None], None] | None = None,
    fast_path: bool = True,
) -> FileResult:
    """Ingest one source in one transaction: a clean canonical file in one pass (the fast
    path), any other chunk by chunk; --strict keeps nothing from a file with bad lines. A file
    whose content was ingested before is skipped."""
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt}: not supported yet (supported: {', '.join(FORMATS)})")
    if kind not in KINDS:
        raise UsageError(f"--kind {kind}: expected one of {', '.join(KINDS)}")
    options = _Options(fmt, kind, strict, default_time, mappings or {}, keep_text, fast_path)
    with ChunkReader(source) as reader:
        return _ingest(con, reader, options, on_progress)


@dataclass(frozen=True)
class _Options:
    fmt: str
    kind: str
    strict: bool
    default_time: str | None
    mappings: dict[str, tuple[str, ...]]
    keep_text: bool
    fast_path: bool


@dataclass
class _Plan:
    """How a source is read: staged by the fast path, as an array's elements, or (neither) by
    the reader's chunks. `lines`: the file's line count (None for stdin)."""

    staged: fast.Staged | None = None
    elements: arrays.Staged | None = None
    lines: int | None = None


def _plan(
    con: duckdb.DuckDBPyConnection,
    reader: ChunkReader,
    result: FileResult,
    options: _Options,
    on_progress: Callable[[int, int | None], None] | None,
) -> _Plan | None:
    """Hash (stdin: look at) the source and choose how to read it; None when it is not read at
    all (`result.status` says why: already ingested, or refused)."""
    source, plan = reader.source, _Plan()
    if source.path is None:
        reader.read_stdin_head()
        result.sha256 = reader.sha256.hexdigest() if reader.spooled else ""
    elif options.fast_path and fast.may_take(
        source, options.fmt, options.mappings, options.keep_text
    ):
        result.sha256, plan.lines, plan.staged = fast.stage(
            con, source, options.kind, reader, on_progress
        )
    else:
        result.sha256, plan.lines = reader.fingerprint(count_keys=False)
    if reader.refused is None and result.sha256 and _already_ingested(con, result.sha256):
        result.status = "skipped"
        result.identity = None if reader.changed() else reader.identity
        fast.drop(con)  # staged before the hash was known
        return None
    if reader.refused is None and reader.array:
        hashed = result.sha256
        plan.elements = _stage_array(con, reader, result)
        if result.sha256 != hashed and _already_ingested(con, result.sha256):
            arrays.drop(con)
            result.status = "skipped"
            return None
    if reader.refused is not None:
        result.status, result.refused = "refused", reader.refused
        return None
    if plan.staged is not None and reader.changed():
        # rotated or rewritten since it was hashed: read it once, hashing what is parsed
        fast.drop(con)
        plan.staged = None
    if on_progress and plan.staged is None:
        on_progress(0, plan.elements.elements if plan.elements else plan.lines)
    return plan


def _ingest(
    con: duckdb.DuckDBPyConnection,
    reader: ChunkReader,
    options: _Options,
    on_progress: Callable[[int, int | None], None] | None,
) -> FileResult:
    source = reader.source
    result = FileResult(source.name)
    plan = _plan(con, reader, result, options, on_progress)
    if plan is None:
        return result
    staged, elements, lines = plan.staged, plan.elements, plan.lines
    kind, fmt, mappings, keep_text = options.kind, options.fmt, options.mappings, options.keep_text
    default_time = options.default_time
    default_ts = default_time or _modified_time(source)
    con.execute("BEGIN TRANSACTION")
    try:
        run_id = next_run_id(con)
        con.execute(
            "INSERT INTO ingest_runs (run_id, file, sha256, format, started_at) "
            "VALUES (?, ?, ?, ?, current_timestamp::TIMESTAMP)",
            [run_id, source.name, result.sha256, fmt],
        )
        con.execute(ONE_FILE_SQL, {"run_id": run_id, "file": source.name})
        if staged is not None:
            _store_staged(con, staged, result)
        else:
            for part, last_part, done in _loaded(con, reader, elements, default_ts):
                stage(con, kind, fmt, default_time, mappings, keep_text)
                _tally(con, run_id, result, part, last_part)
                if options.strict and result.quarantined:
                    con.execute("ROLLBACK")
                    result.status = "rejected"
                    return result
                _store(con, result, keep_text)
                if on_progress:
                    on_progress(done, elements.elements if elements else lines)
        # The hash recorded is the one of exactly the bytes parsed (stdin is hashed only now).
        if staged is None and elements is None and reader.sha256.hexdigest() != result.sha256:
            result.sha256 = reader.sha256.hexdigest()
            if _already_ingested(con, result.sha256):
                con.execute("ROLLBACK")
                result.status = "skipped"
                return result
        result.damage = reader.damage
        if has_batch_results(result):
            con.execute(batch_inputs.JOIN_SQL)
        _finish_run(con, run_id, result)
        con.execute("COMMIT")
        result.identity = None if reader.changed() else reader.identity
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        drop_staging(con)
    return result


def _stage_array(
    con: duckdb.DuckDBPyConnection, reader: ChunkReader, result: FileResult
) -> arrays.Staged | None:
    """Stage a source that starts like a JSON array. None when it is not read as one: refused
    (`reader.refused` says why), or JSON Lines after all (`reader.array` is cleared). DuckDB reads
    a file by name: one rotated or rewritten since it was hashed is hashed and read once more."""
    for _ in range(ARRAY_READS):
        if reader.damage is not None:  # a broken .gz: what is readable is not a whole array
            reader.refused = reader.damage
            return None
        path = reader.spooled or reader.source.path
        assert path is not None
        staged = arrays.stage(con, path, reader.gzipped and reader.spooled is None)
        if isinstance(staged, str):
            if first_line_is_json(reader.head):
                reader.array = False
            else:
                reader.refused = staged
            return None
        if reader.spooled is not None or not reader.changed():
            return staged
        arrays.drop(con)
        result.sha256, _ = reader.fingerprint(count_keys=False)
        if reader.refused is not None or not reader.array:
            return None
    reader.refused = "changed while it was read (rotated or written to): try again"
    return None


def _loaded(
    con: duckdb.DuckDBPyConnection,
    reader: ChunkReader,
    elements: arrays.Staged | None,
    default_ts: str,
) -> Iterator[tuple[int, bool, int]]:
    """Load the source into `_raw` a piece at a time: the elements of an array in slices, or
    the reader's chunks. Yields each piece's (part, last part, lines done); see `Chunk.part`."""
    if elements is not None:
        for first, last in elements.slices:
            arrays.load(con, first, last, default_ts)
            yield 0, True, last + 1
        return
    for chunk in reader.chunks():
        _load(con, chunk, default_ts)
        yield chunk.part, chunk.last_part, reader.lines_done


def _load(con: duckdb.DuckDBPyConnection, chunk: Chunk, default_ts: str) -> None:
    params = {
        "first": chunk.first_line, "part": chunk.part, "text": chunk.text,
        "bad_utf8": list(chunk.bad_utf8),
        "unparsed": list(chunk.unparsed), "reasons": list(chunk.unparsed.values()),
        "default_ts": default_ts,
    }  # fmt: skip
    con.execute(LOAD_CHUNK_SQL, params)


def stage(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    fmt: str,
    given_ts: str | None,
    mappings: dict[str, tuple[str, ...]],
    keep_text: bool,
    files: bool = False,
) -> None:
    """Classify, adapt and check the lines in `_raw` into `_req`, `_ev` and `_best`."""
    con.execute(CLASSIFY_SQL, {"kind": kind, "format": fmt})
    con.execute(otlp.SPANS_SQL)
    con.execute(otlp.TRACE_CONTEXT_SQL)
    con.execute(canon_sql(mappings), {"given_ts": given_ts})
    con.execute(STAGE_REQUESTS_SQL)
    con.execute(STAGE_EVALS_SQL)
    con.execute(best_requests_sql("_req", keep_text=keep_text, files=files))


def tally(con: duckdb.DuckDBPyConnection, results: dict[int, FileResult]) -> None:
    """Add what the staged lines count to each file's result (by run id)."""
    for run_id, fmt, lines, skipped in con.execute(TALLY_LINES_SQL).fetchall():
        result = results[run_id]
        result.lines_read += lines
        result.skipped += skipped
        result.formats[str(fmt)] += lines
    for run_id, good in con.execute(TALLY_GOOD_SQL).fetchall():
        results[run_id].good_lines += good
    for run_id, line_no, reason in con.execute(TALLY_BAD_SQL).fetchall():
        result = results[run_id]
        result.quarantined += 1
        result.reasons[str(reason).split(":", 1)[0]] += 1
        if len(result.bad_lines) < SHOWN_BAD_LINES:
            result.bad_lines.append((int(line_no), str(reason)))


def _tally(
    con: duckdb.DuckDBPyConnection, run_id: int, result: FileResult, part: int, last_part: bool
) -> None:
    chunk = FileResult(result.name)
    tally(con, {run_id: chunk})
    if part:  # every row is a piece of one line (a split export): it counts once
        result.split_rows = (result.split_rows if part > 1 else 0) + chunk.good_lines
        result.split_rows += chunk.quarantined
        chunk.lines_read = int(part == 1)
        chunk.skipped = int(last_part and result.split_rows == 0)
        chunk.formats = Counter({"otlp": chunk.lines_read})
    result.lines_read += chunk.lines_read
    result.skipped += chunk.skipped
    result.good_lines += chunk.good_lines
    result.formats.update(chunk.formats)
    result.quarantined += chunk.quarantined
    result.reasons.update(chunk.reasons)
    room = SHOWN_BAD_LINES - len(result.bad_lines)
    result.bad_lines += chunk.bad_lines[:room]


def _store(con: duckdb.DuckDBPyConnection, result: FileResult, keep_text: bool) -> None:
    store_quarantine(con, keep_text)
    _store_good(con, result, "_ev")
    result.batch_inputs += _count(con.execute(batch_inputs.STORE_SQL))
    if keep_text:
        con.execute(KEEP_TEXT_SQL)


def store_quarantine(con: duckdb.DuckDBPyConnection, keep_text: bool) -> None:
    con.execute(quarantine.INSERT_SQL, {"keep_text": keep_text, "max_chars": MAX_LINE_BYTES})


def _store_staged(con: duckdb.DuckDBPyConnection, staged: fast.Staged, result: FileResult) -> None:
    """Store a file staged by the fast path: every line good, nothing to quarantine."""
    if staged.duplicate_ids:
        con.execute(fast.DROP_WORSE_SQL)
    result.lines_read = staged.lines
    result.good_lines = staged.requests + staged.evals
    result.formats.update({"costops": staged.requests, "eval": staged.evals})
    result.formats += Counter()  # drop the zero counts
    _store_good(con, result, "_fast_ev")


def _store_good(con: duckdb.DuckDBPyConnection, result: FileResult, evals: str) -> None:
    result.prefixes_dropped += _count(con.execute(PREFIXES_DROPPED_SQL))
    replaced = _count(con.execute(REPLACE_REQUESTS_SQL))
    inserted = _count(con.execute(INSERT_REQUESTS_SQL))
    result.requests_replaced += replaced
    result.requests_inserted += inserted - replaced
    result.evals_inserted += _count(con.execute(INSERT_EVALS_SQL.replace("{source}", evals)))


def _finish_run(con: duckdb.DuckDBPyConnection, run_id: int, result: FileResult) -> None:
    con.execute(
        "UPDATE ingest_runs SET sha256 = ?, finished_at = current_timestamp::TIMESTAMP, "
        "lines_read = ?, requests_inserted = ?, requests_replaced = ?, evals_inserted = ?, "
        "duplicates = ?, quarantined = ? WHERE run_id = ?",
        [result.sha256, result.lines_read, result.requests_inserted, result.requests_replaced,
         result.evals_inserted, result.duplicates, result.quarantined, run_id],
    )  # fmt: skip


def has_batch_results(result: FileResult) -> bool:
    """Whether the file had batch inputs or results: the store joins the two."""
    return bool(result.batch_inputs) or any(f.endswith("-batch") for f in result.formats)


def _modified_time(source: Source) -> str:
    """When a record carries no time of its own (batch results): the file's modification time."""
    return iso_time(source.path.stat().st_mtime if source.path is not None else None)


def iso_time(seconds: float | None) -> str:
    """A moment (now when None) as the time of a record."""
    moment = dt.datetime.now(dt.UTC)
    if seconds is not None:
        moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _already_ingested(con: duckdb.DuckDBPyConnection, sha256: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM ingest_runs WHERE sha256 = ? AND finished_at IS NOT NULL", [sha256]
    ).fetchone()
    return bool(row and row[0])


def next_run_id(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT COALESCE(max(run_id), 0) + 1 FROM ingest_runs").fetchone()
    return int(row[0]) if row else 1


def _count(cursor: duckdb.DuckDBPyConnection) -> int:
    row = cursor.fetchone()
    return int(row[0]) if row else 0


def drop_staging(con: duckdb.DuckDBPyConnection) -> None:
    fast.drop(con)  # first: its `_best` is a view
    for table in ("_raw", "_classified", "_spans", "_trace_context", "_canon", "_req", "_ev",
                  "_best", "_files"):  # fmt: skip
        con.execute(f"DROP TABLE IF EXISTS {table}")
    arrays.drop(con)
