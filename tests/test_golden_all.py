"""Golden files for every command that prints a table, in every format (UTC, fixed width), and
the report's and the caching simulation's goldens checked against numbers computed by hand.

Regenerate after an intended change with `UPDATE_GOLDEN=1 make test` and review the diff.
Parquet is binary: its columns and rows are checked against the CSV golden instead.
"""

from __future__ import annotations

import csv
import io
import json
import os

import polars as pl
import pytest

from tests.conftest import DATA, FIXTURE_PRICING

GOLDEN = DATA / "golden" / "all"
FORMATS = {"table": "txt", "json": "json", "csv": "csv", "markdown": "md"}
P = ("--pricing", FIXTURE_PRICING)

# (name, fixture files to ingest, command arguments, accepted exit codes)
COMMANDS = [
    ("report", "report", ["report", "--by", "feature", *P], (0,)),
    ("report_day", "report", ["report", "--by", "day", "--tz", "America/New_York", *P], (0,)),
    ("tasks", "tasks", ["tasks", "--by", "feature", *P], (0,)),
    ("budget_check", "tasks", ["budget", "check", "--task-cost", "2.5", *P], (1,)),
    ("reconcile", "report", ["reconcile", *P], (0,)),
    ("simulate_caching", "caching", ["simulate", "caching", "--by", "workspace", *P], (0,)),
    ("simulate_batch", "levers",
     ["simulate", "batch", "--features", "nightly", "--where", "feature=nightly", *P], (0,)),
    ("simulate_cascade", "levers",
     ["simulate", "cascade", "--from", "acme-pro", "--to", "acme-lite", *P], (0,)),
    ("simulate_output", "levers",
     ["simulate", "output", "--trim", "20", "--where", "feature=writer", *P], (0,)),
    ("simulate_plan", "levers",
     ["simulate", "plan", "--from", "acme-pro", "--to", "acme-lite", "--mode", "route",
      "--features", "qa", "--where", "feature=qa", *P], (0,)),
    ("pricing_list", None, ["pricing", "list", "--provider", "acme", *P], (0,)),
    ("pricing_show", None, ["pricing", "show", "acme-large", *P], (0,)),
    ("pricing_coverage", "report", ["pricing", "coverage", *P], (0,)),
    ("pricing_diff", "report", ["pricing", "diff", FIXTURE_PRICING, FIXTURE_PRICING], (0,)),
    ("quarantine", "bad", ["quarantine"], (0,)),
]  # fmt: skip
FIXTURES = {
    "report": ["report_requests.jsonl", "report_evals.jsonl"],
    "tasks": ["tasks.jsonl"],
    "caching": ["caching.jsonl"],
    "levers": ["levers.jsonl", "levers_evals.jsonl"],
}


@pytest.fixture
def fixture_db(run, db, tmp_path):
    def load(name: str | None) -> str:
        if name == "bad":
            # a relative path (the tests run in tmp_path): the same name in every run
            (tmp_path / "bad.jsonl").write_text(
                '{"request_id": "x", "model": "acme-small"}\nnot json\n'
            )
            run("ingest", "bad.jsonl", "--db", db)
        elif name is not None:
            files = [str(DATA / f) for f in FIXTURES[name]]
            assert run("ingest", *files, "--db", db).code == 0
        return db

    return load


def _golden(run, fixture_db, name, fixture, args, codes, fmt):
    db = fixture_db(fixture)
    db_args = ["--db", db] if args[0] != "pricing" or args[1] in ("coverage", "diff") else []
    result = run(*args, *db_args, "--format", fmt)
    assert result.code in codes, result.stderr
    path = GOLDEN / f"{name}.{FORMATS[fmt]}"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(result.stdout, encoding="utf-8")
    return result.stdout, path.read_text(encoding="utf-8")


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize(
    ("name", "fixture", "args", "codes"), COMMANDS, ids=[c[0] for c in COMMANDS]
)
def test_every_command_in_every_format(run, fixture_db, name, fixture, args, codes, fmt):
    got, golden = _golden(run, fixture_db, name, fixture, args, codes, fmt)
    assert got == golden


@pytest.mark.parametrize(
    ("name", "fixture", "args", "codes"), COMMANDS, ids=[c[0] for c in COMMANDS]
)
def test_parquet_holds_the_csv_columns_and_rows(
    run, fixture_db, tmp_path, name, fixture, args, codes
):
    db = fixture_db(fixture)
    db_args = ["--db", db] if args[0] != "pricing" or args[1] in ("coverage", "diff") else []
    target = tmp_path / "out.parquet"
    result = run(*args, *db_args, "-o", str(target))  # the extension picks the format
    assert result.code in codes, result.stderr
    frame = pl.read_parquet(target)
    rows = list(csv.reader(io.StringIO((GOLDEN / f"{name}.csv").read_text())))
    assert frame.columns == rows[0]
    assert frame.height == len(rows) - 1


def test_json_envelopes_share_one_shape():
    """Every command's JSON has top-level `totals` and `rows`; analyses record their tz."""
    for name, *_ in COMMANDS:
        data = json.loads((GOLDEN / f"{name}.json").read_text())
        assert isinstance(data["totals"], dict) and isinstance(data["rows"], list), name
        if name.startswith(("report", "tasks", "simulate")):
            assert data["tz"] in ("UTC", "America/New_York"), name


def test_the_report_golden_holds_the_hand_computed_numbers():
    """tests/test_report.py's fixture: A $6.00, B $2.50, C $1.00, D $0.50 (+1 unpriced);
    total $10.00; shares .60/.25/.10/.05; the Pareto head A and B; A's pass rate 1/2."""
    data = json.loads((GOLDEN / "report.json").read_text())
    rows = {r["feature"]: r for r in data["rows"]}
    assert {f: r["cost"] for f, r in rows.items()} == {"A": 6.0, "B": 2.5, "C": 1.0, "D": 0.5}
    assert {f: r["share"] for f, r in rows.items()} == {"A": 0.6, "B": 0.25, "C": 0.1, "D": 0.05}
    assert [f for f, r in rows.items() if r["pareto_head"]] == ["A", "B"]
    assert rows["A"]["pass_rate"] == 0.5 and rows["D"]["unpriced_requests"] == 1
    assert data["totals"]["cost"] == 10.0 and data["totals"]["requests"] == 8
    text = (GOLDEN / "report.txt").read_text()
    assert "$6.00" in text and "$10.00" in text and "60.0%" in text
    lines = (GOLDEN / "report.csv").read_text().splitlines()
    assert lines[1].startswith("A,3,2,") and ",6.0," in lines[1]


def test_the_caching_golden_holds_the_hand_computed_numbers():
    """tests/test_simulate.py's fixture at the 5m TTL: baseline 5 x $0.009 + 3 x $0.003 =
    $0.054; simulated 3 writes at $0.0105, 2 reads at $0.0036, 3 uncacheable at $0.003 (the
    second write of w1 and b1 in w2) = 2 x 0.0105 + 2 x 0.0036 + 0.0105 + 0.009 = $0.0477."""
    data = json.loads((GOLDEN / "simulate_caching.json").read_text())
    totals = data["totals"]
    assert totals["baseline_cost"] == 0.054
    assert totals["simulated_cost"] == 0.0477
    assert totals["savings"] == 0.0063
    assert (totals["reads"], totals["writes"]) == (2, 3)
    w2 = next(r for r in data["rows"] if r["workspace"] == "w2")
    assert (w2["baseline_cost"], w2["simulated_cost"]) == (0.009, 0.0105)
