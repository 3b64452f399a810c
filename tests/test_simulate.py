"""What-if simulations against hand-computed values (tests/data/pricing/acme.yaml).

acme-large (2026-03-02): input 3.00, cache read 0.30, 5m write 3.75, 1h write 6.00, min 1024.
caching.jsonl, all with output 0:
  w1 prefix pA (2,000 of 3,000 tokens): a1 t=0, a2 t=300 (gap = TTL: a hit), a3 t=600 (the hit
  refreshed the TTL: a hit), a4 t=901 (gap 301: a write under 5m, a hit under 1h)
  w2 prefix pA: b1 t=60 — another workspace never shares w1's cache: a write
  w3: c1, c2 prefix of 800 tokens (below the 1,024 minimum) and d1 with no prefix: not cacheable
Per request: uncached 3,000 x 3 = $0.009; 5m write 2,000 x 3.75 + 1,000 x 3 = $0.0105;
1h write 2,000 x 6 + 3,000 = $0.015; read 2,000 x 0.30 + 3,000 = $0.0036; c/d $0.003 each.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import DATA, FIXTURE_PRICING


@pytest.fixture
def caching_db(run, db):
    assert run("ingest", str(DATA / "caching.jsonl"), "--db", db).code == 0
    return db


@pytest.fixture
def levers_db(run, db):
    files = (str(DATA / "levers.jsonl"), str(DATA / "levers_evals.jsonl"))
    assert run("ingest", *files, "--db", db).code == 0
    return db


def simulate(run, db, *args):
    result = run("simulate", *args, "--db", db, "--pricing", FIXTURE_PRICING, "--format", "json")
    assert result.code == 0, result.stderr
    data = result.json()
    data["stderr"] = result.stderr
    return data


BASELINE = 5 * 0.009 + 3 * 0.003


@pytest.mark.parametrize(
    ("ttl", "simulated", "reads", "writes"),
    [
        # a1 w, a2 r, a3 r, a4 w; b1 w
        ("5m", 2 * 0.0105 + 2 * 0.0036 + 0.0105 + 0.009, 2, 3),
        # a1 w(1h), a2-a4 r; b1 w(1h)
        ("1h", 0.015 + 3 * 0.0036 + 0.015 + 0.009, 3, 2),
        # per prefix group the cheaper TTL: w1 pA 1h ($0.0258 < $0.0282), w2 pA 5m
        ("best", 0.015 + 3 * 0.0036 + 0.0105 + 0.009, 3, 2),
    ],
)
def test_caching_ttl_simulation(run, caching_db, ttl, simulated, reads, writes):
    totals = simulate(run, caching_db, "caching", "--ttl", ttl)["totals"]
    assert totals["baseline_cost"] == pytest.approx(BASELINE)
    assert totals["simulated_cost"] == pytest.approx(simulated)
    assert totals["savings"] == pytest.approx(BASELINE - simulated)
    assert (totals["reads"], totals["writes"], totals["cacheable_requests"]) == (reads, writes, 5)
    assert totals["hit_rate"] == pytest.approx(reads / 5)
    assert totals["no_prefix_requests"] == 1 and totals["below_minimum_requests"] == 2
    # every repeat a hit, written at the 5m rate: a1 w + 3 reads, b1 w
    assert totals["ceiling_cost"] == pytest.approx(0.0105 + 3 * 0.0036 + 0.0105 + 0.009)


@pytest.mark.parametrize(("ttl", "break_even"), [("5m", 0.75 / 2.7), ("1h", 3.0 / 2.7)])
def test_marginal_break_even(run, caching_db, ttl, break_even):
    # (write - base) / (base - read): 0.28 for 1.25x writes, 1.11 for 2x, reads at 0.1x
    rows = simulate(run, caching_db, "caching", "--ttl", ttl, "--by", "workspace")["rows"]
    w1 = next(r for r in rows if r["workspace"] == "w1")
    assert w1["break_even_reads"] == pytest.approx(break_even)
    assert round(break_even, 2) == {"5m": 0.28, "1h": 1.11}[ttl]


def test_caching_verdicts_per_group(run, caching_db):
    rows = {
        r["workspace"]: r for r in simulate(run, caching_db, "caching", "--by", "workspace")["rows"]
    }
    assert rows["w1"]["verdict"] == "cache"  # 4 x $0.009 → $0.0282
    assert rows["w2"]["verdict"] == "don't cache"  # one write and no read costs more
    assert rows["w3"]["verdict"] == "no data"
    assert rows["w2"]["savings"] == pytest.approx(0.009 - 0.0105)


def test_actual_caching_is_the_baseline_and_its_hit_rate_is_shown(run, db, tmp_path):
    lines = (DATA / "caching.jsonl").read_text().splitlines()
    # a2 and a3 really read the prefix from the cache; a1 really wrote it
    lines[0] = lines[0].replace(
        '"output_tokens": 0', '"output_tokens": 0, "cache_write_5m_tokens": 2000'
    )
    for i in (1, 2):
        lines[i] = lines[i].replace(
            '"output_tokens": 0', '"output_tokens": 0, "cache_read_tokens": 2000'
        )
    (tmp_path / "c.jsonl").write_text("\n".join(lines) + "\n")
    run("ingest", str(tmp_path / "c.jsonl"), "--db", db)
    rows = {r["workspace"]: r for r in simulate(run, db, "caching", "--by", "workspace")["rows"]}
    w1 = rows["w1"]
    assert w1["baseline_cost"] == pytest.approx(0.0105 + 2 * 0.0036 + 0.009)
    assert w1["actual_hit_rate"] == pytest.approx(0.5) and w1["hit_rate"] == pytest.approx(0.5)


def test_batch_with_regional_uplift_is_a_net_45_percent_discount(run, levers_db):
    data = simulate(run, levers_db, "batch", "--features", "nightly", "--where", "feature=nightly")
    totals = data["totals"]
    # list 100k x 3.00 = $0.30; with the eu uplift $0.33; batch 0.30 x 0.5 x 1.1 = $0.165
    assert totals["baseline_cost"] == pytest.approx(0.33)
    assert totals["simulated_cost"] == pytest.approx(0.165)
    assert totals["simulated_cost"] / 0.30 == pytest.approx(0.55)  # net -45 % of list
    assert totals["eligible_share"] == pytest.approx(1.0)
    assert "24 hours" in data["assumptions"]["window"]


def test_batch_needs_features(run, levers_db):
    result = run("simulate", "batch", "--db", levers_db)
    assert result.code == 2 and "--features" in result.stderr


# 10 units of 1M tokens on acme-pro ($5.00): $50. acme-lite ($0.50) passes 7 of 10 (shadow evals).
@pytest.mark.parametrize(
    ("mode", "simulated"),
    [
        ("route", 7 * 0.5 + 3 * 5.0),  # $18.50: saves 63 %
        ("cascade", 10 * 0.5 + 3 * 5.0),  # $20.00: saves 60 %
    ],
)
def test_cascade_measured_from_shadow_evals(run, levers_db, mode, simulated):
    data = simulate(run, levers_db, "cascade", "--from", "acme-pro", "--to", "acme-lite",
                    "--mode", mode, "--where", "feature=qa")  # fmt: skip
    totals = data["totals"]
    assert totals["baseline_cost"] == pytest.approx(50.0)
    assert totals["simulated_cost"] == pytest.approx(simulated)
    assert totals["savings_pct"] == pytest.approx({"route": 0.63, "cascade": 0.60}[mode])
    assert totals["escalation_rate"] == pytest.approx(0.3)
    assert (totals["measured_units"], totals["in_scope_units"]) == (10, 10)
    assert totals["pass_rate_before"] == 1.0 and totals["pass_rate_after"] == 1.0
    assert totals["cost_per_success_before"] == pytest.approx(5.0)
    assert totals["cost_per_success_after"] == pytest.approx(simulated / 10)
    assert (
        "measured from shadow evals of acme-lite on 10 of 10 units"
        in data["assumptions"]["escalation"]
    )


@pytest.mark.parametrize(("mode", "simulated"), [("route", 18.5), ("cascade", 20.0)])
def test_cascade_with_an_assumed_escalation_rate(run, levers_db, mode, simulated):
    data = simulate(
        run,
        levers_db,
        "cascade",
        "--from",
        "acme-pro",
        "--to",
        "acme-lite",
        "--mode",
        mode,
        "--escalation-rate",
        "0.3",
        "--where",
        "feature=qa2",
    )
    assert data["totals"]["simulated_cost"] == pytest.approx(simulated)
    assert data["assumptions"]["escalation"].startswith("assumed 30%")


def test_cascade_warns_above_30_percent_escalation(run, levers_db):
    data = simulate(run, levers_db, "cascade", "--from", "acme-pro", "--to", "acme-lite",
                    "--escalation-rate", "0.4", "--where", "feature=qa2")  # fmt: skip
    assert "too small for this work" in data["stderr"] and data["warnings"]


def test_cascade_without_shadow_evals_or_rate_is_a_usage_error(run, levers_db):
    result = run(
        "simulate",
        "cascade",
        "--from",
        "acme-pro",
        "--to",
        "acme-lite",
        "--where",
        "feature=qa2",
        "--db",
        levers_db,
        "--pricing",
        FIXTURE_PRICING,
    )
    assert result.code == 2 and "--escalation-rate" in result.stderr


# writer: outputs 1,000 (truncated), 500, 100 at acme-small's $4.00 output: $0.0064
@pytest.mark.parametrize(
    ("args", "simulated", "cut"),
    [
        ((), 1600 * 4e-6, None),
        (("--cap", "400"), 900 * 4e-6, 2),  # 400 + 400 + 100
        (("--trim", "50"), 800 * 4e-6, None),  # 500 + 250 + 50
        (("--trim", "50", "--cap", "300"), 600 * 4e-6, 1),  # 300 + 250 + 50
    ],
)
def test_output_trim_and_cap(run, levers_db, args, simulated, cut):
    totals = simulate(run, levers_db, "output", *args, "--where", "feature=writer")["totals"]
    assert totals["baseline_cost"] == pytest.approx(1600 * 4e-6)
    assert totals["simulated_cost"] == pytest.approx(simulated)
    assert totals["outputs_cut"] == cut
    assert totals["truncation_rate"] == pytest.approx(1 / 3)
    assert totals["p50_output_tokens"] == 500 and totals["max_output_tokens"] == 1000
    assert totals["output_share"] == pytest.approx(1.0)


def test_plan_stacks_levers_without_double_counting(run, levers_db):
    args = ("--from", "acme-pro", "--to", "acme-lite", "--mode", "route", "--features", "qa",
            "--where", "feature=qa")  # fmt: skip
    data = simulate(run, levers_db, "plan", *args)
    steps = {s["step"]: s for s in data["steps"]}
    assert "skipped" in steps["output"]  # no --trim or --cap
    cascade, batch = steps["cascade"], steps["batch"]
    # each step starts from what the previous left, and equals that lever alone on it
    assert cascade["cost_before"] == pytest.approx(50.0)
    assert cascade["cost_after"] == pytest.approx(18.5)
    assert batch["cost_before"] == pytest.approx(18.5)
    assert batch["cost_after"] == pytest.approx(18.5 * 0.5)  # all routed units batched
    residual = 1.0
    for step in data["steps"]:
        if "savings" in step:
            residual *= step["cost_after"] / step["cost_before"]
    assert data["totals"]["simulated_cost"] == pytest.approx(50.0 * residual)
    assert data["totals"]["savings"] == pytest.approx(50.0 - 9.25)
    alone = simulate(run, levers_db, "cascade", *args[:6], "--where", "feature=qa")["totals"]
    assert cascade["savings"] == pytest.approx(alone["savings"])


def test_plan_order_is_configurable_and_validated(run, levers_db):
    data = simulate(run, levers_db, "plan", "--order", "batch,cascade", "--from", "acme-pro",
                    "--to", "acme-lite", "--mode", "route", "--features", "qa",
                    "--where", "feature=qa")  # fmt: skip
    assert [s["step"] for s in data["steps"]] == ["batch", "cascade"]
    assert data["totals"]["simulated_cost"] == pytest.approx(9.25)  # same end, other order
    result = run("simulate", "plan", "--order", "batch,magic", "--db", levers_db)
    assert result.code == 2


STORAGE_TABLE = """\
provider: store
models:
  - id: held
    min_cacheable_tokens: 1024
    versions:
      - effective_from: 2026-01-01
        input: 1.00
        output: 1.00
        cache_read: 0.10
        cache_write_5m: 1.25
        cache_storage_per_mtok_hour: 4.50
