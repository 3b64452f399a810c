"""The fast path: a file whose every line is a well-formed canonical request or eval record is
parsed by DuckDB's own parallel JSON reader in one pass, straight into typed columns.

Anything else (a bad line, another format, a blank line, a line longer than 16 MiB, bytes that
are not UTF-8, a key given twice in a line, a damaged .gz) makes `stage` return None and the file
goes through the general path, which classifies, adapts and quarantines line by line. Both paths
type and check fields with the same SQL (costops.ingest.canonical), so a file ingests to the same
rows either way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb

from costops.ingest import canonical
from costops.ingest.best import BEST_ORDER, REPEATED_SQL, stored_columns_sql
from costops.ingest.sources import MAX_LINE_BYTES, ChunkReader, Source, gzipped

# Top-level keys that mark another format (see formats.detect.DETECT_SQL). A key whose value is
# null counts as absent here; such a line takes the general path only if it is otherwise bad.
OTHER_FORMAT_KEYS = (
    "usage", "custom_id", "resourceSpans", "sessionId", "spend", "response_cost",
    "usageDetails", "type", "object", "response",
)  # fmt: skip
FIELDS = tuple(
    dict.fromkeys((*canonical.REQUEST_FIELDS, *canonical.EVAL_FIELDS, *OTHER_FORMAT_KEYS))
)
PROGRESS_EVERY_S = 0.25
# Read as text (VARCHAR equals json_extract_string of the fragment for every JSON value, and
# skips a copy of each fragment); every other field as a JSON fragment, to be typed and checked.
TEXT_FIELDS = frozenset((*canonical.STRING_FIELDS, "evaluator"))

_COLUMNS = (
    "{"
    + ", ".join(f"'{name}': '{'VARCHAR' if name in TEXT_FIELDS else 'JSON'}'" for name in FIELDS)
    + "}"
)
_STRUCT = "struct_pack(" + ", ".join(f'"{name}" := "{name}"' for name in FIELDS) + ")"
_OTHER_FORMAT = " OR ".join(f'f."{key}" IS NOT NULL' for key in OTHER_FORMAT_KEYS)
# The eval columns a request does not have (request_id, task_id, ts and model are shared).
_EVAL_COLUMNS = canonical.eval_columns(TEXT_FIELDS)
_EVAL_ONLY_COLUMNS = ",\n    ".join(
    f"{_EVAL_COLUMNS[name]} AS {name}" for name in ("evaluator", "passed", "score")
)

# The raw keys COUNTED_PATTERNS count, per line: each `*_tokens` key present, and a finish_reason
# such as "max_tokens" (the one string value logs commonly end that way).
_TOKEN_KEYS = [name for name in FIELDS if name.endswith("_tokens")]
_COUNTED_TOKENS = " + ".join(
    [f'(f."{key}" IS NOT NULL)::INTEGER' for key in _TOKEN_KEYS]
    + ["COALESCE(ends_with(finish_reason, '_tokens'), false)::INTEGER"]
)

# Each line, typed and checked, and (a request) as it would be stored: with every line good,
# `_best` is a view over this table, not a copy of it.
STAGE_SQL = f"""
CREATE OR REPLACE TEMP TABLE _fast AS
WITH parsed AS (
    SELECT {_STRUCT} AS f
    FROM read_json($path, format = 'newline_delimited', columns = {_COLUMNS},
                   compression = $compression, maximum_object_size = {MAX_LINE_BYTES})
),
framed AS (
    SELECT f,
        CASE WHEN {_OTHER_FORMAT} THEN NULL
             WHEN $kind = 'evals' THEN 'eval'
             WHEN f.model IS NOT NULL AND f.input_tokens IS NOT NULL
                  AND f.timestamp IS NOT NULL AND $kind <> 'evals' THEN 'costops'
             WHEN (f.passed IS NOT NULL OR f.score IS NOT NULL) AND f.input_tokens IS NULL
                  AND f.output_tokens IS NULL AND $kind <> 'requests' THEN 'eval'
        END AS format
    FROM parsed
),
typed AS (
    SELECT f, format, NULL::VARCHAR AS raw,
    {canonical.request_columns_sql(TEXT_FIELDS)},
    {_EVAL_ONLY_COLUMNS}
    FROM framed
),
checked AS (
    SELECT *,
        CASE format WHEN 'costops' THEN {canonical.request_reason_sql(TEXT_FIELDS)}
                    WHEN 'eval' THEN {canonical.eval_reason_sql(TEXT_FIELDS)} END AS reason,
        {_COUNTED_TOKENS} AS counted_tokens
    FROM typed
)
SELECT format, reason, counted_tokens, {stored_columns_sql(keep_text=False)},
    evaluator, passed, score
FROM checked
"""

# The last columns count what COUNTED_PATTERNS count in the text. The reader counted every
# occurrence, so more occurrences than DuckDB read means a line may repeat a key (DuckDB's reader
# keeps the first value, silently) or has the pattern elsewhere: the general path judges each line.
CHECK_SQL = """
SELECT count(*),
    count(*) FILTER (WHERE format IS NULL OR reason IS NOT NULL
                     OR (format = 'costops' AND request_id IS NULL)),
    count(*) FILTER (WHERE format = 'costops'),
    count(*) FILTER (WHERE format = 'eval'),
    count(DISTINCT request_id) FILTER (WHERE format = 'costops'),
    count(request_id),
    sum(counted_tokens)
