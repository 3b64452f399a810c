"""Nothing lost at ingest (issue 14, items 1, 2, 5, 6, 7, 16): a rotated file, overflowing counts,
a truncated .gz, a huge line, a neighbour's bad bytes and duplicated keys each cost only the line
(or the unreadable rest of the file) they are in, never the good lines around them.

Expected numbers are counted by hand from the lines each test writes.
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import subprocess
import sys
import zlib
from pathlib import Path

import duckdb
import pytest

from costops.ingest import batched
from costops.ingest.sources import ChunkReader

TS = "2026-03-02T10:00:00Z"
BIG = 2**63 - 1  # the largest BIGINT: one more, or a sum of two, overflows


def canonical(request_id: str, **extra: object) -> str:
    line = {"request_id": request_id, "timestamp": TS, "model": "gpt-4.1",
            "input_tokens": 10, "output_tokens": 2, **extra}  # fmt: skip
    return json.dumps(line)


def rows(db: str, sql: str) -> list[tuple]:
    with duckdb.connect(db, read_only=True) as con:
        return con.execute(sql).fetchall()


def request_ids(db: str) -> list[str]:
    return [r[0] for r in rows(db, "SELECT request_id FROM requests ORDER BY request_id")]


def quarantined(db: str) -> list[tuple[str, int, str]]:
    return rows(db, "SELECT file, line_no, reason FROM quarantine ORDER BY file, line_no")


# ---- 1. a log rotated between the hash and the read ------------------------------------------


@pytest.mark.parametrize("bad_neighbour", [False, True], ids=["fast-path", "general-path"])
def test_a_file_rotated_between_hash_and_read_is_ingested_later(
    run, db, tmp_path, monkeypatch, bad_neighbour
):
    """logrotate renames app.jsonl (3 lines: old-1..3) to app.jsonl.1 and starts a new app.jsonl
    (1 line: new-1) right after costops hashed the old content. The run stores new-1; the rotated
    file, ingested next, is not "already ingested": all 4 requests end up stored."""
    log, rotated = tmp_path / "app.jsonl", tmp_path / "app.jsonl.1"
    old = [canonical(f"old-{n}") for n in (1, 2, 3)] + (["not json"] if bad_neighbour else [])
    log.write_text("\n".join(old) + "\n")
    original = ChunkReader.fingerprint

    def rotate_after_hashing(self: ChunkReader, count_keys: bool = True) -> tuple[str, int]:
        result = original(self, count_keys)
        if self.source.path == log and not rotated.exists():
            log.rename(rotated)
            log.write_text(canonical("new-1") + "\n")
        return result

    monkeypatch.setattr(ChunkReader, "fingerprint", rotate_after_hashing)
    monkeypatch.setattr(batched, "SMALL_FILE_BYTES", 0)  # read on its own, hashed first
    assert run("ingest", str(log), "--db", db).code == 0
    assert request_ids(db) == ["new-1"]
    result = run("ingest", str(rotated), "--db", db)
    assert result.code == 0 and "already ingested" not in result.stderr
    assert request_ids(db) == ["new-1", "old-1", "old-2", "old-3"]
    # and the new file, unchanged, is now recognised as ingested
    assert "already ingested" in run("ingest", str(log), "--db", db).stderr


# ---- 2. counts that overflow 64 bits, or are beyond any real request -------------------------

_USAGE = {"input_tokens": BIG, "cache_read_input_tokens": BIG, "output_tokens": 1}
OVERFLOWING = {
    "costops": json.loads(canonical("x", input_tokens=BIG, cache_read_tokens=BIG)),
    "anthropic": {"id": "msg_x", "type": "message", "model": "claude-sonnet-4-5",
                  "timestamp": TS, "usage": _USAGE},
    "anthropic-batch": {"custom_id": "b-x", "result": {"type": "succeeded", "message": {
        "id": "msg_bx", "model": "claude-sonnet-4-5", "usage": _USAGE}}},
    "litellm": {"request_id": "l-x", "model": "claude-sonnet-4-5", "startTime": TS,
                "custom_llm_provider": "anthropic", "spend": 0.1, "prompt_tokens": BIG,
                "completion_tokens": 1,
                "metadata": {"additional_usage_values": {"cache_read_input_tokens": BIG}}},
    "langfuse": {"id": "lf-x", "type": "GENERATION", "traceId": "t1", "startTime": TS,
                 "model": "gpt-4.1",
                 "usageDetails": {"input": BIG, "input_cached_tokens": BIG, "output": 1}},
    "claude-code": {"sessionId": "s1", "uuid": "u1", "type": "assistant", "timestamp": TS,
                    "message": {"id": "msg_cc", "model": "claude-sonnet-4-5", "usage": _USAGE}},
    "gemini": {"timestamp": TS, "responseId": "g-x", "modelVersion": "gemini-2.5-pro",
               "usageMetadata": {"promptTokenCount": BIG, "toolUsePromptTokenCount": BIG,
                                 "candidatesTokenCount": 1}},
    "bedrock": {"timestamp": TS, "modelId": "anthropic.claude-sonnet-4-5", "requestId": "br-x",
                "response": {"usage": {"inputTokens": BIG, "cacheReadInputTokens": BIG,
                                       "outputTokens": 1}}},
    "otlp": {"resourceSpans": [{"resource": {"attributes": [
        {"key": "telemetry.sdk.name", "value": {"stringValue": "openlit"}}]},
        "scopeSpans": [{"scope": {"name": "openlit"}, "spans": [{
            "traceId": "aa", "spanId": "bb", "startTimeUnixNano": "1772445600000000000",
            "endTimeUnixNano": "1772445601000000000", "attributes": [
                {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                {"key": "gen_ai.system", "value": {"stringValue": "anthropic"}},
                {"key": "gen_ai.request.model", "value": {"stringValue": "claude-sonnet-4-5"}},
                {"key": "gen_ai.usage.input_tokens", "value": {"intValue": str(BIG)}},
                {"key": "gen_ai.usage.cache_read_input_tokens",
                 "value": {"intValue": str(BIG)}},
                {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "1"}}]}]}]}]},
}  # fmt: skip


@pytest.mark.parametrize("fmt", sorted(OVERFLOWING))
def test_an_overflowing_count_costs_only_its_line(run, db, tmp_path, fmt):
    """A sum of two 2^63-1 counts used to raise OutOfRange and lose the file and the next one:
    here the line is quarantined, the good line beside it and the next file are stored."""
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text(json.dumps(OVERFLOWING[fmt]) + "\n" + canonical("good-a") + "\n")
    second.write_text(canonical("good-b") + "\n")
    result = run("ingest", str(first), str(second), "--db", db)
    assert result.code == 0 and "Traceback" not in result.stderr
    assert request_ids(db) == ["good-a", "good-b"]
    [(_, line_no, reason)] = quarantined(db)
    assert line_no == 1 and "token count out of range" in reason


@pytest.mark.parametrize(
    ("tokens", "kept"), [(10**12, True), (10**12 + 1, False), (2**64 - 1, False), (2**70, False)]
)
def test_a_count_above_a_trillion_is_out_of_range(run, db, tmp_path, tokens, kept):
    """10^12 tokens is the largest count taken (no request is that large); more is quarantined
    on both paths: alone (the fast path) and beside a bad line (the general path)."""
    for name, neighbour in (("alone", []), ("mixed", ["not json"])):
        path = tmp_path / f"{name}.jsonl"
        path.write_text("\n".join([canonical(name, output_tokens=tokens), *neighbour]) + "\n")
        run("ingest", str(path), "--db", db)
        stored = rows(db, f"SELECT output_tokens FROM requests WHERE request_id = '{name}'")
        assert stored == ([(tokens,)] if kept else [])
        reasons = [r for f, _, r in quarantined(db) if f == str(path)]
        assert any("token count out of range" in r for r in reasons) is not kept


def test_budget_check_survives_huge_task_counts(run, db, tmp_path):
    """input 2^62 + output 2^62 overflowed `budget check`'s per-request sum; such a line is now
    out of range at ingest, and the task's other request (10 + 2 = 12 tokens) breaches 5."""
    path = tmp_path / "tasks.jsonl"
    path.write_text(
        canonical("huge", task_id="t1", input_tokens=2**62, output_tokens=2**62) + "\n"
        + canonical("small", task_id="t1") + "\n"
    )  # fmt: skip
    assert run("ingest", str(path), "--db", db).code == 0
    result = run("budget", "check", "--task-tokens", "5", "--db", db, "--format", "json")
    assert result.code == 1 and "Traceback" not in result.stderr
    assert [(b["scope"], b["actual"]) for b in result.json()["rows"]] == [("task t1", 12)]


