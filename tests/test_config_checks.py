"""costops.yaml: every value type-checked, `latency_slo_ms` and `cascade:` put to work.

Prices from tests/data/pricing/acme.yaml, traffic from tests/data/levers.jsonl:
  qa       10 units of 1M input tokens on acme-pro ($5.00/MTok): $50.00. acme-lite ($0.50) passes
           7 of the 10 in shadow evals, so 3 escalate:
           route   7 x $0.50 + 3 x $5.00 = $18.50      cascade 10 x $0.50 + 3 x $5.00 = $20.00
  nightly  eu1, 100k input on acme-large ($3.00) with the eu uplift 1.1: 0.1 x 3 x 1.1 = $0.33;
           at the batch rate (x 0.5, uplift still applied) $0.165, a saving of $0.165.
The batch window is 24 h = 24 x 60 x 60 x 1,000 = 86,400,000 ms: an SLO of 86,400,000 ms can
wait for a batch, 86,399,999 ms cannot.
"""

from __future__ import annotations

import pytest

from tests.conftest import DATA, FIXTURE_PRICING
from tests.test_simulate import simulate

WINDOW_MS = 86_400_000


@pytest.fixture
def levers_db(run, db):
    files = (str(DATA / "levers.jsonl"), str(DATA / "levers_evals.jsonl"))
    assert run("ingest", *files, "--db", db).code == 0
    return db


@pytest.fixture
def config(tmp_path):
    """Write ./costops.yaml (the tests run in tmp_path, where costops looks for it)."""

    def write(text: str) -> None:
        (tmp_path / "costops.yaml").write_text(text, encoding="utf-8")

    return write


def simulate_error(run, db, *args) -> str:
    result = run("simulate", *args, "--db", db, "--pricing", FIXTURE_PRICING)
    assert result.code == 2, result.stderr
    return result.stderr.strip()


# --- every value type-checked ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        # the two: a quoted "false" and a word are strings, not YAML booleans
        ('features:\n  translate: {batchable: "false"}\n',
         "features.translate.batchable: expected true or false, got the string 'false'"),
        ("features:\n  translate: {batchable: yes-please}\n",
         "features.translate.batchable: expected true or false, got the string 'yes-please'"),
        ("features:\n  translate: {batchable: 1}\n",
         "features.translate.batchable: expected true or false, got the number 1"),
        ('features:\n  chat: {latency_slo_ms: "2000"}\n',
         "features.chat.latency_slo_ms: expected a positive number of milliseconds, "
         "got the string '2000'"),
        ("features:\n  chat: {latency_slo_ms: 0}\n",
         "features.chat.latency_slo_ms: expected a positive number of milliseconds, "
         "got the number 0"),
        ("features:\n  chat: {latency_slo_ms: .nan}\n",
         "features.chat.latency_slo_ms: expected a positive number of milliseconds, "
         "got the number nan"),
        ("features:\n  chat: {latency_slo_ms: true}\n",
         "features.chat.latency_slo_ms: expected a positive number of milliseconds, got true"),
        ("features:\n  chat: {description: 42}\n",
         "features.chat.description: expected a string, got the number 42"),
        ("features:\n  chat: {description: 2026-03-01}\n",
         "features.chat.description: expected a string, got a date"),
        ("features: [chat, search]\n", "features: expected a mapping, got a list"),
        ("features:\n  chat:\n", "features.chat: expected a mapping, got null"),
        ("features:\n  on: {batchable: true}\n",
         "features: names are strings, got true (quote it)"),
        ('features:\n  "night shift": {batchable: "no"}\n',
         "features['night shift'].batchable: expected true or false, got the string 'no'"),
        ("budgets: {}\n", "budgets: expected a list, got a mapping"),
        ('budgets:\n  - {per: day, max_cost: "5"}\n',
         "budgets[0].max_cost: expected a number, got the string '5'"),
        ("budgets:\n  - {per: day, max_cost: true}\n",
         "budgets[0].max_cost: expected a number, got true"),
        ("budgets:\n  - {per: task, max_tokens: 1.5}\n",
         "budgets[0].max_tokens: expected a whole number, got the number 1.5"),
        ("budgets:\n  - {per: day, max_cost: 1, name: [a]}\n",
         "budgets[0].name: expected a string, got a list"),
        ("budgets:\n  - {per: day, max_cost: 1, where: {customer: 42}}\n",
         "budgets[0].where.customer: expected a string, got the number 42"),
        ("budgets:\n  - {per: day, max_cost: 1, where: feature=chat}\n",
         "budgets[0].where: expected a mapping, got the string 'feature=chat'"),
        ("budgets:\n  - daily\n", "budgets[0]: expected a mapping, got the string 'daily'"),
        ("cascade: {from: acme-pro, to: acme-lite}\n", "cascade: expected a list, got a mapping"),
        ("cascade:\n  - {from: acme-pro, to: 5}\n",
         "cascade[0].to: expected a non-empty string, got the number 5"),
        ('cascade:\n  - {from: " ", to: acme-lite}\n',
         "cascade[0].from: expected a non-empty string, got the string ' '"),
        ("cascade:\n  - {from: acme-pro}\n", "cascade[0]: needs to (a model each)"),
        ("cascade:\n  - {form: acme-pro, to: acme-lite}\n",
         "cascade[0]: unknown key 'form' (allowed: from, to)"),
        ("cascade:\n  - {from: acme-pro, to: ACME-PRO}\n",
         "cascade[0]: from and to name the same model"),
    ],
)  # fmt: skip
def test_a_value_of_the_wrong_type_is_one_line_naming_file_key_and_expectation(
    run, tmp_path, config, text, problem
):
    config(text)
    (tmp_path / "empty.jsonl").write_text("")
    result = run("ingest", "empty.jsonl", "--db", str(tmp_path / "x.duckdb"))
    assert result.code == 2, result.stderr
    assert result.stderr.strip() == f"costops: error: costops.yaml: {problem}"


