"""Which table entry prices a logged (provider, model) name, and from when (costops.rates.match).

Hand-read prices (genai-prices 0.2.3, USD per million tokens): openai gpt-4o-2024-05-13 $5 input
/ $15 output, gpt-4o $2.50 / $10; so 1M input + 1M output costs $20 on the dated snapshot and
$12.50 on gpt-4o. A dated snapshot must never take the broader entry's price.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def _ingest(run, tmp_path: Path, rows: list[dict]) -> str:
    source = tmp_path / "requests.jsonl"
    lines = [
        json.dumps(
            {
                "request_id": f"r{i}",
                "task_id": f"t{i}",
                "input_tokens": 1_000_000,
                "output_tokens": 1_000_000,
                **row,
            }
        )
        for i, row in enumerate(rows)
    ]
    source.write_text("\n".join(lines) + "\n")
    db = str(tmp_path / "match.duckdb")
    assert run("ingest", str(source), "--db", db).code == 0
    return db


def _table(tmp_path: Path, provider: str, models: str) -> str:
    """A --pricing directory with one table of `provider` whose models are `models` (YAML)."""
    user = tmp_path / "user"
    user.mkdir(exist_ok=True)
    (user / f"{provider}.yaml").write_text(f"provider: {provider}\nmodels:\n{models}")
    return str(user)


def _costs(run, db: str, *pricing: str) -> dict[str, float | None]:
    result = run("report", "--by", "task_id", "--db", db, "--format", "json", *pricing)
    assert result.code == 0, result.stderr
    return {row["task_id"]: row["cost"] for row in result.json()["rows"]}


def test_dated_snapshot_and_provider_names(run, tmp_path):
    db = _ingest(run, tmp_path, [
        {"timestamp": "2025-06-01T00:00:00Z", "provider": "openai", "model": "gpt-4o-2024-05-13"},
        {"timestamp": "2025-06-01T00:00:00Z", "provider": "openai", "model": "gpt-4o"},
        # LiteLLM's prefixed name and no provider: the prefix names the provider
        {"timestamp": "2025-06-01T00:00:00Z", "model": "openai/gpt-4o-2024-05-13"},
        # a provider no table knows: OpenAI's model_match claims gpt-*
        {"timestamp": "2025-06-01T00:00:00Z", "provider": "my-proxy", "model": "gpt-4o"},
        # github-copilot lists gpt-4o without a price: unpriced, not OpenAI's price
        {"timestamp": "2025-06-01T00:00:00Z", "provider": "github-copilot", "model": "gpt-4o"},
    ])  # fmt: skip
    costs = _costs(run, db)
    assert costs["t0"] == pytest.approx(20.0)
    assert costs["t1"] == pytest.approx(12.5)
    assert costs["t2"] == pytest.approx(20.0)
    assert costs["t3"] == pytest.approx(12.5)
    assert costs["t4"] is None


def test_logged_provider_names_map_onto_table_ids(run, tmp_path):
    """bedrock → aws, xai → x-ai: the same id under another provider is another price.
    x-ai grok-3 (genai-prices): $3 / $15 → 1M + 1M = $18."""
    db = _ingest(run, tmp_path, [
        {"timestamp": "2025-06-01T00:00:00Z", "provider": "xai", "model": "grok-3"},
        {"timestamp": "2025-06-01T00:00:00Z", "provider": "x-ai", "model": "grok-3"},
    ])  # fmt: skip
    costs = _costs(run, db)
    assert costs["t0"] == pytest.approx(18.0) and costs["t1"] == pytest.approx(18.0)


def test_a_user_table_dated_d_leaves_the_packaged_price_before_d(run, tmp_path):
    """A user entry of another id claiming gpt-4o exactly from 2026-06-01 at $1 / $1: a request
    on 2026-07-01 costs $2; one on 2025-06-01 still costs the packaged $12.50 (SPEC §1)."""
    user = _table(
        tmp_path,
        "openai",
        "  - id: gpt-4o-negotiated\n    match: [gpt-4o]\n"
        "    versions:\n      - {effective_from: 2026-06-01, input: 1, output: 1}\n",
    )
    db = _ingest(run, tmp_path, [
        {"timestamp": "2025-06-01T00:00:00Z", "provider": "openai", "model": "gpt-4o"},
        {"timestamp": "2026-07-01T00:00:00Z", "provider": "openai", "model": "gpt-4o"},
    ])  # fmt: skip
    costs = _costs(run, db, "--pricing", user)
    assert costs["t0"] == pytest.approx(12.5)
    assert costs["t1"] == pytest.approx(2.0)


def test_regex_patterns_with_unless_and_long_context_tiers(run, tmp_path):
    """A regex pattern with an `unless`, and two long-context tiers: $1 up to 1,000 input
    tokens, $2 above 1,000, $3 above 5,000 (whole request, output alike)."""
    user = _table(
        tmp_path,
        "acme",
        "  - id: acme-pro\n"
        "    match: [{regex: '^acme-pro(-\\d+)?$', unless: '-999$'}]\n"
        "    versions:\n      - effective_from: 2026-01-01\n        input: 1\n        output: 1\n"
        "        long_context:\n          - {above_input_tokens: 1000, input: 2, output: 2}\n"
        "          - {above_input_tokens: 5000, input: 3, output: 3}\n",
    )
    when = "2026-03-01T00:00:00Z"
    db = _ingest(run, tmp_path, [
        {"timestamp": when, "provider": "acme", "model": "acme-pro-2", "input_tokens": 1000},
        {"timestamp": when, "provider": "acme", "model": "acme-pro", "input_tokens": 1001},
        {"timestamp": when, "provider": "acme", "model": "ACME-PRO-3", "input_tokens": 5001},
        {"timestamp": when, "provider": "acme", "model": "acme-pro-999", "input_tokens": 10},
    ])  # fmt: skip
    costs = _costs(run, db, "--pricing", user)
    assert costs["t0"] == pytest.approx((1000 + 1_000_000) * 1 / 1e6)
    assert costs["t1"] == pytest.approx((1001 + 1_000_000) * 2 / 1e6)
    assert costs["t2"] == pytest.approx((5001 + 1_000_000) * 3 / 1e6)
    assert costs["t3"] is None
    show = run("pricing", "show", "acme-pro-7", "--pricing", user)
    assert show.code == 0 and "acme/acme-pro" in show.stdout


def test_pricing_show_resolves_as_the_join_does(run):
    result = run("pricing", "show", "gpt-4o-2024-05-13", "--format", "json")
    assert result.code == 0, result.stderr
    assert result.json()["rows"][-1]["input"] == 5.0


def test_batch_and_service_tier_rates_with_their_own_tiers(run, tmp_path):
    """genai-prices tiers some batch and priority prices. Table: $1/$1, above 1,000 input $2/$2;
    batch $0.5/$0.5, above 1,000 input $1 input only (output: the version's tier rate, $2);
    priority $3 flat (no tiers of its own: above 1,000 the priority rate still wins).
    Requests of 1M output tokens:
      batch, 1,000 input:  (1,000 + 1M) x 0.5 / 1e6          = 0.5005
      batch, 2,000 input:  2,000 x 1 / 1e6 + 1M x 2 / 1e6    = 2.002
      priority, 2,000:     (2,000 + 1M) x 3 / 1e6            = 3.006"""
    user = _table(
        tmp_path,
        "acme",
        "  - id: acme-t\n    versions:\n"
        "      - effective_from: 2026-01-01\n        input: 1\n        output: 1\n"
        "        long_context: [{above_input_tokens: 1000, input: 2, output: 2}]\n"
        "        batch_rates:\n          input: 0.5\n          output: 0.5\n"
        "          long_context: [{above_input_tokens: 1000, input: 1}]\n"
        "        service_tiers: {priority: {input: 3, output: 3}}\n",
    )
    when = "2026-03-01T00:00:00Z"
    base = {"timestamp": when, "provider": "acme", "model": "acme-t"}
    db = _ingest(run, tmp_path, [
        {**base, "input_tokens": 1000, "batch": True},
        {**base, "input_tokens": 2000, "batch": True},
        {**base, "input_tokens": 2000, "service_tier": "priority"},
    ])  # fmt: skip
    costs = _costs(run, db, "--pricing", user)
    assert costs["t0"] == pytest.approx(0.5005)
    assert costs["t1"] == pytest.approx(2.002)
    assert costs["t2"] == pytest.approx(3.006)


def test_an_exact_name_behind_a_prefix_beats_a_broader_pattern(run, tmp_path):
    """genai-prices prices gemini-2.5-pro-tts at $1 / $20 (1M + 1M = $21), not as
    gemini-2.5-pro (1M input is above its 200k tier: $2.50 / $15 = $17.50); the `models/` and
    `vertex_ai/` spellings too."""
    when = "2026-03-01T00:00:00Z"
    db = _ingest(run, tmp_path, [
        {"timestamp": when, "provider": "google", "model": "gemini-2.5-pro-tts"},
        {"timestamp": when, "provider": "google", "model": "models/gemini-2.5-pro-tts"},
        {"timestamp": when, "provider": "vertex_ai", "model": "vertex_ai/gemini-2.5-pro-tts"},
        {"timestamp": when, "provider": "google", "model": "models/gemini-2.5-pro"},
    ])  # fmt: skip
    costs = _costs(run, db)
    assert [costs[f"t{i}"] for i in range(3)] == [pytest.approx(21.0)] * 3
    assert costs["t3"] == pytest.approx(17.5)


def _user_sonnet(tmp_path: Path, version: str) -> str:
    models = (
        f"  - id: claude-sonnet-4-6\n    versions:\n      - {{{version}, input: 1, output: 1}}\n"
    )
    return _table(tmp_path, "anthropic", models)


def test_a_user_version_wins_exactly_on_the_dates_it_covers(run, tmp_path):
    """The same entry (anthropic/claude-sonnet-4-6; packaged, 1M + 1M costs $28.50 at the
    200k long-context rates $6 / $22.50 until 2026-03-13, $18 at $3 / $15 after) with a user
    version at $1 / $1 ($2): from 2026-01-01 to 2026-02-01 it serves, and the packaged price
    again after its end; open-ended, it serves after the packaged later versions too."""
    db = _ingest(run, tmp_path, [
        {"timestamp": "2025-12-15T00:00:00Z", "provider": "anthropic",
         "model": "claude-sonnet-4-6"},
        {"timestamp": "2026-01-15T00:00:00Z", "provider": "anthropic",
         "model": "claude-sonnet-4-6"},
        {"timestamp": "2026-02-15T00:00:00Z", "provider": "anthropic",
         "model": "claude-sonnet-4-6"},
        {"timestamp": "2026-11-15T00:00:00Z", "provider": "anthropic",
         "model": "claude-sonnet-4-6"},
    ])  # fmt: skip
    ended = _user_sonnet(tmp_path, "effective_from: 2026-01-01, effective_to: 2026-02-01")
    costs = _costs(run, db, "--pricing", ended)
    assert [costs[f"t{i}"] for i in range(4)] == pytest.approx([28.5, 2.0, 28.5, 18.0])
    open_ended = _user_sonnet(tmp_path, "effective_from: 2026-01-01")
    costs = _costs(run, db, "--pricing", open_ended)
    assert [costs[f"t{i}"] for i in range(4)] == pytest.approx([28.5, 2.0, 2.0, 2.0])


def test_a_broader_pattern_never_fills_in_after_a_specific_entry_ends(run, tmp_path):
    user = _table(
        tmp_path,
        "acme",
        "  - id: acme-large-0601\n    versions:\n"
        "      - {effective_from: 2025-01-01, effective_to: 2026-02-01, input: 10, output: 10}\n"
        "  - id: acme-large\n    match: ['acme-large*']\n    versions:\n"
        "      - {effective_from: 2025-01-01, input: 1, output: 1}\n",
    )
    db = _ingest(run, tmp_path, [
        {"timestamp": "2026-01-15T00:00:00Z", "provider": "acme", "model": "acme-large-0601"},
        {"timestamp": "2026-02-15T00:00:00Z", "provider": "acme", "model": "acme-large-0601"},
    ])  # fmt: skip
    costs = _costs(run, db, "--pricing", user)
    assert costs["t0"] == pytest.approx(20.0) and costs["t1"] is None


def test_a_pattern_duckdb_cannot_run_is_a_table_error(run, tmp_path):
    user = _table(
        tmp_path,
        "acme",
        "  - id: acme-x\n    match: [{regex: '^foo(?!bar)'}]\n"
        "    versions:\n      - {effective_from: 2025-01-01, input: 1, output: 1}\n",
    )
    result = run("pricing", "check", "--pricing", user)
    assert result.code == 4
    assert "is not RE2" in result.stderr and "unless" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_later_pricing_directory_wins_over_an_earlier_one(run, tmp_path):
    """Two --pricing directories claiming gpt-4o for openai with different entries: the later
    one ($1 / $1 → $2) wins; one directory claiming it twice is the error."""
    for name, rate in (("team", 3), ("mine", 1)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "openai.yaml").write_text(
            f"provider: openai\nmodels:\n  - id: gpt-4o-{name}\n    match: [gpt-4o]\n"
            "    versions:\n"
            f"      - {{effective_from: 2025-01-01, input: {rate}, output: {rate}}}\n"
        )
    db = _ingest(run, tmp_path, [
        {"timestamp": "2025-06-01T00:00:00Z", "provider": "openai", "model": "gpt-4o"},
    ])  # fmt: skip
    dirs = ("--pricing", str(tmp_path / "team"), "--pricing", str(tmp_path / "mine"))
    assert _costs(run, db, *dirs)["t0"] == pytest.approx(2.0)
