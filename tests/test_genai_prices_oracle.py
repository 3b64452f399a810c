"""Oracle: every (provider, model) genai-prices knows, priced by costops as `calc_price` prices it.

The probe is what a user does: one canonical JSONL line per case, `costops ingest`, then
`costops report --by task_id --format json` (one task per case). Cases, for every model of every
provider in genai-prices' data, logged under the provider's id and the model's id:
- dates: 2024-06-15, 2025-09-01, 2026-11-01, and each date a price or variant of the model
  starts plus the day before (when on or after 2021);
- usage: 10,000 input (2,000 cache reads, 1,000 5-minute and 500 1-hour cache writes) and 3,000
  output; for a tiered model also an input just above each tier threshold;
- a batch request for each model with a batch variant (`price_context={"processing": "batch"}`),
  a request per service-tier variant (`{"service_tier": T}`), and for time-of-day prices one at
  20:00 UTC (inside DeepSeek's off-peak window) besides 12:00.
Money is compared to 1e-9 relative. Exceptions must be named with their reason and stay under
2 % of the cases; on genai-prices 0.2.3 there are none. A model genai-prices lists without a
token price (audio, image, per-page, or no published rate) is $0 there and unpriced here (NULL,
never $0: SPEC §5), which is the same answer; an id genai-prices cannot find is unpriced too.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

genai_prices = pytest.importorskip("genai_prices")
from genai_prices import data as genai_data  # noqa: E402

BASE_DATES = (dt.date(2024, 6, 15), dt.date(2025, 9, 1), dt.date(2026, 11, 1))
SMALL = {"input_tokens": 10_000, "cache_read_tokens": 2_000, "cache_write_5m_tokens": 1_000,
         "cache_write_1h_tokens": 500, "output_tokens": 3_000}  # fmt: skip
MAX_EXCEPTIONS = 0.02
NO_TOKEN_PRICE = "no token price (audio, image or per-request only): unpriced, not $0"


def _starts(model: Any) -> set[dt.date]:
    prices = model.prices if isinstance(model.prices, list) else []
    found = set()
    for item in [*prices, *(model.price_variants or [])]:
        start = getattr(item.constraint, "start_date", None)
        if start is not None and start >= dt.date(2021, 1, 1):
            found |= {start, start - dt.timedelta(days=1)}
    return found


def _thresholds(model: Any) -> set[int]:
    prices = model.prices if isinstance(model.prices, list) else [model.prices]
    found = set()
    for item in prices:
        price = getattr(item, "prices", item)
        for value in vars(price).values():
            found |= {t.start for t in getattr(value, "tiers", None) or []}
    return found


def cases() -> list[dict[str, Any]]:
    """Every probe: the canonical line's fields and the calc_price arguments."""
    out = []
    for provider in genai_data.providers:
        for model in provider.models:
            windows = any(
                type(getattr(p, "constraint", None)).__name__ == "TimeOfDateConstraint"
                for p in (model.prices if isinstance(model.prices, list) else [])
            )
            usages = [SMALL] + [
                {**SMALL, "input_tokens": threshold + 5_000} for threshold in _thresholds(model)
            ]
            for day in sorted({*BASE_DATES, *_starts(model)}):
                contexts = [{}, *_variant_contexts(model, day)]
                for hour in (12, 20) if windows else (12,):
                    when = dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)
                    for usage in usages:
                        for context in {json.dumps(c, sort_keys=True) for c in contexts}:
                            out.append({"provider": provider.id, "model": model.id,
                                        "when": when, "usage": usage,
                                        "context": json.loads(context)})  # fmt: skip
    return out


def _variant_contexts(model: Any, day: dt.date) -> list[dict[str, str]]:
    """Batch and service-tier contexts whose variant is in force on `day`: before a variant's
    start genai-prices has no batch data (costops' curated batch discount applies there)."""
    out = []
    for variant in model.price_variants or []:
        start = getattr(variant.constraint, "start_date", None)
        in_force = variant.constraint is None or (start is not None and start <= day)
        if in_force and (
            variant.when == {"processing": "batch"} or list(variant.when) == ["service_tier"]
        ):
            out.append(dict(variant.when))
    return out


