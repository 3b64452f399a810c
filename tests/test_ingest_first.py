"""An analysis's --ingest PATH: the logs brought up to date in the same process, then the
analysis, on the store as `costops ingest` would have left it."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from tests.conftest import FIXTURE_PRICING


def canonical(request_id: str, feature: str, output: int = 1_000_000) -> str:
    return json.dumps({
        "request_id": request_id, "timestamp": "2026-03-02T10:00:00Z", "provider": "openai",
        "model": "gpt-4o-mini", "feature": feature, "input_tokens": 0, "output_tokens": output,
    })  # fmt: skip


def logs(folder: Path) -> Path:
    folder.mkdir()
    (folder / "a.jsonl").write_text(canonical("r1", "search") + "\n")
    (folder / "b.jsonl").write_text(canonical("r2", "chat") + "\n" + canonical("r3", "chat") + "\n")
    return folder


def costs(stdout: str) -> dict[str, float]:
    return {row["feature"]: row["cost"] for row in json.loads(stdout)["rows"]}


def test_report_ingests_first_then_reports(run, db, tmp_path):
    folder = logs(tmp_path / "logs")
    args = ("report", "--ingest", str(folder), "--format", "json", "--db", db,
            "--pricing", FIXTURE_PRICING)  # fmt: skip
    first = run(*args)
    assert first.code == 0, first.stderr
    # gpt-4o-mini output: $0.60 per 1M tokens in the fixture tables
    assert costs(first.stdout) == {"chat": 1.2, "search": 0.6}
    assert "2 files into" in first.stderr and "3 requests" in first.stderr
    assert "a.jsonl" not in first.stderr  # files are named only when they have something to say

    (folder / "c.jsonl").write_text(canonical("r4", "search") + "\nnot json\n")
    second = run(*args)
    assert second.code == 0, second.stderr
    assert costs(second.stdout) == {"chat": 1.2, "search": 1.2}
    assert "c.jsonl: 2 lines" in second.stderr and "c.jsonl:2: not valid JSON" in second.stderr
    assert "2 files already ingested, skipped" in second.stderr
    with duckdb.connect(db, read_only=True) as con:
        runs = con.execute("SELECT count(*) FROM ingest_runs").fetchone()
    assert runs == (3,)


def test_every_analysis_takes_ingest(run, db, tmp_path):
    folder = logs(tmp_path / "logs")
    for command in (["tasks"], ["budget", "check", "--task-cost", "100"],
                    ["simulate", "batch", "--features", "chat"]):  # fmt: skip
        result = run(*command, "--ingest", str(folder), "--db", db, "--format", "json")
        assert result.code == 0, (command, result.stderr)
    with duckdb.connect(db, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM requests").fetchone() == (3,)


def test_a_missing_path_is_one_line_and_no_analysis(run, db, tmp_path):
    result = run("report", "--ingest", str(tmp_path / "nope"), "--db", db)
    assert result.code == 3 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"costops: error: {tmp_path / 'nope'}: no such file or directory"
    ]