# ---- 5. a truncated .gz in a directory -------------------------------------------------------


def _truncated_gzip(path: Path, lines: list[str], keep: float) -> int:
    """Write `lines` gzipped, cut after `keep` of the compressed bytes; return how many whole
    lines a decompressor can still recover (counted with zlib directly, not with costops)."""
    data = gzip.compress(("\n".join(lines) + "\n").encode(), compresslevel=1)
    cut = data[: int(len(data) * keep)]
    path.write_bytes(cut)
    readable = zlib.decompressobj(wbits=31).decompress(cut)
    return readable.count(b"\n")


def test_a_truncated_gz_keeps_its_readable_lines_and_the_next_files(run, db, tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    with gzip.open(folder / "a.jsonl.gz", "wt") as handle:
        handle.write(canonical("a-1") + "\n")
    lines = [canonical(f"b-{n:05}", feature="x" * (n % 97)) for n in range(20_000)]
    whole = _truncated_gzip(folder / "b.jsonl.gz", lines, keep=0.6)
    assert 0 < whole < len(lines)
    (folder / "c.jsonl").write_text(canonical("c-1") + "\n")
    result = run("ingest", str(folder), "--db", db)
    assert result.code == 3 and "Traceback" not in result.stderr
    assert "c.jsonl: 1 line" in result.stderr  # the file after it was read
    assert "3 files into" in result.stderr  # and the summary printed
    ids = request_ids(db)
    assert ids == ["a-1", *(f"b-{n:05}" for n in range(whole)), "c-1"]
    [(file, line_no, reason)] = quarantined(db)
    assert file.endswith("b.jsonl.gz") and line_no == whole + 1
    assert reason.startswith("not a readable gzip file")


def test_a_gz_that_is_not_gzip_does_not_stop_the_next_file(run, db, tmp_path):
    (tmp_path / "fake.jsonl.gz").write_text(canonical("fake-1") + "\n")
    (tmp_path / "real.jsonl").write_text(canonical("real-1") + "\n")
    result = run("ingest", str(tmp_path / "fake.jsonl.gz"), str(tmp_path / "real.jsonl"),
                 "--db", db)  # fmt: skip
    assert result.code == 3 and "not a readable gzip file" in result.stderr
    assert request_ids(db) == ["real-1"]
    assert [(line, reason.split(":")[0]) for _, line, reason in quarantined(db)] == [
        (1, "not a readable gzip file")
    ]


# ---- 6. lines over the limit, on every path --------------------------------------------------


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_a_30_mb_line_is_cut_off_on_the_fast_path_too(run, db, tmp_path, suffix):
    """A well-formed canonical line of 30 MB (an extra key): over the 16 MiB limit, quarantined
    unparsed, whichever path the file takes; its neighbours are stored."""
    huge = canonical("huge", note="x" * (30 * 1024 * 1024))
    text = canonical("before") + "\n" + huge + "\n" + canonical("after") + "\n"
    path = tmp_path / f"big{suffix}"
    path.write_bytes(gzip.compress(text.encode(), 1) if suffix.endswith(".gz") else text.encode())
    result = run("ingest", str(path), "--db", db)
    assert result.code == 0
    assert request_ids(db) == ["after", "before"]
    assert [(n, r) for _, n, r in quarantined(db)] == [(2, "line longer than 16 MiB: not parsed")]


def _write_gz_with_a_2_gib_line(path: Path) -> None:
    block = b"x" * (16 * 1024 * 1024)
    with gzip.open(path, "wb", compresslevel=1) as handle:
        handle.write(canonical("before").encode() + b"\n" + b'{"model": "')
        for _ in range(128):  # 2 GiB, streamed: never in memory at once
            handle.write(block)
        handle.write(b'"}\n' + canonical("after").encode() + b"\n")


@pytest.mark.slow
def test_a_2_gib_line_in_a_small_gz_is_cut_off_in_bounded_memory(db, tmp_path):
    path = tmp_path / "bomb.jsonl.gz"
    _write_gz_with_a_2_gib_line(path)
    assert path.stat().st_size < 20 * 1024 * 1024
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    done = subprocess.run(
        [sys.executable, "-m", "costops", "ingest", str(path), "--db", db],
        capture_output=True, text=True, env={**os.environ, "COSTOPS_MEMORY_LIMIT": "1GB"},
    )  # fmt: skip
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert done.returncode == 0, done.stderr
    assert "bomb.jsonl.gz:2: line longer than 16 MiB" in done.stderr
    assert request_ids(db) == ["after", "before"]
    assert max(peak_kib, before) < 1024 * 1024  # < 1 GiB resident for a 2 GiB line


# ---- 7. a valid U+FFFD beside an invalid line ------------------------------------------------


def test_a_valid_replacement_character_is_not_blamed_for_a_neighbour(run, db, tmp_path):
    """Line 1 holds a real U+FFFD (valid UTF-8: EF BF BD); line 2 has a lone 0xFF byte. Only
    line 2 is "not valid UTF-8"; line 1 is stored with its character intact."""
    path = tmp_path / "mixed.jsonl"
    fffd = json.dumps({**json.loads(canonical("fffd")), "feature": "caf\ufffd"}, ensure_ascii=False)
    invalid = b'{"request_id": "bad", "model": "\xff"}'
    path.write_bytes(b"\n".join([fffd.encode(), invalid, canonical("plain").encode()]) + b"\n")
    assert run("ingest", str(path), "--db", db).code == 0
    assert rows(db, "SELECT request_id, feature FROM requests ORDER BY 1") == [
        ("fffd", "caf\ufffd"), ("plain", None)
    ]  # fmt: skip
    assert [(n, r) for _, n, r in quarantined(db)] == [(2, "not valid UTF-8")]


# ---- 16. duplicated keys ---------------------------------------------------------------------

DUPLICATED = [
    ('{"request_id": "d1", "timestamp": "TS", "model": "gpt-4.1", "input_tokens": 1000, '
     '"output_tokens": 10, "input_tokens": 5000000}', "input_tokens"),
    ('{"request_id": "d2", "request_id": "d3", "timestamp": "TS", "model": "gpt-4.1", '
     '"input_tokens": 1, "output_tokens": 1}', "request_id"),
    ('{"id": "msg_d", "type": "message", "model": "claude-sonnet-4-5", "timestamp": "TS", '
     '"usage": {"input_tokens": 1000, "output_tokens": 5, "output_tokens": 5000000}}',
     "output_tokens"),
]  # fmt: skip


@pytest.mark.parametrize("bad_neighbour", [False, True], ids=["fast-path", "general-path"])
@pytest.mark.parametrize(("line", "key"), DUPLICATED, ids=["tokens", "id", "nested"])
def test_a_duplicated_token_or_id_key_is_quarantined(run, db, tmp_path, line, key, bad_neighbour):
    path = tmp_path / "dup.jsonl"
    neighbour = ["not json"] if bad_neighbour else []
    path.write_text(
        "\n".join([canonical("ok"), line.replace('"TS"', f'"{TS}"'), *neighbour]) + "\n"
    )
    run("ingest", str(path), "--db", db)
    assert request_ids(db) == ["ok"]
    reasons = [(n, r) for _, n, r in quarantined(db)]
    assert reasons[0] == (2, f"duplicate key in one JSON object: {key}")


def test_a_key_repeated_in_different_objects_is_fine(run, db, tmp_path):
    """`id` in the message and in a content block, `input_tokens` at the top and in attributes:
    different objects, no ambiguity."""
    path = tmp_path / "ok.jsonl"
    path.write_text(
        json.dumps({"id": "msg_1", "type": "message", "model": "claude-sonnet-4-5", "timestamp": TS,
                    "content": [{"type": "tool_use", "id": "tu_1"}],
                    "usage": {"input_tokens": 3, "output_tokens": 1}}) + "\n"
        + canonical("c1", attributes={"input_tokens": "7"}) + "\n"
    )  # fmt: skip
    assert run("ingest", str(path), "--db", db).code == 0
    assert request_ids(db) == ["c1", "msg_1"]


def test_out_of_memory_during_ingest_says_what_was_kept(run, tmp_path, monkeypatch):
    """An ingest that cannot fit its memory cap names the ingest cap and what is kept (not the
    analyses' --since/--until advice, nor 'nothing was changed')."""
    path = tmp_path / "r.jsonl"
    path.write_text(
        '{"request_id": "a", "timestamp": "2026-03-01T00:00:00Z", "model": "gpt-4.1", '
        '"input_tokens": 1, "output_tokens": 1}\n'
    )
    monkeypatch.setenv("COSTOPS_MEMORY_LIMIT", "1MB")
    result = run("ingest", str(path), "--db", str(tmp_path / "x.duckdb"))
    if result.code == 0:
        pytest.skip("this DuckDB ingests one line within 1 MB")
    assert result.code == 5, result.stderr
    assert "COSTOPS_MEMORY_LIMIT=1MB" in result.stderr and "--since" not in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_bytes_are_found_line_by_line_in_one_decode():
    """Lines 11 and 13 hold invalid bytes (two runs in line 13); line 10's U+FFFD is valid text.
    Every bad run becomes one U+FFFD; the numbers are of the lines, each once."""
    from costops.ingest.sources import _decode

    data = b'{"a":"ok \xef\xbf\xbd"}\n{"a":"bad \xff"}\n{"b":1}\n\xfe x \xfe\xfe\n'
    chunk = _decode(data, 10, {})
    assert chunk.bad_utf8 == (11, 13)
    assert chunk.text == '{"a":"ok \ufffd"}\n{"a":"bad \ufffd"}\n{"b":1}\n\ufffd x \ufffd\n'
