"""Pricing tables: schema validation (exit 4 naming file, model and key), layering, commands."""

from __future__ import annotations

from pathlib import Path

import pytest

from costops.errors import PricingError
from costops.rates.tables import load_tables, parse_file
from tests.conftest import DATA, FIXTURE_PRICING

GOOD_MODEL = """
provider: acme
currency: USD
models:
  - id: acme-x
    match: ["acme-x"]
    versions:
      - effective_from: 2026-01-01
        input: 1.0
        output: 2.0
"""


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ("output: 2.0", "output: 2.0\n        outptu: 3.0"),
            "model acme-x: key outptu: unknown key",
        ),
        (("input: 1.0", "input: -1.0"), "model acme-x: key input: expected a finite non-negative"),
        (("input: 1.0", "input: cheap"), "model acme-x: key input: expected a number"),
        (("        input: 1.0\n", ""), "model acme-x: key input: required"),
        (("effective_from: 2026-01-01", "effective_from: soon"), "key effective_from"),
        (("currency: USD", "currency: EUR"), "key currency: only USD"),
        (("models:", "modles:"), "key modles: unknown key"),
        (('match: ["acme-x"]', "match: acme-x"), "key match: expected a list"),
    ],
)
def test_invalid_tables_name_file_model_and_key(edit, message):
    text = GOOD_MODEL.replace(*edit)
    with pytest.raises(PricingError) as caught:
        parse_file(text, "custom/acme.yaml")
    assert str(caught.value).startswith("custom/acme.yaml: ")
    assert message in str(caught.value)


def test_versions_must_be_in_date_order():
    text = (
        GOOD_MODEL
        + """      - effective_from: 2025-06-01
        input: 0.5
"""
    )
    with pytest.raises(PricingError, match="not after the previous version"):
        parse_file(text, "x.yaml")


def test_yaml_syntax_error_names_the_line():
    with pytest.raises(PricingError, match=r"x.yaml: not valid YAML line \d+"):
        parse_file("provider: [unclosed\nmodels: 3\n", "x.yaml")


def test_yaml_tags_are_not_executed():
    with pytest.raises(PricingError, match="not valid YAML"):
        parse_file("!!python/object/apply:os.system ['echo hi']\n", "x.yaml")


def test_inheritance_from_defaults_and_previous_version():
    (large, *_rest) = parse_file((DATA / "pricing" / "acme.yaml").read_text(), "acme.yaml")
    first, second = large.versions
    assert first.batch_multiplier == 0.5 and second.batch_multiplier == 0.5  # from defaults
    assert second.regional_uplift == {"eu": 1.1}  # inherited from the previous version
    assert second.long_context is None  # removed with `long_context: null`
    assert first.effective_to == second.effective_from


def test_user_table_wins_for_the_same_model_and_date(tmp_path):
    (tmp_path / "acme.yaml").write_text(GOOD_MODEL.replace("acme-x", "acme-small"))
    tables = load_tables([FIXTURE_PRICING, str(tmp_path)])
    small = next(m for m in tables.models if m.id == "acme-small")
    assert [v.rates["input"] for v in small.versions] == [1.0]
    assert small.versions[0].rates["output"] == 2.0 and small.user


def test_invalid_user_table_is_exit_4(run, report_db, tmp_path):
    (tmp_path / "broken.yaml").write_text(GOOD_MODEL.replace("input: 1.0", "input: free"))
    result = run("report", "--db", report_db, "--pricing", str(tmp_path))
    assert result.code == 4
    assert "broken.yaml: model acme-x: key input: expected a number" in result.stderr


def test_pricing_check_passes_on_packaged_tables(run):
    result = run("pricing", "check")
    assert result.code == 0, result.stderr
    assert "0 errors" in result.stderr


def test_pricing_check_finds_a_pattern_claimed_twice(run, tmp_path):
    """Two entries of one provider claiming a name is an error; another provider pricing the
    same name is not (258 model ids exist under more than one provider)."""
    clash = GOOD_MODEL.replace('match: ["acme-x"]', 'match: ["acme-small"]')
    (tmp_path / "clash.yaml").write_text(clash.replace("provider: acme", "provider: other"))
    result = run("pricing", "check", "--pricing", FIXTURE_PRICING, "--pricing", str(tmp_path))
    assert result.code == 0, result.stderr
    (tmp_path / "clash.yaml").write_text(clash)
    result = run("pricing", "check", "--pricing", FIXTURE_PRICING, "--pricing", str(tmp_path))
    assert result.code == 4 and "pattern 'acme-small' also matches" in result.stderr


