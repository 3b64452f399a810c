"""Ingest checks (issue: prefix larger than the input, JSON array files, empty directories,
binary files). Expected numbers are counted by hand from the lines each test writes.

Caching (tests/data/pricing/acme.yaml: acme-large, min 1,024 cacheable tokens, 5m TTL): a1 (t=0)
and a2 (t=400) share prefix pA of 2,000 of 3,000 tokens; x (t=100) claims pA with 5,000 tokens of
a 3,000-token input. x is kept with no prefix (counted as such), so a2's gap is 400 s from a1:
a write, not a hit (it was a hit at 300 s from x before). 2 cacheable requests, 0 reads, 2 writes.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sqlite3
from pathlib import Path

import duckdb
import pytest

from tests.conftest import FIXTURE_PRICING


def req(request_id: str, **extra: object) -> dict[str, object]:
    return {"request_id": request_id, "timestamp": "2026-03-02T10:00:00Z", "model": "gpt-4.1",
            "input_tokens": 10, "output_tokens": 2, **extra}  # fmt: skip


def rows(db: str, sql: str) -> list[tuple]:  # type: ignore[type-arg]
    with duckdb.connect(db, read_only=True) as con:
        return con.execute(sql).fetchall()


def ids(db: str) -> list[str]:
    return [r[0] for r in rows(db, "SELECT request_id FROM requests ORDER BY 1")]


def quarantined(db: str) -> list[tuple[int, str]]:
    return rows(db, "SELECT line_no, reason FROM quarantine ORDER BY file, line_no")


def jsonl(path: Path, records: list[object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


# ---- 1. prefix_tokens > input_tokens ----------------------------------------------------------


def cached(request_id: str, second: int, prefix: int) -> dict[str, object]:
    return {"request_id": request_id, "timestamp": f"2026-03-02T10:{second // 60:02d}:"
            f"{second % 60:02d}Z", "provider": "acme", "model": "acme-large", "workspace": "w1",
            "input_tokens": 3000, "output_tokens": 0, "prefix_hash": "pA",
            "prefix_tokens": prefix}  # fmt: skip


@pytest.mark.parametrize("path", ["fast", "general"])
def test_a_prefix_larger_than_the_input_is_dropped_and_the_request_kept(run, db, tmp_path, path):
    records: list[object] = [cached("a1", 0, 2000), cached("x", 100, 5000), cached("a2", 400, 2000)]
    if path == "general":
        records.append("not a request")  # a bad line sends the file down the general path
    result = run("ingest", str(jsonl(tmp_path / "c.jsonl", records)), "--db", db)
    assert result.code == 0, result.stderr
    assert "1 prefix dropped (prefix_tokens > input_tokens)" in result.stderr
    assert rows(db, "SELECT request_id, prefix_hash, prefix_tokens FROM requests ORDER BY 1") == [
        ("a1", "pA", 2000), ("a2", "pA", 2000), ("x", None, None),
    ]  # fmt: skip
    assert [r for _, r in quarantined(db)] == (
        ["not a JSON object: varchar"] if path == "general" else []
    )
    sim = run("simulate", "caching", "--ttl", "5m", "--db", db, "--pricing", FIXTURE_PRICING,
              "--format", "json")  # fmt: skip
    assert sim.code == 0, sim.stderr
    totals = sim.json()["totals"]
    assert (totals["cacheable_requests"], totals["reads"], totals["writes"]) == (2, 0, 2)
    assert totals["no_prefix_requests"] == 1


def test_a_prefix_equal_to_the_input_is_kept(run, db, tmp_path):
    run("ingest", str(jsonl(tmp_path / "c.jsonl", [cached("e", 0, 3000)])), "--db", db)
    assert rows(db, "SELECT prefix_hash, prefix_tokens FROM requests") == [("pA", 3000)]


# ---- 2. JSON array files ----------------------------------------------------------------------


def test_a_pretty_printed_json_array_is_read_as_records(run, db, tmp_path):
    """Elements: 1 good, 2 a negative count, 3 a number, 4 good; line numbers are element
    positions."""
    path = tmp_path / "export.json"
    elements = [req("r1"), req("r2", input_tokens=-1), 5, req("r4", feature="a\nb")]
    path.write_text(json.dumps(elements, indent=2))
    result = run("ingest", str(path), "--db", db)
    assert result.code == 0, result.stderr
    assert "4 lines" in result.stderr and "2 quarantined" in result.stderr
    assert ids(db) == ["r1", "r4"]
    assert quarantined(db) == [
        (2, "input_tokens is negative: -1"),
        (3, "not a JSON object: ubigint"),
    ]
    # the element's own text is what a quarantined line's length and hash are of
    assert rows(db, "SELECT byte_length FROM quarantine WHERE line_no = 3") == [(1,)]
    assert rows(db, "SELECT sha256 FROM ingest_runs") == [
        (hashlib.sha256(path.read_bytes()).hexdigest(),)
    ]
    again = run("ingest", str(path), "--db", db)
    assert again.code == 0 and "already ingested" in again.stderr


@pytest.mark.parametrize(
    "name", ["one-line.json", "crlf-bom.json", "gzipped.json.gz", "named.jsonl"]
)
def test_json_arrays_of_every_shape(run, db, tmp_path, name):
    text = json.dumps([req("s1"), req("s2")])
    if name.startswith("crlf"):
        text = "\ufeff" + json.dumps([req("s1"), req("s2")], indent=4).replace("\n", "\r\n")
    data = gzip.compress(text.encode()) if name.endswith(".gz") else text.encode()
    (tmp_path / name).write_bytes(data)
    result = run("ingest", str(tmp_path / name), "--db", db)
    assert result.code == 0, result.stderr
    assert ids(db) == ["s1", "s2"] and quarantined(db) == []
    assert rows(db, "SELECT sha256, lines_read FROM ingest_runs") == [
        (hashlib.sha256(text.encode()).hexdigest(), 2)
    ]


def test_an_empty_json_array_reads_nothing(run, db, tmp_path):
    (tmp_path / "none.json").write_text("[\n]\n")
    result = run("ingest", str(tmp_path / "none.json"), "--db", db)
    assert result.code == 0 and "0 lines" in result.stderr


def test_a_broken_json_array_is_one_reason_and_the_next_file_goes_on(run, db, tmp_path):
    broken = tmp_path / "a-broken.json"
    broken.write_text(json.dumps([req("b1"), req("b2")], indent=2)[:-30])
    jsonl(tmp_path / "b-good.jsonl", [req("g1")])
    result = run("ingest", str(broken), str(tmp_path / "b-good.jsonl"), "--db", db)
    assert result.code == 3
    assert ids(db) == ["g1"] and quarantined(db) == []
    refusal = [line for line in result.stderr.splitlines() if line.startswith(str(broken))]
    assert len(refusal) == 1 and "not a valid JSON array" in refusal[0]


def test_json_lines_that_start_with_an_array_stay_json_lines(run, db, tmp_path):
    jsonl(tmp_path / "mixed.jsonl", [[1, 2], req("m1")])
    assert run("ingest", str(tmp_path / "mixed.jsonl"), "--db", db).code == 0
    assert ids(db) == ["m1"] and quarantined(db) == [(1, "not a JSON object: array")]


def test_an_array_rotated_between_hash_and_read_records_the_hash_it_parsed(
    run, db, tmp_path, monkeypatch
):
    """The array is replaced right after it is hashed: what is stored is the new content, under
    the new content's hash."""
    from costops.ingest.sources import ChunkReader

    path = tmp_path / "rot.json"
    path.write_text(json.dumps([req("old")]))
    new = json.dumps([req("new1"), req("new2")]).encode()
    original = ChunkReader.fingerprint
    swapped: list[bool] = []

    def fingerprint(self: ChunkReader, count_keys: bool = True) -> tuple[str, int]:
        found = original(self, count_keys)
        if not swapped:
            swapped.append(True)
            path.write_bytes(new)
        return found

    monkeypatch.setattr(ChunkReader, "fingerprint", fingerprint)
    assert run("ingest", str(path), "--db", db).code == 0
    assert ids(db) == ["new1", "new2"]
    assert rows(db, "SELECT sha256 FROM ingest_runs") == [(hashlib.sha256(new).hexdigest(),)]


