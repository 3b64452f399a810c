"""`costops export focus` as FOCUS 1.3 rows, every number worked out by hand.

The table below prices `writer` at list (USD per million tokens) input 2.00, output 10.00, cache
read 0.20, cache write 2.50 (5 minutes) and 4.00 (1 hour), a $0.01 fee per request, batch at
half price, input above 200k at 4.00 / 15.00, 10 % more in the eu region and half price from
22:00 to 06:00 UTC; a contract takes 20 % off writer (tokens and fee). `thinker` has no contract:
input 1.00, output 4.00, reasoning 2.00. Every request is on 2026-03-10.

    w1 chat   12:00 100k in = 60k uncached + 20k read + 10k 5m write + 10k 1h write; 10k out
              0.120 + 0.004 + 0.025 + 0.040 + 0.100 + fee 0.010          = 0.299 list
    w2 chat   batch: 100k x 2.00 x 0.5 + 10k x 10.00 x 0.5 + fee 0.010     = 0.160 list
    w3 long   300k x 4.00 + 1k x 15.00 + fee 0.010                         = 1.225 list
    w4 eu     (100k x 2.00 + 10k x 10.00) x 1.1 + fee 0.010                = 0.340 list
    w5 night  23:00: (0.200 + 0.100) x 0.5 + fee 0.010                     = 0.160 list
    w6 chat   an errored call, no tokens: no cost and no fee
    t1 think  100k x 1.00 + 30k output x 4.00 + 20k reasoning x 2.00      = 0.260 list

writer at list 0.299 + 0.160 + 1.225 + 0.340 + 0.160 = 2.184, after the contract x 0.8 = 1.7472;
totals 2.184 + 0.260 = 2.444 at list and 1.7472 + 0.260 = 2.0072 effective. The fee row of
`chat` bills two requests (w1, w2): 2 x 0.01 = 0.02 at list, 2 x 0.008 = 0.016 contracted.
"""

from __future__ import annotations

import json
import re

import duckdb
import pytest

from tests.conftest import FIXTURE_PRICING

TABLE = """\
provider: focus
models:
  - id: writer
    versions:
      - effective_from: 2026-01-01
        input: 2.00
        output: 10.00
        cache_read: 0.20
        cache_write_5m: 2.50
        cache_write_1h: 4.00
        per_request: 0.01
        batch_multiplier: 0.5
        long_context: {above_input_tokens: 200000, input: 4.00, output: 15.00}
        regional_uplift: {eu: 1.1}
        time_of_day: {from: "22:00", to: "06:00", timezone: UTC, multiplier: 0.5}
  - id: thinker
    versions:
      - effective_from: 2026-01-01
        input: 1.00
        output: 4.00
        reasoning: 2.00
"""
CONTRACT = """\
contract: focus-agreement
terms:
  - {provider: focus, model: writer, effective_from: 2026-03-01, discount: 0.20}
"""
REQUESTS = [
    ("w1", "writer", "12:00", "chat", {"customer": "acme", "input_tokens": 100_000,
     "cache_read_tokens": 20_000, "cache_write_5m_tokens": 10_000,
     "cache_write_1h_tokens": 10_000, "output_tokens": 10_000}),
    ("w2", "writer", "12:00", "chat", {"customer": "acme", "batch": True,
     "input_tokens": 100_000, "output_tokens": 10_000}),
    ("w3", "writer", "12:00", "long", {"input_tokens": 300_000, "output_tokens": 1_000}),
    ("w4", "writer", "12:00", "eu", {"region": "eu", "input_tokens": 100_000,
     "output_tokens": 10_000}),
    ("w5", "writer", "23:00", "night", {"input_tokens": 100_000, "output_tokens": 10_000}),
    ("w6", "writer", "12:00", "chat", {"input_tokens": 0, "output_tokens": 0,
     "status": "error"}),
    ("t1", "thinker", "12:00", "think", {"input_tokens": 100_000, "output_tokens": 50_000,
     "reasoning_tokens": 20_000}),
]  # fmt: skip
EFFECTIVE_TOTAL, LIST_TOTAL = 2.0072, 2.444
WRITER = "focus/writer"
WINDOW = "window=22:00-06:00 UTC"

