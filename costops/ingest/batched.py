"""Ingest many sources: small files together, in one scan and one transaction per batch; a file
already ingested and unchanged (same path, size and modification time) skipped unread.

A folder of session transcripts or hourly logs is thousands of small files. Read one at a time,
each costs the planning of some twenty statements, far more than reading its lines. Here the
lines of up to BATCH_BYTES of small files are numbered one after the other and go through the
same statements as one file's (`run.stage`); `_files` maps each line back to its file and its
own line number, so the store holds what ingesting the files one by one would hold: one
`ingest_runs` row per file, its quarantined lines with their own numbers. A batch that fails is
rolled back and its files are read again one by one, so one file's problem is that file's alone.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import duckdb

from costops.errors import InputDataError
from costops.ingest import run
from costops.ingest.formats import batch_inputs
from costops.ingest.formats.sql import IN_FILE
from costops.ingest.run import FileResult
from costops.ingest.sources import (
    ChunkReader,
    FileIdentity,
    Source,
    Whole,
    file_identity,
    unchanged,
)

SMALL_FILE_BYTES = 4 * 1024 * 1024  # a file this small (decompressed) is read whole, in a batch
BATCH_BYTES = 64 * 1024 * 1024  # the text of one batch
BATCH_FILES = 4096

FILES_SQL = """
CREATE OR REPLACE TEMP TABLE _files AS
SELECT unnest($run_ids::BIGINT[]) AS run_id, unnest($names::VARCHAR[]) AS file,
    unnest($firsts::BIGINT[]) AS first_line, unnest($lasts::BIGINT[]) AS last_line,
    unnest($firsts::BIGINT[]) - 1 AS shift, unnest($times::VARCHAR[]) AS default_ts
"""

# The files DuckDB can read itself (`Whole.direct`), one line per row, in the order given: the
# rows of a file are numbered by rowid (insertion order is kept while scanning).
SCAN_SQL = f"""
CREATE OR REPLACE TEMP TABLE _scan AS
SELECT filename, raw
FROM read_csv($paths, columns = {{'raw': 'VARCHAR'}}, delim = chr(1), quote = '', escape = '',
              header = false, auto_detect = false, strict_mode = true, new_line = '\\n',
              max_line_size = {2 * SMALL_FILE_BYTES}, compression = 'auto', filename = true)
"""
SCANNED_SQL = "SELECT filename, min(rowid), max(rowid), count(*) FROM _scan GROUP BY filename"

# As run.LOAD_CHUNK_SQL, each line with its file's time and whether it is the file's first: the
# scanned files' rows (`_direct`: a file's run and first rowid), then the lines passed as a list
# with their run ids beside them (DuckDB's ASOF join to the file ranges, or string_split of the
# text, would cost several times the rest of the load).
LOAD_SQL = """
CREATE OR REPLACE TEMP TABLE _raw AS
SELECT s.rowid - d.first_rowid + f.first_line AS line_no, COALESCE(s.raw, '') AS raw,
    true AS utf8_ok, NULL::VARCHAR AS unparsed, f.default_ts, s.rowid = d.first_rowid AS file_start
FROM _scan s JOIN _direct d USING (filename) JOIN _files f USING (run_id)
UNION ALL (
    WITH split AS (
        SELECT unnest($lines::VARCHAR[]) AS raw, unnest($runs::BIGINT[]) AS run_id,
            unnest($numbers::BIGINT[]) AS line_no
    )
    SELECT s.line_no, s.raw, NOT list_contains($bad_utf8::BIGINT[], s.line_no) AS utf8_ok,
        ($reasons::VARCHAR[])[list_position($unparsed::BIGINT[], s.line_no)] AS unparsed,
        f.default_ts, s.line_no = f.first_line AS file_start
    FROM split s JOIN _files f USING (run_id)
)
"""
DIRECT_SQL = """
CREATE OR REPLACE TEMP TABLE _direct AS
SELECT unnest($names::VARCHAR[]) AS filename, unnest($run_ids::BIGINT[]) AS run_id,
    unnest($firsts::BIGINT[]) AS first_rowid
