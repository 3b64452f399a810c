"""The store's canonical requests and evals as a Parquet lake partitioned by day, for Spark."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from costops.errors import UsageError

TABLES = {"requests": "request_id", "evals": "eval_id"}  # each table and its row's unique id
MANIFEST = "_costops_lake.json"
VERSION = 1
# The partition value Spark writes for a NULL (an eval without a time); it and DuckDB read it
# back as NULL.
NULL_DAY = "__HIVE_DEFAULT_PARTITION__"

# The rows each source file (its content, sha256) holds in the store now: replacing a request
# moves it to a later run, so only these counts tell which sources changed.
COUNTS_SQL = """
WITH runs AS (SELECT run_id, sha256 FROM ingest_runs),
    r AS (SELECT sha256, count(*) AS n FROM requests JOIN runs USING (run_id) GROUP BY ALL),
    e AS (SELECT sha256, count(*) AS n FROM evals JOIN runs USING (run_id) GROUP BY ALL)
SELECT sha256, COALESCE(r.n, 0), COALESCE(e.n, 0)
FROM (SELECT DISTINCT sha256 FROM runs) LEFT JOIN r USING (sha256) LEFT JOIN e USING (sha256)
ORDER BY sha256
"""

STAGE_SQL = {
    table: f"""
CREATE OR REPLACE TEMP TABLE _lake AS
SELECT t.*, COALESCE(strftime(t.ts, '%Y-%m-%d'), '{NULL_DAY}') AS _day FROM {table} t
WHERE t.run_id IN (SELECT run_id FROM ingest_runs WHERE sha256 = $sha256)
"""
    for table in TABLES
}
DAYS_SQL = "SELECT DISTINCT _day FROM _lake ORDER BY _day"
# Ordered by a unique key, so the same rows always make the same bytes.
COPY_SQL = {
    table: f"""
COPY (SELECT * EXCLUDE (_day) FROM _lake WHERE _day = $day ORDER BY ts, run_id, line_no, {key})
TO $path (FORMAT parquet)
"""
    for table, key in TABLES.items()
}
DROP_SQL = "DROP TABLE _lake"


@dataclass(frozen=True)
class LakeWrite:
    """What write_lake did: Parquet files and the source files (re)written, rows in them."""

    files: int
    sources: int
    unchanged: int
    requests: int
    evals: int
    removed: int = 0  # files of sources the store no longer holds


def write_lake(con: duckdb.DuckDBPyConnection, directory: str) -> LakeWrite:
    """Rewrite, under `directory`, the Parquet files of each source whose rows changed."""
    root = Path(directory)
    if root.exists() and not root.is_dir():
        raise UsageError(f"{directory}: not a directory; the Parquet lake is written in one")
    try:
        return _write(con, root)
    except (OSError, duckdb.IOException) as exc:  # DuckDB's: COPY could not write (disk full)
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise UsageError(f"{directory}: cannot write the Parquet lake: {why}") from exc


def _write(con: duckdb.DuckDBPyConnection, root: Path) -> LakeWrite:
    root.mkdir(parents=True, exist_ok=True)
    schema = _schema(con)
    before = _read_manifest(root, schema)
    counts = {
        str(sha): {"requests": int(r), "evals": int(e)}
        for sha, r, e in con.execute(COUNTS_SQL).fetchall()
    }
    removed = _remove_others(root, set(counts))
    stale = [sha for sha, n in counts.items() if before.get(sha) != n]
    files = sum(_write_source(con, root, sha) for sha in stale)
    if stale or removed or set(before) != set(counts):
        # the manifest last: a crash before it leaves those sources stale, to redo
        _write_manifest(root, counts, schema)
    return LakeWrite(
        files,
        len(stale),
        len(counts) - len(stale),
        sum(counts[sha]["requests"] for sha in stale),
        sum(counts[sha]["evals"] for sha in stale),
        removed,
    )


def _schema(con: duckdb.DuckDBPyConnection) -> str:
    """The tables' columns and types: files written under another schema are all rewritten."""
    return "; ".join(
        f"{table}: "
        + ", ".join(f"{c[0]} {c[1]}" for c in con.execute(f"DESCRIBE {table}").fetchall())
        for table in TABLES
    )


def _remove_others(root: Path, sources: set[str]) -> int:
    """Delete the files of sources the store does not hold (a lake written from another store,
    or a store rebuilt): Spark would count their rows too."""
    removed = 0
    for table in TABLES:
        for path in (root / table).glob("day=*/*.parquet*"):
            if path.name.lstrip(".").split(".")[0] not in sources:
                path.unlink()
                removed += 1
    return removed


def _read_manifest(root: Path, schema: str) -> dict[str, dict[str, int]]:
    """Each source's row counts when its files were written; none when missing, damaged or
    written under another schema (every source is then rewritten)."""
    try:
        manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
        current = manifest["version"] == VERSION and manifest.get("schema") == schema
        return dict(manifest["files"]) if current else {}
    except (FileNotFoundError, ValueError, LookupError, TypeError):
        return {}


def _write_manifest(root: Path, files: dict[str, dict[str, int]], schema: str) -> None:
    temp = root / f".{MANIFEST}.tmp"
    manifest = {"version": VERSION, "schema": schema, "files": files}
    text = json.dumps(manifest, indent=2, sort_keys=True)
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, root / MANIFEST)


def _write_source(con: duckdb.DuckDBPyConnection, root: Path, sha256: str) -> int:
    """Replace the files of one source, one per table and day; how many were written."""
    written = 0
    for table in TABLES:
        for old in (root / table).glob(f"day=*/*{sha256}.parquet*"):  # with a crash's temp file
            old.unlink()
        con.execute(STAGE_SQL[table], {"sha256": sha256})
        for (day,) in con.execute(DAYS_SQL).fetchall():
            target = root / table / f"day={day}" / f"{sha256}.parquet"
            target.parent.mkdir(parents=True, exist_ok=True)
            temp = target.with_name(f".{target.name}.tmp")  # hidden from Spark until renamed
            con.execute(COPY_SQL[table], {"day": day, "path": str(temp)})
            os.replace(temp, target)
            written += 1
    con.execute(DROP_SQL)
    return written
