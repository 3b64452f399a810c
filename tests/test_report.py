"""`costops report` on a fixture whose every number is computed by hand.

acme-small input costs $1.00 per million tokens, so each request costs input_tokens / 1e6:
  A: task TA1 = a1 $2 + a2 $1; a3 $3            → $6.00, 2 units
  B: b1 $1.50, b2 $1.00                          → $2.50, 2 units
  C: c1 $1.00                                    → $1.00, 1 unit
  D: d1 $0.50, d2 unpriced (mystery-9)           → $0.50, 2 units, 1 unpriced
Total $10.00: shares .60 / .25 / .10 / .05; the Pareto head is A and B (.60 < .80 ≤ .85).
Evals: TA1's latest rubric verdict (on the task, 03-05) failed though an earlier one on a2
passed, so TA1 fails; a3 passed; b1 passed; b2's only eval is a shadow eval of acme-tiny (not a
verdict); c1 failed (its eval names the unit's own model, so it is a verdict).
"""

from __future__ import annotations

import pytest

from tests.conftest import FIXTURE_PRICING


def report(run, db, *args):
    result = run("report", "--db", db, "--pricing", FIXTURE_PRICING, "--format", "json", *args)
    assert result.code == 0, result.stderr
    return result.json()


def test_envelope_keys(run, report_db):
    data = report(run, report_db, "--by", "feature")
    assert list(data) == [
        "group_by", "currency", "tz", "since", "until", "where", "cost_basis", "totals", "rows",
    ]  # fmt: skip
    assert data["group_by"] == ["feature"] and data["currency"] == "USD"
    expected_keys = {
        "feature", "requests", "units", "input_tokens", "output_tokens", "cache_read_tokens",
        "cache_write_tokens", "cost", "share", "cumulative_share", "pareto_head",
        "evaluated_units", "successful_units", "pass_rate", "cost_per_success",
        "unpriced_requests",
    }  # fmt: skip
    assert expected_keys <= set(data["rows"][0])


def test_pareto_shares_by_feature(run, report_db):
    rows = report(run, report_db, "--by", "feature")["rows"]
    assert [r["feature"] for r in rows] == ["A", "B", "C", "D"]
    assert [r["cost"] for r in rows] == pytest.approx([6.0, 2.5, 1.0, 0.5])
    assert [r["share"] for r in rows] == pytest.approx([0.60, 0.25, 0.10, 0.05])
    assert [r["cumulative_share"] for r in rows] == pytest.approx([0.60, 0.85, 0.95, 1.0])
    assert [r["pareto_head"] for r in rows] == [True, True, False, False]
    assert [r["units"] for r in rows] == [2, 2, 1, 2]
    assert [r["unpriced_requests"] for r in rows] == [0, 0, 0, 1]


def test_cost_per_success_and_pass_rate(run, report_db):
    rows = {r["feature"]: r for r in report(run, report_db, "--by", "feature")["rows"]}
    a, b, c, d = rows["A"], rows["B"], rows["C"], rows["D"]
    assert (a["evaluated_units"], a["successful_units"]) == (2, 1)
    assert a["pass_rate"] == pytest.approx(0.5)
    assert a["cost_per_success"] == pytest.approx(6.0)  # both units' cost (a failed try costs)
    assert (b["evaluated_units"], b["successful_units"]) == (1, 1)  # b2's shadow eval ignored
    assert b["cost_per_success"] == pytest.approx(1.5)
    assert b["unevaluated_cost"] == pytest.approx(1.0)
    assert (c["pass_rate"], c["cost_per_success"]) == (0.0, None)  # no success: null, not inf
    assert (d["evaluated_units"], d["pass_rate"], d["cost_per_success"]) == (0, None, None)


def test_totals(run, report_db):
    totals = report(run, report_db, "--by", "feature")["totals"]
    assert totals["cost"] == pytest.approx(10.0)
    assert (totals["requests"], totals["units"]) == (8, 7)
    assert (totals["evaluated_units"], totals["successful_units"]) == (4, 2)
    assert totals["evaluated_share"] == pytest.approx(4 / 7)
    assert totals["cost_per_success"] == pytest.approx(
        8.5 / 2
    )  # (TA1 3 + a3 3 + b1 1.5 + c1 1) / 2
    assert totals["unpriced_requests"] == 1 and totals["unpriced_tokens"] == 1000