def test_an_explicit_config_file_is_named_in_the_error(run, tmp_path):
    (tmp_path / "team.yaml").write_text('features:\n  translate: {batchable: "false"}\n')
    (tmp_path / "empty.jsonl").write_text("")
    result = run("ingest", "empty.jsonl", "--config", str(tmp_path / "team.yaml"),
                 "--db", str(tmp_path / "x.duckdb"))  # fmt: skip
    assert result.code == 2
    assert result.stderr.strip() == (
        f"costops: error: {tmp_path / 'team.yaml'}: features.translate.batchable: "
        "expected true or false, got the string 'false'"
    )


def test_a_quoted_false_no_longer_batches_the_feature(run, levers_db, config):
    # before: the string "false" was truthy, so translate/nightly were re-priced at batch rates
    config('features:\n  nightly: {batchable: "false"}\n')
    stderr = simulate_error(run, levers_db, "batch")
    assert "features.nightly.batchable: expected true or false" in stderr


def test_well_typed_config_loads(run, levers_db, config):
    config(
        "features:\n"
        "  nightly: {batchable: true, latency_slo_ms: 86400000, description: overnight}\n"
        "  qa: {batchable: false, latency_slo_ms: 1500.5}\n"
        "budgets:\n"
        "  - {name: daily, per: day, by: feature, max_cost: 40, where: {feature: qa}}\n"
        "  - {per: task, max_tokens: 400000}\n"
        "cascade:\n  - {from: acme-pro, to: acme-lite}\n"
    )
    data = simulate(run, levers_db, "batch")
    assert data["totals"]["savings"] == pytest.approx(0.165)  # nightly only: qa is not batchable


# --- latency_slo_ms: a feature that cannot wait 24 h is not batched -------------------------


