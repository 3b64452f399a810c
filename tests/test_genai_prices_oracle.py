"""Cross-check: the packaged tables, through the cost engine, agree with genai-prices' calc_price.

For every packaged model genai-prices also knows, and every dated version, one request one day
into the version (below any long-context threshold) is priced both ways.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from costops.analysis.session import analysis_session
from costops.rates.tables import PricedModel, load_tables

genai_prices = pytest.importorskip("genai_prices")

TOKENS = {"input_tokens": 20_000, "cache_read_tokens": 4_000, "output_tokens": 800}


def cases() -> list[tuple[PricedModel, dt.datetime]]:
    found = []
    for model in load_tables().models:
        for version in model.versions:
            when = version.effective_from + dt.timedelta(days=1)
            if version.effective_to is None or when < version.effective_to:
                found.append((model, when))
    return found


def oracle(model: PricedModel, when: dt.datetime, writes: int) -> float | None:
    usage = genai_prices.Usage(cache_write_tokens=writes or None, **TOKENS)
    try:
        price = genai_prices.calc_price(
            usage, model_ref=model.id, provider_id=model.provider,
            genai_request_timestamp=when.replace(tzinfo=dt.UTC),
        )  # fmt: skip
    except LookupError:
        return None
    return float(price.total_price)


def test_packaged_tables_agree_with_genai_prices(run, tmp_path: Path):
    lines, expected = [], {}
    for index, (model, when) in enumerate(cases()):
        writes = 2_000 if model.provider == "anthropic" else 0
        want = oracle(model, when, writes)
        if want is None:
            continue
        request_id = f"{model.key}@{when.date()}#{index}"
        expected[request_id] = want
        lines.append(json.dumps({
            "request_id": request_id, "timestamp": when.isoformat() + "Z",
            "provider": model.provider, "model": model.id,
            "cache_write_5m_tokens": writes, **TOKENS,
        }))  # fmt: skip
    assert len(expected) >= 20, "expected most packaged models to be known to genai-prices"
    source = tmp_path / "oracle.jsonl"
    source.write_text("\n".join(lines) + "\n")
    db = str(tmp_path / "oracle.duckdb")
    assert run("ingest", str(source), "--db", db).code == 0
    with analysis_session(db) as con:
        ours = dict(con.execute("SELECT request_id, cost FROM priced_requests").fetchall())
    mismatches = {
        rid: (ours[rid], want)
        for rid, want in expected.items()
        if ours[rid] is None or abs(ours[rid] - want) > 1e-9 + 1e-9 * want
    }
    assert not mismatches
