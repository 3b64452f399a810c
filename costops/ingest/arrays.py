"""JSON array files (`[{…}, {…}]`, one line or pretty-printed): DuckDB's array reader stages the
elements once, then they go through the general path in slices, each element as one line
numbered by its position in the array (from 1)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from costops.ingest.sources import CHUNK_BYTES, KEPT_BYTES, MAX_LINE_BYTES, too_long

# Rows keep the file's order (insertion order is preserved while staging): rowid + 1 is the
# element's position. DuckDB streams the array; its maximum_object_size does not bound an
# element, so an element over the line limit is cut off when it is loaded.
STAGE_SQL = """
CREATE OR REPLACE TEMP TABLE _array AS
SELECT json::VARCHAR AS raw
FROM read_json_objects($path, format = 'array', compression = $compression)
"""

# Consecutive elements of about CHUNK_BYTES each: the first and last rowid of each slice.
SLICES_SQL = """
SELECT min(rowid), max(rowid)
FROM (SELECT rowid, sum(strlen(raw)) OVER (ORDER BY rowid ROWS UNBOUNDED PRECEDING) AS upto
      FROM _array)
GROUP BY upto // $bytes
ORDER BY 1
"""

# One slice as the general path's `_raw` (see run.LOAD_CHUNK_SQL): DuckDB checked the UTF-8.
LOAD_SQL = f"""
CREATE OR REPLACE TEMP TABLE _raw AS
SELECT rowid + 1 AS line_no,
    CASE WHEN strlen(raw) > {MAX_LINE_BYTES} THEN left(raw, {KEPT_BYTES}) ELSE raw END AS raw,
    true AS utf8_ok,
    CASE WHEN strlen(raw) > {MAX_LINE_BYTES} THEN '{too_long(MAX_LINE_BYTES)}' END AS unparsed,
    $default_ts::VARCHAR AS default_ts, rowid = 0 AS file_start
FROM _array WHERE rowid BETWEEN $first AND $last
"""


@dataclass(frozen=True)
class Staged:
    elements: int
    slices: list[tuple[int, int]]  # first and last rowid of each slice


def stage(con: duckdb.DuckDBPyConnection, path: Path, gzipped: bool) -> Staged | str:
    """Stage the array at `path` into `_array`; or why it is not one JSON array (nothing staged)."""
    params = {"path": str(path), "compression": "gzip" if gzipped else "none"}
    con.execute("SET preserve_insertion_order = true")
    try:
        con.execute(STAGE_SQL, params)
    except (duckdb.InvalidInputException, duckdb.IOException) as exc:
        drop(con)
        # DuckDB's message names the file and counts records its own way: only the cause is kept
        cause = str(exc).splitlines()[0].rsplit(": ", 1)[-1].strip().rstrip(".")
        return f"not a valid JSON array ({cause})"
    finally:
        con.execute("SET preserve_insertion_order = false")
    slices = con.execute(SLICES_SQL, {"bytes": CHUNK_BYTES}).fetchall()
    elements = int(slices[-1][1]) + 1 if slices else 0
    return Staged(elements, [(int(first), int(last)) for first, last in slices])


def load(con: duckdb.DuckDBPyConnection, first: int, last: int, default_ts: str) -> None:
    """The elements with rowid `first` to `last` into `_raw`."""
    con.execute(LOAD_SQL, {"first": first, "last": last, "default_ts": default_ts})


def drop(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("DROP TABLE IF EXISTS _array")
