"""simulate self-host against hand-computed values (tests/data/selfhost*.jsonl, acme-pro at $5
per million input and output tokens; the serving file SERVING below).

tiny-8b on test-gpu at fp8: prefill 1,000 and decode 100 tokens/s per GPU, $2 per GPU-hour, so
load (GPUs busy) = input/3,600,000 + output/360,000 in an hour. Three hours, 10:00-12:59 UTC
on 2026-03-03; 11:00 has no request (min_replicas 1, load 0). Target utilisation 0.6.

qa   10:00 q1 1,800,000 in + 72,000 out: load 0.5 + 0.2 = 0.7 -> ceil(0.7/0.6) = 2 GPUs
     11:00 empty -> 1;  12:00 q2 360,000 + 36,000: 0.1 + 0.1 = 0.2 -> 1
     API: q1 1,872,000 x $5/M = $9.36, q2 396,000 x $5/M = $1.98 -> $11.34 (2 requests)
     always on: peak 2 x 3 h x $2 = $12 (utilisation 0.9 / 6 = 0.15); autoscaled: (2+1+1) x $2
     = $8 (0.9 / 4 = 0.225). Break-even: 2 x 24 x $2 = $96 a day / ($11.34 / 2) = 16.93 req/day.
chat 10:00 c1 36,000 + 3,600: 0.01 + 0.01 = 0.02 -> 1; 11:00 -> 1; 12:00 c2 the same -> 1
     API: 2 x 39,600 x $5/M = $0.396. always on = autoscaled: 3 GPU-hours = $6 (0.04 / 3).
     Break-even: $48 a day / $0.198 = 242.42 req/day.
Quality (shadow evals of tiny-8b): qa q1 pass, q2 pass -> 1.0, the API's q1 pass, q2 fail ->
0.5; chat c1 fails -> 0.0 against the API's 1.0 (c2 has no eval): clearly worse.
Verdicts, always on: qa costs more ($12 > $11.34) at utilisation 0.15 < 0.6/2: not enough
volume; chat worse quality: stay on API. Autoscaled: qa saves $3.34: self-host.
Totals: each feature its own deployment: 3 GPUs, $18 (always on), API $11.736, utilisation
0.94 / 9; pass rate 2 of 3 measured units, the API's 2 of 3 evaluated units.
"""

from __future__ import annotations

import pytest

from tests.conftest import DATA, FIXTURE_PRICING

SERVING = """
gpus:
  - {id: test-gpu, price_per_hour: 2.0, source: hand-made, date: 2026-11-30}
models:
  - {id: tiny-8b, gpu: test-gpu, precision: fp8, prefill_tokens_per_s: 1000,
     decode_tokens_per_s: 100}
  - {id: tiny-alias, class: tiny-8b}
"""
QA_API, CHAT_API = 9.36 + 1.98, 2 * 0.198


@pytest.fixture
def selfhost_db(run, db):
    files = (str(DATA / "selfhost.jsonl"), str(DATA / "selfhost_evals.jsonl"))
    assert run("ingest", *files, "--db", db).code == 0
    return db


@pytest.fixture
def serving(tmp_path):
    path = tmp_path / "serving.yaml"
    path.write_text(SERVING, encoding="utf-8")
    return str(path)


def self_host(run, db, serving, *args, model="tiny-8b"):
    result = run("simulate", "self-host", "--model", model, "--serving", serving, *args,
                 "--db", db, "--pricing", FIXTURE_PRICING, "--format", "json")  # fmt: skip
    assert result.code == 0, result.stderr
    data = result.json()
    return {r["feature"]: r for r in data["rows"]}, data["totals"], data


def test_always_on(run, selfhost_db, serving):
    rows, totals, _ = self_host(run, selfhost_db, serving)
    qa, chat = rows["qa"], rows["chat"]
    assert (qa["gpus"], chat["gpus"], totals["gpus"]) == (2, 1, 3)
    assert qa["self_host_cost"] == qa["simulated_cost"] == 12.0
    assert chat["self_host_cost"] == 6.0 and totals["self_host_cost"] == 18.0
    assert qa["api_cost"] == qa["baseline_cost"] == pytest.approx(QA_API)
    assert totals["api_cost"] == pytest.approx(QA_API + CHAT_API)
    assert qa["savings"] == pytest.approx(QA_API - 12)
    assert qa["savings_pct"] == pytest.approx((QA_API - 12) / QA_API)
    assert qa["mean_utilization"] == pytest.approx(0.9 / 6)
    assert chat["mean_utilization"] == pytest.approx(0.04 / 3)
    assert totals["mean_utilization"] == pytest.approx(0.94 / 9)
    assert qa["break_even_requests_per_day"] == pytest.approx(96 / (QA_API / 2))
    assert chat["break_even_requests_per_day"] == pytest.approx(48 / 0.198)
    assert totals["break_even_requests_per_day"] == pytest.approx(144 / ((QA_API + CHAT_API) / 4))
    assert (qa["requests"], qa["requests_per_day"]) == (2, 16)  # 2 requests in 3 hours
    assert (qa["pass_rate"], qa["api_pass_rate"]) == (1.0, 0.5)
    assert (chat["pass_rate"], chat["api_pass_rate"], chat["measured_units"]) == (0.0, 1.0, 1)
    assert totals["pass_rate"] == pytest.approx(2 / 3)
    assert totals["api_pass_rate"] == pytest.approx(2 / 3)
    assert qa["verdict"] == "not enough volume"
    assert chat["verdict"] == "stay on API"  # clearly worse: 0.0 against 1.0
    assert totals["verdict"] == "not enough volume"
    assert list(rows) == ["qa", "chat"]  # the costliest API spend first


