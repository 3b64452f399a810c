"""Small files ingested together (costops.ingest.batched) store what ingesting them one by one
stores; a file already ingested and unchanged is skipped unread; a failing batch is retried file
by file; an interrupted or killed batch leaves nothing behind.

The one-by-one oracle is `run.ingest_source` called per file: the per-file path alone, no code of
the batch in it. The mixed folder (`build_mixed`), counted by hand, file by file:

  01_canonical      3 canonical requests and 2 evals (the fast path, one by one); c-3's prefix
                    (50 tokens) exceeds its input (10): kept without it
  02_responses      tests/data/formats openai (3 lines), anthropic (3), litellm (5), langfuse (2),
                    no newline after the last: the last anthropic line has no timestamp,
                    quarantined at line 6; 12 requests
  03_claude_code    1 user line (skipped: no usage) + 3 streamed lines of one message.id:
                    1 request, 2 duplicates
  04_otlp           3 export lines: 2 model-call spans + 1 + a health check (skipped): 3 requests
  05_anthropic_batch 3 results, no time of their own: the file's mtime, 2026-05-01T00:00:00Z
  06_openai_batch   2 results: chatcmpl-batch-1 by its body's `created` (1780369200 =
                    2026-06-02T03:00:00Z), batch_req_456 (expired, no body): the file's mtime,
                    2026-05-02T12:00:00Z
  07_batch_inputs   2 OpenAI + 2 Anthropic inputs: 4 kept, joined to 05/06's results
  08_gz.jsonl.gz    2 canonical lines, gzipped
  09_empty          nothing
  10_bad            a BOM, CRLF endings; good, not JSON, invalid UTF-8, a key given twice, an
                    unknown format, blank, spaces only, good, an eval whose `passed` is a string:
                    7 lines (blank ones are not counted), 2 requests, 5 quarantined at lines
                    2-5 and 9
  11_copy           01's bytes: skipped, no run

28 requests (3+12+1+3+3+2+2+2), 2 evals, 4 batch inputs, 6 quarantined lines, 10 runs.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from costops.ingest import batched, run
from costops.ingest.run import FileResult
from costops.ingest.sources import ChunkReader, expand
from costops.store.db import open_db
from tests.conftest import DATA

FORMATS = DATA / "formats"
TS = "2026-03-02T10:00:00Z"
ANTHROPIC_BATCH_MTIME = dt.datetime(2026, 5, 1, tzinfo=dt.UTC).timestamp()
OPENAI_BATCH_MTIME = dt.datetime(2026, 5, 2, 12, tzinfo=dt.UTC).timestamp()
OTHER_MTIME = dt.datetime(2026, 4, 1, tzinfo=dt.UTC).timestamp()

# Every stored row; the times a run or a quarantine was written are left out.
TABLES = {
    "requests": "SELECT * FROM requests ORDER BY ALL",
    "evals": "SELECT * FROM evals ORDER BY ALL",
    "quarantine": "SELECT * EXCLUDE (quarantined_at) FROM quarantine ORDER BY ALL",
    "batch_inputs": "SELECT * FROM batch_inputs ORDER BY ALL",
    "ingest_runs": "SELECT * EXCLUDE (started_at, finished_at) FROM ingest_runs ORDER BY ALL",
}
ALL_COLUMNS = {name: f"SELECT * FROM {name} ORDER BY ALL" for name in TABLES}


def canonical(request_id: str, output: int = 2, **extra: object) -> str:
    line = {"request_id": request_id, "timestamp": TS, "model": "gpt-4.1", "input_tokens": 10,
            "output_tokens": output, **extra}  # fmt: skip
    return json.dumps(line)


def lines(*texts: str) -> str:
    return "".join(f"{text}\n" for text in texts)


def fixture_lines(*names: str) -> str:
    return "".join((FORMATS / f"{name}.jsonl").read_text() for name in names)


BAD = b"\xef\xbb\xbf" + b"".join(line + b"\r\n" for line in [
    canonical("bad-ok-1").encode(),
    b"not json",
    canonical("bad-utf8").encode().replace(b'"gpt-4.1"', b'"gpt-4.1\xff\xfe"'),
    b'{"request_id": "d1", "request_id": "d2", "timestamp": "2026-03-02T10:00:00Z", '
    b'"model": "gpt-4.1", "input_tokens": 1, "output_tokens": 1}',
    b'{"hello": "world"}',
    b"",
    b"   ",
    canonical("bad-ok-2").encode(),
    json.dumps({"request_id": "c-3", "evaluator": "judge", "passed": "yes"}).encode(),
])  # fmt: skip


def build_mixed(folder: Path) -> Path:
    """The folder of the module docstring, every file's mtime fixed."""
    folder.mkdir()
    files: dict[str, str | bytes] = {
        "01_canonical.jsonl": lines(
            canonical("c-1"), canonical("c-2"),
            canonical("c-3", prefix_hash="p", prefix_tokens=50),
            json.dumps({"request_id": "c-1", "evaluator": "judge", "passed": True, "score": 0.9,
                        "timestamp": TS}),
            json.dumps({"request_id": "c-2", "evaluator": "judge", "passed": False,
                        "timestamp": TS}),
        ),
        "02_responses.jsonl":
            fixture_lines("openai", "anthropic", "litellm", "langfuse").rstrip("\n"),
        "03_claude_code.jsonl": fixture_lines("claude_code_session"),
        "04_otlp.jsonl": fixture_lines("otlp_traces"),
        "05_anthropic_batch.jsonl": fixture_lines("anthropic_batch_results"),
        "06_openai_batch.jsonl": fixture_lines("openai_batch_output"),
        "07_batch_inputs.jsonl": fixture_lines("openai_batch_input", "anthropic_batch_input"),
        "08_gz.jsonl.gz": gzip.compress(lines(canonical("gz-1"), canonical("gz-2")).encode()),
        "09_empty.jsonl": b"",
        "10_bad.jsonl": BAD,
    }  # fmt: skip
    for name, content in files.items():
        path = folder / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        os.utime(path, (OTHER_MTIME, OTHER_MTIME))
    shutil.copy2(folder / "01_canonical.jsonl", folder / "11_copy.jsonl")
    for name, mtime in (("05_anthropic_batch.jsonl", ANTHROPIC_BATCH_MTIME),
                        ("06_openai_batch.jsonl", OPENAI_BATCH_MTIME)):  # fmt: skip
        os.utime(folder / name, (mtime, mtime))
    return folder


