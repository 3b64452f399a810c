"""`costops reconcile`: computed vs logged cost, hand-computed, with the cause of each gap.

acme-large from 2026-03-15 (tests/data/pricing/acme.yaml), USD per million tokens: input 2.00,
output 10.00, cache read 0.20, 5-minute write 2.50, 1-hour write 4.00; batch x0.5.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import FIXTURE_PRICING

BASE = {"timestamp": "2026-03-20T10:00:00Z", "provider": "acme", "model": "acme-large"}
REQUESTS = [
    # 500k uncached x 2.00 + 500k read x 0.20 + 100k out x 10.00 = 1.00 + 0.10 + 1.00 = 2.10
    {"request_id": "r1", "feature": "F1", "input_tokens": 1_000_000, "cache_read_tokens": 500_000,
     "output_tokens": 100_000, "logged_cost": 2.10},
    # the same request, logged with the 500k cache reads billed as input too: 2.10 + 1.00
    {"request_id": "r2", "feature": "F1", "input_tokens": 1_000_000, "cache_read_tokens": 500_000,
     "output_tokens": 100_000, "logged_cost": 3.10},
    # 600k x 2.00 + 400k 1h writes x 4.00 = 1.20 + 1.60 = 2.80; logged at the 5m rate: 1.20 + 1.00
    {"request_id": "r3", "feature": "F1", "input_tokens": 1_000_000,
     "cache_write_1h_tokens": 400_000, "output_tokens": 0, "logged_cost": 2.20},
    {"request_id": "r4", "feature": "F2", "input_tokens": 1_000_000, "cache_read_tokens": 500_000,
     "output_tokens": 100_000, "logged_cost": 5.00},
    # a batch request: 1M x 2.00 x 0.5 = 1.00, logged as free
    {"request_id": "r5", "feature": "F2", "input_tokens": 1_000_000, "output_tokens": 0,
     "batch": True, "logged_cost": 0},
    {"request_id": "r6", "feature": "F2", "input_tokens": 1_000_000, "output_tokens": 0},
]  # fmt: skip


@pytest.fixture
def reconcile_db(run, db, tmp_path):
    path = tmp_path / "logged.jsonl"
    path.write_text("".join(json.dumps({**BASE, **r}) + "\n" for r in REQUESTS))
    assert run("ingest", str(path), "--db", db).code == 0
    return db


def test_totals_groups_and_causes(run, reconcile_db):
    result = run("reconcile", "--by", "feature", "--db", reconcile_db, "--pricing",
                 FIXTURE_PRICING, "--format", "json")  # fmt: skip
    assert result.code == 0, result.stderr
    out = result.json()
    totals = out["totals"]
    assert totals["requests"] == 5  # r6 logged no cost
    assert totals["computed_cost"] == pytest.approx(10.10)
    assert totals["logged_cost"] == pytest.approx(12.40)
    assert totals["difference"] == pytest.approx(-2.30)
    assert totals["differing_requests"] == 4
    by_feature = {r["feature"]: r for r in out["rows"]}
    assert by_feature["F1"]["differing_requests"] == 2
    assert by_feature["F2"]["difference"] == pytest.approx(2.10 - 5.00 + 1.00)
    causes = {r["request_id"]: r["cause"] for r in out["top_requests"]}
    assert causes == {
        "r2": "cache reads also billed as input (counted twice)",
        "r3": "1-hour cache writes priced as 5-minute writes",
        "r4": "unexplained",
        "r5": "batch request priced at $0",
    }


def test_tolerance_and_exit_code(run, reconcile_db):
    common = ("--db", reconcile_db, "--pricing", FIXTURE_PRICING, "--format", "json")
    loose = run("reconcile", "--tolerance", "0.99", "--fail-on-difference", *common)
    # within 99 % of the logged cost: r2 (2.10 vs 3.10), r3, r4 (2.10 vs 5.00) — not r5 (vs $0)
    assert loose.json()["totals"]["differing_requests"] == 1 and loose.code == 1
    assert run("reconcile", "--tolerance", "2", *common).code == 2


def test_the_table_names_the_causes(run, reconcile_db):
    result = run("reconcile", "--db", reconcile_db, "--pricing", FIXTURE_PRICING)
    assert result.code == 0
    assert "1-hour cache writes priced as 5-minute writes" in result.stdout
