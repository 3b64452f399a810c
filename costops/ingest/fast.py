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
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb

from costops.ingest import canonical
from costops.ingest.sources import COUNTED_KEYS, MAX_LINE_BYTES, ChunkReader, Source

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

_COLUMNS = "{" + ", ".join(f"'{name}': 'JSON'" for name in FIELDS) + "}"
_STRUCT = "struct_pack(" + ", ".join(f'"{name}" := "{name}"' for name in FIELDS) + ")"
_OTHER_FORMAT = " OR ".join(f'f."{key}" IS NOT NULL' for key in OTHER_FORMAT_KEYS)
# The eval columns a request does not have (request_id, task_id, ts and model are shared).
_EVAL_ONLY_COLUMNS = ",\n    ".join(
    f"{canonical.EVAL_COLUMNS[name]} AS {name}" for name in ("evaluator", "passed", "score")
)

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
    SELECT f, format,
    {canonical.REQUEST_COLUMNS_SQL},
    {_EVAL_ONLY_COLUMNS}
    FROM framed
)
SELECT * EXCLUDE (f),
    CASE format WHEN 'costops' THEN {canonical.REQUEST_REASON_SQL}
                WHEN 'eval' THEN {canonical.EVAL_REASON_SQL} END AS reason
FROM typed
"""

# The last columns count the lines with each of COUNTED_KEYS: the reader counted the key's every
# occurrence, so more occurrences than lines means a line may repeat a key (DuckDB's reader keeps
# the first value, silently) and the general path judges each line.
CHECK_SQL = f"""
SELECT count(*),
    count(*) FILTER (WHERE format IS NULL OR reason IS NOT NULL
                     OR (format = 'costops' AND request_id IS NULL)),
    count(*) FILTER (WHERE format = 'costops'),
    count(*) FILTER (WHERE format = 'eval'),
    count(DISTINCT request_id) FILTER (WHERE format = 'costops'),
    {", ".join(f"count({key})" for key in COUNTED_KEYS)}
FROM _fast
"""

# Rows keep the file's order (insertion order is preserved while staging): rowid + 1 is the line.
VIEWS_SQL = f"""
CREATE OR REPLACE TEMP VIEW _fast_req AS
SELECT rowid + 1 AS line_no, NULL::VARCHAR AS raw, NULL::VARCHAR AS parse_error, format,
    {", ".join(canonical.REQUEST_COLUMN_NAMES)}, reason
FROM _fast WHERE format = 'costops';
CREATE OR REPLACE TEMP VIEW _fast_ev AS
SELECT rowid + 1 AS line_no, NULL::VARCHAR AS raw, NULL::VARCHAR AS parse_error,
    {", ".join(canonical.EVAL_COLUMNS)}, reason
FROM _fast WHERE format = 'eval'
"""


@dataclass(frozen=True)
class Staged:
    lines: int
    requests: int
    evals: int
    duplicate_ids: bool  # some request_id has more than one line (streaming partials, retries)


def eligible(
    source: Source,
    fmt: str,
    mappings: dict[str, tuple[str, ...]],
    keep_text: bool,
    reader: ChunkReader,
) -> bool:
    """The fast path reads a file by name and keeps no line text; --map needs the line text.
    A file with a line over the limit or a broken .gz (seen by the reader's `fingerprint`) needs
    the general path, which cuts such lines off and keeps what is readable. A JSON array file
    has a path of its own (costops.ingest.arrays)."""
    return (
        may_take(source, fmt, mappings, keep_text)
        and not reader.long_lines and reader.damage is None and not reader.escaped_ascii
        and not reader.array
    )  # fmt: skip


def may_take(
    source: Source, fmt: str, mappings: dict[str, tuple[str, ...]], keep_text: bool
) -> bool:
    """What the options alone say: a file the fast path could take, before it is read."""
    return source.path is not None and fmt in ("auto", "costops") and not mappings and not keep_text


def stage(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    kind: str,
    lines: int,
    reader: ChunkReader,
    on_progress: Callable[[int, int | None], None] | None = None,
) -> Staged | None:
    """Stage the file into `_fast_req` / `_fast_ev`, or None when it needs the general path.
    `lines` is the file's line count, so a skipped blank line cannot shift line numbers."""
    assert source.path is not None
    compression = "gzip" if reader.gzipped else "none"
    params = {"path": str(source.path), "kind": kind, "compression": compression}
    con.execute("SET preserve_insertion_order = true")
    try:
        with _reporting(con, lines, on_progress):
            con.execute(STAGE_SQL, params)
        row = con.execute(CHECK_SQL).fetchone()
    except duckdb.Error:
        row = None  # unreadable by the JSON reader: the general path says which line and why
    finally:
        con.execute("SET preserve_insertion_order = false")
    counted = [reader.key_counts[key] for key in COUNTED_KEYS]
    if row is None or int(row[0]) != lines or int(row[1]) > 0 or list(row[5:]) != counted:
        drop(con)
        return None
    con.execute(VIEWS_SQL)
    return Staged(lines, int(row[2]), int(row[3]), int(row[4]) < int(row[2]))


def drop(con: duckdb.DuckDBPyConnection) -> None:
    """Forget what `stage` staged."""
    con.execute("DROP VIEW IF EXISTS _fast_req")
    con.execute("DROP VIEW IF EXISTS _fast_ev")
    con.execute("DROP TABLE IF EXISTS _fast")


@contextmanager
def _reporting(
    con: duckdb.DuckDBPyConnection,
    lines: int,
    on_progress: Callable[[int, int | None], None] | None,
) -> Iterator[None]:
    """While the one staging statement runs, report DuckDB's progress on it as lines done."""
    if on_progress is None:
        yield
        return
    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")
    finished = threading.Event()

    def poll() -> None:
        while not finished.wait(PROGRESS_EVERY_S):
            percent = con.query_progress()
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
    on_progress(lines, lines)
