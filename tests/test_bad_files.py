"""Bad files and bad databases (issue 14, items 12-15): each one line on stderr, the right exit
code, no traceback, no hang.

YAML bombs: nine strings, then eight anchors each listing the previous one nine times, expand to
9^9 = 387,420,489 strings. Counting nodes (a list is one node plus its items): a = 10 nodes;
b's aliases add 9 x 10 = 90 (b = 91); c adds 9 x 91 = 819 (c = 820); d adds 9 x 820 = 7,380,
8,289 so far; e's first alias adds 7,381 more: 15,670 > 10,000, refused on line 5 (e's line).
Nesting: a pricing table needs about 8 levels, costops.yaml about 5; 65 is refused.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from costops import safe_yaml
from costops.store.db import open_db

DATA = Path(__file__).parent / "data"
SAMPLE = Path(__file__).parent.parent / "sample_logs"
COSTOPS = shutil.which("costops", path=str(Path(sys.executable).parent)) or "costops"


def laughs(levels: int, top_key: str) -> str:
    """A billion-laughs document: `top_key` holds 9**(levels + 1) strings through aliases."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(levels):
        name, previous = chr(98 + i), chr(97 + i)
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    lines.append(f"{top_key}: *{chr(97 + levels)}")
    return "\n".join(lines) + "\n"


def nested(depth: int, top_key: str) -> str:
    return f"{top_key}: " + "[" * depth + "]" * depth + "\n"


def test_an_alias_bomb_is_refused_within_a_second():
    start = time.monotonic()
    with pytest.raises(safe_yaml.YamlTooComplex, match="aliases expand to more than 10,000"):
        safe_yaml.load(laughs(8, "provider"))
    assert time.monotonic() - start < 1.0


def test_a_little_sharing_through_aliases_still_loads():
    # 3 anchors of 9 values each, used 3 times: 27 values added, far under the bound
    text = "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9]\nb: [*a, *a, *a]\nc: {<<: &m {x: 1}, y: 2}\nd: *m\n"
    assert safe_yaml.load(text)["b"] == [[1, 2, 3, 4, 5, 6, 7, 8, 9]] * 3


@pytest.mark.parametrize("key", ["provider", "models"])
def test_an_alias_bomb_in_a_pricing_table_is_exit_4(run, tmp_path, key):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "bomb.yaml").write_text(laughs(5, key))
    result = run("pricing", "check", "--pricing", str(tmp_path / "p"))
    assert result.code == 4, result.stderr
    assert result.stderr.strip() == (
        f"costops: error: {tmp_path / 'p' / 'bomb.yaml'}: refused: line 5: aliases expand to "
        "more than 10,000 values (write the values out, or share less)"
    )


def test_deep_nesting_in_a_pricing_table_is_exit_4(run, tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "deep.yaml").write_text(nested(65, "models"))
    result = run("pricing", "check", "--pricing", str(tmp_path / "p"))
    assert result.code == 4, result.stderr
    assert "deep.yaml: refused: line 1: nested more than 64 levels deep" in result.stderr


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            laughs(8, "budgets"),
            "refused: line 5: aliases expand to more than 10,000 values "
            "(write the values out, or share less)",
        ),
        (nested(65, "budgets"), "refused: line 1: nested more than 64 levels deep"),
        # libyaml stops at 1,000 levels itself (PyYAML's own parser overflowed the stack)
        (nested(100_000, "budgets"), "not valid YAML line 1: exceeded maximum nesting depth"),
    ],
    ids=["bomb", "deep", "deeper"],
)
def test_a_bad_costops_yaml_is_exit_2_within_a_second(run, tmp_path, text, problem):
    (tmp_path / "costops.yaml").write_text(text)
    (tmp_path / "empty.jsonl").write_text("")
    start = time.monotonic()
    result = run("ingest", "empty.jsonl", "--db", str(tmp_path / "x.duckdb"))
    assert time.monotonic() - start < 1.0
    assert result.code == 2, result.stderr
    assert result.stderr.strip() == f"costops: error: costops.yaml: {problem}"
    assert not Path(tmp_path / "x.duckdb").exists()


# --db: only a DuckDB file or a new path (item 14)


def test_a_sqlite_file_is_refused_without_looking_for_an_extension(run, tmp_path):
    import sqlite3

    with sqlite3.connect(tmp_path / "other.db") as con:
        con.execute("CREATE TABLE t (a)")
    result = run("report", "--db", str(tmp_path / "other.db"))
    assert result.code == 5, result.stderr
    assert result.stderr.strip() == (
        f"costops: error: {tmp_path / 'other.db'}: not a DuckDB database (a SQLite database); "
        "pass --db with a costops .duckdb file, or a new path to create one"
    )


