"""Every cost rule of SPEC §5 against hand-computed values (tests/data/pricing/acme.yaml).

acme-large v1 (from 2026-03-01): input 3.00, output 15.00, cache_read 0.30, write_5m 3.75,
write_1h 6.00; above 200k input the whole request pays 6.00 / 22.50 / 0.60 / 7.50 / 12.00;
batch x0.5 stacking with cache; eu x1.1; priority x1.8.  v2 (from 2026-03-15): 2.00 / 10.00 /
0.20 / 2.50 / 4.00 and no long-context tier.  acme-small: 1.00 / 4.00.  USD per million tokens.
"""

from __future__ import annotations

import pytest

from costops.analysis.session import analysis_session
from tests.conftest import DATA, FIXTURE_PRICING

EXPECTED = {
    # 7,000 uncached x 3 + 2,000 read x 0.30 + 1,000 5m-write x 3.75 + 500 output x 15
    # (reasoning included, priced as output): 21,000 + 600 + 3,750 + 7,500 = 32,850 µ$
    "plain": 0.032850,
    # 1,000 x 3 + 4,000 1h-write x 6.00 + 100 x 15 = 28,500 µ$ (at the 5m rate it would be 19,500)
    "write-1h": 0.028500,
    # 250k input > 200k: the WHOLE request at tier rates: 200,000 x 6 + 50,000 x 0.60 + 1,000 x 22.5
    "long-context": 1.252500,
    # exactly 200,000 is not above the threshold: 200,000 x 3
    "at-threshold": 0.600000,
    # batch halves everything, cache reads too: (6,000 x 3 + 4,000 x 0.30 + 2,000 x 15) x 0.5
    "batch": 0.024600,
    # one second before the price change: 10,000 x 3 + 1,000 x 15
    "before-change": 0.045000,
    # at the change (inclusive): 10,000 x 2 + 1,000 x 10
    "at-change": 0.030000,
    # v2 has no long-context tier: 250,000 x 2 + 1,000 x 10
    "long-after-change": 0.510000,
    # (1,000 x 3 + 1,000 x 15) x 1.8 priority x 1.1 eu
    "eu-priority": 0.035640,
    # service_tier "batch" counts as a batch request: 1,000,000 x 1.00 x 0.5
    "service-tier-batch": 0.500000,
}


@pytest.fixture
def costs(run, db):
    assert run("ingest", str(DATA / "pricing_rules.jsonl"), "--db", db).code == 0
    with analysis_session(db, [FIXTURE_PRICING]) as con:
        rows = con.execute("SELECT request_id, cost, model_key FROM priced_requests").fetchall()
    return {rid: (cost, key) for rid, cost, key in rows}


@pytest.mark.parametrize("request_id", sorted(EXPECTED))
def test_cost_matches_hand_computation(costs, request_id):
    assert costs[request_id][0] == pytest.approx(EXPECTED[request_id], rel=1e-12)


def test_unknown_model_is_unpriced_not_zero(costs):
    assert costs["unpriced"] == (None, None)


def test_request_before_first_version_is_unpriced(costs):
    cost, key = costs["too-early"]
    assert key == "acme/acme-large" and cost is None


def test_model_names_match_case_insensitively_with_prefixes_and_snapshots(costs):
    assert costs["eu-priority"][1] == "acme/acme-large"  # logged as ACME-LARGE
    assert costs["long-context"][1] == "acme/acme-large"  # acme/acme-large
    assert costs["write-1h"][1] == "acme/acme-large"  # acme-large-20260301
