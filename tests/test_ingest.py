"""`costops ingest`: nothing lost, nothing counted twice, every bad line explained."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import duckdb
import pytest

from tests.conftest import DATA


def req(request_id: str | None = "r1", **fields) -> str:
    record = {
        "request_id": request_id,
        "timestamp": "2026-03-02T10:00:00Z",
        "provider": "acme",
        "model": "acme-small",
        "input_tokens": 100,
        "output_tokens": 10,
        **fields,
    }
    return json.dumps({k: v for k, v in record.items() if v is not None})


def write(path: Path, *lines: str, end: str = "\n") -> str:
    path.write_text(end.join(lines) + end, encoding="utf-8")
    return str(path)


def rows(db: str, sql: str) -> list[tuple]:
    with duckdb.connect(db, read_only=True) as con:
        return con.execute(sql).fetchall()


def test_bad_lines_are_quarantined_with_line_numbers_and_good_ones_kept(run, db, tmp_path):
    path = write(
        tmp_path / "mixed.jsonl",
        req("ok1"),
        '{"request_id": "trunc", "timestamp": "2026-03-02T10:00:00Z", "model": "acme-sm',
        req("neg", output_tokens=-5),
        req("cache", input_tokens=100, cache_read_tokens=80, cache_write_5m_tokens=30),
        req("when", timestamp="yesterday-ish"),
        req("words", input_tokens="lots"),
        "[1, 2, 3]",
        "{}",
        req("reason", output_tokens=10, reasoning_tokens=11),
        req("float", input_tokens=1.5),
        req("ok2"),
    )
    result = run("ingest", path, "--db", db)
    assert result.code == 0, result.stderr
    assert rows(db, "SELECT request_id FROM requests ORDER BY 1") == [("ok1",), ("ok2",)]
    quarantined = rows(db, "SELECT line_no, reason FROM quarantine ORDER BY line_no")
    assert quarantined == [
        (2, "not valid JSON"),
        (3, "output_tokens is negative: -5"),
        (4, "cache tokens (read + writes) exceed input_tokens"),
        (5, 'unparseable timestamp: "yesterday-ish"'),
        (6, 'input_tokens is not an integer: "lots"'),
        (7, "not a JSON object: array"),
        (8, "empty JSON object"),
        (9, "reasoning_tokens exceed output_tokens"),
        (10, "input_tokens is not an integer: 1.5"),
    ]
    assert f"{path}:2: not valid JSON" in result.stderr
    assert "2 requests inserted" in result.stderr and "9 quarantined" in result.stderr
    structure, raw = rows(db, "SELECT structure, raw FROM quarantine WHERE line_no = 3")[0]
    assert json.loads(structure)["output_tokens"] == "BIGINT" and raw is None  # no --keep-text


def test_reingesting_the_same_file_changes_nothing(run, db):
    path = str(DATA / "report_requests.jsonl")
    assert run("ingest", path, "--db", db).code == 0
    before = rows(db, "SELECT * EXCLUDE (run_id) FROM requests ORDER BY request_id")
    again = run("ingest", path, "--db", db)
    assert again.code == 0 and "already ingested" in again.stderr
    assert rows(db, "SELECT * EXCLUDE (run_id) FROM requests ORDER BY request_id") == before
    assert rows(db, "SELECT count(*) FROM ingest_runs") == [(1,)]


def test_the_same_records_in_another_file_are_duplicates(run, db, tmp_path):
    lines = (DATA / "report_requests.jsonl").read_text().splitlines()
    first = write(tmp_path / "a.jsonl", *lines)
    second = write(tmp_path / "b.jsonl", *reversed(lines))
    assert run("ingest", first, "--db", db).code == 0
    result = run("ingest", second, "--db", db)
    assert "0 requests inserted" in result.stderr and "8 duplicates" in result.stderr
    assert rows(db, "SELECT count(*), count(DISTINCT request_id) FROM requests") == [(8, 8)]


@pytest.mark.parametrize("order", ["partial-first", "final-first"])
def test_streamed_partial_records_keep_only_the_final_one(run, db, tmp_path, order):
    partial = req("s1", output_tokens=3, timestamp="2026-03-02T10:00:00Z")
    final = req("s1", output_tokens=250, timestamp="2026-03-02T10:00:00Z", finish_reason="stop")
    lines = (partial, final) if order == "partial-first" else (final, partial)
    result = run("ingest", write(tmp_path / "s.jsonl", *lines), "--db", db)
    assert "1 request inserted" in result.stderr and "1 duplicate" in result.stderr
    assert rows(db, "SELECT output_tokens, finish_reason FROM requests") == [(250, "stop")]


def test_a_later_file_with_the_final_record_replaces_the_partial(run, db, tmp_path):
    run("ingest", write(tmp_path / "1.jsonl", req("s1", output_tokens=3)), "--db", db)
    result = run("ingest", write(tmp_path / "2.jsonl", req("s1", output_tokens=250)), "--db", db)
    assert "replaced a less complete record" in result.stderr
    assert rows(db, "SELECT count(*), max(output_tokens) FROM requests") == [(1, 250)]
    run("ingest", write(tmp_path / "3.jsonl", req("s1", output_tokens=3), ""), "--db", db)
    assert rows(db, "SELECT count(*), max(output_tokens) FROM requests") == [(1, 250)]


def test_strict_mode_keeps_nothing_from_a_bad_file_and_exits_3(run, db, tmp_path):
    bad = write(tmp_path / "bad.jsonl", req("b1"), "not json", req("b2"))
    good = write(tmp_path / "good.jsonl", req("g1"))
    result = run("ingest", bad, good, "--strict", "--db", db)
    assert result.code == 3
    assert "REJECTED" in result.stderr and result.stderr.strip().endswith(
        "nothing from them was kept (first: " + bad + ")"
    )
    assert rows(db, "SELECT request_id FROM requests") == [("g1",)]
    assert rows(db, "SELECT count(*) FROM quarantine") == [(0,)]


def test_gzip_directory_glob_and_stdin(run, db, tmp_path):
    folder = tmp_path / "logs" / "nested"
    folder.mkdir(parents=True)
    with gzip.open(folder / "a.jsonl.gz", "wt") as handle:
        handle.write(req("gz1") + "\n")
    write(folder / "b.jsonl", req("dir1"))
    write(folder / "notes.md", "# not a log")
    write(tmp_path / "c1.jsonl", req("glob1"))
    assert run("ingest", str(tmp_path / "logs"), "--db", db).code == 0
    assert run("ingest", str(tmp_path / "c*.jsonl"), "--db", db).code == 0
    assert run("ingest", "-", "--db", db, stdin=(req("stdin1") + "\n").encode()).code == 0
    found = rows(db, "SELECT request_id FROM requests ORDER BY 1")
    assert found == [("dir1",), ("glob1",), ("gz1",), ("stdin1",)]


def test_crlf_bom_and_blank_lines(run, db, tmp_path):
    path = tmp_path / "win.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + f"{req('w1')}\r\n\r\n{req('w2')}\r\n".encode())
    result = run("ingest", str(path), "--db", db)
    assert "2 lines" in result.stderr and "0 quarantined" in result.stderr
    assert rows(db, "SELECT count(*) FROM requests") == [(2,)]


def test_invalid_utf8_line_is_quarantined_and_neighbours_kept(run, db, tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(f"{req('u1')}\n".encode() + b'{"model": "caf\xe9"}\n' + req("u2").encode())
    run("ingest", str(path), "--db", db)
    assert rows(db, "SELECT count(*) FROM requests") == [(2,)]
    assert rows(db, "SELECT line_no, reason FROM quarantine") == [(2, "not valid UTF-8")]


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-03-02T10:00:00Z",
        "2026-03-02T11:00:00+01:00",
        "2026-03-02 10:00:00",
        1772445600,
        1772445600000,
        1772445600000000000,
        "1772445600",
    ],
)
def test_timestamp_forms_are_stored_as_utc(run, db, tmp_path, stamp):
    run("ingest", write(tmp_path / "t.jsonl", req("t1", timestamp=stamp)), "--db", db)
    assert rows(db, "SELECT strftime(ts, '%Y-%m-%d %H:%M:%S') FROM requests") == [
        ("2026-03-02 10:00:00",)
    ]


def test_timestamps_far_in_the_past_or_future_are_quarantined(run, db, tmp_path):
    path = write(tmp_path / "t.jsonl", req("old", timestamp="1970-01-02T00:00:00Z"),
                 req("future", timestamp="2999-01-01T00:00:00Z"))  # fmt: skip
    run("ingest", path, "--db", db)
    reasons = [r for (r,) in rows(db, "SELECT reason FROM quarantine ORDER BY line_no")]
    assert all(r.startswith("timestamp out of range") for r in reasons) and len(reasons) == 2


def test_missing_request_id_gets_a_stable_id(run, db, tmp_path):
    line = req(None)
    run("ingest", write(tmp_path / "a.jsonl", line), "--db", db)
    run("ingest", write(tmp_path / "b.jsonl", line, req("other")), "--db", db)
    ids = [i for (i,) in rows(db, "SELECT request_id FROM requests ORDER BY 1")]
    assert len(ids) == 2 and ids[0].startswith("costops:")


def test_mixed_requests_and_evals_in_one_file(run, db, tmp_path):
    path = write(
        tmp_path / "mixed.jsonl",
        req("m1"),
        '{"request_id": "m1", "evaluator": "rubric", "passed": true, "score": 0.8}',
        '{"task_id": "t9", "passed": "yes"}',
        '{"evaluator": "rubric", "passed": false}',
    )
    run("ingest", path, "--db", db)
    assert rows(db, "SELECT count(*) FROM requests") == [(1,)]
    assert rows(db, "SELECT request_id, evaluator, passed, score FROM evals") == [
        ("m1", "rubric", True, 0.8)
    ]
    assert rows(db, "SELECT line_no, reason FROM quarantine ORDER BY 1") == [
        (3, "passed must be true or false"),
        (4, "eval has neither request_id nor task_id"),
    ]


def test_kind_evals_forces_eval_parsing(run, db, tmp_path):
    path = write(tmp_path / "e.jsonl", '{"request_id": "x", "passed": true, "input_tokens": 5}')
    run("ingest", path, "--kind", "evals", "--db", db)
    assert rows(db, "SELECT count(*) FROM evals") == [(1,)]


def test_ingest_runs_record_file_hash_and_counts(run, db, tmp_path):
    path = write(tmp_path / "r.jsonl", req("a"), "oops", req("b"))
    run("ingest", path, "--db", db)
    (file, sha, read, inserted, quarantined, finished) = rows(
        db, "SELECT file, sha256, lines_read, requests_inserted, quarantined, "
        "finished_at IS NOT NULL FROM ingest_runs"
    )[0]  # fmt: skip
    assert (file, read, inserted, quarantined, finished) == (path, 3, 2, 1, True)
    assert len(sha) == 64


def test_missing_input_is_exit_3(run, db, tmp_path):
    result = run("ingest", str(tmp_path / "nope.jsonl"), "--db", db)
    assert result.code == 3 and "no such file or directory" in result.stderr


def test_corrupt_gzip_is_one_line_exit_3(run, db, tmp_path):
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage")
    result = run("ingest", str(path), "--db", db)
    assert result.code == 3 and "not a readable gzip file" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_file_with_only_bad_lines_is_exit_3(run, db, tmp_path):
    result = run("ingest", write(tmp_path / "bad.jsonl", "nope", "{}"), "--db", db)
    assert result.code == 3 and "no usable lines" in result.stderr


def test_database_from_a_newer_costops_is_refused_with_exit_5(run, db):
    run("ingest", str(DATA / "report_requests.jsonl"), "--db", db)
    with duckdb.connect(db) as con:
        con.execute("INSERT INTO _costops_migrations VALUES (999, 'from the future', now())")
    result = run("report", "--db", db)
    assert result.code == 5 and "newer than this costops supports" in result.stderr


def test_env_var_names_the_database(run, tmp_path, monkeypatch):
    monkeypatch.setenv("COSTOPS_DB", str(tmp_path / "env.duckdb"))
    assert run("ingest", str(DATA / "report_requests.jsonl")).code == 0
    assert (tmp_path / "env.duckdb").exists()


def test_quarantine_command_lists_bad_lines(run, db, tmp_path):
    path = write(tmp_path / "q.jsonl", req("a"), "oops", req("b", output_tokens=-1))
    run("ingest", path, "--db", db)
    listed = run("quarantine", "--db", db, "--format", "json").json()["rows"]
    assert [(r["file"], r["line_no"], r["reason"]) for r in listed] == [
        (path, 2, "not valid JSON"),
        (path, 3, "output_tokens is negative: -1"),
    ]
    assert (listed[0]["raw"], listed[0]["byte_length"], listed[0]["structure"]) == (None, 4, None)
    assert listed[0]["sha256"] == "d13f2eadd4ed5b027fa773a29520cc0d65ce374365d641112de786f8a029c2fe"
    table = run("quarantine", "--db", db)
    assert "not valid JSON" in table.stdout and "2 quarantined lines" in table.stdout


def test_a_second_writer_gets_exit_5_naming_the_other_process(run, db):
    import subprocess
    import sys

    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, sys, time; c = duckdb.connect({db!r}); "
         "print('ready', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        result = run("ingest", str(DATA / "report_requests.jsonl"), "--db", db)
        assert result.code == 5
        assert f"database is in use by another costops process (pid {holder.pid})" in result.stderr
    finally:
        holder.kill()
        holder.communicate()


def test_wait_lets_a_second_writer_queue_behind_the_first(run, db):
    import subprocess
    import sys

    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({db!r}); "
         "print('ready', flush=True); time.sleep(1.5)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        result = run("ingest", str(DATA / "report_requests.jsonl"), "--db", db, "--wait", "20")
        assert result.code == 0, result.stderr
    finally:
        holder.communicate()
    assert rows(db, "SELECT count(*) FROM requests") == [(8,)]


def test_quarantined_lines_have_secrets_redacted(run, db, tmp_path):
    bad = ('{"model": "gpt-4.1", "api_key": "sk-proj-abcdefghijklmnop", '
           '"headers": {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.payload"}, '
           '"other": "sk-ant-api03-ZZZZZZZZZZZZ", "input_tokens": -1}')  # fmt: skip
    run("ingest", write(tmp_path / "s.jsonl", req("ok"), bad), "--db", db, "--keep-text")
    (raw,) = rows(db, "SELECT raw FROM quarantine")[0]
    for secret in ("sk-proj-abcdefghijklmnop", "eyJhbGciOiJIUzI1NiJ9", "sk-ant-api03"):
        assert secret not in raw
    assert "[REDACTED]" in raw and '"input_tokens": -1' in raw