def ingest_batched(db: str, *paths: Path) -> list[FileResult]:
    """`costops ingest PATHS` without the CLI: every result, in order."""
    with open_db(db) as con:
        sources = expand([str(p) for p in paths])
        one = lambda source: run.ingest_source(con, source)  # noqa: E731
        return list(batched.ingest_sources(con, sources, batched.Options(), one))


def ingest_one_by_one(db: str, *paths: Path) -> list[FileResult]:
    """The oracle: each file by the per-file path, nothing of the batch involved."""
    with open_db(db) as con:
        return [run.ingest_source(con, source) for source in expand([str(p) for p in paths])]


def tables(db: str, queries: dict[str, str] = TABLES) -> dict[str, list[tuple]]:
    with duckdb.connect(db, read_only=True) as con:
        return {name: con.execute(sql).fetchall() for name, sql in queries.items()}


def tally(result: FileResult) -> dict[str, object]:
    fields = ("status", "lines_read", "skipped", "good_lines", "requests_inserted",
              "requests_replaced", "evals_inserted", "quarantined", "formats", "bad_lines",
              "batch_inputs", "prefixes_dropped", "duplicates")  # fmt: skip
    return {name: getattr(result, name) for name in fields}


def expected(lines_read: int, good: int, inserted: int, *, skipped: int = 0, evals: int = 0,
             bad: tuple[tuple[int, str], ...] = (), inputs: int = 0, dropped: int = 0,
             status: str = "ok", **formats: int) -> dict[str, object]:  # fmt: skip
    """A file's tally; `formats` as keywords, `_` for `-` (claude_code=3)."""
    return {
        "status": status, "lines_read": lines_read, "skipped": skipped, "good_lines": good,
        "requests_inserted": inserted, "requests_replaced": 0, "evals_inserted": evals,
        "quarantined": len(bad),
        "formats": Counter({name.replace("_", "-"): n for name, n in formats.items()}),
        "bad_lines": list(bad), "batch_inputs": inputs, "prefixes_dropped": dropped,
        "duplicates": good - inserted - evals,
    }  # fmt: skip


