"""The priced cache is never stale: new data, a price edit or other pricing re-price history."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from costops.analysis import cache
from tests.conftest import FIXTURE_PRICING

LINE = (
    '{{"request_id": "{id}", "timestamp": "2026-03-20T10:00:00Z", "provider": "acme", '
    '"model": "acme-large", "feature": "{feature}", "input_tokens": 1000000, "output_tokens": 0}}\n'
)


def _cost(run, db, *pricing):
    result = run("report", "--by", "feature", "--db", db, "--format", "json", *pricing)
    assert result.code == 0, result.stderr
    return {row["feature"]: row["cost"] for row in result.json()["rows"]}


def _builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = cache._build
    monkeypatch.setattr(cache, "_build", lambda con, key: (calls.append(key), real(con, key)))
    return calls


def test_the_second_report_reads_the_cache(run, report_db, monkeypatch):
    builds = _builds(monkeypatch)
    first = _cost(run, report_db, "--pricing", FIXTURE_PRICING)
    second = _cost(run, report_db, "--pricing", FIXTURE_PRICING)
    assert first == second and len(builds) == 1


def test_new_data_is_priced_in_the_next_report(run, report_db, tmp_path, monkeypatch):
    before = _cost(run, report_db, "--pricing", FIXTURE_PRICING)
    extra = tmp_path / "more.jsonl"
    extra.write_text(LINE.format(id="new-1", feature="Z"))
    assert run("ingest", str(extra), "--db", report_db).code == 0
    builds = _builds(monkeypatch)
    after = _cost(run, report_db, "--pricing", FIXTURE_PRICING)
    # acme-large from 2026-03-15: $2.00 per million input tokens (tests/data/pricing/acme.yaml)
    assert "Z" not in before and after["Z"] == pytest.approx(2.00)
    assert {k: v for k, v in after.items() if k != "Z"} == pytest.approx(before)
    assert len(builds) == 1


def test_a_price_edit_re_prices_history(run, report_db, tmp_path):
    pricing = tmp_path / "pricing"
    shutil.copytree(FIXTURE_PRICING, pricing)
    before = _cost(run, report_db, "--pricing", str(pricing))
    table = pricing / "acme.yaml"
    original = table.read_text()
    head, small = original.split("- id: acme-small", 1)
    table.write_text(head + "- id: acme-small" + small.replace("input: 1.00", "input: 2.00", 1))
    edited = _cost(run, report_db, "--pricing", str(pricing))
    # feature A: 6M input tokens of acme-small (tests/data/report_requests.jsonl) at $1 → $2
    assert before["A"] == pytest.approx(6.0) and edited["A"] == pytest.approx(12.0)
    table.write_text(original)
    assert _cost(run, report_db, "--pricing", str(pricing)) == pytest.approx(before)


def test_a_stale_cache_is_rebuilt_not_read(run, report_db):
    before = _cost(run, report_db, "--pricing", FIXTURE_PRICING)
    with duckdb.connect(report_db) as con:  # corrupt the cached costs, and the key with them
        con.execute("UPDATE _cache_evaluated_requests SET cost = 1e9")
        con.execute("UPDATE _cache_meta SET key = 'stale'")
    assert _cost(run, report_db, "--pricing", FIXTURE_PRICING) == pytest.approx(before)
