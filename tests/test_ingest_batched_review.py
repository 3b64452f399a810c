"""A hostile review of batched ingest (costops.ingest.batched, issue 16 part 1).

The oracle is the per-file path (`run.ingest_source` per file). Bugs found are xfail(strict)
with their cause; the rest pins behaviours checked to hold: a batch of awkward files (a BOM on
the 2nd file, CRLF, no newline at the end of a file followed by another, an empty file between
two others, invalid UTF-8, blank lines, batch results of two files with different mtimes, a
Claude Code session) stores what one by one stores, with --keep-text and with --map too; the
slim Claude Code parse keeps the duplicate-key check and unescapes names; a symlink and a path
given twice are one file; a .gz small on disk but large decompressed takes the per-file path.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
from pathlib import Path

import duckdb
import pytest

from costops.ingest import batched, run, sources
from costops.ingest.run import FileResult
from costops.ingest.sources import ChunkReader, expand
from costops.store.db import open_db
from tests.conftest import DATA
from tests.test_ingest_batched import read_alone

FORMATS = DATA / "formats"
TS = "2026-03-02T10:00:00Z"
MTIME_F = 1_700_000_000  # 2023-11-14T22:13:20Z
MTIME_G = 1_750_000_000  # 2025-06-15T15:06:40Z

TABLES = {
    "requests": "SELECT * FROM requests ORDER BY ALL",
    "evals": "SELECT * FROM evals ORDER BY ALL",
    "quarantine": "SELECT * EXCLUDE (quarantined_at) FROM quarantine ORDER BY ALL",
    "batch_inputs": "SELECT * FROM batch_inputs ORDER BY ALL",
    "ingest_runs": "SELECT * EXCLUDE (started_at, finished_at) FROM ingest_runs ORDER BY ALL",
    "request_text": "SELECT * FROM request_text ORDER BY ALL",
}


def canonical(request_id: str, output: int = 2, **extra: object) -> str:
    line = {"request_id": request_id, "timestamp": TS, "model": "gpt-4.1", "input_tokens": 10,
            "output_tokens": output, **extra}  # fmt: skip
    return json.dumps(line)


def ingest_batched(db: str, *paths: Path, **options: object) -> list[FileResult]:
    given = batched.Options(**options)  # type: ignore[arg-type]
    with open_db(db) as con:
        one = lambda source: run.ingest_source(con, source, **dataclasses.asdict(given))  # noqa: E731
        sources_ = expand([str(p) for p in paths])
        return list(batched.ingest_sources(con, sources_, given, one))


def ingest_one_by_one(db: str, *paths: Path, **options: object) -> list[FileResult]:
    with open_db(db) as con:
        return [run.ingest_source(con, s, **options) for s in expand([str(p) for p in paths])]  # type: ignore[arg-type]


def tables(db: str) -> dict[str, list[tuple]]:
    with duckdb.connect(db, read_only=True) as con:
        return {name: con.execute(sql).fetchall() for name, sql in TABLES.items()}


def rows(db: str, sql: str) -> list[tuple]:
    with duckdb.connect(db, read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def awkward(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """a: no newline at its end; b: BOM + a Claude Code session with CRLF endings; c: empty;
    e: blank lines, good, not JSON, invalid UTF-8, spaces, good, a cut-off line, a lone CR;
    f and g: Anthropic batch results (no time of their own) with different mtimes."""
    folder = tmp_path_factory.mktemp("awkward") / "logs"
    folder.mkdir()
    results = (FORMATS / "anthropic_batch_results.jsonl").read_bytes()
    files = {
        "a": f"{canonical('a1')}\n{canonical('a2')}".encode(),
        "b": b"\xef\xbb\xbf"
        + (FORMATS / "claude_code_session.jsonl").read_bytes().replace(b"\n", b"\r\n"),
        "c": b"",
        "e": b"\n\n" + canonical("e1").encode() + b"\nnot json\n"
        + canonical("e2").encode().replace(b"gpt-4.1", b"gpt\xff") + b"\n   \n"
        + canonical("e3").encode() + b'\n{"request_id":"e4"\n' + canonical("e5").encode() + b"\r",
        "f": results,
        "g": results.replace(b"msg_batch", b"msg_btch").replace(b"doc-", b"dox-"),
    }  # fmt: skip
    for name, content in files.items():
        (folder / f"{name}.jsonl").write_bytes(content)
    os.utime(folder / "f.jsonl", (MTIME_F, MTIME_F))
    os.utime(folder / "g.jsonl", (MTIME_G, MTIME_G))
    return folder


# ---- behaviours that hold ----------------------------------------------------------------------


def test_awkward_files_in_one_batch_store_what_one_by_one_stores(awkward, tmp_path, monkeypatch):
    """With --keep-text (each request its own line, quarantined lines their text) and --map
    (paths the slim Claude Code parse does not read) too."""
    options = {"keep_text": True, "mappings": {"feature": ("$.cwd",), "customer": ("$.gitBranch",),
               "workspace": ("$.custom_id",)}}  # fmt: skip
    one_db, batch_db = str(tmp_path / "one.duckdb"), str(tmp_path / "batch.duckdb")
    one_by_one = ingest_one_by_one(one_db, awkward, **options)
    alone = read_alone(monkeypatch)
    together = ingest_batched(batch_db, awkward, **options)
    assert alone == []  # all six in the batch, none retried
    assert together == one_by_one
    assert tables(batch_db) == tables(one_db)
    quarantined = rows(batch_db, "SELECT regexp_extract(file, '[^/]+$'), line_no, reason, "
                       "raw IS NOT NULL FROM quarantine ORDER BY ALL")  # fmt: skip
    assert quarantined == [("e.jsonl", 4, "not valid JSON", True),
                           ("e.jsonl", 5, "not valid UTF-8", True),
                           ("e.jsonl", 8, "not valid JSON", True)]  # fmt: skip
    texts = rows(batch_db, "SELECT request_id, raw ->> 'request_id' FROM request_text "
                 "WHERE request_id LIKE 'e%' ORDER BY 1")  # fmt: skip
    assert texts == [("e1", "e1"), ("e3", "e3"), ("e5", "e5")]
    times = rows(batch_db, "SELECT DISTINCT run_id, epoch(ts)::BIGINT FROM requests WHERE batch "
                 "ORDER BY 1")  # fmt: skip
    assert [t for _, t in times] == [MTIME_F, MTIME_G]  # each file its own mtime


def claude_code(n: int, message: dict[str, object], raw_edit: tuple[str, str] = ("", "")) -> str:
    line = {"cwd": "/home/dev/proj", "sessionId": "s1", "version": "2.0.14", "gitBranch": "main",
            "type": "assistant", "message": message, "requestId": f"req_{n}", "uuid": f"u{n}",
            "timestamp": "2026-06-05T14:00:03.000Z"}  # fmt: skip
    return json.dumps(line).replace(*raw_edit)


def test_claude_code_slim_parse_reads_escapes_and_still_catches_repeated_counts(tmp_path):
    """One parse per line for the adapter's paths: the model name's \\u escapes read as the
    letters they are; usage null or missing a count is quarantined; a count or an id given twice
    is still caught (the check reads the raw line, not the slim object)."""
    usage = {"input_tokens": 8, "cache_read_input_tokens": 20, "output_tokens": 12}
    log = tmp_path / "cc.jsonl"
    log.write_text("\n".join([
        claude_code(1, {"id": "m1", "model": "claude-\\u0041x", "usage": usage},
                    ('"claude-\\\\u0041x"', '"claude-\\u0041x"')),
        claude_code(2, {"id": "m2", "model": "x", "usage": None}),
        claude_code(3, {"id": "m3", "model": "x", "usage": {"output_tokens": 5}}),
        claude_code(4, {"id": "m4", "model": "x", "usage": usage},
                    ('"output_tokens": 12', '"output_tokens": 12, "output_tokens": 99')),
        claude_code(5, {"id": "m5", "model": "x", "usage": usage},
                    ('"id": "m5"', '"id": "m5", "id": "m5b"')),
    ]) + "\n")  # fmt: skip
    db = str(tmp_path / "cc.duckdb")
    ingest_batched(db, log)
    assert rows(db, "SELECT request_id, model, input_tokens, cache_read_tokens, output_tokens, "
                "feature FROM requests") == [("m1", "claude-Ax", 28, 20, 12, "proj")]  # fmt: skip
    assert rows(db, "SELECT line_no, reason FROM quarantine ORDER BY 1") == [
        (2, "missing input_tokens"), (3, "missing input_tokens"),
        (4, "duplicate key in one JSON object: output_tokens"),
        (5, "duplicate key in one JSON object: id")]  # fmt: skip


def test_a_symlink_and_a_path_given_twice_are_one_file_read_once(tmp_path, monkeypatch):
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "a.jsonl").write_text(canonical("a1") + "\n")
    (folder / "link.jsonl").symlink_to(folder / "a.jsonl")
    db = str(tmp_path / "batch.duckdb")
    first = ingest_batched(db, folder, folder / "a.jsonl")
    assert [r.status for r in first] == ["ok", "skipped", "skipped"]
    assert rows(db, "SELECT count(*) FROM ingest_runs") == [(1,)]
    assert rows(db, "SELECT count(*) FROM ingested_files") == [(1,)]
    read: list[str] = []
    monkeypatch.setattr(ChunkReader, "read_whole", lambda self, _: read.append(self.source.name))
    assert [r.status for r in ingest_batched(db, folder)] == ["skipped", "skipped"]
    assert read == []


def test_a_gz_small_on_disk_but_large_decompressed_goes_alone(tmp_path, monkeypatch):
    """With SMALL_FILE_BYTES at 1000, a .gz of ~250 bytes holding ~10 kB is not small."""
    monkeypatch.setattr(batched, "SMALL_FILE_BYTES", 1000)
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "a.jsonl").write_text(canonical("a1") + "\n")
    text = "".join(canonical(f"g{i}", feature="x" * 20) + "\n" for i in range(80))
    (folder / "b.jsonl.gz").write_bytes(gzip.compress(text.encode()))
    assert (folder / "b.jsonl.gz").stat().st_size < 1000
    alone = read_alone(monkeypatch)
    db = str(tmp_path / "batch.duckdb")
    results = ingest_batched(db, folder)
    assert alone == ["b.jsonl.gz"]
    assert [r.requests_inserted for r in results] == [1, 80]


# ---- bugs --------------------------------------------------------------------------------------


def test_a_file_gone_before_it_is_read_does_not_cost_the_files_before_it(run, db, tmp_path,
                                                                         monkeypatch):  # fmt: skip
    folder = tmp_path / "logs"
    folder.mkdir()
    for name in "abc":
        (folder / f"{name}.jsonl").write_text(canonical(f"{name}1") + "\n")
    original = sources.expand

    def expand_then_delete(paths: list[str]):
        found = original(paths)
        (folder / "b.jsonl").unlink()  # gone between the listing and the read (a rotation)
        return found

    monkeypatch.setattr(sources, "expand", expand_then_delete)
    result = run("ingest", str(folder), "--db", db)
    assert result.code != 0 and "b.jsonl: cannot read" in result.stderr
    assert "Traceback" not in result.stderr
    assert rows(db, "SELECT request_id FROM requests") == [("a1",)]  # as one by one


def test_ingest_first_maps_dimensions_with_the_commands_config(run, db, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.jsonl").write_text(canonical("r1", metadata={"team": "billing"}) + "\n")
    (tmp_path / "team.yaml").write_text("dimensions:\n  customer: metadata.team\n")
    result = run("budget", "check", "--config", str(tmp_path / "team.yaml"), "--ingest",
                 str(logs), "--daily-cost", "100", "--db", db)  # fmt: skip
    assert result.code == 0, result.stderr
    assert rows(db, "SELECT request_id, customer FROM requests") == [("r1", "billing")]


def test_a_file_rewritten_with_its_size_and_mtime_restored_is_read_again(tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    log = folder / "a.jsonl"
    log.write_text(canonical("x1") + "\n")
    before = log.stat()
    db = str(tmp_path / "batch.duckdb")
    ingest_batched(db, folder)
    replacement = folder / "a.tmp"
    replacement.write_text(canonical("x2") + "\n")  # same size
    os.utime(replacement, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(replacement, log)  # a new file at the same path, its mtime restored
    assert [r.status for r in ingest_batched(db, folder)] == ["ok"]
    assert rows(db, "SELECT request_id FROM requests ORDER BY 1") == [("x1",), ("x2",)]


def test_a_refused_file_does_not_make_an_empty_file_look_ingested(tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "a.jsonl").write_bytes(b"\x00\xff\xfe\x00binary")  # refused: not text
    (folder / "b.jsonl").write_bytes(b"")
    one_db, batch_db = str(tmp_path / "one.duckdb"), str(tmp_path / "batch.duckdb")
    one_by_one = ingest_one_by_one(one_db, folder)
    together = ingest_batched(batch_db, folder)
    assert [r.status for r in one_by_one] == ["refused", "ok"]
    assert [r.status for r in together] == ["refused", "ok"]
    assert tables(batch_db) == tables(one_db)


def otlp_line(span: dict[str, object]) -> str:
    """An export line whose top key is spelled with an escape (`"resource\\u0053pans"`)."""
    span = {"traceId": "t" * 32, "startTimeUnixNano": "1772445600000000000",
            "endTimeUnixNano": "1772445601000000000", **span}  # fmt: skip
    scope = {"scope": {"name": "s"}, "spans": [span]}
    line = json.dumps({"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [scope]}]})
    return line.replace('"resourceSpans"', '"resource\\u0053pans"')


def attribute(key: str, value: str) -> dict[str, object]:
    return {"key": key, "value": {"stringValue": value}}


def test_otlp_files_with_an_escaped_key_still_keep_their_trace_context_to_themselves(tmp_path):
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
    (folder / "a.jsonl").write_text(agent + "\n")
    (folder / "b.jsonl").write_text(chat + "\n")
    db = str(tmp_path / "batch.duckdb")
    ingest_batched(db, folder)
    # one by one (and with the key spelled plainly) b's request has no agent span in its file
    assert rows(db, "SELECT request_id, feature, task_id FROM requests") == [("r-1", None, None)]


def test_a_usage_object_given_twice_is_quarantined_not_read_first_wins(tmp_path):
    log = tmp_path / "cc.jsonl"
    usage = '"usage": {"input_tokens": 1, "output_tokens": 5}'
    line = claude_code(1, {"id": "m1", "model": "x", "usage": {"input_tokens": 1,
                                                               "output_tokens": 5}})  # fmt: skip
    log.write_text(line.replace(usage, usage + ', "usage": {"input_tokens": 100, '
                                '"output_tokens": 100}') + "\n")  # fmt: skip
    assert json.loads(log.read_text())["message"]["usage"]["output_tokens"] == 100
    db = str(tmp_path / "cc.duckdb")
    ingest_batched(db, log)
    assert rows(db, "SELECT output_tokens FROM requests") in ([], [(100,)])