EXPECTED = {
    "01_canonical.jsonl": expected(5, 5, 3, evals=2, dropped=1, costops=3, eval=2),
    "02_responses.jsonl": expected(13, 12, 12, bad=((6, "missing timestamp"),), openai=3,
                                   anthropic=3, litellm=5, langfuse=2),
    "03_claude_code.jsonl": expected(4, 3, 1, skipped=1, claude_code=3, skip=1),
    "04_otlp.jsonl": expected(3, 3, 3, skipped=1, otlp=3),
    "05_anthropic_batch.jsonl": expected(3, 3, 3, anthropic_batch=3),
    "06_openai_batch.jsonl": expected(2, 2, 2, openai_batch=2),
    "07_batch_inputs.jsonl": expected(4, 0, 0, inputs=4, batch_input=4),
    "08_gz.jsonl.gz": expected(2, 2, 2, costops=2),
    "09_empty.jsonl": expected(0, 0, 0),
    "10_bad.jsonl": expected(7, 2, 2, costops=5, unknown=1, eval=1, bad=(
        (2, "not valid JSON"), (3, "not valid UTF-8"),
        (4, "duplicate key in one JSON object: request_id"),
        (5, "unrecognised format (keys: hello)"), (9, "passed must be true or false"))),
    "11_copy.jsonl": expected(0, 0, 0, status="skipped"),
}  # fmt: skip


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[FileResult], dict]:
    """The mixed folder, ingested one by one once for the module: (folder, results, tables)."""
    folder = build_mixed(tmp_path_factory.mktemp("batched") / "logs")
    db = str(folder.parent / "one_by_one.duckdb")
    results = ingest_one_by_one(db, folder)
    return folder, results, tables(db)


def names(results: list[FileResult]) -> list[str]:
    return [Path(r.name).name for r in results]


