"""The first hour of a new user: outputs that mean what they say, errors in one line.

Numbers by hand from tests/data/pricing/acme.yaml (acme-small: $1.00 per million input tokens)
and the packaged gpt-4o-mini price ($0.15 per million input tokens).
"""

from __future__ import annotations

import json

import polars as pl
import pytest

from costops.analysis import report as report_module
from tests.conftest import DATA, FIXTURE_PRICING

P = ("--pricing", FIXTURE_PRICING)


def _report(run, db, *args):
    return run("report", "--db", db, *P, *args)


@pytest.mark.parametrize(
    ("name", "check"),
    [
        ("r.csv", lambda text: text.startswith("feature,requests,units,")),
        ("r.json", lambda text: json.loads(text)["totals"]["cost"] == 10.0),
        ("r.md", lambda text: text.startswith("| feature |")),
        ("r.txt", lambda text: "Cost by feature" in text and "┃" in text),
    ],
)
def test_the_output_extension_picks_the_format(run, report_db, tmp_path, name, check):
    """Was: `-o r.csv` wrote a box-drawing table."""
    target = tmp_path / name
    result = _report(run, report_db, "-o", str(target))
    assert result.code == 0 and result.stdout == "", result.stderr
    assert check(target.read_text())


def test_parquet_by_extension_and_format_wins(run, report_db, tmp_path):
    assert _report(run, report_db, "-o", str(tmp_path / "r.parquet")).code == 0
    frame = pl.read_parquet(tmp_path / "r.parquet")
    assert frame["cost"].sum() == 10.0 and frame.height == 4
    # --format wins over the extension
    assert _report(run, report_db, "-o", str(tmp_path / "r.csv"), "-f", "json").code == 0
    assert json.loads((tmp_path / "r.csv").read_text())["totals"]["requests"] == 8


def test_dash_is_stdout(run, report_db):
    result = _report(run, report_db, "-o", "-", "-f", "csv")
    assert result.code == 0 and result.stdout.startswith("feature,")


@pytest.mark.parametrize("target", ["missing-dir/r.csv", "."])
def test_a_bad_output_path_is_one_line_exit_2(run, report_db, target):
    result = _report(run, report_db, "-o", target)
    assert result.code == 2
    assert result.stderr.startswith("costops: error: -o ") and result.stderr.count("\n") == 1