"""


PREFIXES_DROPPED_SQL = f"""
SELECT f.run_id, count(*) FROM _best b {IN_FILE.format(t="b")} WHERE prefix_dropped GROUP BY ALL
"""

REPLACED_SQL = f"""
CREATE OR REPLACE TEMP TABLE _replaced AS
SELECT f.run_id, b.request_id FROM _best b {IN_FILE.format(t="b")}
WHERE b.request_id IN ({run.MORE_COMPLETE_SQL})
"""

REPLACED_COUNT_SQL = "SELECT run_id, count(*) FROM _replaced GROUP BY ALL"
STORED_SQL = "SELECT run_id, count(*) FROM {table} WHERE run_id BETWEEN ? AND ? GROUP BY ALL"

RUNS_SQL = """
INSERT INTO ingest_runs (run_id, file, sha256, format, started_at, finished_at, lines_read,
    requests_inserted, requests_replaced, evals_inserted, duplicates, quarantined)
SELECT unnest($run_ids::BIGINT[]), unnest($names::VARCHAR[]), unnest($hashes::VARCHAR[]),
    $format, current_timestamp::TIMESTAMP, current_timestamp::TIMESTAMP,
    unnest($lines::BIGINT[]), unnest($inserted::BIGINT[]), unnest($replaced::BIGINT[]),
    unnest($evals::BIGINT[]), unnest($duplicates::BIGINT[]), unnest($quarantined::BIGINT[])
"""

# After the content is committed (or found in the store): a crash before it only costs a re-read.
REMEMBER_SQL = """
INSERT OR REPLACE INTO ingested_files
SELECT unnest($paths::VARCHAR[]), unnest($sizes::BIGINT[]), unnest($mtimes::BIGINT[]),
    unnest($inodes::BIGINT[]), unnest($ctimes::BIGINT[]), unnest($hashes::VARCHAR[])
"""


@dataclass(frozen=True)
class Options:
    fmt: str = "auto"
    kind: str = "auto"
    strict: bool = False
    default_time: str | None = None
    mappings: dict[str, tuple[str, ...]] | None = None
    keep_text: bool = False


@dataclass(frozen=True)
class _Read:
    """A small file read, waiting for its batch."""

    source: Source
    whole: Whole


def ingest_sources(
    con: duckdb.DuckDBPyConnection,
    sources: list[Source],
    options: Options,
    ingest_one: Callable[[Source], FileResult],
) -> Iterator[FileResult]:
    """Each source's result, in the order given. A file unchanged since it was ingested is
    skipped unread; small files are ingested together (not with --strict: it keeps or rejects a
    whole file); any other source by `ingest_one`."""
    known, hashes = _known(con)
    queue: list[FileResult | _Read] = []
    size = 0

    def flush() -> Iterator[FileResult]:
        read = [item for item in queue if isinstance(item, _Read)]
        done = iter(_ingest_batch(con, read, options, ingest_one) if read else [])
        results = [next(done) if isinstance(item, _Read) else item for item in queue]
        queue.clear()
        _remember(con, results)
        yield from results

    for source in sources:
        identity = file_identity(source)
        if identity is not None and identity in known:
            queue.append(FileResult(source.name, status="skipped"))  # not read: no identity
            continue
        try:
            whole = None if options.strict else ChunkReader(source).read_whole(SMALL_FILE_BYTES)
        except InputDataError:  # cannot read it: what was read before it is kept first
            yield from flush()
            raise
        if whole is None:
            yield from flush()
            size = 0
            result = ingest_one(source)
            if result.status in ("ok", "skipped") and result.sha256:
                hashes.add(result.sha256)
            _remember(con, [result])
            yield result
            continue
        if whole.sha256 in hashes:  # ingested before, or earlier in this batch
            skipped = FileResult(source.name, whole.sha256, "skipped", identity=whole.identity)
            queue.append(skipped)
            continue
        hashes.add(whole.sha256)
        queue.append(_Read(source, whole))
        size += sum(len(chunk.text) for chunk in whole.chunks)
        if size >= BATCH_BYTES or len(queue) >= BATCH_FILES:
            yield from flush()
            size = 0
    yield from flush()


def _known(con: duckdb.DuckDBPyConnection) -> tuple[set[FileIdentity], set[str]]:
    """The files known ingested (path, size, time) and the contents (hashes) of finished runs."""
    files = con.execute("SELECT path, size, mtime_ns, inode, ctime_ns FROM ingested_files")
    known = {(str(p), int(s), int(m), int(i), int(c)) for p, s, m, i, c in files.fetchall()}
    hashes = con.execute("SELECT sha256 FROM ingest_runs WHERE finished_at IS NOT NULL")
    return known, {str(h) for (h,) in hashes.fetchall()}


def _remember(con: duckdb.DuckDBPyConnection, results: list[FileResult]) -> None:
    """Note the files whose content the store now has: next time they are skipped unread."""
    known = {r.identity[0]: (r.identity, r.sha256) for r in results if r.identity and r.sha256}
    if not known:
        return
    identities = [identity for identity, _ in known.values()]
    con.execute(REMEMBER_SQL, {
        "paths": [i[0] for i in identities], "sizes": [i[1] for i in identities],
        "mtimes": [i[2] for i in identities], "inodes": [i[3] for i in identities],
        "ctimes": [i[4] for i in identities], "hashes": [sha for _, sha in known.values()],
    })  # fmt: skip


def _ingest_batch(
    con: duckdb.DuckDBPyConnection,
    read: list[_Read],
    options: Options,
    ingest_one: Callable[[Source], FileResult],
) -> list[FileResult]:
    """The files' results; when the batch fails, each file read again on its own."""
    try:
        return _scan(con, read, options)
    except duckdb.InterruptException:
        raise
    except duckdb.Error:
        return [ingest_one(item.source) for item in read]
    finally:
        run.drop_staging(con)
        for table in ("_replaced", "_scan", "_direct"):
            con.execute(f"DROP TABLE IF EXISTS {table}")