# FOCUS 1.3 Cost and Usage columns this export fills: (column, type), Decimal as a number.
FOCUS_13_COLUMNS = {
    "BilledCost": "number", "BillingAccountId": "text", "BillingAccountName": "text",
    "BillingCurrency": "text", "BillingPeriodEnd": "datetime", "BillingPeriodStart": "datetime",
    "ChargeCategory": "text", "ChargeClass": "text", "ChargeDescription": "text",
    "ChargeFrequency": "text", "ChargePeriodEnd": "datetime", "ChargePeriodStart": "datetime",
    "ConsumedQuantity": "number", "ConsumedUnit": "text", "ContractedCost": "number",
    "ContractedUnitPrice": "number", "EffectiveCost": "number", "HostProviderName": "text",
    "InvoiceIssuerName": "text", "ListCost": "number", "ListUnitPrice": "number",
    "PricingCategory": "text", "PricingQuantity": "number", "PricingUnit": "text",
    "RegionId": "text", "RegionName": "text", "ServiceCategory": "text", "ServiceName": "text",
    "ServiceProviderName": "text", "ServiceSubcategory": "text", "SkuId": "text",
    "SkuMeter": "text", "SkuPriceDetails": "json", "SkuPriceId": "text", "Tags": "json",
}  # fmt: skip
# Mandatory in FOCUS 1.3 (not null where so marked): ProviderName and PublisherName, deprecated
# in 1.3 and removed in 1.4, are left out for ServiceProviderName and HostProviderName.
NOT_NULL = (
    "BilledCost", "BillingAccountId", "BillingCurrency", "BillingPeriodEnd", "BillingPeriodStart",
    "ChargeCategory", "ChargeDescription", "ChargePeriodEnd", "ChargePeriodStart",
    "ContractedCost", "EffectiveCost", "HostProviderName", "InvoiceIssuerName", "ListCost",
    "ServiceCategory", "ServiceName", "ServiceProviderName",
    # not null for Usage charges that are not corrections
    "SkuId", "SkuPriceId", "ListUnitPrice", "ContractedUnitPrice", "PricingQuantity",
    "PricingUnit", "ConsumedQuantity", "ConsumedUnit",
)  # fmt: skip
ALLOWED = {
    "ChargeCategory": {"Usage", "Purchase", "Tax", "Credit", "Adjustment"},
    "ChargeFrequency": {"One-Time", "Recurring", "Usage-Based"},
    "PricingCategory": {"Standard", "Dynamic", "Committed", "Other"},
    "ServiceCategory": {"AI and Machine Learning"},
    "PricingUnit": {"1000000 Tokens", "Requests"},
    "ConsumedUnit": {"Tokens", "Requests"},
}
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


@pytest.fixture
def focus_db(run, db, tmp_path):
    """The requests above, ingested, with the table and the contract in tmp_path/focus."""
    (tmp_path / "focus").mkdir()
    (tmp_path / "focus" / "focus.yaml").write_text(TABLE)
    (tmp_path / "focus" / "contract.yaml").write_text(CONTRACT)
    logs = tmp_path / "focus.jsonl"
    logs.write_text("".join(
        json.dumps({"request_id": rid, "timestamp": f"2026-03-10T{clock}:00Z",
                    "provider": "focus", "model": model, "feature": feature, **fields}) + "\n"
        for rid, model, clock, feature, fields in REQUESTS
    ))  # fmt: skip
    assert run("ingest", str(logs), "--db", db).code == 0
    return db, str(tmp_path / "focus")


def _export(run, db, pricing, target):
    result = run("export", "focus", "-o", str(target), "--db", db, "--pricing", pricing)
    assert result.code == 0, result.stderr
    rel = duckdb.connect().sql(f"SELECT * FROM '{target}'")
    return [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()], rel


def _row(rows, sku_price_id, feature):
    [row] = [r for r in rows if r["SkuPriceId"] == sku_price_id and r["x_Feature"] == feature]
    return row


