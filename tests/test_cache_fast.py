"""A fresh priced cache is read without loading a pricing table, and still answers every
analysis (simulations re-price with the tables kept beside it) as a stale one does; its key
changes with any pricing file, in any layer."""

from __future__ import annotations

import shutil

import pytest

from costops.analysis import session
from costops.rates import cost
from costops.rates.tables import pricing_sources
from tests.conftest import DATA, FIXTURE_PRICING
from tests.test_golden_all import COMMANDS, FIXTURES, GOLDEN

P = ("--pricing", FIXTURE_PRICING)
# every analysis of the golden files that reads the cache and prices with its tables
ANALYSES = [c for c in COMMANDS if c[0].startswith(("simulate", "reconcile", "pricing_coverage"))]


def _no_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a fresh cache loaded the pricing tables")

    monkeypatch.setattr(session, "load_tables", refuse)
    monkeypatch.setattr(cost, "load_price_tables", refuse)


def test_a_fresh_cache_loads_no_pricing_table(run, report_db, monkeypatch):
    first = run("report", "--by", "feature", "--db", report_db, *P)
    _no_loading(monkeypatch)
    second = run("report", "--by", "feature", "--db", report_db, *P)
    assert first.code == second.code == 0 and second.stdout == first.stdout


@pytest.mark.parametrize(
    ("name", "fixture", "args", "codes"), ANALYSES, ids=[c[0] for c in ANALYSES]
)
def test_analyses_on_a_fresh_cache_match_the_goldens(
    run, db, monkeypatch, name, fixture, args, codes
):
    assert run("ingest", *(str(DATA / f) for f in FIXTURES[fixture]), "--db", db).code == 0
    assert run("report", "--db", db, *P).code == 0  # builds the cache
    _no_loading(monkeypatch)
    result = run(*args, "--db", db, "--format", "json")
    assert result.code in codes, result.stderr
    assert result.stdout == (GOLDEN / f"{name}.json").read_text(encoding="utf-8")


def test_the_key_changes_with_any_file_in_any_layer(tmp_path, monkeypatch):
    first, second = tmp_path / "first", tmp_path / "second"
    shutil.copytree(FIXTURE_PRICING, first)
    second.mkdir()
    base = pricing_sources([str(first), str(second)]).content_hash
    # the same file one layer later ranks after the other tables: other prices
    shutil.move(first / "acme.yaml", second / "acme.yaml")
    assert pricing_sources([str(first), str(second)]).content_hash != base
    shutil.move(second / "acme.yaml", first / "acme.yaml")
    assert pricing_sources([str(first), str(second)]).content_hash == base
    (second / "deal.yaml").write_text(
        "contract: deal\nterms:\n  - effective_from: 2026-01-01\n    discount: 0.1\n"
    )
    assert pricing_sources([str(first), str(second)]).content_hash != base
    monkeypatch.setenv("COSTOPS_PRICING", str(second))
    with_env = pricing_sources([str(first)]).content_hash
    assert with_env != pricing_sources([str(second), str(first)]).content_hash


def test_a_contract_re_prices_a_fresh_cache(run, report_db, tmp_path):
    def total() -> float:
        result = run("report", "--db", report_db, "--pricing", str(pricing), "-f", "json")
        assert result.code == 0, result.stderr
        return float(result.json()["totals"]["cost"])

    pricing = tmp_path / "pricing"
    shutil.copytree(FIXTURE_PRICING, pricing)
    before = total()
    (pricing / "deal.yaml").write_text(
        "contract: deal\nterms:\n  - effective_from: 2020-01-01\n    discount: 0.5\n"
    )
    # tests/data/report_requests.jsonl: $10.00 in total at list prices, half with the contract
    assert before == pytest.approx(10.0) and total() == pytest.approx(5.0)


def test_a_replaced_request_keeps_its_own_cost(run, db, tmp_path):
    """The cache stands beside the requests row for row: a request replaced by a more complete
    record (deleted mid-table, appended at the end) is priced as itself. acme-large on
    2026-03-20 (tests/data/pricing/acme.yaml): $2.00 per million input tokens, $10.00 output;
    acme-small $1.00 input. A, C: 1M input of acme-large = $2; B: first 1M input of acme-small
    = $1, then the complete record, 1M input and 1M output of acme-large = $12."""

    def line(request_id: str, feature: str, model: str, output: int) -> str:
        return (
            f'{{"request_id": "{request_id}", "timestamp": "2026-03-20T10:00:00Z", '
            f'"provider": "acme", "model": "{model}", "feature": "{feature}", '
            f'"input_tokens": 1000000, "output_tokens": {output}}}\n'
        )

    def costs() -> dict[str, float]:
        result = run("report", "--db", db, *P, "-f", "json")
        assert result.code == 0, result.stderr
        return {row["feature"]: row["cost"] for row in result.json()["rows"]}

    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text(
        line("r1", "A", "acme-large", 0) + line("r2", "B", "acme-small", 0)
        + line("r3", "C", "acme-large", 0)
    )  # fmt: skip
    second.write_text(line("r2", "B", "acme-large", 1000000))
    assert run("ingest", str(first), "--db", db).code == 0
    assert costs() == {"A": 2.0, "B": 1.0, "C": 2.0}
    assert run("ingest", str(second), "--db", db).code == 0
    assert costs() == {"A": 2.0, "B": 12.0, "C": 2.0}