def test_pricing_list_and_show(run):
    listed = run("pricing", "list", "--pricing", FIXTURE_PRICING, "--format", "json").json()
    large = next(r for r in listed["rows"] if r["model"] == "acme-large")
    assert (large["input"], large["effective_from"], large["versions"]) == (2.0, "2026-03-15", 2)
    shown = run(
        "pricing", "show", "acme-large-20260301", "--pricing", FIXTURE_PRICING, "-f", "json"
    )
    history = shown.json()["rows"]
    assert [(h["effective_from"], h["input"]) for h in history] == [
        ("2026-03-01 00:00:00", 3.0),
        ("2026-03-15 00:00:00", 2.0),
    ]
    assert history[0]["long_context_above"] == 200000 and history[0]["effective_to"]
    assert run("pricing", "show", "no-such-model").code == 2


def test_pricing_coverage_lists_unpriced_models(run, report_db):
    args = ("pricing", "coverage", "--db", report_db, "--pricing", FIXTURE_PRICING)
    data = run(*args, "--format", "json").json()["rows"]
    assert data[0]["model"] == "mystery-9" and data[0]["status"] == "no table"
    assert data[0]["unpriced_requests"] == 1 and data[0]["unpriced_tokens"] == 1000
    assert run(*args).code == 0
    failing = run(*args, "--fail-on-unpriced")
    assert failing.code == 1 and "1 request has no price" in failing.stderr


def test_packaged_tables_ship_inside_the_package():
    from costops.rates.tables import packaged_dir

    assert {p.name for p in packaged_dir().glob("*.yaml")} >= {
        "anthropic.yaml", "openai.yaml", "google.yaml"
    }  # fmt: skip
    assert (Path(__file__).parent.parent / "pricing").resolve() == packaged_dir()


LOGGED_NAMES = {
    "claude-sonnet-4-5-20250929": "anthropic/claude-sonnet-4-5",
    "anthropic.claude-sonnet-4-5-20250929-v1:0": "anthropic/claude-sonnet-4-5",
    "us.anthropic.claude-haiku-4-5-20251001-v1:0": "anthropic/claude-haiku-4-5",
    "claude-opus-4-6@20260205": "anthropic/claude-opus-4-6",
    "anthropic/claude-sonnet-4-6": "anthropic/claude-sonnet-4-6",
    "Claude-Opus-4-7": "anthropic/claude-opus-4-7",
    "gpt-5-mini-2025-08-07": "openai/gpt-5-mini",
    "gpt-5-2025-08-07": "openai/gpt-5",
    "gpt-5": "openai/gpt-5",
    "gpt-5-nano": "openai/gpt-5-nano",
    "openai/gpt-5.4": "openai/gpt-5.4",
    "gpt-5.4-mini-2026-03-17": "openai/gpt-5.4-mini",
    "gpt-4.1-mini-2025-04-14": "openai/gpt-4.1-mini",
    "gpt-4.1": "openai/gpt-4.1",
    "gpt-4o-mini": "openai/gpt-4o-mini",
    "o4-mini-2025-04-16": "openai/o4-mini",
    "models/gemini-2.5-flash": "google/gemini-2.5-flash",
    "gemini-2.5-flash-lite": "google/gemini-2.5-flash-lite",
    "gemini/gemini-2.5-pro": "google/gemini-2.5-pro",
    "gemini-3-pro-preview": "google/gemini-3-pro-preview",
    "gpt-7-turbo-ultra": None,
}


def test_logged_names_resolve_to_the_right_table(run, db, tmp_path):
    import json

    from costops.analysis.session import analysis_session

    lines = [
        json.dumps({"request_id": name, "timestamp": "2026-06-01T00:00:00Z", "model": name,
                    "input_tokens": 1, "output_tokens": 1})
        for name in LOGGED_NAMES
    ]  # fmt: skip
    (tmp_path / "names.jsonl").write_text("\n".join(lines) + "\n")
    assert run("ingest", str(tmp_path / "names.jsonl"), "--db", db).code == 0
    with analysis_session(db) as con:
        resolved = dict(con.execute("SELECT request_id, model_key FROM priced_requests").fetchall())
    assert resolved == LOGGED_NAMES


def test_a_damaged_table_cache_is_parsed_again(tmp_path, monkeypatch):
    """Parsed tables are cached by content in the user's cache directory; an entry that cannot
    be read (a crash mid-write elsewhere, a damaged disk) is ignored and rewritten."""
    from costops.rates.tables import load_tables

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first = load_tables()
    entries = list((tmp_path / "cache" / "costops" / "pricing").glob("*.pickle"))
    assert len(entries) == len(first.files)
    for entry in entries:
        entry.write_bytes(b"not a pickle")
    again = load_tables()
    assert [m.key for m in again.models] == [m.key for m in first.models]
    assert all(entry.read_bytes() != b"not a pickle" for entry in entries)