def test_the_same_data_gives_the_same_bytes(run, db, tmp_path):
    """Money is summed exactly: two runs (and a re-ingest in another order) agree byte for byte."""
    lines = (DATA / "report_requests.jsonl").read_text().splitlines()
    (tmp_path / "a.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "b.jsonl").write_text("\n".join(reversed(lines)) + "\n")
    other = str(tmp_path / "other.duckdb")
    assert run("ingest", str(tmp_path / "a.jsonl"), "--db", db).code == 0
    assert run("ingest", str(tmp_path / "b.jsonl"), "--db", other).code == 0
    for args in (["report", "--by", "feature,model", "-f", "json"],
                 ["simulate", "caching", "-f", "json"], ["tasks", "-f", "csv"]):  # fmt: skip
        first = run(*args, "--db", db, *P).stdout
        assert first == run(*args, "--db", db, *P).stdout
        assert first == run(*args, "--db", other, *P).stdout


def test_a_tiny_cost_stays_exact_in_machine_output(run, db, tmp_path):
    """61 input tokens of gpt-4o-mini at $0.15 per million: $0.00000915, not rounded to cents."""
    line = {"request_id": "tiny", "timestamp": "2026-03-02T10:00:00Z", "provider": "openai",
            "model": "gpt-4o-mini", "input_tokens": 61, "output_tokens": 0}  # fmt: skip
    (tmp_path / "tiny.jsonl").write_text(json.dumps(line) + "\n")
    assert run("ingest", str(tmp_path / "tiny.jsonl"), "--db", db).code == 0
    data = run("report", "--db", db, "-f", "json").json()
    assert data["totals"]["cost"] == 0.00000915
    csv_text = run("report", "--db", db, "-f", "csv").stdout
    assert ",9.15e-06," in csv_text


def test_zero_savings_are_exactly_zero(run, db):
    """w3's requests cannot be cached: baseline and scenario are equal, savings exactly 0."""
    assert run("ingest", str(DATA / "caching.jsonl"), "--db", db).code == 0
    data = run("simulate", "caching", "--by", "workspace", "--db", db, *P, "-f", "json").json()
    w3 = next(r for r in data["rows"] if r["workspace"] == "w3")
    assert w3["savings"] == 0 and str(w3["savings"]) == "0.0"
    assert '"savings": -' not in json.dumps(w3)


@pytest.mark.parametrize(
    "args",
    [
        ["report"],
        ["simulate", "caching"],
        ["simulate", "plan"],
        ["simulate", "batch", "--features", "A"],
        ["tasks"],
        ["reconcile"],
    ],
)
@pytest.mark.parametrize("scope", [["--where", "feature=nope"], ["--since", "2030-01-01"]])
def test_an_empty_scope_is_an_empty_result_not_a_traceback(run, report_db, args, scope):
    """Was: TypeError from simulate caching/plan. Totals are 0 (null would mean unpriced)."""
    result = run(*args, *scope, "--db", report_db, *P, "-f", "json")
    assert result.code == 0, result.stderr
    data = result.json()
    assert data["rows"] == []
    money = [
        k for k in ("cost", "baseline_cost", "simulated_cost", "savings") if k in data["totals"]
    ]
    assert all(data["totals"][k] == 0 for k in money)
    table = run(*args, *scope, "--db", report_db, *P)
    assert table.code == 0 and "Traceback" not in table.stderr


def test_an_empty_database_reports_zero(run, db, tmp_path):
    (tmp_path / "empty.jsonl").write_text("")
    assert run("ingest", "empty.jsonl", "--db", db).code == 0
    for args in (["report"], ["simulate", "caching"], ["simulate", "plan"], ["tasks"]):
        result = run(*args, "--db", db, "-f", "json")
        assert result.code == 0, result.stderr
        assert result.json()["rows"] == [], args


def test_time_buckets_come_in_time_order_with_shares_by_cost(run, report_db):
    """UTC days: 03-02 $6 (a1, a2, b1... by hand in test_report), 03-03 $3, 03-04 $1: in time
    order, while the Pareto head is still ranked by cost."""
    rows = _report(run, report_db, "--by", "day", "-f", "json").json()["rows"]
    assert [r["day"] for r in rows] == sorted(r["day"] for r in rows)
    assert {r["day"]: r["cost"] for r in rows} == {
        "2026-03-02": 6.0, "2026-03-03": 3.0, "2026-03-04": 1.0,
    }  # fmt: skip
    assert [r["day"] for r in rows if r["pareto_head"]] == ["2026-03-02", "2026-03-03"]
    assert rows[1]["cumulative_share"] == pytest.approx(0.9)


@pytest.mark.parametrize(
    "args",
    [
        ["report", "--format", "yaml"],
        ["report", "--top", "-1"],
        ["report", "--since", "2026-03-05", "--until", "2026-03-01"],
        ["report", "--frmat", "json"],
        ["budget", "check", "--task-cost", "-1"],
        ["budget", "check", "--task-cost", "nan"],
        ["quarantine", "--top", "-5"],
        ["simulate", "caching", "--ttl", "9h"],
        ["ingest", "nope.jsonl", "--timestamp", "notatime"],
        ["budget", "check", "--task-cost", "inf"],
        ["budget", "check"],
        ["report", "-o", "r.html"],
        ["dashboard", "-o", "missing-dir/d.html"],
        ["export", "focus", "-o", "missing-dir/f.csv"],
    ],
)
def test_every_usage_error_is_one_line_exit_2(run, report_db, args):
    result = run(*args, "--db", report_db)
    assert result.code == 2
    assert result.stderr.startswith("costops: error: ") and result.stderr.count("\n") == 1


def test_format_names_are_case_insensitive(run, report_db):
    assert _report(run, report_db, "--format", "JSON").json()["totals"]["requests"] == 8
    assert _report(run, report_db, "--cost", "LIST", "-f", "json").code == 0


def test_help_lists_the_choices(run):
    assert "5m" in run("simulate", "caching", "--help").stdout
    assert "route" in run("simulate", "cascade", "--help").stdout
    text = run("report", "--help").stdout
    assert "effective" in text and "markdown" in text


def test_ctrl_c_exits_130_without_a_traceback(run, report_db, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(report_module, "_groups_sql", interrupted)
    result = _report(run, report_db)
    assert result.code == 130
    assert result.stderr == "costops: interrupted\n"


def test_quarantine_shows_the_total_and_clears(run, db, tmp_path):
    (tmp_path / "bad.jsonl").write_text("nope\n" * 5 + json.dumps({"x": 1}) + "\n")
    run("ingest", "bad.jsonl", "--db", db)
    result = run("quarantine", "--db", db, "-n", "2")
    assert result.code == 0 and "6 quarantined lines (the first 2" in result.stdout
    assert run("quarantine", "--db", db, "-f", "json").json()["totals"] == {"lines": 6}
    cleared = run("quarantine", "--clear", "--file", "bad.jsonl", "--db", db)
    assert cleared.code == 0 and "forgot 6 quarantined lines of bad.jsonl" in cleared.stderr
    assert run("quarantine", "--db", db, "-f", "json").json()["totals"] == {"lines": 0}


def test_counts_read_in_the_singular(run, db, tmp_path):
    (tmp_path / "one.jsonl").write_text(
        (DATA / "report_requests.jsonl").read_text().splitlines()[0]
    )
    result = run("ingest", "one.jsonl", "--db", db)
    assert "1 line (costops 1) · 1 request inserted · 0 evals inserted · 0 duplicates" in (
        result.stderr
    )


@pytest.fixture
def long_names_db(run, db, tmp_path):
    lines = [
        {"request_id": f"r{i}", "timestamp": "2026-03-02T10:00:00Z", "provider": "acme",
         "model": "acme-small", "feature": name, "input_tokens": 1000 * (i + 1),
         "output_tokens": 10}
        for i, name in enumerate(["contract-review-enterprise-tier", "support-agent-escalations"])
    ]  # fmt: skip
    (tmp_path / "long.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert run("ingest", "long.jsonl", "--db", db).code == 0
    return db


@pytest.mark.parametrize("width", [80, 120])
def test_tables_fit_the_width_with_names_whole(run, long_names_db, monkeypatch, width):
    """Fewer columns, not truncated cells: the least important columns go first."""
    from costops.cli import common

    monkeypatch.setattr(common, "PIPED_WIDTH", width)
    out = _report(run, long_names_db).stdout
    assert max(len(line) for line in out.splitlines()) <= width
    assert "contract-review-enterprise-tier" in out and "support-agent-escalations" in out
    assert "cost" in out and "share" in out
    header = next(line for line in out.splitlines() if line.startswith("┃"))
    assert "units" not in header  # the first column to go
    assert "hidden to fit the width: units" in out
    assert ("pass rate" in header) == (width == 120)


def test_wide_keeps_every_column_and_compact_the_main_ones(run, long_names_db, monkeypatch):
    from costops.cli import common

    monkeypatch.setattr(common, "PIPED_WIDTH", 80)
    wide = _report(run, long_names_db, "--wide").stdout
    assert all(h in wide for h in ("units", "input tok", "output tok", "cum.", "unpriced"))
    compact = _report(run, long_names_db, "--compact").stdout
    assert "input tok" not in compact and "units" not in compact and "cost" in compact
    assert "contract-review-enterprise-tier" in compact


def test_piped_tables_have_no_trailing_spaces(run, report_db):
    out = _report(run, report_db).stdout
    assert out.strip() and all(line == line.rstrip() for line in out.splitlines())


@pytest.mark.parametrize(
    "args", [["ingest", "-h"], ["report", "--help"], ["simulate", "caching", "-h"], ["-h"]]
)
def test_help_reads_like_a_cli(run, args):
    """No typer placeholders (<str>, <bool>, {paths}); flags read as flags; -h is --help."""
    text = run(*args).stdout
    assert text.startswith("Usage: costops")
    assert "<str>" not in text and "<bool>" not in text and "{" not in text.split("\n")[0]
    if args[0] == "ingest":
        assert "Usage: costops ingest [OPTIONS] PATHS..." in text
        assert "  --strict  " in text and "--timestamp TEXT" in text


def test_ctrl_c_inside_a_duckdb_query_exits_130(run, report_db, monkeypatch):
    """DuckDB turns SIGINT during a query into its InterruptException, not KeyboardInterrupt."""
    import duckdb

    def interrupted(*args, **kwargs):
        raise duckdb.InterruptException("INTERRUPT Error: Interrupted!")

    monkeypatch.setattr(report_module, "_groups_sql", interrupted)
    result = _report(run, report_db)
    assert result.code == 130 and result.stderr == "costops: interrupted\n"


def test_top_with_time_buckets_keeps_the_costliest_in_time_order(run, report_db):
    """UTC days $6 / $3 / $1: --top 2 keeps 03-02 and 03-03 (not the first two days)."""
    rows = _report(run, report_db, "--by", "day", "-n", "2", "-f", "json").json()["rows"]
    assert [r["day"] for r in rows] == ["2026-03-02", "2026-03-03"]
    rows = _report(run, report_db, "--by", "day", "-n", "1", "-f", "json").json()["rows"]
    assert [r["day"] for r in rows] == ["2026-03-02"]


def test_pricing_diff_on_an_empty_database(run, db, tmp_path):
    (tmp_path / "empty.jsonl").write_text("")
    assert run("ingest", "empty.jsonl", "--db", db).code == 0
    result = run("pricing", "diff", FIXTURE_PRICING, FIXTURE_PRICING, "--db", db, "-f", "json")
    assert result.code == 0, result.stderr
    totals = result.json()["totals"]
    assert (totals["requests"], totals["changed_requests"], totals["change"]) == (0, 0, 0.0)
