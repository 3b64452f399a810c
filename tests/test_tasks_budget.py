"""Tasks and budgets against hand-computed values (acme-small input: $1.00 per million tokens).

agent: T1 = c1 $2 + c2 $1 (error) + c3 $1 (a retry: it follows a failed call) = $4, 3 calls;
       T2 = $1, 1 call; T3 = $0.50 + $0.50 = $1, 2 calls.
search: T4 = s1 $3 at 2026-03-02 23:30Z; s2 $2 at 03-03 00:30Z (no task).
"""

from __future__ import annotations

import pytest

from tests.conftest import DATA, FIXTURE_PRICING


@pytest.fixture
def tasks_db(run, db):
    assert run("ingest", str(DATA / "tasks.jsonl"), "--db", db).code == 0
    return db


def test_tasks_by_feature(run, tasks_db):
    result = run("tasks", "--by", "feature", "--db", tasks_db, "--pricing", FIXTURE_PRICING,
                 "--format", "json")  # fmt: skip
    data = result.json()
    agent = next(r for r in data["rows"] if r["feature"] == "agent")
    assert agent["tasks"] == 3 and agent["calls_per_task"] == pytest.approx(2.0)
    assert agent["cost"] == pytest.approx(6.0)
    assert agent["cost_p50"] == pytest.approx(1.0)
    # costs sorted 1, 1, 4: the 95th percentile sits 0.9 of the way from 1 to 4
    assert agent["cost_p95"] == pytest.approx(3.7)
    assert agent["cost_max"] == pytest.approx(4.0)
    assert agent["retry_share"] == pytest.approx(1 / 6)
    top = data["costliest"][0]
    assert (top["task_id"], top["calls"], top["cost"], top["duration_s"]) == ("T1", 3, 4.0, 120.0)


def budget(run, db, *args):
    return run(
        "budget", "check", *args, "--db", db, "--pricing", FIXTURE_PRICING, "--format", "json"
    )


def test_a_task_exactly_at_its_budget_is_not_a_breach(run, tasks_db):
    result = budget(run, tasks_db, "--task-cost", "4.00")
    assert result.code == 0 and result.json()["rows"] == []


def test_one_cent_over_is_a_breach_with_when_and_who(run, tasks_db):
    result = budget(run, tasks_db, "--task-cost", "3.99")
    assert result.code == 1
    (breach,) = result.json()["rows"]
    assert breach["scope"] == "task T1" and breach["actual"] == pytest.approx(4.0)
    assert breach["first_crossed"] == "2026-03-02T10:02:00Z"  # running $2, $3, then $4
    assert breach["top_contributors"][0].startswith("c1 (acme-small, $2.0000)")


def test_token_budget_per_task(run, tasks_db):
    result = budget(run, tasks_db, "--task-tokens", "3000000")
    breaches = result.json()["rows"]
    assert result.code == 1 and [b["scope"] for b in breaches] == ["task T1"]  # 4M > 3M; T4 = 3M


@pytest.mark.parametrize(
    ("tz", "breached"),
    [
        ("UTC", []),  # search: $3 on 03-02, $2 on 03-03
        ("America/New_York", ["day 2026-03-02, feature=search"]),  # both on 03-02 local: $5
    ],
)
def test_daily_budget_buckets_in_the_time_zone(run, tasks_db, tz, breached):
    result = budget(run, tasks_db, "--daily-cost", "4", "--by", "feature", "--where",
                    "feature=search", "--tz", tz)  # fmt: skip
    scopes = [b["scope"] for b in result.json()["rows"]]
    assert scopes == breached and result.code == (1 if breached else 0)


def test_budgets_from_config_and_forecast(run, tasks_db, tmp_path):
    (tmp_path / "costops.yaml").write_text(
        "budgets:\n"
        "  - name: agent tasks\n    per: task\n    max_cost: 2.50\n    where: {feature: agent}\n"
        "  - name: monthly spend\n    per: month\n    max_cost: 100\n"
    )
    result = budget(run, tasks_db, "--forecast")
    data = result.json()
    assert result.code == 1
    assert [(b["budget"], b["scope"]) for b in data["rows"]] == [("agent tasks", "task T1")]
    # $11 in the first 2 days and 30 minutes of March, projected over 31 days: a warning
    (warning,) = data["forecast_warnings"]
    assert warning["month_to_date"] == pytest.approx(11.0)
    assert warning["projected"] == pytest.approx(11.0 / (2 + 0.5 / 24) * 31)


def test_bad_budget_config_is_a_usage_error(run, tasks_db, tmp_path):
    (tmp_path / "costops.yaml").write_text("budgets:\n  - per: fortnight\n    max_cost: 1\n")
    result = budget(run, tasks_db)
    assert result.code == 2 and "budgets[0]: per: expected one of" in result.stderr