"""


def test_caching_bills_cache_storage_where_the_provider_does(run, db, tmp_path):
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "store.yaml").write_text(STORAGE_TABLE)
    logs = tmp_path / "held.jsonl"
    logs.write_text("".join(
        json.dumps({"request_id": f"h{i}", "timestamp": f"2026-03-10T10:0{i}:00Z",
                    "provider": "store", "model": "held", "feature": "F", "prefix_hash": "p1",
                    "prefix_tokens": 100_000, "input_tokens": 200_000, "output_tokens": 0})
        + "\n" for i in range(3)
    ))  # fmt: skip
    assert run("ingest", str(logs), "--db", db).code == 0
    out = run("simulate", "caching", "--db", db, "--pricing", str(tmp_path / "store"),
              "--format", "json").json()  # fmt: skip
    totals = out["totals"]
    # baseline 3 x 200k x $1.00; simulated: a write (100k x 1.25 + 100k x 1.00) and two reads
    # (100k x 0.10 + 100k x 1.00 each) = 0.225 + 0.22; storage: 0.1M tokens held from 10:00 to
    # 10:02 plus the 5-minute TTL = 7 minutes x $4.50 per million per hour = 0.0525
    assert totals["baseline_cost"] == pytest.approx(0.60)
    assert totals["storage_cost"] == pytest.approx(0.0525)
    assert totals["simulated_cost"] == pytest.approx(0.445 + 0.0525)