def scans_by(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The names of the files of each batch scanned from now on."""
    scans: list[list[str]] = []
    original = batched._scan

    def spy(con, read, options):
        scans.append([Path(item.source.name).name for item in read])
        return original(con, read, options)

    monkeypatch.setattr(batched, "_scan", spy)
    return scans


# ---- 1. equivalence --------------------------------------------------------------------------


def test_the_oracle_counts_what_the_docstring_counts(mixed):
    _, results, stored = mixed
    assert {Path(r.name).name: tally(r) for r in results} == EXPECTED
    counts = {name: len(rows) for name, rows in stored.items()}
    assert counts == {"requests": 28, "evals": 2, "quarantine": 6, "batch_inputs": 4,
                      "ingest_runs": 10}  # fmt: skip


@pytest.fixture(scope="module")
def mixed_batched(mixed) -> tuple[list[list[str]], list[FileResult], str]:
    """The mixed folder ingested batched: (the files of each scan, results, database)."""
    folder = mixed[0]
    db = str(folder.parent / "batched.duckdb")
    with pytest.MonkeyPatch.context() as patch:
        scans = scans_by(patch)
        results = ingest_batched(db, folder)
    return scans, results, db


def test_a_mixed_folder_batched_stores_what_one_by_one_stores(mixed, mixed_batched):
    _, one_by_one, stored = mixed
    scans, results, db = mixed_batched
    # one batch of every file but the copy, skipped for its content before any scan
    assert scans == [sorted(set(EXPECTED) - {"11_copy.jsonl"})]
    assert names(results) == list(EXPECTED)
    assert {Path(r.name).name: tally(r) for r in results} == EXPECTED
    assert results == one_by_one  # sha256, reasons and the rest too
    assert tables(db) == stored


@pytest.mark.parametrize("how", ["scanned", "one changed", "scan fails"])
def test_files_duckdb_reads_itself_store_what_one_by_one_stores(mixed, tmp_path, monkeypatch, how):
    """Files without CR, U+0001, a BOM or bad UTF-8 are read by DuckDB's CSV reader, line for line
    (10_bad is not: BOM, CRLF, invalid UTF-8); a file changed since it was hashed, or a scan
    that fails, has its lines passed from Python instead. Each way the store is the same."""
    folder, _, stored = mixed
    direct: list[list[str]] = []
    original = batched._scan_directly

    def spy(con, read):
        firsts = original(con, read)
        direct.append(sorted(Path(name).name for name in firsts))
        return firsts

    monkeypatch.setattr(batched, "_scan_directly", spy)
    if how == "one changed":
        monkeypatch.setattr(batched, "unchanged", lambda identity: "03_claude" not in identity[0])
    if how == "scan fails":
        monkeypatch.setattr(batched, "SCAN_SQL", "SELECT error('the reader failed')")
    db = str(tmp_path / "x.duckdb")
    ingest_batched(db, folder)
    read_directly = sorted(set(EXPECTED) - {"10_bad.jsonl", "11_copy.jsonl"})
    expected = {
        "scanned": read_directly,
        "one changed": [name for name in read_directly if name != "03_claude_code.jsonl"],
        "scan fails": [],
    }[how]
    assert direct == [expected]
    assert tables(db) == stored


def test_batch_results_take_their_own_files_time_and_quarantine_keeps_own_line_numbers(
    mixed_batched,
):
    with duckdb.connect(mixed_batched[2], read_only=True) as con:
        batch = con.execute(
            "SELECT request_id, strftime(ts, '%Y-%m-%dT%H:%M:%S'), feature, customer "
            "FROM requests WHERE batch ORDER BY request_id"
        ).fetchall()
        quarantine = con.execute(
            "SELECT regexp_extract(file, '[^/]+$'), line_no, reason FROM quarantine ORDER BY ALL"
        ).fetchall()
    assert batch == [  # features and customers from 07's inputs, by custom_id
        ("batch:doc-0002", "2026-05-01T00:00:00", "doc-summarize", None),
        ("batch:doc-0003", "2026-05-01T00:00:00", None, None),  # no input
        ("batch_req_456", "2026-05-02T12:00:00", "translate", None),
        ("chatcmpl-batch-1", "2026-06-02T03:00:00", "translate", "cust-acme"),
        ("msg_batch_0001", "2026-05-01T00:00:00", "doc-summarize", "cust-initech"),
    ]
    assert quarantine == [
        ("02_responses.jsonl", 6, "missing timestamp"),
        ("10_bad.jsonl", 2, "not valid JSON"),
        ("10_bad.jsonl", 3, "not valid UTF-8"),
        ("10_bad.jsonl", 4, "duplicate key in one JSON object: request_id"),
        ("10_bad.jsonl", 5, "unrecognised format (keys: hello)"),
        ("10_bad.jsonl", 9, "passed must be true or false"),
    ]


def test_strict_never_batches(run, db, tmp_path, monkeypatch):
    """--strict keeps or rejects a whole file: it is read by the per-file path, never whole."""
    log = tmp_path / "a.jsonl"
    log.write_text(lines(canonical("a-1")))
    monkeypatch.setattr(ChunkReader, "read_whole", refuse)
    assert run("ingest", str(log), "--strict", "--db", db).code == 0
    assert [row[0] for row in tables(db)["requests"]] == ["a-1"]


# ---- 2. a file already ingested is skipped unread ---------------------------------------------


def refuse(*args: object, **kwargs: object) -> None:
    raise AssertionError("a file was read")


def read_by(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the files `read_whole` reads from now on."""
    read: list[str] = []
    original = ChunkReader.read_whole

    def spy(self: ChunkReader, max_bytes: int):
        read.append(Path(self.source.name).name)
        return original(self, max_bytes)

    monkeypatch.setattr(ChunkReader, "read_whole", spy)
    return read


def skipped(stderr: str) -> list[str]:
    """The files `costops ingest` reported as already ingested (for its content, or unchanged)."""
    found = (re.fullmatch(r"(.+): already ingested \(.+\), skipped", line)
             for line in stderr.splitlines())  # fmt: skip
    return [Path(match.group(1)).name for match in found if match]


def test_a_second_ingest_reads_no_file_it_stored(run, monkeypatch, mixed, mixed_batched):
    folder, db = mixed[0], mixed_batched[2]
    before = tables(db, ALL_COLUMNS)
    read = read_by(monkeypatch)
    monkeypatch.setattr(ChunkReader, "fingerprint", refuse)
    again = run("ingest", str(folder), "--db", db)
    assert again.code == 0, again.stderr
    assert read == []  # the copy too: remembered when it was skipped for its content
    assert skipped(again.stderr) == list(EXPECTED)
    assert tables(db, ALL_COLUMNS) == before


def small_folder(folder: Path) -> Path:
    """a.jsonl (2 canonical requests) and b.jsonl (03_claude_code's 4 lines: 1 request)."""
    folder.mkdir()
    (folder / "a.jsonl").write_text(lines(canonical("a-1"), canonical("a-2")))
    (folder / "b.jsonl").write_text(fixture_lines("claude_code_session"))
    return folder


def test_a_touched_file_is_read_recognised_by_its_hash_and_skipped(run, db, tmp_path, monkeypatch):
    folder = small_folder(tmp_path / "logs")
    assert run("ingest", str(folder), "--db", db).code == 0
    before = tables(db, ALL_COLUMNS)
    os.utime(folder / "b.jsonl", (OTHER_MTIME, OTHER_MTIME))  # same bytes, a new time
    read = read_by(monkeypatch)
    again = run("ingest", str(folder), "--db", db)
    assert again.code == 0
    assert read == ["b.jsonl"]  # a.jsonl skipped unread, b.jsonl read and hashed
    assert skipped(again.stderr) == ["a.jsonl", "b.jsonl"]
    # nothing written but the file's new identity (ingested_files: not among these tables)
    assert tables(db, ALL_COLUMNS) == before


def test_a_file_skipped_for_its_content_is_not_read_on_later_runs(run, db, tmp_path, monkeypatch):
    """c.jsonl is a copy of a.jsonl (skipped on the first run), b.jsonl is touched after it
    (skipped on the second): on the third run nothing is new, so nothing should be read."""
    folder = small_folder(tmp_path / "logs")
    shutil.copy2(folder / "a.jsonl", folder / "c.jsonl")
    assert run("ingest", str(folder), "--db", db).code == 0
    os.utime(folder / "b.jsonl", (OTHER_MTIME, OTHER_MTIME))
    assert run("ingest", str(folder), "--db", db).code == 0
    read = read_by(monkeypatch)
    assert run("ingest", str(folder), "--db", db).code == 0
    assert read == []


def test_an_appended_file_is_ingested_again_only_the_new_request_added(run, db, tmp_path):
    """b.jsonl gains a 5th line, a new message: its 3 streamed lines read again are duplicates
    (same output, same time: the stored record stays run 2's), the new one is inserted."""
    folder = small_folder(tmp_path / "logs")
    assert run("ingest", str(folder), "--db", db).code == 0
    before = tables(db)
    line = json.loads(fixture_lines("claude_code_session").splitlines()[-1])
    line["message"]["id"], line["uuid"] = "msg_appended", "u-5"
    with open(folder / "b.jsonl", "a") as handle:
        handle.write(json.dumps(line) + "\n")
    again = run("ingest", str(folder), "--db", db)
    assert again.code == 0
    assert skipped(again.stderr) == ["a.jsonl"]
    assert "b.jsonl: 5 lines (claude-code 4, skip 1) · 1 request inserted · 0 evals inserted · " \
           "3 duplicates · 0 quarantined · 1 skipped (no usage)" in again.stderr  # fmt: skip
    after = tables(db)
    new = [row for row in after["requests"] if row not in before["requests"]]
    assert [(r[0], r[-2], r[-1]) for r in new] == [("msg_appended", 3, 5)]  # run 3, line 5
    assert len(after["requests"]) == len(before["requests"]) + 1
    # run 3: 5 lines read, 1 inserted, 0 replaced, 0 evals, 3 duplicates, 0 quarantined
    assert [r[:2] + r[4:10] for r in after["ingest_runs"]][-1] == (
        3, str(folder / "b.jsonl"), 5, 1, 0, 0, 3, 0)  # fmt: skip


# ---- 3. a batch that fails ---------------------------------------------------------------------


def read_alone(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the files the per-file path ingests from now on."""
    alone: list[str] = []
    original = run.ingest_source

    def spy(con, source, **options):
        alone.append(Path(source.name).name)
        return original(con, source, **options)

    monkeypatch.setattr(run, "ingest_source", spy)
    return alone


def test_a_failing_batch_is_rolled_back_and_each_file_ingested_alone(mixed, tmp_path,
                                                                     monkeypatch):  # fmt: skip
    """The error comes after the batch wrote its rows (in `_store`): they must go, and each file
    be ingested on its own, as the module docstring counts it: 3 + 2 requests, 5 quarantined
    lines, runs 1 and 2, nothing twice."""
    folder = tmp_path / "logs"
    folder.mkdir()
    for name in ("05_anthropic_batch.jsonl", "10_bad.jsonl"):  # a time of its own; quarantine
        shutil.copy2(mixed[0] / name, folder / name)
    original, calls = batched._store, []

    def store_then_fail(con, results, keep_text):
        original(con, results, keep_text)
        calls.append(len(results))
        if len(calls) == 1:
            raise duckdb.ConversionException("injected after the batch's rows were written")

    alone = read_alone(monkeypatch)
    monkeypatch.setattr(batched, "_store", store_then_fail)
    db = str(tmp_path / "retried.duckdb")
    results = ingest_batched(db, folder)
    assert calls == [2] and alone == ["05_anthropic_batch.jsonl", "10_bad.jsonl"]
    assert {Path(r.name).name: tally(r) for r in results} == {
        name: EXPECTED[name] for name in alone}  # fmt: skip
    stored = tables(db)
    assert sorted((r[0], r[1].strftime("%m-%d"), r[-2], r[-1]) for r in stored["requests"]) == [
        ("bad-ok-1", "03-02", 2, 1), ("bad-ok-2", "03-02", 2, 8),
        ("batch:doc-0002", "05-01", 1, 2), ("batch:doc-0003", "05-01", 1, 3),
        ("msg_batch_0001", "05-01", 1, 1)]  # fmt: skip
    assert [(r[0], r[2]) for r in stored["quarantine"]] == [(2, n) for n in (2, 3, 4, 5, 9)]
    assert [r[0] for r in stored["ingest_runs"]] == [1, 2]


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, duckdb.InterruptException])
def test_an_interrupted_batch_is_not_retried_and_leaves_nothing(run, db, tmp_path, monkeypatch,
                                                                interrupt):  # fmt: skip
    folder = small_folder(tmp_path / "logs")
    original = batched._store

    def store_then_interrupt(con, results, keep_text):
        original(con, results, keep_text)
        raise interrupt()

    alone = read_alone(monkeypatch)
    monkeypatch.setattr(batched, "_store", store_then_interrupt)
    result = run("ingest", str(folder), "--db", db)
    assert result.code == 130 and "interrupted" in result.stderr
    assert "Traceback" not in result.stderr and alone == []
    assert tables(db) == {name: [] for name in TABLES}


# ---- 4. one request in several files of a batch -----------------------------------------------


def test_the_most_complete_record_across_files_is_kept(tmp_path):
    """x's output is 10 in a, 30 in b, 20 in c. One by one: a inserts x and y; b replaces x
    (1 replaced, 0 inserted, 1 duplicate); c's x is a duplicate, z inserted. Batched, x is
    chosen among the three at once: b's record is inserted by b, a's and c's are duplicates.
    Either way b's record is stored and 3 requests + 2 duplicates make the 5 good lines."""
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "a.jsonl").write_text(lines(canonical("x", 10, feature="a"), canonical("y")))
    (folder / "b.jsonl").write_text(lines(canonical("x", 30, feature="b")))
    (folder / "c.jsonl").write_text(lines(canonical("x", 20, feature="c"), canonical("z")))
    one_db, batch_db = str(tmp_path / "one.duckdb"), str(tmp_path / "batch.duckdb")
    one_by_one, together = ingest_one_by_one(one_db, folder), ingest_batched(batch_db, folder)

    def counts(results):  # (inserted, replaced, duplicates) per file
        return [(r.requests_inserted, r.requests_replaced, r.duplicates) for r in results]

    assert counts(one_by_one) == [(2, 0, 0), (0, 1, 1), (1, 0, 1)]
    assert counts(together) == [(1, 0, 1), (1, 0, 0), (1, 0, 1)]
    for results in (one_by_one, together):
        assert sum(r.requests_inserted + r.duplicates for r in results) == 5
    stored = tables(batch_db)["requests"]
    assert stored == tables(one_db)["requests"]
    assert [(r[0], r[4], r[16], r[-2], r[-1]) for r in stored] == [
        ("x", "b", 30, 2, 1), ("y", None, 2, 1, 2), ("z", None, 2, 3, 2)]  # fmt: skip


def test_a_tie_across_files_keeps_the_first_files_record_as_one_by_one(tmp_path):
    """The same request logged twice (overlapping rotated logs): one by one, a inserts x and y,
    b inserts z and its x is a duplicate; a's x (feature a, run 1, line 1) stays."""
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "a.jsonl").write_text(lines(canonical("x", feature="a"), canonical("y")))
    (folder / "b.jsonl").write_text(lines(canonical("x", feature="b"), canonical("z")))
    db = str(tmp_path / "batch.duckdb")
    results = ingest_batched(db, folder)
    assert [(r.requests_inserted, r.duplicates) for r in results] == [(2, 0), (1, 1)]
    stored = [(r[0], r[4], r[-2], r[-1]) for r in tables(db)["requests"]]
    assert stored == [("x", "a", 1, 1), ("y", None, 1, 2), ("z", None, 2, 2)]