def test_list_and_contracted_prices_and_costs(run, focus_db, tmp_path):
    rows, _ = _export(run, *focus_db, tmp_path / "focus.parquet")
    # (SkuPriceId, feature): PricingQuantity, ListUnitPrice, ContractedUnitPrice — list x 0.8
    expected = {
        (f"{WRITER}:input", "chat"): (0.06, 2.00, 1.60),
        (f"{WRITER}:cache_read", "chat"): (0.02, 0.20, 0.16),
        (f"{WRITER}:cache_write;ttl=5m", "chat"): (0.01, 2.50, 2.00),
        (f"{WRITER}:cache_write;ttl=1h", "chat"): (0.01, 4.00, 3.20),
        (f"{WRITER}:output", "chat"): (0.01, 10.00, 8.00),
        (f"{WRITER}:input;tier=batch", "chat"): (0.10, 1.00, 0.80),
        (f"{WRITER}:output;tier=batch", "chat"): (0.01, 5.00, 4.00),
        (f"{WRITER}:request", "chat"): (2, 0.01, 0.008),  # w1 and w2; w6 used no tokens
        (f"{WRITER}:input;input_above=200000", "long"): (0.30, 4.00, 3.20),
        (f"{WRITER}:output;input_above=200000", "long"): (0.001, 15.00, 12.00),
        (f"{WRITER}:request", "long"): (1, 0.01, 0.008),
        (f"{WRITER}:input;region=eu", "eu"): (0.10, 2.20, 1.76),
        (f"{WRITER}:output;region=eu", "eu"): (0.01, 11.00, 8.80),
        (f"{WRITER}:request", "eu"): (1, 0.01, 0.008),
        (f"{WRITER}:input;{WINDOW}", "night"): (0.10, 1.00, 0.80),
        (f"{WRITER}:output;{WINDOW}", "night"): (0.01, 5.00, 4.00),
        (f"{WRITER}:request", "night"): (1, 0.01, 0.008),
        ("focus/thinker:input", "think"): (0.10, 1.00, 1.00),  # no contract: list = contracted
        ("focus/thinker:output", "think"): (0.03, 4.00, 4.00),
        ("focus/thinker:reasoning", "think"): (0.02, 2.00, 2.00),
    }
    got = {(r["SkuPriceId"], r["x_Feature"]): r for r in rows}
    assert set(got) == set(expected)
    for key, (quantity, list_price, contracted_price) in expected.items():
        row = got[key]
        assert (row["PricingQuantity"], row["ListUnitPrice"], row["ContractedUnitPrice"]) == (
            pytest.approx((quantity, list_price, contracted_price))
        ), key
        assert row["ListCost"] == pytest.approx(quantity * list_price), key
        assert row["ContractedCost"] == pytest.approx(quantity * contracted_price), key
        assert row["BilledCost"] == row["EffectiveCost"] == row["ContractedCost"], key
    fee = got[(f"{WRITER}:request", "chat")]
    assert (fee["ListCost"], fee["ContractedCost"]) == (pytest.approx(0.02), pytest.approx(0.016))
    assert (fee["PricingUnit"], fee["ConsumedQuantity"], fee["ConsumedUnit"]) == (
        "Requests", 2, "Requests")  # fmt: skip
    assert got[(f"{WRITER}:input", "chat")]["x_Contract"] == "focus-agreement"
    assert got[("focus/thinker:input", "think")]["x_Contract"] is None


def _report_total(run, db, pricing, *args):
    result = run("report", "--db", db, "--pricing", pricing, "--format", "json", *args)
    assert result.code == 0, result.stderr
    return result.json()["totals"]["cost"]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_rows_sum_to_the_report_in_both_bases(run, focus_db, tmp_path, suffix):
    db, pricing = focus_db
    target = tmp_path / f"focus{suffix}"
    _export(run, db, pricing, target)
    listed, effective, billed = (
        duckdb.connect()
        .execute(f"SELECT sum(ListCost), sum(EffectiveCost), sum(BilledCost) FROM '{target}'")
        .fetchone()
    )
    assert effective == pytest.approx(EFFECTIVE_TOTAL) == billed
    assert listed == pytest.approx(LIST_TOTAL)
    assert _report_total(run, db, pricing) == pytest.approx(EFFECTIVE_TOTAL)
    assert _report_total(run, db, pricing, "--cost", "list") == pytest.approx(LIST_TOTAL)


def test_fee_rows_without_a_contract(run, focus_db, tmp_path):
    """Fees were left out of FOCUS rows: without the contract the rows still carry w1-w5's
    five $0.01 fees, and sum to the list total 2.444 in every cost column."""
    db, _ = focus_db
    (tmp_path / "list").mkdir()
    (tmp_path / "list" / "focus.yaml").write_text(TABLE)
    rows, _ = _export(run, db, str(tmp_path / "list"), tmp_path / "list.parquet")
    fees = [r for r in rows if r["PricingUnit"] == "Requests"]
    assert sum(r["PricingQuantity"] for r in fees) == 5
    assert sum(r["BilledCost"] for r in fees) == pytest.approx(0.05)
    for column in ("ListCost", "ContractedCost", "EffectiveCost", "BilledCost"):
        assert sum(r[column] for r in rows) == pytest.approx(LIST_TOTAL), column


