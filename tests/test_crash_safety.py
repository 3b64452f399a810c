"""A SIGKILL mid-ingest leaves the database as it was before the interrupted file; re-running the
same command then gives exactly what a clean run gives."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

COSTOPS = str(Path(sys.executable).parent / "costops")
FILES, LINES = 4, 40_000


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("crash")
    for f in range(FILES):
        with open(folder / f"part{f}.jsonl", "w") as handle:
            for i in range(LINES):
                handle.write(json.dumps({
                    "request_id": f"f{f}-r{i}", "timestamp": f"2026-03-{1 + i % 28:02d}T10:00:00Z",
                    "provider": "openai", "model": "gpt-4.1", "feature": f"feat{i % 7}",
                    "input_tokens": 1000 + i % 500, "output_tokens": 100 + i % 50,
                }) + "\n")  # fmt: skip
    return folder


def state(db: str) -> tuple[int, int, int, list[str]]:
    from costops.store.db import connect

    connect(db).close()  # opens (and migrates) whatever the kill left
    with duckdb.connect(db, read_only=True) as con:
        count, distinct, tokens = con.execute(
            "SELECT count(*), count(DISTINCT request_id), COALESCE(sum(input_tokens), 0) "
            "FROM requests"
        ).fetchone()
        files = [f for (f,) in con.execute(
            "SELECT file FROM ingest_runs WHERE finished_at IS NOT NULL ORDER BY file"
        ).fetchall()]  # fmt: skip
    return count, distinct, tokens, files


def ingest(db: str, folder: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([COSTOPS, "ingest", str(folder), "--db", db],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


@pytest.mark.slow
def test_sigkill_at_several_points_then_rerun_matches_a_clean_run(logs, tmp_path):
    clean = str(tmp_path / "clean.duckdb")
    assert ingest(clean, logs).wait() == 0
    expected = state(clean)
    assert expected[0] == FILES * LINES

    for delay in (0.05, 0.3, 1.2, 2.5):
        db = str(tmp_path / f"killed-{delay}.duckdb")
        proc = ingest(db, logs)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if Path(db).exists():
            count, distinct, _, files = state(db)
            # exactly the files that committed, each whole, nothing half-written
            assert count == distinct == LINES * len(files)
        assert ingest(db, logs).wait() == 0
        assert state(db) == expected