def otlp_line(span: dict[str, object]) -> str:
    span = {"traceId": "t" * 32, "startTimeUnixNano": "1772445600000000000",
            "endTimeUnixNano": "1772445601000000000", **span}  # fmt: skip
    scope = {"scope": {"name": "s"}, "spans": [span]}
    return json.dumps({"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [scope]}]})


def attribute(key: str, value: str) -> dict[str, object]:
    return {"key": key, "value": {"stringValue": value}}


def test_a_trace_split_over_two_files_is_stored_as_one_by_one(tmp_path):
    """a.jsonl holds the agent span of trace t…t, b.jsonl the chat span under it (with usage).
    One by one, b's request has no feature and no task: b has no agent span."""
    folder = tmp_path / "logs"
    folder.mkdir()
    agent = otlp_line({"spanId": "a1", "name": "invoke_agent triage", "attributes": [
        attribute("gen_ai.operation.name", "invoke_agent"),
        attribute("gen_ai.agent.name", "triage")]})  # fmt: skip
    chat = otlp_line({"spanId": "c1", "parentSpanId": "a1", "name": "chat", "attributes": [
        attribute("gen_ai.operation.name", "chat"), attribute("gen_ai.system", "openai"),
        attribute("gen_ai.request.model", "gpt-4.1"), attribute("gen_ai.response.id", "r-1"),
        {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "100"}},
        {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "10"}}]})  # fmt: skip
    (folder / "a.jsonl").write_text(lines(agent))
    (folder / "b.jsonl").write_text(lines(chat))
    db = str(tmp_path / "batch.duckdb")
    ingest_batched(db, folder)
    assert [(r[0], r[4], r[5]) for r in tables(db)["requests"]] == [("r-1", None, None)]