def test_a_fifo_is_refused_not_opened(tmp_path):
    # before: DuckDB's open blocked on the FIFO forever
    os.mkfifo(tmp_path / "pipe")
    result = subprocess.run(
        [COSTOPS, "ingest", str(DATA / "report_requests.jsonl"), "--db", str(tmp_path / "pipe")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 5, result.stderr
    assert "pipe: not a regular file (a FIFO or device)" in result.stderr


@pytest.mark.parametrize("command", [["report"], ["ingest", "x.jsonl"]])
def test_an_empty_db_path_is_refused(run, tmp_path, command):
    (tmp_path / "x.jsonl").write_text("")
    result = run(*command, "--db", "")
    assert result.code == 5, result.stderr
    assert "--db: empty path" in result.stderr
    assert not (tmp_path / "costops.duckdb").exists()


def test_extension_autoloading_is_off(db, run):
    assert run("ingest", str(DATA / "report_requests.jsonl"), "--db", db).code == 0
    with open_db(db, create=False) as con:
        settings = con.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN "
            "('autoinstall_known_extensions', 'autoload_known_extensions') ORDER BY name"
        ).fetchall()
    assert settings == [
        ("autoinstall_known_extensions", "false"),
        ("autoload_known_extensions", "false"),
    ]


# damaged file, full disk (item 13)


def test_a_damaged_database_is_one_line_exit_5(report_db, run):
    # every block after DuckDB's three 4 KiB headers: keep its checksum, overwrite its data
    with open(report_db, "r+b") as handle:
        size = handle.seek(0, os.SEEK_END)
        for block in range(12288, size, 262144):
            handle.seek(block + 64)
            handle.write(b"\xa5" * 4096)
    result = run("report", "--db", report_db)
    assert result.code == 5, result.stderr
    assert result.stderr.startswith(f"costops: error: {report_db}: database file is damaged (")
    assert result.stderr.rstrip().endswith("): restore it or ingest again into a new file")
    assert len(result.stderr.strip().splitlines()) == 1


def _file_size_limit(limit: int):
    def limit_writes() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() then fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return limit_writes


def test_a_full_disk_names_the_cause_not_the_rollback(tmp_path):
    # A file size limit stands in for a full disk: the write fails with EFBIG, as with ENOSPC.
    # Before, the failed commit left no transaction and ROLLBACK raised "no transaction is
    # active": a traceback hiding the cause.
    db = tmp_path / "full.duckdb"
    result = subprocess.run(
        [COSTOPS, "ingest", str(SAMPLE), "--db", str(db), "--timestamp", "2026-03-20T12:00:00Z"],
        capture_output=True, text=True, timeout=300, preexec_fn=_file_size_limit(1_000_000),
    )  # fmt: skip
    assert result.returncode == 5, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"costops: error: {db}: disk full: ")
    assert "File too large" in last and "Traceback" not in result.stderr
    # the files committed before the failure are intact: every stored request has its run
    with duckdb.connect(str(db), read_only=True) as con:
        stored, runs_say = con.execute(
            "SELECT (SELECT count(*) FROM requests), "
            "(SELECT sum(requests_inserted) FROM ingest_runs WHERE finished_at IS NOT NULL)"
        ).fetchone()
    assert stored > 0 and stored == runs_say


# readers share the file; a writer excludes them; --wait everywhere (item 15)

HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "read")
print("holding", flush=True)
time.sleep(float(sys.argv[3]))
"""


def hold(db: str, mode: str, seconds: float) -> subprocess.Popen[str]:
    """Another process with the database open ("read" or "write") for `seconds`."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, db, mode, str(seconds)],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline() == "holding\n"
    return proc


def release(proc: subprocess.Popen[str]) -> None:
    proc.kill()
    proc.wait()
    assert proc.stdout is not None
    proc.stdout.close()


@pytest.mark.parametrize("cache", ["fresh", "stale"])
def test_two_readers_never_lock_each_other_out(report_db, run, cache):
    alone = run("report", "--by", "feature", "--format", "json", "--db", report_db)
    assert alone.code == 0, alone.stderr
    if cache == "stale":  # a new ingest run changes the cache key: this reader cannot store it
        more = run("ingest", str(DATA / "report_evals.jsonl"), "--db", report_db)
        assert more.code == 0, more.stderr
    other = hold(report_db, "read", 30)
    try:
        shared = run("report", "--by", "feature", "--format", "json", "--db", report_db)
        quarantined = run("quarantine", "--db", report_db)
    finally:
        release(other)
    assert shared.code == 0, shared.stderr
    assert shared.json() == alone.json()
    assert quarantined.code == 0, quarantined.stderr


def test_a_reader_during_a_write_waits_or_says_so(report_db, run):
    writer = hold(report_db, "write", 30)
    try:
        start = time.monotonic()
        result = run("report", "--db", report_db, "--wait", "0.5")
        waited = time.monotonic() - start
    finally:
        release(writer)
    assert result.code == 5
    assert waited >= 0.5
    assert result.stderr.strip() == (
        f"costops: error: {report_db}: another costops process (pid {writer.pid}) is writing "
        "the database (an ingest, or a command refreshing its priced cache); "
        "pass --wait SECONDS to wait for it"
    )


def test_a_reader_with_wait_reads_once_the_writer_is_done(report_db, run):
    writer = hold(report_db, "write", 1.0)
    try:
        result = run("report", "--db", report_db, "--wait", "30")
    finally:
        release(writer)
    assert result.code == 0, result.stderr


@pytest.mark.parametrize("command", [["report"], ["quarantine"], ["ingest", "x.jsonl"],
                                     ["simulate", "caching"], ["export", "requests", "-o", "x"],
                                     ["pricing", "coverage"], ["tasks"], ["budget", "check"],
                                     ["dashboard", "-o", "x.html"], ["reconcile", "x.csv"],
                                     ["pricing", "diff", "a", "b"]])  # fmt: skip
@pytest.mark.parametrize("seconds", ["nan", "-1"])
def test_every_command_takes_a_checked_wait(run, command, seconds):
    result = run(*command, "--wait", seconds)
    assert result.code == 2
    assert "Invalid value for '--wait': expected a number of seconds, 0 or more" in result.stderr
