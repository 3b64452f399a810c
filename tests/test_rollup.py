"""A report read from the rollup equals the same report scanned from every priced request: on
every golden fixture and on random stores (tasks across hours, unpriced models, shadow evals, a
contract, time zones with a DST change or a half-hour offset, bounds on and off the hour).
Reports the rollup cannot answer exactly fall back to the scan."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from costops.analysis import report as report_module
from costops.analysis.cache import use_list_prices
from costops.analysis.filters import Filters, parse_dimensions
from costops.analysis.report import build_report
from costops.analysis.rollup import covers
from costops.analysis.session import analysis_session
from tests.conftest import DATA, FIXTURE_PRICING
from tests.test_golden_all import FIXTURES

ZONES = ("UTC", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata")
DIMENSIONS = (
    "feature", "model", "provider", "customer", "workspace", "environment", "status", "task_id",
    "day", "week", "month",
)  # fmt: skip
MODELS = ("acme-large", "acme-small", "mystery-9")  # mystery-9 is unpriced


def _both(con, dims, filters) -> tuple[str, str, bool]:
    """The report as the rollup and as the scan answer it, and whether the rollup could."""

    def shown(result) -> str:  # repr keeps 1 and 1.0 apart, as the renderers do
        return repr((result.totals, result.rows))

    rolled = covers(con, dims, filters)
    fast = shown(build_report(con, dims, filters))
    real = report_module.covers
    report_module.covers = lambda *_: False
    try:
        slow = shown(build_report(con, dims, filters))
    finally:
        report_module.covers = real
    return fast, slow, rolled


def test_the_rollup_equals_the_scan_on_every_golden_fixture(run, db):
    files = sorted({str(DATA / f) for names in FIXTURES.values() for f in names})
    assert run("ingest", *files, "--db", db).code == 0
    with analysis_session(db, [FIXTURE_PRICING]) as con:
        for by, tz in [("feature", "UTC"), ("model,day", "America/New_York"), ("task_id", "UTC"),
                       ("workspace,week", "America/New_York"), ("", "UTC")]:  # fmt: skip
            filters = Filters(tz=tz)
            fast, slow, rolled = _both(con, parse_dimensions(by, tz), filters)
            assert rolled and fast == slow, (by, tz)


def _random_store(path: Path, seed: int) -> None:
    rng = random.Random(seed)
    requests, evals = [], []
    for n in range(300):
        task = f"t{rng.randrange(40)}" if rng.random() < 0.5 else None
        # March-April 2026: New York changes offset on 03-08, Lord Howe (+11 / +10:30) on 04-05
        minute = rng.randrange(0, 60 * 24 * 50)
        stamp = _stamp(minute, rng.randrange(60))
        line = {
            "request_id": f"r{n}", "timestamp": stamp, "provider": "acme",
            "model": rng.choice(MODELS), "feature": rng.choice(["A", "B", "C", None]),
            "customer": rng.choice(["x", "y"]), "workspace": rng.choice(["w1", "w2", None]),
            "environment": rng.choice(["prod", "dev"]), "status": rng.choice(["ok", "error"]),
            "input_tokens": rng.randrange(0, 3_000_000),
            "output_tokens": rng.choice([0, rng.randrange(0, 200_000)]),
        }  # fmt: skip
        if task:
            line["task_id"] = task
        requests.append({k: v for k, v in line.items() if v is not None})
    for _ in range(120):
        target = {"task_id": f"t{rng.randrange(45)}"} if rng.random() < 0.4 else {}
        target = target or {"request_id": f"r{rng.randrange(320)}"}
        verdict = {"evaluator": rng.choice(["rubric", "format"]), "passed": rng.random() < 0.6}
        if rng.random() < 0.2:  # a shadow eval of another model, or a verdict naming its own
            verdict["model"] = rng.choice(MODELS)
        if rng.random() < 0.8:
            verdict["timestamp"] = _stamp(rng.randrange(0, 60 * 24 * 50), 0)
        evals.append({**target, **verdict})
    (path / "requests.jsonl").write_text("".join(json.dumps(r) + "\n" for r in requests))
    (path / "evals.jsonl").write_text("".join(json.dumps(e) + "\n" for e in evals))


def _stamp(minute: int, second: int) -> str:
    day, rest = divmod(minute, 60 * 24)
    month, date = (3, day + 1) if day < 31 else (4, day - 30)
    return f"2026-{month:02d}-{date:02d}T{rest // 60:02d}:{rest % 60:02d}:{second:02d}Z"


def _random_filters(rng: random.Random) -> tuple[str, Filters]:
    by = ",".join(rng.sample(DIMENSIONS, rng.randrange(0, 3)))
    tz = rng.choice(ZONES)
    since = until = None
    if rng.random() < 0.4:
        since = f"2026-03-{rng.randrange(1, 20):02d}" + rng.choice(["", "T06:00", "T10:30"])
    if rng.random() < 0.4:
        until = f"2026-04-{rng.randrange(1, 20):02d}" + rng.choice(["", "T18:00:00"])
    where: tuple[tuple[str, str], ...] = ()
    if rng.random() < 0.4:
        where = (rng.choice([("feature", "A"), ("model", "acme-large"), ("status", "ok"),
                             ("day", "2026-03-08"), ("customer", "y")]),)  # fmt: skip
    return by, Filters(since, until, where, tz)


@pytest.mark.parametrize("seed", [1])
def test_the_rollup_equals_the_scan_on_random_stores(run, db, tmp_path, seed):
    _random_store(tmp_path, seed)
    pricing = tmp_path / "pricing"
    pricing.mkdir()
    (pricing / "acme.yaml").write_text((Path(FIXTURE_PRICING) / "acme.yaml").read_text())
    (pricing / "deal.yaml").write_text(  # list and effective costs differ from 03-20
        "contract: deal\nterms:\n  - model: acme-large\n    effective_from: 2026-03-20\n"
        "    discount: 0.25\n"
    )
    files = [str(tmp_path / "requests.jsonl"), str(tmp_path / "evals.jsonl")]
    assert run("ingest", *files, "--db", db).code == 0
    rng = random.Random(seed)
    rolled = 0
    with analysis_session(db, [str(pricing)]) as con:
        for case in range(30):
            if case == 15:
                use_list_prices(con)
            by, filters = _random_filters(rng)
            fast, slow, covered = _both(con, parse_dimensions(by, filters.tz), filters)
            assert fast == slow, (by, filters)
            rolled += covered
    assert rolled >= 15  # most of them read the rollup


COVERED = [
    ("feature", Filters(), True),
    ("day,model", Filters(tz="America/New_York"), True),  # whole-hour offsets, DST included
    ("feature", Filters(tz="Asia/Kolkata"), True),  # no time bucket: the offset is moot
    ("feature", Filters(since="2026-03-02T09:30"), False),  # a bound inside an hour
    ("feature", Filters(since="2026-03-02T09:00"), True),
    ("session_id", Filters(), False),  # not kept in the rollup
    ("attr.team", Filters(), False),
    ("feature", Filters(where=(("prompt_template", "p"),)), True),
    ("feature", Filters(where=(("session_id", "s"),)), False),
]


def test_which_reports_the_rollup_answers(report_db):
    with analysis_session(report_db, [FIXTURE_PRICING]) as con:
        for by, filters, expected in COVERED:
            assert covers(con, parse_dimensions(by, filters.tz), filters) is expected, by


def test_a_half_hour_zone_splits_the_hour_before_its_midnight(run, report_db, tmp_path):
    """Asia/Kolkata is UTC+05:30: 18:00-19:00 UTC runs from 23:30 to 00:30 local, so a report
    by day reads the rollup only while no request falls in such an hour."""
    by, filters = parse_dimensions("day", "Asia/Kolkata"), Filters(tz="Asia/Kolkata")
    with analysis_session(report_db, [FIXTURE_PRICING]) as con:
        assert covers(con, by, filters)
    late = tmp_path / "late.jsonl"
    late.write_text(
        '{"request_id": "late", "timestamp": "2026-03-04T18:40:00Z", "provider": "acme", '
        '"model": "acme-small", "feature": "A", "input_tokens": 1000, "output_tokens": 0}\n'
    )
    assert run("ingest", str(late), "--db", report_db).code == 0
    with analysis_session(report_db, [FIXTURE_PRICING]) as con:
        assert not covers(con, by, filters)
        fast, slow, _ = _both(con, by, filters)
        assert fast == slow
