"""`costops dashboard` when nothing (or no eval) is in scope: empty states, not a crash.

The report fixture has 8 requests on 2026-03-02..04 in features A-D; priced ones cost $10.00
(see tests/test_report.py), d2 is unpriced (1 of 8 = 12.5 %). With no request in scope every
chart says "no data" (no trace, no axes), the spend is $0.00, not "—" (which means unpriced), and
the pass rate is "—" (no evals), not 0.0 %. The command exits 0 and notes it on stderr.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import DATA, FIXTURE_PRICING

CHARTS = ("pareto", "daily", "models", "success", "caching", "waterfall", "tasks")


def dashboard(run, db: str, *args: str) -> tuple[str, str]:
    out = Path("dashboard.html")
    result = run("dashboard", "-o", str(out), "--db", db, "--pricing", FIXTURE_PRICING, *args)
    assert result.code == 0, result.stderr
    return out.read_text(encoding="utf-8"), result.stderr


def section(page: str, chart: str) -> str:
    return page.split(f'id="chart-{chart}"', 1)[1].split("</section>", 1)[0]


def card(page: str, label: str) -> str:
    found = re.search(rf'class="label">{label}</div><div class="value">([^<]*)<', page)
    assert found, label
    return found.group(1)


def is_empty_state(chart_html: str) -> bool:
    no_traces = re.search(r'Plotly\.newPlot\(\s*"plot-\w+",\s*\[\],', chart_html)
    no_axes = (
        '"xaxis":{"visible":false}' in chart_html and '"yaxis":{"visible":false}' in chart_html
    )
    return bool(no_traces) and no_axes and '"no data' in chart_html


def assert_empty_dashboard(page: str, stderr: str) -> None:
    for chart in CHARTS:
        assert is_empty_state(section(page, chart)), chart
    assert card(page, "Spend") == "$0.00"
    assert card(page, "Requests") == "0"
    assert card(page, "Pass rate") == "—"
    assert card(page, "Cost per successful output") == "—"
    assert "No requests in scope" in page
    assert "none" not in re.findall(r'class="value">([^<]*)<', page)
    note = [line for line in stderr.splitlines() if line.startswith("note:")]
    assert len(note) == 1 and "no requests" in note[0]


def test_an_empty_database(run, db):
    empty = Path("empty.jsonl")
    empty.write_text("")
    assert run("ingest", str(empty), "--db", db).code == 0
    page, stderr = dashboard(run, db)
    assert_empty_dashboard(page, stderr)
    assert "no requests in the database" in stderr


def test_a_filter_matching_nothing(run, report_db):
    page, stderr = dashboard(run, report_db, "--where", "feature=nope")
    assert_empty_dashboard(page, stderr)
    assert "no requests match --since/--until/--where" in stderr


@pytest.mark.parametrize("window", [("--since", "2026-04-01"), ("--until", "2026-03-01")])
def test_a_window_outside_the_data(run, report_db, window):
    page, stderr = dashboard(run, report_db, *window)
    assert_empty_dashboard(page, stderr)


def test_requests_without_evals(run, db):
    ingest = run("ingest", str(DATA / "report_requests.jsonl"), "--db", db)
    assert ingest.code == 0, ingest.stderr
    page, stderr = dashboard(run, db)
    assert card(page, "Spend") == "$10.00"
    assert card(page, "Requests") == "8"
    assert card(page, "Unpriced requests") == "12.5%"
    assert card(page, "Pass rate") == "—" and card(page, "Cost per successful output") == "—"
    assert page.count('class="hint">no evals in scope<') == 2
    assert is_empty_state(section(page, "success"))
    assert "no evals in scope" in section(page, "success")
    for chart in ("pareto", "daily", "models", "waterfall", "tasks"):
        assert not is_empty_state(section(page, chart)), chart
    assert "No requests in scope" not in page and "note:" not in stderr


def test_evals_that_all_failed_show_a_zero_pass_rate(run, db, tmp_path):
    """A 0.0 % pass rate is a real number (evals ran, none passed), unlike "—" (no evals)."""
    evals = tmp_path / "failed.jsonl"
    evals.write_text(
        '{"request_id":"c1","evaluator":"rubric","passed":false,"timestamp":"2026-03-02T13:00:00Z"}\n'
    )
    ingest = run("ingest", str(DATA / "report_requests.jsonl"), str(evals), "--db", db)
    assert ingest.code == 0, ingest.stderr
    page, _ = dashboard(run, db)
    assert card(page, "Pass rate") == "0.0%"
    assert 'class="hint">no evals in scope<' not in page