FROM _fast
"""
COUNTED = ("request_id", "_tokens")  # the keys of COUNTED_PATTERNS, in CHECK_SQL's order

# Rows keep the file's order (insertion order is preserved while staging): rowid + 1 is the line.
VIEWS_SQL = f"""
CREATE OR REPLACE TEMP VIEW _best AS
SELECT * EXCLUDE (format, reason, counted_tokens, evaluator, passed, score), rowid + 1 AS line_no
FROM _fast WHERE format = 'costops';
CREATE OR REPLACE TEMP VIEW _fast_ev AS
SELECT rowid + 1 AS line_no, NULL::VARCHAR AS raw, NULL::VARCHAR AS parse_error,
    {", ".join(canonical.EVAL_COLUMNS)}, reason
FROM _fast WHERE format = 'eval'
"""

# A request on more than one line: all but its most complete record leave the staged lines.
DROP_WORSE_SQL = f"""
DELETE FROM _fast WHERE rowid IN (
    SELECT line_no - 1 FROM _best
    WHERE request_id IN ({REPEATED_SQL.format(rows="_best")})
    QUALIFY row_number() OVER (PARTITION BY request_id ORDER BY {BEST_ORDER}) > 1
)
"""


@dataclass(frozen=True)
class Staged:
    lines: int
    requests: int
    evals: int
    duplicate_ids: bool  # some request_id has more than one line (streaming partials, retries)


def may_take(
    source: Source, fmt: str, mappings: dict[str, tuple[str, ...]], keep_text: bool
) -> bool:
    """What the options alone say: a file the fast path could take, before it is read. The fast
    path reads a file by name and keeps no line text; --map needs the line text."""
    return source.path is not None and fmt in ("auto", "costops") and not mappings and not keep_text


def stage(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    kind: str,
    reader: ChunkReader,
    on_progress: Callable[[int, int | None], None] | None = None,
) -> tuple[str, int, Staged | None]:
    """Stage the file into `_fast` (its requests as `_best`, its evals as `_fast_ev`) while
    another thread hashes it and counts its lines (`reader.fingerprint`: DuckDB's reader and the
    hash each use a core). Returns the hash, the line count, and what was staged, or None when
    the file needs the general path."""
    assert source.path is not None
    compression = "gzip" if gzipped(source.path) else "none"
    params = {"path": str(source.path), "kind": kind, "compression": compression}
    with ThreadPoolExecutor(max_workers=1) as pool:
        hashing = pool.submit(reader.fingerprint, True)
        try:
            row = _stage(con, params, reader, hashing, on_progress)
        except BaseException:
            reader.stop()  # interrupted: nothing of the file is used
            raise
        sha256, lines = hashing.result()
    if on_progress:
        on_progress(lines, lines)
    if row is None or not _clean(row, lines, reader):
        drop(con)
        return sha256, lines, None
    con.execute(VIEWS_SQL)
    return sha256, lines, Staged(lines, int(row[2]), int(row[3]), int(row[4]) < int(row[2]))


def _stage(
    con: duckdb.DuckDBPyConnection,
    params: dict[str, str],
    reader: ChunkReader,
    hashing: Future[tuple[str, int]],
    on_progress: Callable[[int, int | None], None] | None,
) -> tuple[int, ...] | None:
    """Run STAGE_SQL and CHECK_SQL; None when DuckDB's reader cannot read the file (the general
    path says which line and why)."""
    con.execute("SET preserve_insertion_order = true")
    try:
        with _reporting(con, reader, hashing, on_progress):
            con.execute(STAGE_SQL, params)
        return con.execute(CHECK_SQL).fetchone()
    except duckdb.InterruptException:  # Ctrl-C: not a file the reader cannot read
        raise
    except duckdb.Error:
        return None
    finally:
        con.execute("SET preserve_insertion_order = false")


def _clean(row: tuple[int, ...], lines: int, reader: ChunkReader) -> bool:
    """Whether every line was staged as a good record, keys not repeated, and nothing the reader
    saw (a line over the limit, a damaged .gz, a hidden key, an array, not text) asks for the
    general path. `lines` is the file's line count, so a skipped blank line cannot shift line
    numbers."""
    readable = (
        reader.refused is None and not reader.array and not reader.long_lines
        and reader.damage is None and not reader.escaped_ascii
    )  # fmt: skip
    counted = [reader.key_counts[key] for key in COUNTED]
    return readable and int(row[0]) == lines and int(row[1]) == 0 and list(row[5:]) == counted


def drop(con: duckdb.DuckDBPyConnection) -> None:
    """Forget what `stage` staged (`_best` is a view only when the fast path made it)."""
    views = con.execute(
        "SELECT view_name FROM duckdb_views() "
        "WHERE temporary AND view_name IN ('_best', '_fast_ev')"
    ).fetchall()
    for (view,) in views:
        con.execute(f"DROP VIEW {view}")
    con.execute("DROP TABLE IF EXISTS _fast")


@contextmanager
def _reporting(
    con: duckdb.DuckDBPyConnection,
    reader: ChunkReader,
    hashing: Future[tuple[str, int]],
    on_progress: Callable[[int, int | None], None] | None,
) -> Iterator[None]:
    """While the one staging statement runs, report progress as lines done: the lines counted so
    far while the file is hashed, then DuckDB's progress on the statement over the total."""
    if on_progress is None:
        yield
        return
    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")
    finished = threading.Event()

    def poll() -> None:
        while not finished.wait(PROGRESS_EVERY_S):
            if not hashing.done():
                on_progress(reader.lines_done, None)
                continue
            lines, percent = reader.lines_done, con.query_progress()
            if percent >= 0:
                on_progress(int(lines * percent / 100), lines)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        yield
    finally:
        finished.set()
        poller.join()
        con.execute("SET enable_progress_bar = false")