# ---- 5. memory and size bounds ----------------------------------------------------------------


@pytest.fixture(scope="module")
def seven(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[FileResult], dict]:
    """1.jsonl … 7.jsonl, one canonical line each (~120 bytes), 2 and 5 two lines; ingested in
    one batch (which test 1 shows stores what one by one stores): (folder, results, tables)."""
    folder = tmp_path_factory.mktemp("seven") / "logs"
    folder.mkdir()
    for n in range(1, 8):
        count = 2 if n in (2, 5) else 1
        (folder / f"{n}.jsonl").write_text(lines(*(canonical(f"f{n}-{i}") for i in range(count))))
    db = str(folder.parent / "one_batch.duckdb")
    results = ingest_batched(db, folder)
    return folder, results, tables(db)


def printed(stderr: str, folder: Path) -> list[str]:
    """The files `costops ingest` reported on, in the order it printed them."""
    prefix = f"{folder}/"
    return [line.removeprefix(prefix).split(":")[0] for line in stderr.splitlines()
            if line.startswith(prefix)]  # fmt: skip


def test_larger_files_take_the_per_file_path_in_their_place(run, db, seven, monkeypatch):
    """With SMALL_FILE_BYTES at 200, the two-line files 2 and 5 are not small: each is ingested
    alone, flushing the small files before it, so runs, results and rows keep the order given.
    A second run skips all seven unread, the large ones too."""
    folder, _, stored = seven
    monkeypatch.setattr(batched, "SMALL_FILE_BYTES", 200)
    scans, alone = scans_by(monkeypatch), read_alone(monkeypatch)
    result = run("ingest", str(folder), "--db", db)
    assert result.code == 0
    assert scans == [["1.jsonl"], ["3.jsonl", "4.jsonl"], ["6.jsonl", "7.jsonl"]]
    assert alone == ["2.jsonl", "5.jsonl"]
    assert printed(result.stderr, folder) == [f"{n}.jsonl" for n in range(1, 8)]
    assert tables(db) == stored  # run ids 1-7 in the order given
    monkeypatch.setattr(ChunkReader, "read_whole", refuse)
    monkeypatch.setattr(ChunkReader, "fingerprint", refuse)
    again = run("ingest", str(folder), "--db", db)
    assert skipped(again.stderr) == [f"{n}.jsonl" for n in range(1, 8)]