@pytest.mark.parametrize(
    ("tz", "expected"),
    [
        ("UTC", {"2026-03-02": 6.0, "2026-03-03": 3.0, "2026-03-04": 1.0}),
        # a3 (03-03 23:30Z) and b2 (03-04 00:30Z) are both evening of 03-03 in New York
        ("America/New_York", {"2026-03-02": 6.0, "2026-03-03": 4.0}),
        # Tokyo is UTC+9: a1/a2 (09:00Z) are 18:00 on 03-02; a3 is 08:30 on 03-04
        ("Asia/Tokyo", {"2026-03-02": 6.0, "2026-03-04": 4.0}),
    ],
)
def test_days_are_bucketed_in_the_requested_time_zone(run, report_db, tz, expected):
    rows = report(run, report_db, "--by", "day", "--tz", tz)["rows"]
    assert {r["day"]: r["cost"] for r in rows} == pytest.approx(expected)


def test_week_and_month_buckets(run, report_db):
    weeks = report(run, report_db, "--by", "week")["rows"]
    assert [(r["week"], r["cost"]) for r in weeks] == [("2026-03-02", pytest.approx(10.0))]
    months = report(run, report_db, "--by", "month,feature")["rows"]
    assert months[0]["month"] == "2026-03" and months[0]["feature"] == "A"


def test_since_until_are_local_dates_and_until_is_inclusive(run, report_db):
    data = report(
        run, report_db, "--by", "feature", "--since", "2026-03-03", "--until", "2026-03-03"
    )
    assert data["totals"]["cost"] == pytest.approx(3.0)  # only a3 (UTC)
    data = report(run, report_db, "--by", "feature", "--since", "2026-03-03", "--until",
                  "2026-03-03", "--tz", "America/New_York")  # fmt: skip
    assert data["totals"]["cost"] == pytest.approx(4.0)  # a3 and b2
    assert (data["since"], data["until"]) == ("2026-03-03", "2026-03-03")


def test_where_filters_and_top(run, report_db):
    data = report(run, report_db, "--by", "feature", "--where", "feature=B", "--where", "feature=C")
    assert [r["feature"] for r in data["rows"]] == ["B", "C"]
    assert data["rows"][0]["share"] == pytest.approx(2.5 / 3.5)
    top = report(run, report_db, "--by", "feature", "--top", "1")
    assert len(top["rows"]) == 1 and top["totals"]["cost"] == pytest.approx(10.0)


def test_task_and_attribute_dimensions(run, report_db):
    rows = report(run, report_db, "--by", "task_id")["rows"]
    assert rows[1]["task_id"] == "TA1" and rows[1]["requests"] == 2
    rows = report(run, report_db, "--by", "attr.team")["rows"]
    assert [(r["attr.team"], r["cost"]) for r in rows] == [
        (None, pytest.approx(6.5)),
        ("growth", pytest.approx(3.5)),  # a1 $2 + b1 $1.50
    ]


@pytest.mark.parametrize(
    "args",
    [
        ["--by", "feature;drop table requests"],
        ["--by", "attr.x'); select 1 --"],
        ["--where", "feature' OR 1=1 --=x"],
        ["--tz", "UTC'; DROP TABLE requests; --"],
        ["--by", "feature,feature"],
        ["--since", "last tuesday"],
        ["--format", "yaml"],
    ],
)
def test_bad_identifiers_and_options_are_usage_errors(run, report_db, args):
    result = run("report", "--db", report_db, *args)
    assert result.code == 2, result.stderr
    assert result.stderr.startswith("costops: error:") and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_where_value_is_bound_not_pasted(run, report_db):
    data = report(run, report_db, "--by", "feature", "--where", "feature=A' OR '1'='1")
    assert data["rows"] == [] and data["totals"]["requests"] == 0


def test_report_on_missing_database_is_exit_5(run, tmp_path):
    result = run("report", "--db", str(tmp_path / "nope.duckdb"))
    assert result.code == 5 and f"no database at {tmp_path / 'nope.duckdb'}" in result.stderr
    assert "costops ingest FILES" in result.stderr and "$COSTOPS_DB" in result.stderr


def test_out_of_memory_is_one_line_and_exit_5(run, report_db, monkeypatch):
    monkeypatch.setenv("COSTOPS_MEMORY_LIMIT", "1MB")
    result = run("report", "--db", report_db)
    assert result.code == 5
    assert result.stderr.startswith("costops: error: out of memory within COSTOPS_MEMORY_LIMIT=1MB")
    assert "Traceback" not in result.stderr
