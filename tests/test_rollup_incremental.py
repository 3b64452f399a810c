"""After an ingest the cache prices only the new runs' requests and re-judges, re-flags and
re-sums only what they touch; every answer equals a cache rebuilt from scratch. When an old row
changed (a dedupe replaced it) the cache is rebuilt instead.

Base store: tests/test_report.py's fixture (TA1 = a1 + a2, lone a3, b1, b2, c1, d1, d2).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from costops.analysis import refresh
from tests.conftest import FIXTURE_PRICING

P = ("--pricing", FIXTURE_PRICING)
COMMANDS = [
    ["report", "--by", "feature"],
    ["report", "--by", "day,task_id", "--tz", "America/New_York", "--cost", "list"],
    ["tasks", "--by", "feature"],
]


def _request(request_id: str, stamp: str, **extra: object) -> dict[str, object]:
    return {"request_id": request_id, "timestamp": stamp, "provider": "acme",
            "model": "acme-small", "feature": "A", "input_tokens": 1000000,
            "output_tokens": 0, **extra}  # fmt: skip


def _ingest(run, db: str, path: Path, lines: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = run("ingest", str(path), "--db", db)
    assert result.code == 0, result.stderr


def _answers(run, db: str) -> list[str]:
    outputs = []
    for command in COMMANDS:
        result = run(*command, "--db", db, *P, "--format", "json")
        assert result.code == 0, result.stderr
        outputs.append(result.stdout)
    return outputs


def _rebuilt(run, db: str, tmp_path: Path) -> list[str]:
    """The same answers from a copy of the store whose cache is built from scratch."""
    copy = str(tmp_path / "rebuilt.duckdb")
    shutil.copy(db, copy)
    with duckdb.connect(copy) as con:
        con.execute("DROP TABLE _cache_meta")
    return _answers(run, copy)


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The full builds made (an incremental one adds none)."""
    calls: list[str] = []
    real = refresh.build_full

    def counted(con, schema, run_id):
        calls.append(schema)
        return real(con, schema, run_id)

    monkeypatch.setattr(refresh, "build_full", counted)
    return calls


def _cached(run, db: str) -> None:
    assert run("report", "--db", db, *P).code == 0


def test_new_requests_are_priced_alone(run, report_db, tmp_path, builds):
    """New hours, a new task, and a new call of TA1 (which moves its first-call dimensions
    nowhere: tasks take the first call's)."""
    _cached(run, report_db)
    builds.clear()
    _ingest(run, report_db, tmp_path / "new.jsonl", [
        _request("n1", "2026-03-06T08:15:00Z", customer="x"),
        _request("n2", "2026-03-06T08:45:00Z", task_id="TN", model="acme-large"),
        _request("n3", "2026-03-06T09:05:00Z", task_id="TN", feature="B"),
        _request("a4", "2026-03-02T09:30:00Z", task_id="TA1"),
    ])  # fmt: skip
    answers = _answers(run, report_db)
    assert builds == []
    assert answers == _rebuilt(run, report_db, tmp_path)
    # feature A: $6.00 before, + n1 $1 + a4 $1 (acme-small: $1.00 per million input tokens)
    # + n2 $6 (acme-large from 03-01: 1M input tokens cross its long-context tier, $6.00)
    assert json.loads(answers[0])["rows"][0]["cost"] == pytest.approx(14.0)


def test_arriving_evals_re_flag_old_units_and_their_hours(run, report_db, tmp_path, builds):
    """A later verdict flips a3 (lone, passed) to failed; TA1's format evaluator now fails too
    (it was failing already on rubric); d1 gets its first verdict, passed."""
    _cached(run, report_db)
    builds.clear()
    _ingest(run, report_db, tmp_path / "evals.jsonl", [
        {"request_id": "a3", "evaluator": "rubric", "passed": False,
         "timestamp": "2026-03-06T10:00:00Z"},
        {"task_id": "TA1", "evaluator": "format", "passed": False,
         "timestamp": "2026-03-06T10:00:00Z"},
        {"request_id": "d1", "evaluator": "rubric", "passed": True},
    ])  # fmt: skip
    answers = _answers(run, report_db)
    assert builds == []
    rows = {r["feature"]: r for r in json.loads(answers[0])["rows"]}
    assert (rows["A"]["evaluated_units"], rows["A"]["successful_units"]) == (2, 0)
    assert (rows["D"]["evaluated_units"], rows["D"]["successful_units"]) == (1, 1)
    assert answers == _rebuilt(run, report_db, tmp_path)


def test_an_older_file_lands_in_old_hours(run, report_db, tmp_path, builds):
    """Requests from before the cache's newest hour: b2's unit gains no model, but a request of
    acme-tiny joining task TB makes a shadow eval of acme-tiny on TB a verdict."""
    _cached(run, report_db)
    _ingest(run, report_db, tmp_path / "evals.jsonl", [
        {"task_id": "TB", "evaluator": "rubric", "passed": True, "model": "acme-tiny"},
    ])  # fmt: skip
    _cached(run, report_db)
    builds.clear()
    _ingest(run, report_db, tmp_path / "old.jsonl", [
        _request("o1", "2026-03-02T12:20:00Z", task_id="TB", feature="C"),
        _request("o2", "2026-03-02T12:40:00Z", task_id="TB", feature="C", model="acme-tiny"),
        _request("o3", "2026-03-01T23:59:00Z", feature="D"),
    ])  # fmt: skip
    answers = _answers(run, report_db)
    assert builds == []
    rows = {r["feature"]: r for r in json.loads(answers[0])["rows"]}
    assert (rows["C"]["units"], rows["C"]["successful_units"]) == (2, 1)  # TB passed
    assert answers == _rebuilt(run, report_db, tmp_path)


def test_an_eval_before_its_request(run, report_db, tmp_path, builds):
    """An eval of a request not yet stored names no unit; when the request lands in a task, the
    verdict is the task's."""
    _ingest(run, report_db, tmp_path / "early.jsonl", [
        {"request_id": "late-1", "evaluator": "rubric", "passed": True},
    ])  # fmt: skip
    _cached(run, report_db)
    builds.clear()
    _ingest(run, report_db, tmp_path / "late.jsonl", [
        _request("late-1", "2026-03-07T10:00:00Z", task_id="TL", feature="E"),
        _request("late-2", "2026-03-07T10:05:00Z", task_id="TL", feature="E"),
    ])  # fmt: skip
    answers = _answers(run, report_db)
    assert builds == []
    rows = {r["feature"]: r for r in json.loads(answers[0])["rows"]}
    assert (rows["E"]["units"], rows["E"]["successful_units"]) == (1, 1)
    assert answers == _rebuilt(run, report_db, tmp_path)


def test_a_replaced_request_rebuilds(run, report_db, tmp_path, builds):
    """A more complete record of b1 (output tokens) replaces the stored one: an old row
    changed, so the cache is rebuilt, and b1 costs $1.50 + $0 output (acme-small prices no
    output here: see tests/data/pricing/acme.yaml) as its new record says."""
    _cached(run, report_db)
    builds.clear()
    _ingest(run, report_db, tmp_path / "again.jsonl", [
        _request("b1", "2026-03-02T12:00:00Z", feature="B", input_tokens=1500000,
                 output_tokens=10),
    ])  # fmt: skip
    answers = _answers(run, report_db)
    assert builds == ["main"]
    assert answers == _rebuilt(run, report_db, tmp_path)
