"""Off-peak windows (time-zone aware, wrapping midnight), per-request fees and explicit batch
rates, each with hand-computed costs. Every request: 1M input and 100k output tokens."""

from __future__ import annotations

import json

import pytest

TABLE = """\
provider: rules
models:
  - id: offpeak
    versions:
      - effective_from: 2026-01-01
        input: 2.00
        output: 8.00
        time_of_day: {from: "16:30", to: "00:30", timezone: UTC, multiplier: 0.5}
  - id: ny-offpeak
    versions:
      - effective_from: 2026-01-01
        input: 2.00
        output: 8.00
        time_of_day: {from: "22:00", to: "06:00", timezone: America/New_York, multiplier: 0.25}
  - id: peak
    versions:
      - effective_from: 2026-01-01
        input: 1.00
        output: 1.00
        cache_read: 0.10
        time_of_day:                # two peak windows with their own rates (as DeepSeek)
          - {from: "01:00", to: "04:00", input: 2.00, output: 3.00}
          - {from: "06:00", to: "10:00", input: 4.00}
  - id: lc272
    versions:
      - effective_from: 2026-01-01
        input: 2.50
        output: 15.00
        cache_read: 0.25
        long_context: {above_input_tokens: 272000, input: 5.00, output: 22.50}
  - id: fee
    versions:
      - effective_from: 2026-01-01
        input: 1.00
        output: 1.00
        per_request: 0.005
  - id: batchy
    versions:
      - effective_from: 2026-01-01
        input: 3.00
        output: 15.00
        cache_read: 0.30
        batch_multiplier: 0.5
        batch_rates: {input: 1.20, output: 6.00}
"""

CONTRACT = """\
contract: rules-agreement
terms:
  - {provider: rules, model: fee, effective_from: 2026-03-11, discount: 0.10}
"""

# (request, model, UTC time, extra fields, expected USD)
CASES = [
    # 2.00 + 0.80 = 2.80 at list; half inside 16:30-00:30 UTC
    ("o1", "offpeak", "2026-03-10T17:00:00Z", {}, 1.40),
    ("o2", "offpeak", "2026-03-10T12:00:00Z", {}, 2.80),
    ("o3", "offpeak", "2026-03-10T00:15:00Z", {}, 1.40),  # the window wraps midnight
    ("o4", "offpeak", "2026-03-10T00:30:00Z", {}, 2.80),  # its end is exclusive
    # New York is on EDT (UTC-4) from 2026-03-08: 04:00Z is midnight there, 12:00Z is 08:00
    ("n1", "ny-offpeak", "2026-03-10T04:00:00Z", {}, 0.70),
    ("n2", "ny-offpeak", "2026-03-10T12:00:00Z", {}, 2.80),
    # 2.00 + 0.30 inside 01:00-04:00; 4.00 + 0.10 (output not given: the version's) in 06-10
    ("p1", "peak", "2026-03-10T02:00:00Z", {}, 2.30),
    ("p2", "peak", "2026-03-10T07:00:00Z", {}, 4.10),
    ("p3", "peak", "2026-03-10T12:00:00Z", {}, 1.10),
    # above 272k the whole request, cache reads included (scaled with input: 0.50), is at the
    # tier: 200k x 5.00 + 100k x 0.50 + 10k x 22.50 = 1.00 + 0.05 + 0.225
    ("l1", "lc272", "2026-03-10T12:00:00Z",
     {"input_tokens": 300_000, "cache_read_tokens": 100_000, "output_tokens": 10_000}, 1.275),
    ("l2", "lc272", "2026-03-10T12:00:00Z", {"input_tokens": 272_000, "output_tokens": 0}, 0.68),
    ("f1", "fee", "2026-03-10T12:00:00Z", {}, 1.105),  # 1.00 + 0.10 + a $0.005 fee
    # CONTRACT: 10 % off fee from 2026-03-11, on the tokens and the fee: 1.105 x 0.90
    ("f2", "fee", "2026-03-12T12:00:00Z", {}, 0.9945),
    # explicit batch rates replace the discount: 1.20 + 0.60
    ("b1", "batchy", "2026-03-10T12:00:00Z", {"batch": True}, 1.80),
    ("b2", "batchy", "2026-03-10T12:00:00Z", {}, 4.50),  # not batch: 3.00 + 1.50
    # 800k x 1.20 + 200k cache reads at the standard 0.30 (no batch rate for them) + 0.60
    ("b3", "batchy", "2026-03-10T12:00:00Z", {"batch": True, "cache_read_tokens": 200_000},
     1.62),
]  # fmt: skip


def test_rules_hand_computed(run, db, tmp_path):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "rules.yaml").write_text(TABLE)
    (tmp_path / "rules" / "contract.yaml").write_text(CONTRACT)
    logs = tmp_path / "rules.jsonl"
    logs.write_text("".join(
        json.dumps({"request_id": rid, "timestamp": ts, "provider": "rules", "model": model,
                    "feature": rid, "input_tokens": 1_000_000, "output_tokens": 100_000, **extra})
        + "\n" for rid, model, ts, extra, _ in CASES
    ))  # fmt: skip
    assert run("ingest", str(logs), "--db", db).code == 0
    result = run("report", "--by", "feature", "--db", db, "--format", "json",
                 "--pricing", str(tmp_path / "rules"))  # fmt: skip
    assert result.code == 0, result.stderr
    got = {r["feature"]: r["cost"] for r in result.json()["rows"]}
    assert got == pytest.approx({rid: cost for rid, _, _, _, cost in CASES})


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ('time_of_day: {from: "25:00", to: "01:00", multiplier: 0.5}', "time of day"),
        (
            'time_of_day: {from: "01:00", to: "02:00", timezone: Mars/Base, multiplier: 0.5}',
            "unknown time zone",
        ),
        ('time_of_day: {from: "01:00", to: "01:00", multiplier: 0.5}', "the same time"),
        (
            'time_of_day: [{from: "01:00", to: "03:00", multiplier: 0.5}, '
            '{from: "02:00", to: "04:00", multiplier: 2}]',
            "windows overlap",
        ),
        (
            'time_of_day: {from: "01:00", to: "03:00", multiplier: 0.5, input: 2}',
            "either a multiplier or explicit rates",
        ),
        ("batch_rates: {multiplier: 0.5}", "explicit rates"),
        ("per_request: -1", "non-negative"),
    ],
)
def test_bad_rules_exit_4(run, tmp_path, rule, message):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "bad.yaml").write_text(
        "provider: x\nmodels:\n  - id: m\n    versions:\n      - effective_from: 2026-01-01\n"
        f"        input: 1\n        output: 1\n        {rule}\n"
    )
    result = run("pricing", "check", "--pricing", str(tmp_path / "bad"))
    assert result.code == 4 and message in result.stderr, result.stderr