def test_autoscaled(run, selfhost_db, serving):
    rows, totals, data = self_host(run, selfhost_db, serving, "--autoscale")
    qa = rows["qa"]
    assert (qa["self_host_cost"], qa["gpus"]) == (8.0, 2)
    assert qa["savings"] == pytest.approx(QA_API - 8)
    assert qa["mean_utilization"] == pytest.approx(0.9 / 4)
    assert qa["verdict"] == "self-host"
    assert totals["self_host_cost"] == 14.0
    assert "autoscaled" in data["assumptions"]["cost"]


def test_well_used_gpus_that_cost_more_stay_on_the_api(run, selfhost_db, serving):
    # target 0.1: qa needs ceil(0.7/0.1) = 7, 1 and ceil(0.2/0.1) = 2 GPUs: $20 autoscaled, at
    # utilisation 0.9/10 = 0.09, over half the target
    rows, _, _ = self_host(run, selfhost_db, serving, "--autoscale", "--target-utilization", "0.1")
    assert (rows["qa"]["gpus"], rows["qa"]["self_host_cost"]) == (7, 20.0)
    assert rows["qa"]["mean_utilization"] == pytest.approx(0.09)
    assert rows["qa"]["verdict"] == "stay on API"


def test_one_deployment_for_everything(run, selfhost_db, serving):
    # no groups: 10:00 0.72 -> 2 GPUs, 11:00 -> 1, 12:00 0.22 -> 1; always on 2 x 3 x $2
    _, totals, data = self_host(run, selfhost_db, serving, "--by", "")
    assert data["rows"] == []
    assert (totals["gpus"], totals["self_host_cost"]) == (2, 12.0)
    assert totals["mean_utilization"] == pytest.approx(0.94 / 6)


def test_fine_tune_amortised(run, selfhost_db, serving):
    # $730 over one month (730 h): $3 in the 3 hours, $24 a day, halved between the features
    # (2 requests each)
    rows, totals, _ = self_host(run, selfhost_db, serving, "--fine-tune-cost", "730",
                                "--amortize-months", "1")  # fmt: skip
    assert rows["qa"]["self_host_cost"] == pytest.approx(13.5)
    assert rows["chat"]["self_host_cost"] == pytest.approx(7.5)
    assert totals["self_host_cost"] == pytest.approx(21.0)
    assert rows["qa"]["break_even_requests_per_day"] == pytest.approx(108 / (QA_API / 2))
    assert rows["chat"]["break_even_requests_per_day"] == pytest.approx(60 / 0.198)


def test_gpu_price_override_and_min_replicas(run, selfhost_db, serving):
    # --min-replicas 0 autoscaled: chat pays only its two busy hours; $1 per GPU-hour
    rows, _, _ = self_host(run, selfhost_db, serving, "--autoscale", "--min-replicas", "0",
                           "--gpu-price", "1")  # fmt: skip
    assert rows["chat"]["self_host_cost"] == 2.0
    assert rows["qa"]["self_host_cost"] == 3.0  # 2 + 0 + 1


def test_assumed_pass_rate(run, selfhost_db, serving):
    # tiny-alias is served as tiny-8b, but no shadow eval names it: 0.9 assumed everywhere;
    # chat's API passed 1.0, so 0.9 is clearly worse; qa's passed 0.5
    rows, totals, data = self_host(run, selfhost_db, serving, "--autoscale",
                                   "--assumed-pass-rate", "0.9", model="tiny-alias")  # fmt: skip
    assert rows["qa"]["pass_rate"] == rows["chat"]["pass_rate"] == totals["pass_rate"] == 0.9
    assert rows["qa"]["measured_units"] == 0
    assert (rows["qa"]["verdict"], rows["chat"]["verdict"]) == ("self-host", "stay on API")
    assumptions = data["assumptions"]
    assert assumptions["quality"].startswith("assumed 90%")
    assert "served as tiny-8b" in assumptions["model"]