def test_focus_13_columns_types_and_values(run, focus_db, tmp_path):
    """The FOCUS 1.3 Cost and Usage rules this export can break, checked on the CSV text (as a
    FOCUS validator reads it) and on the Parquet types."""
    db, pricing = focus_db
    _, rel = _export(run, db, pricing, tmp_path / "focus.parquet")
    types = dict(zip(rel.columns, (str(t) for t in rel.types), strict=True))
    for column, kind in FOCUS_13_COLUMNS.items():
        assert column in types, column
        numeric = types[column] in ("DOUBLE", "BIGINT", "DECIMAL", "HUGEINT")
        assert numeric == (kind == "number"), (column, types[column])
    assert "ProviderName" not in types and "PublisherName" not in types
    assert all(c in FOCUS_13_COLUMNS or c.startswith("x_") for c in types)

    _export(run, db, pricing, tmp_path / "focus.csv")
    text = duckdb.connect().sql(f"SELECT * FROM read_csv('{tmp_path / 'focus.csv'}', "
                                "all_varchar=true)")  # fmt: skip
    rows = [dict(zip(text.columns, row, strict=True)) for row in text.fetchall()]
    details_of: dict[str, str] = {}
    sku_of: dict[str, str] = {}
    price_of: dict[str, tuple[str, str]] = {}
    for row in rows:
        for column in NOT_NULL:
            assert row[column] is not None, column
        for column, allowed in ALLOWED.items():
            assert row[column] in allowed, (column, row[column])
        assert row["ChargeClass"] is None  # null or "Correction"
        for column, kind in FOCUS_13_COLUMNS.items():
            if kind == "datetime":
                assert DATETIME.match(row[column]), row[column]
        quantity = float(row["PricingQuantity"])
        assert float(row["ListCost"]) == pytest.approx(float(row["ListUnitPrice"]) * quantity)
        assert float(row["ContractedCost"]) == pytest.approx(
            float(row["ContractedUnitPrice"]) * quantity
        )
        assert float(row["ListUnitPrice"]) >= float(row["ContractedUnitPrice"]) >= 0
        details = json.loads(row["SkuPriceDetails"])
        assert all(key.startswith("x_") for key in details)  # not FOCUS-defined properties
        assert details["x_ModelId"] == row["SkuId"].split("/", 1)[1].split(":")[0]
        if row["PricingUnit"] == "1000000 Tokens":
            assert details["x_TokenDirection"] in ("Input", "Output")
            assert details["x_CacheAction"] in ("None", "Read", "Write")
        # one SkuPriceId: one set of details and one parent SkuId, in every row
        price_id = row["SkuPriceId"]
        assert details_of.setdefault(price_id, row["SkuPriceDetails"]) == row["SkuPriceDetails"]
        assert sku_of.setdefault(price_id, row["SkuId"]) == row["SkuId"]
        # one price version and one contract here, so one unit price per SkuPriceId
        price = (row["ListUnitPrice"], row["ContractedUnitPrice"])
        assert price_of.setdefault(price_id, price) == price
    tags = {row["x_Feature"]: json.loads(row["Tags"]) for row in rows}
    assert tags["chat"] == {"feature": "chat", "customer": "acme"}
    assert tags["night"] == {"feature": "night"}
    for ttl in ("5m", "1h"):
        assert json.loads(details_of[f"{WRITER}:cache_write;ttl={ttl}"]) == {
            "x_ModelId": "writer", "x_TokenDirection": "Input", "x_CacheAction": "Write",
            "x_CacheTtl": ttl,
        }  # fmt: skip
    assert json.loads(details_of["focus/thinker:reasoning"]) == {
        "x_ModelId": "thinker", "x_TokenDirection": "Output", "x_CacheAction": "None",
        "x_Reasoning": True,
    }  # fmt: skip
    night = json.loads(details_of[f"{WRITER}:input;{WINDOW}"])
    assert night["x_TimeOfDay"] == "22:00-06:00 UTC"
    long = json.loads(details_of[f"{WRITER}:output;input_above=200000"])
    assert long["x_InputTokensAbove"] == "200000" and long["x_TokenDirection"] == "Output"
    assert json.loads(details_of[f"{WRITER}:input;tier=batch"])["x_ServiceTier"] == "batch"
    assert json.loads(details_of[f"{WRITER}:input;region=eu"])["x_Region"] == "eu"
    assert json.loads(details_of[f"{WRITER}:request"]) == {"x_ModelId": "writer"}


def test_dashboard_does_not_call_effective_cost_list_prices(run, report_db, tmp_path):
    target = tmp_path / "dash.html"
    result = run("dashboard", "-o", str(target), "--db", report_db, "--pricing",
                 FIXTURE_PRICING)  # fmt: skip
    assert result.code == 0, result.stderr
    page = target.read_text(encoding="utf-8").split("</script>", 1)[1]  # after plotly.js
    assert "list prices" not in page