def oracle(case: dict[str, Any]) -> Decimal | None:
    usage = dict(case["usage"])
    writes_5m, writes_1h = usage.pop("cache_write_5m_tokens"), usage.pop("cache_write_1h_tokens")
    try:
        price = genai_prices.calc_price(
            genai_prices.Usage(cache_write_tokens=writes_5m + writes_1h,
                               cache_write_1h_tokens=writes_1h, **usage),
            model_ref=case["model"], provider_id=case["provider"],
            genai_request_timestamp=case["when"], price_context=case["context"] or None,
        )  # fmt: skip
    except LookupError:
        return None
    return price.total_price


def line(index: int, case: dict[str, Any]) -> str:
    context = case["context"]
    return json.dumps({
        "request_id": f"probe-{index}", "task_id": f"probe-{index}",
        "timestamp": case["when"].isoformat().replace("+00:00", "Z"),
        "provider": case["provider"], "model": case["model"], **case["usage"],
        "batch": context.get("processing") == "batch",
        "service_tier": context.get("service_tier"),
    })  # fmt: skip


def exception_reason(case: dict[str, Any], ours: float | None, want: Decimal | None) -> str:
    """Why costops and genai-prices differ on a case, for the named exceptions."""
    model = next(
        m for p in genai_data.providers if p.id == case["provider"] for m in p.models
        if m.id == case["model"]
    )  # fmt: skip
    if want is None:
        return "genai-prices cannot find its own model id"
    if ours is None:
        keys = {k for p in _price_list(model) for k, v in vars(p).items() if v is not None}
        if not keys & {"input_mtok"}:
            return NO_TOKEN_PRICE
        return "costops leaves it unpriced"
    provider = next(p for p in genai_data.providers if p.id == case["provider"])
    found = provider.find_model(case["model"].lower(), all_providers=genai_data.providers)
    if found is not None and found.id != model.id:
        return f"genai-prices prices this id as an earlier entry ({found.id}); costops: exact id"
    if case["context"] and any(
        hasattr(v, "tiers") for variant in model.price_variants or []
        for v in vars(variant.prices).values()
    ):  # fmt: skip
        return "a tiered price inside a variant (batch or service tier)"
    return "different price"


def _price_list(model: Any) -> list[Any]:
    prices = model.prices if isinstance(model.prices, list) else [model.prices]
    return [getattr(p, "prices", p) for p in prices]


def test_every_genai_prices_model_is_priced_as_calc_price_prices_it(run, tmp_path: Path):
    probes = cases()
    assert len(probes) > 6_000, "expected every model of every provider at several dates"
    source = tmp_path / "probes.jsonl"
    source.write_text("\n".join(line(i, c) for i, c in enumerate(probes)) + "\n")
    db = str(tmp_path / "probes.duckdb")
    assert run("ingest", str(source), "--db", db).code == 0
    report = run("report", "--by", "task_id", "--db", db, "--format", "json")
    assert report.code == 0, report.stderr
    ours = {row["task_id"]: row["cost"] for row in report.json()["rows"]}
    exceptions: Counter[str] = Counter()
    named: dict[str, str] = {}
    for index, case in enumerate(probes):
        want, got = oracle(case), ours[f"probe-{index}"]
        if want is None and got is None:
            continue
        if (
            want is not None
            and got is not None
            and abs(got - float(want)) <= 1e-9 * float(want) + 1e-12
        ):
            continue
        reason = exception_reason(case, got, want)
        exceptions[reason] += 1
        named.setdefault(f"{case['provider']}/{case['model']}", reason)
    # genai-prices answers $0 for a model it lists without a token price; costops leaves it
    # unpriced (NULL, counted by `pricing coverage`), never $0 (SPEC §5): the same answer
    no_price = exceptions.pop(NO_TOKEN_PRICE, 0)
    assert no_price < len(probes) * 0.1
    share = sum(exceptions.values()) / len(probes)
    summary = "\n".join(f"{n:5d}  {why}" for why, n in exceptions.most_common())
    assert "different price" not in exceptions, (summary, named)
    assert "costops leaves it unpriced" not in exceptions, (summary, named)
    assert share <= MAX_EXCEPTIONS, (share, summary)
