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
    clash = GOOD_MODEL.replace('match: ["acme-x"]', 'match: ["acme-small"]')
    (tmp_path / "clash.yaml").write_text(clash.replace("provider: acme", "provider: other"))
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
    assert failing.code == 1 and "1 requests have no price" in failing.stderr


def test_packaged_tables_ship_inside_the_package():
    from costops.rates.tables import packaged_dir

    assert {p.name for p in packaged_dir().glob("*.yaml")} >= {
        "anthropic.yaml", "openai.yaml", "google.yaml"
    }  # fmt: skip
    assert (Path(__file__).parent.parent / "pricing").resolve() == packaged_dir()
