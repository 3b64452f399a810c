"""Golden files for every output format of `report` (UTC, fixed width).

Regenerate after an intended change with `UPDATE_GOLDEN=1 make test` and review the diff.
"""

from __future__ import annotations

import os

import pytest

from tests.conftest import DATA, FIXTURE_PRICING

GOLDEN = DATA / "golden"


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("report_feature.txt", ["--by", "feature"]),
        ("report_feature.json", ["--by", "feature", "--format", "json"]),
        ("report_feature.csv", ["--by", "feature", "--format", "csv"]),
        ("report_feature.md", ["--by", "feature", "--format", "markdown"]),
        ("report_day_model.txt", ["--by", "day,model", "--tz", "America/New_York"]),
    ],
)
def test_report_golden(run, report_db, name, args):
    result = run("report", "--db", report_db, "--pricing", FIXTURE_PRICING, *args)
    assert result.code == 0, result.stderr
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(result.stdout, encoding="utf-8")
    assert result.stdout == path.read_text(encoding="utf-8")


def test_output_file_gets_the_same_bytes(run, report_db, tmp_path):
    target = tmp_path / "out.json"
    args = ("report", "--db", report_db, "--pricing", FIXTURE_PRICING, "-f", "json")
    result = run(*args, "--output", str(target))
    assert result.code == 0 and result.stdout == ""
    assert target.read_text() == (GOLDEN / "report_feature.json").read_text()