def test_batches_of_at_most_batch_files_store_the_same(seven, tmp_path, monkeypatch):
    folder, one_batch, stored = seven
    monkeypatch.setattr(batched, "BATCH_FILES", 3)
    scans = scans_by(monkeypatch)
    db = str(tmp_path / "bounded.duckdb")
    assert ingest_batched(db, folder) == one_batch
    assert [len(scan) for scan in scans] == [3, 3, 1]
    assert tables(db) == stored


def test_a_batch_ends_once_its_text_reaches_batch_bytes(seven, tmp_path, monkeypatch):
    """BATCH_BYTES at 3 lines' characters (the newline at a file's end not counted): 1 + 2 |
    1 + 1 + 2 | 1 + 1. (The batches are not run: the test above shows smaller ones store the
    same.)"""
    folder = seven[0]
    monkeypatch.setattr(batched, "BATCH_BYTES", 3 * len(canonical("f1-0")))
    batches: list[list[str]] = []

    def record(con, read, options, ingest_one):
        batches.append([Path(item.source.name).name for item in read])
        return [FileResult(item.source.name) for item in read]

    monkeypatch.setattr(batched, "_ingest_batch", record)
    ingest_batched(str(tmp_path / "unused.duckdb"), folder)
    assert batches == [["1.jsonl", "2.jsonl"], ["3.jsonl", "4.jsonl", "5.jsonl"],
                       ["6.jsonl", "7.jsonl"]]  # fmt: skip