def test_a_json_array_on_stdin(run, db):
    stdin = json.dumps([req("in1"), req("in2")], indent=1).encode()
    result = run("ingest", "-", "--db", db, stdin=stdin)
    assert result.code == 0, result.stderr
    assert ids(db) == ["in1", "in2"]
    assert rows(db, "SELECT sha256 FROM ingest_runs") == [(hashlib.sha256(stdin).hexdigest(),)]


def test_json_lines_on_stdin_that_start_with_an_array(run, db):
    stdin = f"[1, 2]\n{json.dumps(req('m1'))}\n".encode()
    assert run("ingest", "-", "--db", db, stdin=stdin).code == 0
    assert ids(db) == ["m1"] and quarantined(db) == [(1, "not a JSON object: array")]
    assert rows(db, "SELECT sha256 FROM ingest_runs") == [(hashlib.sha256(stdin).hexdigest(),)]


# ---- 3. nothing to read -----------------------------------------------------------------------


def test_an_empty_directory_says_so(run, db, tmp_path):
    (tmp_path / "empty").mkdir()
    result = run("ingest", str(tmp_path / "empty"), "--db", db)
    assert result.code == 3
    assert "no log files" in result.stderr and "Traceback" not in result.stderr


def test_a_directory_without_log_files_says_so(run, db, tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "notes.md").write_text("# notes\n")
    (tmp_path / "docs" / ".hidden.jsonl").write_text(json.dumps(req("h")) + "\n")
    result = run("ingest", str(tmp_path / "docs"), "--db", db)
    assert result.code == 3 and "no log files" in result.stderr
    assert ".jsonl" in result.stderr  # says which names it looked for