@pytest.mark.parametrize(
    ("slo", "savings", "eligible"),
    [
        (WINDOW_MS, 0.165, 1),  # exactly the window: the batch finishes in time
        (WINDOW_MS - 1, 0.0, 0),  # a millisecond under: excluded
        (2_000, 0.0, 0),
    ],
)
def test_a_latency_slo_under_the_batch_window_excludes_the_feature(
    run, levers_db, config, slo, savings, eligible
):
    config(f"features:\n  nightly: {{batchable: true, latency_slo_ms: {slo}}}\n")
    data = simulate(run, levers_db, "batch", "--where", "feature=nightly")
    totals = data["totals"]
    assert totals["baseline_cost"] == pytest.approx(0.33)
    assert totals["savings"] == pytest.approx(savings)
    assert totals["simulated_cost"] == pytest.approx(0.33 - savings)
    assert totals["eligible_requests"] == eligible
    if eligible:
        assert "excluded" not in data["assumptions"] and not data.get("warnings")
    else:
        shown = f"nightly ({slo:,} ms)"
        assert data["assumptions"]["excluded"] == (
            f"{shown}: latency SLO under the 24-hour batch window"
        )
        assert data["assumptions"]["eligible"].startswith("none")
        assert data["warnings"] == [
            f"not batched: {shown}: a latency SLO under the 24-hour batch window "
            "(latency_slo_ms in costops.yaml)"
        ]
        assert f"warning: not batched: {shown}" in data["stderr"]


def test_features_named_on_the_command_line_still_honour_their_slo(run, levers_db, config):
    config("features:\n  qa: {latency_slo_ms: 2000}\n")
    data = simulate(run, levers_db, "batch", "--features", "qa,nightly")
    totals = data["totals"]
    # qa ($50, interactive) stays as it is; nightly moves: $0.33 -> $0.165
    assert totals["savings"] == pytest.approx(0.165)
    assert totals["eligible_requests"] == 1
    assert data["assumptions"]["eligible"] == "features nightly, requests not already batched"
    assert data["assumptions"]["excluded"].startswith("qa (2,000 ms)")


def test_a_plan_carries_the_slo_exclusion_into_its_batch_step(run, levers_db, config):
    config("features:\n  qa: {batchable: true, latency_slo_ms: 2000}\n")
    data = simulate(run, levers_db, "plan", "--from", "acme-pro", "--to", "acme-lite",
                    "--mode", "route", "--where", "feature=qa")  # fmt: skip
    steps = {s["step"]: s for s in data["steps"]}
    # cascade $50 -> $18.50; batch would halve that to $9.25, but qa cannot wait: $18.50 stays
    assert steps["cascade"]["cost_after"] == pytest.approx(18.5)
    assert steps["batch"]["savings"] == pytest.approx(0.0)
    assert data["totals"]["simulated_cost"] == pytest.approx(18.5)
    assert any(w.startswith("not batched: qa (2,000 ms)") for w in data["warnings"])


# --- cascade: pairs as simulate cascade's defaults ------------------------------------------


@pytest.mark.parametrize(("mode", "simulated"), [("route", 18.5), ("cascade", 20.0)])
def test_a_configured_pair_is_the_default_from_and_to(run, levers_db, config, mode, simulated):
    config("cascade:\n  - {from: acme-pro, to: acme-lite}\n")
    data = simulate(run, levers_db, "cascade", "--mode", mode, "--where", "feature=qa")
    totals = data["totals"]
    assert totals["baseline_cost"] == pytest.approx(50.0)
    assert totals["simulated_cost"] == pytest.approx(simulated)
    assert totals["escalation_rate"] == pytest.approx(0.3)
    assumptions = data["assumptions"]
    assert (assumptions["from"], assumptions["to"]) == ("acme-pro", "acme-lite")
    assert assumptions["pair"] == "from costops.yaml: cascade[0]"


def test_command_line_models_win_over_the_config(run, levers_db, config):
    config("cascade:\n  - {from: acme-pro, to: acme-tiny}\n")
    data = simulate(run, levers_db, "cascade", "--from", "acme-pro", "--to", "acme-lite",
                    "--mode", "route", "--where", "feature=qa")  # fmt: skip
    assert data["totals"]["simulated_cost"] == pytest.approx(18.5)
    assert data["assumptions"]["to"] == "acme-lite" and "pair" not in data["assumptions"]