# ---- 6. kill -9 mid-batch ---------------------------------------------------------------------

# Ingests FOLDER into DB; once the batch has written its rows (not committed), touches MARKER
# and waits to be killed.
KILLED_INGEST = """
import sys, time
from pathlib import Path
from costops.ingest import batched
from costops.cli import main

original = batched._store
folder, db, marker = sys.argv[1:]

def store_then_wait(*args):
    original(*args)
    Path(marker).touch()
    time.sleep(60)

batched._store = store_then_wait
sys.argv = ["costops", "ingest", folder, "--db", db]
main()
"""


@pytest.mark.slow
def test_kill_9_mid_batch_leaves_the_database_as_before(run, db, tmp_path):
    """An earlier file is stored; a batch of two more is killed after writing its rows, before
    its commit: the store is as it was, and running again stores the two files (runs 2, 3)."""
    earlier = tmp_path / "earlier.jsonl"
    earlier.write_text(lines(canonical("earlier")))
    folder = small_folder(tmp_path / "logs")
    assert run("ingest", str(earlier), "--db", db).code == 0
    before = tables(db, ALL_COLUMNS)
    marker = tmp_path / "stored"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_INGEST, str(folder), db, str(marker)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert marker.exists() and proc.poll() is None
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    with open_db(db):  # opens (and replays) whatever the kill left
        pass
    assert tables(db, ALL_COLUMNS) == before
    assert run("ingest", str(folder), "--db", db).code == 0
    after = tables(db)
    assert [row[0] for row in after["requests"]] == ["a-1", "a-2", "earlier", "msg_01CCstream"]
    assert [(row[0], Path(row[1]).name) for row in after["ingest_runs"]] == [
        (1, "earlier.jsonl"), (2, "a.jsonl"), (3, "b.jsonl")]  # fmt: skip