# ---- 4. binary files --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (bytes(range(256)) * 64, "not text"),
        ("sqlite", "not text"),
        ('{"model": "x"}\n'.encode("utf-16"), "UTF-16"),
    ],
    ids=["bytes", "sqlite", "utf-16"],
)
def test_a_binary_file_is_refused_whole_and_the_next_file_goes_on(run, db, tmp_path, content, why):
    if content == "sqlite":  # a real database file: its page headers are not UTF-8
        with sqlite3.connect(tmp_path / "a.log") as lite:
            lite.execute("CREATE TABLE t (a TEXT, b INTEGER)")
            lite.executemany(
                "INSERT INTO t VALUES (?, ?)", [(f"x{n}", n * 1000) for n in range(99)]
            )
        lite.close()
    else:
        (tmp_path / "a.log").write_bytes(content)
    jsonl(tmp_path / "b.jsonl", [req("g1")])
    result = run("ingest", str(tmp_path), "--db", db)
    assert result.code == 3
    assert ids(db) == ["g1"] and quarantined(db) == []
    about = [line for line in result.stderr.splitlines() if "a.log" in line]
    assert len(about) == 2, result.stderr  # its own line, and the error at the end
    assert why in about[0] and "refused" in about[0]
    assert "b.jsonl: 1 line" in result.stderr  # the summary came before the exit
    assert rows(db, "SELECT count(*) FROM ingest_runs WHERE file LIKE '%a.log'") == [(0,)]


def test_a_binary_gz_and_binary_stdin_are_refused(run, db, tmp_path):
    (tmp_path / "bin.jsonl.gz").write_bytes(gzip.compress(bytes(range(256)) * 64))
    assert "not text" in run("ingest", str(tmp_path / "bin.jsonl.gz"), "--db", db).stderr
    result = run("ingest", "-", "--db", db, stdin=bytes(range(256)) * 64)
    assert result.code == 3 and "not text" in result.stderr
    assert rows(db, "SELECT count(*) FROM quarantine") == [(0,)]


def test_a_stray_nul_in_a_text_log_costs_only_its_line(run, db, tmp_path):
    """NUL bytes in valid UTF-8 text are a bad line, not a binary file (tests/test_fuzz.py)."""
    path = tmp_path / "nul.jsonl"
    path.write_bytes(b"\x00\x00\x00\n" + json.dumps(req("n1")).encode() + b"\n")
    assert run("ingest", str(path), "--db", db).code == 0
    assert ids(db) == ["n1"] and quarantined(db) == [(1, "not valid JSON")]