def _scan(con: duckdb.DuckDBPyConnection, read: list[_Read], options: Options) -> list[FileResult]:
    results = {}
    scanned = _scan_directly(con, read)  # before the transaction: a failed scan costs nothing
    con.execute("BEGIN TRANSACTION")
    try:
        first_run = run.next_run_id(con)
        run_ids = list(range(first_run, first_run + len(read)))
        results = {r: FileResult(item.source.name, item.whole.sha256) for r, item in
                   zip(run_ids, read, strict=True)}  # fmt: skip
        for item, result in zip(read, results.values(), strict=True):
            result.identity = item.whole.identity
        text = _load_files(con, read, run_ids, options.default_time, scanned)
        if text:
            run.stage(con, options.kind, options.fmt, options.default_time,
                      options.mappings or {}, options.keep_text, files=True)  # fmt: skip
            _tally(con, results)
            _store(con, results, options.keep_text)
        _write_runs(con, results, options.fmt)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return list(results.values())


def _scan_directly(con: duckdb.DuckDBPyConnection, read: list[_Read]) -> dict[str, int]:
    """Let DuckDB read the files it can (`Whole.direct`) into `_scan`, in one multi-threaded
    scan: passing their text from Python costs several times more. Returns each file's first
    rowid there, for the files whose rows are exactly their lines (as many as the read counted,
    one after the other) and that have not changed since they were hashed; the lines of any
    other file are passed as a list."""
    paths = [str(item.source.path) for item in read if item.whole.direct]
    if not paths:
        return {}
    con.execute("SET preserve_insertion_order = true")
    try:
        con.execute(SCAN_SQL, {"paths": paths})
        spans = {str(name): (int(first), int(last), int(count)) for name, first, last, count
                 in con.execute(SCANNED_SQL).fetchall()}  # fmt: skip
    except duckdb.InterruptException:
        raise
    except duckdb.Error:
        return {}
    finally:
        con.execute("SET preserve_insertion_order = false")
    firsts = {}
    for item in read:
        name, whole = str(item.source.path), item.whole
        first, last, count = spans.get(name, (0, -1, 0))
        exact = count == whole.lines and last - first + 1 == count
        if whole.direct and exact and whole.identity is not None and unchanged(whole.identity):
            firsts[name] = first
    return firsts


