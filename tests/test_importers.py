"""`costops pricing import litellm`: every price key mapped or reported; the tables load."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import yaml

from costops.rates.importers import import_litellm
from tests.conftest import DATA

PRICES = DATA / "litellm" / "model_prices.json"
TODAY = dt.date(2026, 11, 23)


def test_rates_tiers_batch_and_long_context_are_mapped():
    result = import_litellm(json.loads(PRICES.read_text()), TODAY, set())
    anthropic = yaml.safe_load(result.tables["anthropic"])["models"][0]["versions"][0]
    assert anthropic == {
        "effective_from": TODAY, "input": 3.0, "output": 15.0, "cache_read": 0.3,
        "cache_write_5m": 3.75, "cache_write_1h": 6.0,
        "long_context": {"above_input_tokens": 200_000, "input": 6.0, "output": 22.5,
                         "cache_read": 0.6, "cache_write_5m": 7.5},
        "batch_multiplier": 0.5,
    }  # fmt: skip
    openai = yaml.safe_load(result.tables["openai"])["models"]
    gpt5 = openai[0]["versions"][0]
    assert gpt5["service_tiers"] == {
        "flex": {"input": 0.625, "output": 5.0, "cache_read": 0.0625},
        "priority": {"input": 2.5, "output": 20.0},
    }
    assert gpt5["batch_multiplier"] == 0.5
    assert [m["id"] for m in openai] == ["gpt-5"]  # embedding, image and half-priced skipped
    assert "gemini-2.5-pro" in result.tables["google"]  # vertex_ai-language-models → google
    assert result.skipped == {"mode embedding": 1, "mode image_generation": 1,
                              "no input/output price per token": 1}  # fmt: skip
    assert result.unmapped == {"search_context_cost_per_query": 1, "input_cost_per_audio_token": 1}


def test_imported_tables_pass_pricing_check_and_price_requests(run, tmp_path):
    out = tmp_path / "imported"
    result = run("pricing", "import", "litellm", str(PRICES), "--out", str(out))
    assert result.code == 0, result.stderr
    assert "not imported: input_cost_per_audio_token (1 models)" in result.stderr
    check = run("pricing", "check", "--pricing", str(out))
    assert check.code == 0, check.stderr
    show = run("pricing", "show", "anthropic/claude-sonnet-4-5", "--pricing", str(out),
               "--format", "json")  # fmt: skip
    assert show.json()["rows"][-1]["input"] == pytest.approx(3.0)


def test_only_the_named_provider_and_bad_files(run, tmp_path):
    out = tmp_path / "only"
    assert run("pricing", "import", "litellm", str(PRICES), "--out", str(out),
               "--provider", "openai").code == 0  # fmt: skip
    assert [p.name for p in out.iterdir()] == ["litellm-openai.yaml"]
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    assert run("pricing", "import", "litellm", str(bad)).code == 3
    assert run("pricing", "import", "nope", str(PRICES)).code == 2


def test_genai_prices_import_keeps_dates_tiers_batch_and_time_windows(run, tmp_path):
    pytest.importorskip("genai_prices")
    out = tmp_path / "genai"
    result = run("pricing", "import", "genai-prices", "--out", str(out),
                 "--provider", "anthropic", "--provider", "deepseek")  # fmt: skip
    assert result.code == 0, result.stderr
    check = run("pricing", "check", "--pricing", str(out))
    assert check.code == 0, check.stderr
    anthropic = yaml.safe_load((out / "genai-prices-anthropic.yaml").read_text())["models"]
    sonnet = next(m for m in anthropic if m["id"] == "claude-sonnet-4-6")["versions"]
    # the long-context surcharge for the whole request ended on 2026-03-13
    # ... and its batch rates are dated from 2026-10-14 in genai-prices: a version of their own
    assert [v["effective_from"] for v in sonnet] == [
        dt.date(2020, 1, 1), dt.date(2026, 3, 13), dt.date(2026, 10, 14)]  # fmt: skip
    assert "batch_rates" not in sonnet[1] and sonnet[2]["batch_rates"]["input"] == 1.5
    assert sonnet[0]["long_context"][0]["above_input_tokens"] == 200_000
    assert sonnet[0]["long_context"][0]["input"] == 6.0 and sonnet[1]["long_context"] is None
    haiku = next(m for m in anthropic if m["id"] == "claude-haiku-4-5")["versions"]
    assert haiku[-1]["batch_rates"]["input"] == pytest.approx(haiku[0]["input"] / 2)
    deepseek = yaml.safe_load((out / "genai-prices-deepseek.yaml").read_text())["models"]
    chat = next(m for m in deepseek if m["id"] == "deepseek-chat")["versions"][-1]
    # genai-prices: $0.27 per million input tokens from 00:30 to 16:30 UTC, $0.135 otherwise
    assert chat["input"] == pytest.approx(0.135)
    assert chat["time_of_day"] == [{"from": "00:30", "to": "16:30", "timezone": "UTC",
                                    "input": 0.27, "cache_read": 0.07, "output": 1.1}]  # fmt: skip


def test_names_the_tables_already_claim_become_versions_of_that_entry():
    rates = {"litellm_provider": "gemini", "mode": "chat", "input_cost_per_token": 1e-06,
             "output_cost_per_token": 2e-06}  # fmt: skip
    data = {"gemini/gemini-2.5-pro": {**rates, "input_cost_per_token": 9e-06},
            "gemini-2.5-pro": rates, "input_cost_per_request_model": {
                **rates, "input_cost_per_request": 0.002}}  # fmt: skip
    known = {("google", "gemini-2.5-pro"): "google/gemini-2.5-pro",
             ("google", "gemini/gemini-2.5-pro"): "google/gemini-2.5-pro"}  # fmt: skip
    result = import_litellm(data, TODAY, set(), known)
    models = yaml.safe_load(result.tables["google"])["models"]
    # the name equal to the entry's id wins; the other name of the same entry is reported
    assert models[0] == {
        "id": "gemini-2.5-pro",
        "versions": [{"effective_from": TODAY, "input": 1.0, "output": 2.0}],
    }
    assert result.skipped == {"another name of an entry already imported "
                              "(google/gemini-2.5-pro)": 1}  # fmt: skip
    assert models[1]["versions"][0]["per_request"] == 0.002


def test_import_takes_output_like_every_command_and_writes_whole_files(run, tmp_path, monkeypatch):
    """`-o/--output DIR` (and the old `--out`); a file is written to a temp file and renamed,
    so an import interrupted while writing leaves no table behind, truncated or not."""
    from costops.rates.importers import common

    for flag in ("-o", "--output", "--out"):
        out = tmp_path / flag.strip("-")
        result = run("pricing", "import", "litellm", str(PRICES), flag, str(out))
        assert result.code == 0, result.stderr
        assert sorted(p.name for p in out.iterdir()) == [
            "litellm-anthropic.yaml", "litellm-google.yaml", "litellm-openai.yaml"]  # fmt: skip

    def interrupted(source, target):
        raise KeyboardInterrupt

    monkeypatch.setattr(common.os, "replace", interrupted)
    out = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt):
        common.write_tables(common.ImportResult({"acme": "provider: acme\n"}), out, "x")
    assert list(out.iterdir()) == []
