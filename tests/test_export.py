"""FOCUS 1.3 and priced-request exports: every mandatory column, and the report's total."""

from __future__ import annotations

import re

import duckdb
import pytest

from tests.conftest import FIXTURE_PRICING
from tests.test_focus13 import FOCUS_13_COLUMNS

MANDATORY = (
    "BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "BillingAccountId",
    "BillingAccountName", "BillingCurrency", "BillingPeriodStart", "BillingPeriodEnd",
    "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargePeriodStart", "ChargePeriodEnd",
    "InvoiceIssuerName", "PricingQuantity", "PricingUnit", "ServiceProviderName",
    "HostProviderName", "ServiceCategory", "ServiceName", "ServiceSubcategory",
    "ConsumedQuantity", "ConsumedUnit", "SkuId", "SkuPriceId", "ListUnitPrice",
    "ContractedUnitPrice",
)  # fmt: skip
UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_focus_export_columns_and_total(run, report_db, tmp_path, suffix):
    target = tmp_path / f"focus{suffix}"
    result = run(
        "export", "focus", "-o", str(target), "--db", report_db, "--pricing", FIXTURE_PRICING
    )
    assert result.code == 0, result.stderr
    con = duckdb.connect()
    rel = con.sql(f"SELECT * FROM '{target}'")
    assert set(MANDATORY) <= set(rel.columns)
    assert not {"ProviderName", "PublisherName"} & set(rel.columns)  # removed in FOCUS 1.4
    assert all(c.startswith("x_") for c in rel.columns if c not in FOCUS_13_COLUMNS)
    # the report fixture's priced total is $10.00 (the unpriced request has no FOCUS row)
    assert con.execute(f"SELECT sum(BilledCost) FROM '{target}'").fetchall()[0][0] == pytest.approx(
        10.0
    )
    # CSV read as text, the way a FOCUS validator sees it
    source = f"read_csv('{target}', all_varchar=true)" if suffix == ".csv" else f"'{target}'"
    text = con.sql(f"SELECT * FROM {source}")
    rows, names = text.fetchall(), text.columns
    for row in rows:
        record = dict(zip(names, row, strict=True))
        assert record["ServiceCategory"] == "AI and Machine Learning"
        assert record["ServiceSubcategory"] == "Generative AI"
        assert record["ChargeCategory"] == "Usage" and record["BillingCurrency"] == "USD"
        for column in (
            "ChargePeriodStart",
            "ChargePeriodEnd",
            "BillingPeriodStart",
            "BillingPeriodEnd",
        ):
            assert UTC.match(str(record[column])), record[column]
        consumed, pricing = float(record["ConsumedQuantity"]), float(record["PricingQuantity"])
        assert consumed == pytest.approx(pricing * 1e6)
    features = {r[0] for r in con.sql(f"SELECT x_Feature FROM '{target}'").fetchall()}
    assert features == {"A", "B", "C", "D"}


def test_requests_export_carries_costs(run, report_db, tmp_path):
    target = tmp_path / "requests.parquet"
    assert run("export", "requests", "-o", str(target), "--db", report_db, "--pricing",
               FIXTURE_PRICING).code == 0  # fmt: skip
    con = duckdb.connect()
    total, count, unpriced = con.execute(
        f"SELECT sum(cost), count(*), count(*) FILTER (WHERE cost IS NULL) FROM '{target}'"
    ).fetchone()
    assert (count, unpriced) == (8, 1) and total == pytest.approx(10.0)


def test_export_refuses_other_file_types(run, report_db, tmp_path):
    result = run("export", "focus", "-o", str(tmp_path / "f.xlsx"), "--db", report_db)
    assert result.code == 2 and "csv or .parquet" in result.stderr


def test_format_parquet_for_tables(run, report_db, tmp_path):
    target = tmp_path / "report.parquet"
    args = ("report", "--by", "feature", "--db", report_db, "--pricing", FIXTURE_PRICING)
    assert run(*args, "--format", "parquet", "--output", str(target)).code == 0
    rows = duckdb.connect().execute(f"SELECT feature, cost FROM '{target}'").fetchall()
    assert rows[0] == ("A", pytest.approx(6.0)) and len(rows) == 4
    result = run(*args, "--format", "parquet")
    assert result.code == 2 and "-o FILE.parquet" in result.stderr