def _load_files(
    con: duckdb.DuckDBPyConnection,
    read: list[_Read],
    run_ids: list[int],
    given: str | None,
    scanned: dict[str, int],
) -> bool:
    """The files' lines into `_raw`, numbered on from one file to the next (`scanned`: the files
    DuckDB read into `_scan`, and their first rowid there); False when there are none."""
    texts: list[str] = []
    runs: list[Iterable[int]] = []
    numbers: list[Iterable[int]] = []
    bad_utf8: list[int] = []
    unparsed: dict[int, str] = {}
    firsts: list[int] = []
    lasts: list[int] = []
    direct: dict[str, list] = {"names": [], "run_ids": [], "firsts": []}
    base = 0
    for run_id, item in zip(run_ids, read, strict=True):
        name, lines = str(item.source.path), item.whole.lines
        if name in scanned:
            direct["names"].append(name)
            direct["run_ids"].append(run_id)
            direct["firsts"].append(scanned[name])
        else:
            for chunk in item.whole.chunks:
                texts.append(chunk.text)
                bad_utf8 += [base + n for n in chunk.bad_utf8]
                unparsed.update({base + n: why for n, why in chunk.unparsed.items()})
            runs.append(itertools.repeat(run_id, lines))
            numbers.append(range(base + 1, base + lines + 1))
        firsts.append(base + 1)
        base += lines
        lasts.append(base)
    times = [given or run.iso_time(item.whole.modified) for item in read]
    names = [item.source.name for item in read]
    params = {"run_ids": run_ids, "names": names, "firsts": firsts, "lasts": lasts, "times": times}
    con.execute(FILES_SQL, params)
    if not base:
        return False
    if not direct["names"]:
        con.execute("CREATE OR REPLACE TEMP TABLE _scan (filename VARCHAR, raw VARCHAR)")
    con.execute(DIRECT_SQL, direct)
    con.execute(LOAD_SQL, {
        "lines": "\n".join(texts).split("\n") if texts else [],
        "runs": list(itertools.chain(*runs)), "numbers": list(itertools.chain(*numbers)),
        "bad_utf8": bad_utf8, "unparsed": list(unparsed), "reasons": list(unparsed.values()),
    })  # fmt: skip
    con.execute("DROP TABLE _scan")  # its text is in `_raw` now
    return True


def _tally(con: duckdb.DuckDBPyConnection, results: dict[int, FileResult]) -> None:
    run.tally(con, results)
    for run_id, dropped in con.execute(PREFIXES_DROPPED_SQL).fetchall():
        results[run_id].prefixes_dropped = dropped


def _store(con: duckdb.DuckDBPyConnection, results: dict[int, FileResult], keep_text: bool) -> None:
    run.store_quarantine(con, keep_text)
    con.execute(REPLACED_SQL)
    con.execute("DELETE FROM requests WHERE request_id IN (SELECT request_id FROM _replaced)")
    con.execute(run.INSERT_REQUESTS_SQL)
    con.execute(run.INSERT_EVALS_SQL.replace("{source}", "_ev"))
    con.execute(batch_inputs.STORE_SQL)
    if keep_text:
        con.execute(run.KEEP_TEXT_SQL)
    replaced = Counter(dict(con.execute(REPLACED_COUNT_SQL).fetchall()))
    stored = _stored(con, results, "requests")
    evals = _stored(con, results, "evals")
    inputs = _stored(con, results, "batch_inputs")
    for run_id, result in results.items():
        result.requests_replaced = replaced[run_id]
        result.requests_inserted = stored[run_id] - replaced[run_id]
        result.evals_inserted = evals[run_id]
        result.batch_inputs = inputs[run_id]
    if any(run.has_batch_results(result) for result in results.values()):
        con.execute(batch_inputs.JOIN_SQL)


def _stored(
    con: duckdb.DuckDBPyConnection, results: dict[int, FileResult], table: str
) -> Counter[int]:
    """Rows of `table` each run of the batch stored."""
    sql = STORED_SQL.format(table=table)
    return Counter(dict(con.execute(sql, [min(results), max(results)]).fetchall()))


def _write_runs(con: duckdb.DuckDBPyConnection, results: dict[int, FileResult], fmt: str) -> None:
    done = list(results.values())
    con.execute(RUNS_SQL, {
        "run_ids": list(results), "names": [r.name for r in done],
        "hashes": [r.sha256 for r in done], "format": fmt,
        "lines": [r.lines_read for r in done], "inserted": [r.requests_inserted for r in done],
        "replaced": [r.requests_replaced for r in done],
        "evals": [r.evals_inserted for r in done], "duplicates": [r.duplicates for r in done],
        "quarantined": [r.quarantined for r in done],
    })  # fmt: skip
    for result in done:
        result.formats += Counter()  # drop the zero counts