TWO_PAIRS = (
    "cascade:\n  - {from: acme-pro, to: acme-lite}\n  - {from: acme-large, to: acme-small}\n"
)


def test_several_pairs_need_from_to_pick_one(run, levers_db, config):
    config(TWO_PAIRS)
    assert simulate_error(run, levers_db, "cascade", "--escalation-rate", "0.3") == (
        "costops: error: cascade: 2 cascade pairs in costops.yaml fit "
        "(acme-pro -> acme-lite; acme-large -> acme-small): pass --from and --to"
    )
    # --from alone (any case) picks the pair that starts there
    data = simulate(run, levers_db, "cascade", "--from", "ACME-PRO", "--mode", "route",
                    "--where", "feature=qa")  # fmt: skip
    assert data["totals"]["simulated_cost"] == pytest.approx(18.5)
    assert data["assumptions"]["pair"] == "from costops.yaml: cascade[0]"


def test_a_half_pair_no_configured_pair_fits_is_a_usage_error(run, levers_db, config):
    config(TWO_PAIRS)
    assert simulate_error(run, levers_db, "cascade", "--to", "acme-tiny") == (
        "costops: error: cascade: no cascade pair in costops.yaml has --to acme-tiny: "
        "pass --from MODEL and --to MODEL"
    )


def test_no_pair_anywhere_is_a_usage_error_that_mentions_the_config(run, levers_db):
    assert simulate_error(run, levers_db, "cascade") == (
        "costops: error: cascade: --from MODEL and --to MODEL are required "
        "(or a `cascade:` pair in costops.yaml)"
    )


def test_a_plan_uses_the_configured_pair(run, levers_db, config):
    config("cascade:\n  - {from: acme-pro, to: acme-lite}\n")
    data = simulate(run, levers_db, "plan", "--mode", "route", "--where", "feature=qa")
    steps = {s["step"]: s for s in data["steps"]}
    assert steps["cascade"]["cost_before"] == pytest.approx(50.0)
    assert steps["cascade"]["cost_after"] == pytest.approx(18.5)
    assert data["totals"]["simulated_cost"] == pytest.approx(18.5)  # batch, output skipped
    assert data["assumptions"]["cascade"]["pair"] == "from costops.yaml: cascade[0]"


def test_a_plan_skips_cascade_when_several_pairs_fit(run, levers_db, config):
    config(TWO_PAIRS)
    data = simulate(run, levers_db, "plan", "--where", "feature=qa")
    (cascade,) = [s for s in data["steps"] if s["step"] == "cascade"]
    assert cascade["skipped"].startswith("2 cascade pairs in costops.yaml fit")


def test_a_plan_skips_a_configured_pair_it_cannot_measure(run, levers_db, config):
    # qa2 has no shadow evals of acme-lite: alone, cascade needs --escalation-rate (exit 2);
    # in a plan (and so in the dashboard) the pair nobody named is skipped, the rest still runs
    config("cascade:\n  - {from: acme-pro, to: acme-lite}\n")
    assert "pass --escalation-rate R" in simulate_error(run, levers_db, "cascade",
                                                        "--where", "feature=qa2")  # fmt: skip
    data = simulate(run, levers_db, "plan", "--where", "feature=qa2")
    (cascade,) = [s for s in data["steps"] if s["step"] == "cascade"]
    assert cascade["skipped"] == (
        "no shadow evals of acme-lite to measure escalation: pass --escalation-rate R "
        "(pair from costops.yaml)"
    )
    assert data["totals"]["simulated_cost"] == pytest.approx(50.0)
    # with an assumed rate, the same plan routes 70 % to $0.50: 7 x 0.5 + 3 x 5 = $18.50
    data = simulate(run, levers_db, "plan", "--where", "feature=qa2", "--mode", "route",
                    "--escalation-rate", "0.3")  # fmt: skip
    assert data["totals"]["simulated_cost"] == pytest.approx(18.5)
