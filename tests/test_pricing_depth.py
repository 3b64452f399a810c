"""Versions that end (effective_to, gaps and overlaps refused), `pricing diff` and coverage
suggestions, on the hand-computed report fixture.

Every priced request of tests/data/report_requests.jsonl is acme-small ($1.00 per million input
tokens, tests/data/pricing/acme.yaml): A 6M tokens, B 2.5M, C 1M, D 0.5M, plus d2 (mystery-9,
no table). b2 (2026-03-04) and a3 (2026-03-03 23:30) come after 2026-03-03.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from costops.errors import PricingError
from costops.rates.tables import parse_file
from tests.conftest import FIXTURE_PRICING

SMALL_VERSION = "      - effective_from: 2026-01-01\n        input: 1.00\n"

TABLE = """\
provider: acme
models:
  - id: m
    versions:
      - effective_from: 2026-01-01
        {end}
        input: 1.0
        output: 2.0
      - effective_from: 2026-02-01
        input: 3.0
        output: 4.0
"""


def _edited(tmp_path: Path, replacement: str) -> str:
    pricing = tmp_path / "new"
    shutil.copytree(FIXTURE_PRICING, pricing)
    table = pricing / "acme.yaml"
    head, small = table.read_text().split("- id: acme-small", 1)
    table.write_text(head + "- id: acme-small" + small.replace(SMALL_VERSION, replacement, 1))
    return str(pricing)


def test_diff_by_feature_hand_computed(run, report_db, tmp_path):
    new = _edited(tmp_path, SMALL_VERSION.replace("1.00", "2.00"))
    result = run("pricing", "diff", FIXTURE_PRICING, new, "--by", "feature", "--db", report_db,
                 "--format", "json")  # fmt: skip
    assert result.code == 0, result.stderr
    out = result.json()
    totals = out["totals"]
    assert (totals["requests"], totals["changed_requests"]) == (8, 7)  # d2 unpriced in both
    assert totals["old_cost"] == pytest.approx(10.0) and totals["new_cost"] == pytest.approx(20.0)
    changes = {r["feature"]: r["change"] for r in out["rows"]}
    assert changes == pytest.approx({"A": 6.0, "B": 2.5, "C": 1.0, "D": 0.5})
    assert [r["feature"] for r in out["rows"]] == ["A", "B", "C", "D"]  # biggest change first


def test_diff_shows_requests_an_ended_version_leaves_unpriced(run, report_db, tmp_path):
    new = _edited(tmp_path, SMALL_VERSION + "        effective_to: 2026-03-03\n")
    out = run("pricing", "diff", FIXTURE_PRICING, new, "--db", report_db,
              "--format", "json").json()  # fmt: skip
    assert out["totals"]["newly_unpriced"] == 2  # a3 and b2
    assert out["totals"]["new_cost"] == pytest.approx(10.0 - 3.0 - 1.0)
    table = run("pricing", "diff", FIXTURE_PRICING, new, "--db", report_db)
    assert table.code == 0 and "2 of 8 requests change cost" in " ".join(table.stdout.split())


@pytest.mark.parametrize(
    ("end", "message"),
    [
        ("effective_to: 2026-01-15", "gap: no price from 2026-01-15 until the next version"),
        ("effective_to: 2026-02-15", "overlap: ends 2026-02-15"),
        ("effective_to: 2025-12-01", "is not after effective_from"),
    ],
)
def test_gaps_and_overlaps_are_refused(end, message):
    with pytest.raises(PricingError, match=message):
        parse_file(TABLE.format(end=end), "t.yaml")


def test_a_version_that_meets_the_next_is_accepted():
    (model,) = parse_file(TABLE.format(end="effective_to: 2026-02-01"), "t.yaml")
    first = model.versions[0].effective_to
    assert first is not None and first.isoformat() == "2026-02-01T00:00:00"


def test_coverage_suggests_the_nearest_table(run, report_db, tmp_path):
    rows = run("pricing", "coverage", "--db", report_db, "--pricing", FIXTURE_PRICING,
               "--format", "json").json()["rows"]  # fmt: skip
    mystery = next(r for r in rows if r["model"] == "mystery-9")
    assert mystery["status"] == "no table"
    (tmp_path / "near").mkdir()
    (tmp_path / "near" / "m.yaml").write_text(
        "provider: acme\nmodels:\n  - id: mystery-8\n    versions:\n"
        "      - {effective_from: 2026-01-01, input: 1, output: 1}\n"
    )
    rows = run("pricing", "coverage", "--db", report_db, "--pricing", FIXTURE_PRICING,
               "--format", "json").json()["rows"]  # fmt: skip
    assert next(r for r in rows if r["model"] == "mystery-9")["suggestion"] is None
    rows = run("pricing", "coverage", "--db", report_db, "--pricing", FIXTURE_PRICING,
               "--pricing", str(tmp_path / "near"), "--format", "json").json()["rows"]  # fmt: skip
    assert next(r for r in rows if r["model"] == "mystery-9")["suggestion"] == "acme/mystery-8"


def test_an_alias_prices_a_deployment_name_and_ties_are_errors(run, tmp_path):
    lines = tmp_path / "azure.jsonl"
    lines.write_text(
        '{"request_id": "z1", "timestamp": "2026-03-20T10:00:00Z", "provider": "azure", '
        '"model": "prod-gpt-deploy", "input_tokens": 1000000, "output_tokens": 0}\n'
    )
    db = str(tmp_path / "a.duckdb")
    assert run("ingest", str(lines), "--db", db).code == 0
    aliases = tmp_path / "aliases"
    aliases.mkdir()
    (aliases / "aliases.yaml").write_text("aliases:\n  prod-gpt-deploy: acme/acme-large\n")
    pricing = ("--pricing", FIXTURE_PRICING, "--pricing", str(aliases))
    rows = run("report", "--db", db, "--format", "json", *pricing).json()["rows"]
    assert rows[0]["cost"] == pytest.approx(2.0)  # acme-large after 2026-03-15: $2.00 / M input
    (aliases / "aliases.yaml").write_text("aliases:\n  prod-gpt-deploy: acme/nope\n")
    missing = run("report", "--db", db, *pricing)
    assert missing.code == 4 and "no table entry acme/nope" in missing.stderr
    (aliases / "aliases.yaml").unlink()
    # two entries of the request's own provider claiming the name equally: an error
    for entry in ("one", "two"):
        (aliases / f"{entry}.yaml").write_text(
            f"provider: azure\nmodels:\n  - id: {entry}\n    match: [prod-gpt-deploy]\n"
            "    versions:\n      - {effective_from: 2026-01-01, input: 1, output: 1}\n"
        )
    tie = run("report", "--db", db, *pricing)
    assert tie.code == 4
    assert "matches azure/one and azure/two equally" in tie.stderr