def test_unmeasured_quality_is_null_and_warned(run, selfhost_db, serving):
    result = run("simulate", "self-host", "--model", "tiny-alias", "--serving", serving,
                 "--db", selfhost_db, "--pricing", FIXTURE_PRICING, "--format", "json")  # fmt: skip
    assert result.code == 0, result.stderr
    data = result.json()
    assert data["totals"]["pass_rate"] is None
    assert data["assumptions"]["quality"].startswith("unmeasured")
    assert "warning: quality unmeasured" in result.stderr


def test_table_and_csv_show_the_columns(run, selfhost_db, serving, tmp_path):
    result = run("simulate", "self-host", "--model", "tiny-8b", "--serving", serving,
                 "--db", selfhost_db, "--pricing", FIXTURE_PRICING)  # fmt: skip
    assert result.code == 0 and "not enough volume" in result.stdout
    out = tmp_path / "s.csv"
    result = run("simulate", "self-host", "--model", "tiny-8b", "--serving", serving,
                 "--db", selfhost_db, "--pricing", FIXTURE_PRICING, "-o", str(out))  # fmt: skip
    assert result.code == 0, result.stderr
    header = out.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header[:5] == ["feature", "baseline_cost", "simulated_cost", "savings", "savings_pct"]
    assert {"gpus", "mean_utilization", "break_even_requests_per_day", "verdict"} <= set(header)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "nope"], "--model nope: not in the serving table"),
        (["--model", "tiny-8b", "--gpu", "tpu-9"], "--gpu tpu-9: unknown GPU type"),
        (["--model", "tiny-8b", "--precision", "int4"], "no int4 throughput"),
        (["--model", "llama-3.1-8b", "--gpu", "test-gpu"], "no fp8 throughput on test-gpu"),
        (["--model", "tiny-8b", "--target-utilization", "0"], "--target-utilization 0:"),
        (["--model", "tiny-8b", "--target-utilization", "1.5"], "--target-utilization 1.5:"),
        (["--model", "tiny-8b", "--min-replicas", "-1"], "--min-replicas -1: expected 0 or more"),
        (["--model", "tiny-8b", "--amortize-months", "0"], "--amortize-months 0:"),
        (["--model", "tiny-8b", "--assumed-pass-rate", "2"], "--assumed-pass-rate 2:"),
    ],
)
def test_usage_errors(run, selfhost_db, serving, args, message):
    result = run("simulate", "self-host", *args, "--serving", serving, "--db", selfhost_db,
                 "--pricing", FIXTURE_PRICING)  # fmt: skip
    assert result.code == 2
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("gpus: [{id: g, price_per_hour: cheap}]",
         "gpus[0].price_per_hour: expected an amount of USD, 0 or more, got 'cheap'"),
        ("models: [{id: m, gpu: g, precision: fp9, prefill_tokens_per_s: 1, "
         "decode_tokens_per_s: 1}]", "models[0].precision: expected one of bf16, fp8"),
        ("models: [{id: m, gpu: g, precision: fp8, prefill_tokens_per_s: 1}]",
         "models[0].decode_tokens_per_s: expected a positive number of tokens per second, "
         "got nothing"),
        ("models: [{id: m, gpu: g, precision: fp8, prefill_tokens_per_s: 1, "
         "decode_tokens_per_s: 1, speed: 3}]", "models[0]: unknown key 'speed'"),
        ("gpu: []", "unknown key 'gpu' (allowed: as_of, gpus, models)"),
        ("models: {id: m}", "models: expected a list of rows"),
        ("gpus: [{id: g, price_per_hour: 1}, {id: G, price_per_hour: 2}]", "a second gpu id g"),
        ("models: [{id: m, gpu: g, precision: fp8, prefill_tokens_per_s: 1, "
         "decode_tokens_per_s: 1, gpus_per_replica: 0}]", "models[0].gpus_per_replica"),
        ("gpus: [unclosed", "not valid YAML line"),
        ("- a list", "expected a mapping with gpus: and models: lists"),
    ],
)  # fmt: skip
def test_bad_serving_file(run, selfhost_db, tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    result = run("simulate", "self-host", "--model", "llama-3.1-8b", "--serving", str(path),
                 "--db", selfhost_db, "--pricing", FIXTURE_PRICING)  # fmt: skip
    assert result.code == 2, result.stderr
    assert f"{path}: " in result.stderr and message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_missing_serving_file(run, selfhost_db, tmp_path):
    missing = str(tmp_path / "none.yaml")
    result = run("simulate", "self-host", "--model", "8b", "--serving", missing,
                 "--db", selfhost_db)  # fmt: skip
    assert result.code == 2 and f"{missing}: serving file not found" in result.stderr


def test_empty_scope_is_nothing_to_simulate(run, selfhost_db, serving):
    result = run("simulate", "self-host", "--model", "tiny-8b", "--serving", serving,
                 "--since", "2027-01-01", "--db", selfhost_db, "--format", "json")  # fmt: skip
    assert result.code == 0, result.stderr
    assert "no request in scope" in result.stderr
    totals = result.json()["totals"]
    assert (totals["baseline_cost"], totals["simulated_cost"]) == (0.0, 0.0)


def test_shipped_table_names_a_source_and_date_for_every_figure():
    from costops.analysis.simulate.serving import load_serving

    table = load_serving(None)
    assert table.as_of and table.gpus and table.rows
    for item in (*table.gpus, *table.rows):
        assert item.source and item.source.startswith("https://"), item
        assert item.date, item
    for model in table.classes:
        table.pick(model, None, "fp8")  # every named model is served by a shipped row


def test_shipped_table_on_the_demo_month(run, demo_store):
    # the demo month is far too little traffic for a dedicated GPU
    db, _ = demo_store
    result = run("simulate", "self-host", "--model", "llama-3.1-8b", "--db", db, "--format",
                 "json")  # fmt: skip
    assert result.code == 0, result.stderr
    data = result.json()
    assert data["totals"]["verdict"] == "not enough volume"
    assert data["assumptions"]["gpu_price"].startswith("$3.99 per GPU-hour")
    assert "shipped serving table" in data["assumptions"]["model"]


def test_plan_shows_self_host_beside_the_waterfall(run, selfhost_db, serving):
    """The fixture's traffic has no prefix, evals or batchable feature: no lever saves, so the
    plan ends at the API cost, and self-hosting ($18 always on, 3 GPUs) costs $18 - $11.736
    more than either."""
    result = run("simulate", "plan", "--self-host", "tiny-8b", "--serving", serving,
                 "--db", selfhost_db, "--pricing", FIXTURE_PRICING, "--format", "json")  # fmt: skip
    assert result.code == 0, result.stderr
    data = result.json()
    (beside,) = data["alternatives"]
    api = QA_API + CHAT_API
    assert beside["alternative"] == "self-host tiny-8b"
    assert (beside["self_host_cost"], beside["gpus"]) == (18.0, 3)
    assert beside["api_cost"] == pytest.approx(api)
    assert beside["after_levers"] == pytest.approx(data["totals"]["simulated_cost"])
    assert beside["against_levers"] == pytest.approx(data["totals"]["simulated_cost"] - 18)
    assert all(step["step"] != "self-host" for step in data["steps"])  # never stacked
    assert "self-host" in data["assumptions"]


def test_autoscaled_break_even_counts_the_gpu_hours_paid(run, selfhost_db, serving):
    """Autoscaled, qa pays (2 + 1 + 1) GPU-hours in 3 hours: 32 a day, x $2 = $64 a day, over
    $5.67 a request = 11.29 requests a day, under its 16 (it saves: self-host)."""
    rows, _, _ = self_host(run, selfhost_db, serving, "--autoscale")
    qa = rows["qa"]
    assert qa["break_even_requests_per_day"] == pytest.approx(64 / (QA_API / 2))
    assert qa["requests_per_day"] == 16 and qa["verdict"] == "self-host"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--by", "day"], "a deployment runs the whole period"),
        (["--target-utilization", "1e-320"], "too large to compute"),
        (["--model", "nope", "--since", "2027-01-01"], "nope"),
        (["--target-utilization", "7", "--since", "2027-01-01"], "--target-utilization"),
    ],
)
def test_refused_in_one_line(run, selfhost_db, serving, args, message):
    base = ["simulate", "self-host", "--model", "tiny-8b", "--serving", serving]
    result = run(*base, *args, "--db", selfhost_db, "--pricing", FIXTURE_PRICING)
    assert result.code == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_serving_file_that_is_not_text(run, selfhost_db, tmp_path):
    bad = tmp_path / "serving.yaml"
    bad.write_bytes(b"gpus: \xff\xfe\n")
    result = run("simulate", "self-host", "--model", "tiny-8b", "--serving", str(bad),
                 "--db", selfhost_db)  # fmt: skip
    assert result.code == 2 and "not UTF-8" in result.stderr


def test_unpriced_requests_are_said_and_left_out_of_the_cost_per_request(run, selfhost_db,
                                                                          serving):  # fmt: skip
    """Without the fixture's pricing, acme-pro is unknown: every request is unpriced."""
    result = run("simulate", "self-host", "--model", "tiny-8b", "--serving", serving,
                 "--db", selfhost_db, "--format", "json")  # fmt: skip
    assert result.code == 0, result.stderr
    assert "4 requests in scope are unpriced" in result.stderr
    assert result.json()["totals"]["break_even_requests_per_day"] is None
