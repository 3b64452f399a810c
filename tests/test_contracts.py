"""Contract discounts layered over list prices, and `report --cost list|effective`.

Feature A of tests/data/report_requests.jsonl is acme-small at $1.00 per million input tokens:
a1 (2M tokens) and a2 (1M) on 2026-03-02, a3 (3M) on 2026-03-03 — $6.00 at list prices.
"""

from __future__ import annotations

import datetime as dt

import pytest

from costops.rates.contracts import ContractTerm, discount_rows
from tests.conftest import FIXTURE_PRICING

CONTRACT = """\
contract: acme-enterprise
terms:
  - provider: acme            # every acme model: 10 % off from March 1st
    effective_from: 2026-03-01
    discount: 0.10
  - provider: acme            # acme-small: 25 % off from March 3rd (more specific, wins)
    model: acme-small
    effective_from: 2026-03-03
    discount: 0.25
"""


def _feature_a(run, db, *args):
    result = run("report", "--by", "feature", "--db", db, "--format", "json",
                 "--pricing", FIXTURE_PRICING, *args)  # fmt: skip
    assert result.code == 0, result.stderr
    out = result.json()
    return {r["feature"]: r["cost"] for r in out["rows"]}["A"], out["cost_basis"]


def test_effective_and_list_cost(run, report_db, tmp_path):
    (tmp_path / "contract").mkdir()
    (tmp_path / "contract" / "contract.yaml").write_text(CONTRACT)
    contract = ("--pricing", str(tmp_path / "contract"))
    # a1 + a2 at 10 % off: 3.00 x 0.90 = 2.70; a3 at 25 % off: 3.00 x 0.75 = 2.25
    assert _feature_a(run, report_db, *contract) == (pytest.approx(4.95), "effective")
    assert _feature_a(run, report_db, *contract, "--cost", "list") == (pytest.approx(6.0), "list")
    assert _feature_a(run, report_db) == (pytest.approx(6.0), "effective")  # no contract
    assert run("report", "--db", report_db, "--cost", "invoice").code == 2


def test_the_most_specific_term_wins_in_each_period():
    day = dt.datetime
    terms = [
        ContractTerm("c", "acme", None, day(2026, 3, 1), None, 0.10, "f"),
        ContractTerm("c", "acme", "acme-s*", day(2026, 3, 3), day(2026, 3, 10), 0.25, "f"),
        ContractTerm("c", None, None, day(2026, 1, 1), None, 0.05, "f"),
    ]
    rows = discount_rows([("acme/acme-small", "acme", "acme-small")], terms)
    periods = [(start.date().isoformat(), discount) for _, start, _, discount, _ in rows]
    assert periods == [("2026-01-01", 0.05), ("2026-03-01", 0.10), ("2026-03-03", 0.25),
                       ("2026-03-10", 0.10)]  # fmt: skip
    assert discount_rows([("other/x", "other", "x")], terms[:2]) == []


@pytest.mark.parametrize(
    ("term", "message"),
    [
        ("discount: 1.0", "discount: expected a fraction"),
        ("discount: 0.1\n    colour: red", "colour: unknown key"),
        ("discount: 0.1\n    effective_to: 2026-01-01", "effective_to: not after"),
    ],
)
def test_bad_contract_terms_exit_4(run, report_db, tmp_path, term, message):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "c.yaml").write_text(
        f"contract: x\nterms:\n  - effective_from: 2026-03-01\n    {term}\n"
    )
    result = run("report", "--db", report_db, "--pricing", str(tmp_path / "c"))
    assert result.code == 4 and message in result.stderr
