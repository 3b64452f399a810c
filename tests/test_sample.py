"""The committed sample is what the generator makes, and it shows what the demo promises."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLE = Path(__file__).parent.parent / "sample_logs"


def test_committed_sample_is_reproducible(tmp_path):
    subprocess.run(
        [sys.executable, str(SAMPLE / "generate.py"), "--seed", "7", "--out", str(tmp_path)],
        check=True, capture_output=True,
    )  # fmt: skip
    for name in ("requests.jsonl.gz", "evals.jsonl.gz", "malformed.jsonl"):
        assert (tmp_path / name).read_bytes() == (SAMPLE / name).read_bytes(), name


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory):
    db = str(tmp_path_factory.mktemp("sample") / "sample.duckdb")
    costops = Path(sys.executable).parent / "costops"
    ingest = subprocess.run(
        [str(costops), "ingest", str(SAMPLE), "--timestamp", "2026-03-20T12:00:00Z", "--db", db],
        capture_output=True, text=True,
    )  # fmt: skip
    assert ingest.returncode == 0, ingest.stderr
    report = subprocess.run([str(costops), "report", "--by", "feature", "--db", db, "-f", "json"],
                            capture_output=True, text=True, check=True)  # fmt: skip
    return ingest.stderr, json.loads(report.stdout)


def test_sample_has_a_heavy_head_and_realistic_quality(sample_report):
    _, data = sample_report
    rows = {r["feature"]: r for r in data["rows"]}
    assert len(rows) >= 8
    assert data["rows"][0]["feature"] == "support-agent"
    assert 0.5 < rows["support-agent"]["share"] < 0.7
    assert 0.8 < data["totals"]["pass_rate"] < 0.9
    assert data["totals"]["unpriced_requests"] == 0
    assert rows["support-agent"]["requests"] > 10 * rows["support-agent"]["units"]


def test_sample_malformed_lines_are_reported_with_line_numbers(sample_report):
    stderr, _ = sample_report
    for line_no in (3, 7, 11, 15, 19, 23):
        assert f"malformed.jsonl:{line_no}:" in stderr
    assert "6 quarantined" in stderr and "60 duplicates" in stderr


def test_sample_has_a_file_for_every_format(sample_report):
    stderr, _ = sample_report
    for fmt in (
        "openai",
        "anthropic",
        "litellm",
        "langfuse",
        "claude-code",
        "otlp",
        "openai-batch",
        "anthropic-batch",
        "costops",
    ):
        assert f"({fmt} " in stderr or f", {fmt} " in stderr, fmt
