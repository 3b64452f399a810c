"""Hostile data in every output: nothing crashes, nothing reaches the terminal as a control
sequence or markup, nothing reaches a spreadsheet as a formula (issue 14, items 10 and 11).

The store holds one request per hostile value, the value in model, feature, customer, task,
workspace and an attribute at once (requests of `acme-small` copies too, so FOCUS has priced
rows):
  `[/]x`                       crashed rich (MarkupError: closing tag with nothing open)
  `[link=http://evil]ok[/link]` printed a disguised hyperlink "ok"
  ESC ] 8 ;; http://evil BEL x  an OSC 8 hyperlink sent to the terminal as is
  `=HYPERLINK(...)`, `+1`, `-2`, `@x`, TAB…  formulas to a spreadsheet (OWASP: prefix a ')
  `a\nb|c`                     broke a table row and a Markdown cell
  U+202E, U+009B               bidi override and the 8-bit CSI
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from costops.render.safe import csv_text, html_label, markdown_cell, plain
from tests.conftest import FIXTURE_PRICING

HOSTILE = [
    "[/]x",
    "[link=http://evil]ok[/link]",
    "\x1b]8;;http://evil\x07x",
    '=HYPERLINK("http://evil","x")',
    "+1",
    "-2",
    "@x",
    "\tx",
    "a\nb|c",
    "\u202eevil",
    "\x9b31m",
    ":smile:",
    "<a href=http://evil>ok</a>",
]
# what must never appear in text meant for a terminal, whatever the format
RAW_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
FORMULA = ("=", "+", "-", "@", "\t", "\r")
FORMATS = ["table", "json", "csv", "markdown"]


def _request(i: int, value: str, model: str) -> dict[str, object]:
    return {
        "request_id": f"r{i}-{model}", "timestamp": f"2026-03-{1 + i % 9:02d}T09:00:00Z",
        "provider": "acme", "model": model, "feature": value, "customer": value,
        "task_id": f"T{i}", "workspace": value, "input_tokens": 1000, "output_tokens": 10,
        "prefix_hash": value, "prefix_tokens": 1024, "logged_cost": 1.0,
        "attributes": {"team": value},
    }  # fmt: skip


@pytest.fixture
def hostile_db(run, tmp_path: Path) -> str:
    lines = [json.dumps(_request(i, v, v)) for i, v in enumerate(HOSTILE)]
    lines += [json.dumps(_request(i, v, "acme-small")) for i, v in enumerate(HOSTILE)]
    lines.append("not json \x1b]8;;http://evil\x07click\x1b]8;;\x07 [/]x")
    (tmp_path / "hostile.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = str(tmp_path / "hostile.duckdb")
    result = run("ingest", str(tmp_path / "hostile.jsonl"), "--db", db, "--keep-text")
    assert result.code == 0, result.stderr
    assert RAW_CONTROLS.search(result.stderr) is None
    return db


COMMANDS = [
    ["report", "--by", "model"],
    ["report", "--by", "feature,customer,attr.team"],
    ["tasks", "--by", "feature,workspace"],
    ["budget", "check", "--daily-cost", "0.000001", "--by", "feature"],
    ["simulate", "caching", "--by", "model"],
    ["simulate", "batch", "--by", "feature", "--features", ",".join(HOSTILE[:3])],
    ["simulate", "output", "--by", "model"],
    ["simulate", "plan", "--by", "feature"],
    ["pricing", "coverage"],
    ["quarantine"],
    ["reconcile", "--by", "feature,model"],
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_every_command_and_format_shows_data_as_plain_text(run, hostile_db, command, fmt):
    pricing = [] if command[0] == "quarantine" else ["--pricing", FIXTURE_PRICING]
    result = run(*command, "--db", hostile_db, *pricing, "--format", fmt)
    assert result.code in (0, 1), result.stderr  # budget check exits 1: the budget is breached
    assert "Traceback" not in result.stderr
    assert RAW_CONTROLS.search(result.stdout) is None
    assert RAW_CONTROLS.search(result.stderr) is None
    if fmt == "table":
        _check_table(result.stdout, command)
    elif fmt == "json":
        _check_json(result.stdout, command)
    elif fmt == "csv":
        _check_csv(result.stdout)
    else:
        _check_markdown(result.stdout)


def _check_table(text: str, command: list[str]) -> None:
    if command[-1] == "model" or command == ["pricing", "coverage"]:  # one column wide enough
        # markup shown as the characters it is made of (before: MarkupError, or a link "ok")
        assert "[/]x" in text
        assert "[link=http://evil]ok[/link]" in text
        assert ":smile:" in text  # not an emoji
        assert "␛]8;;http://evil␇x" in text  # ESC and BEL shown as Control Pictures
        assert "a␊b|c" in text  # the newline stays inside its row
    elif command[0] == "quarantine":
        assert "␛]8;;http://evil␇click" in text


def _check_json(text: str, command: list[str]) -> None:
    data = json.loads(text)  # JSON stays lossless: the values come back as they were logged
    if command[-1] == "model":
        models = {r.get("model") for r in data["rows"]}
        assert "\x1b]8;;http://evil\x07x" in models
        assert "\u202eevil" in models


def _check_csv(text: str) -> None:
    rows = list(csv.reader(io.StringIO(text)))
    for row in rows:
        for value in row:
            if value.startswith(FORMULA):
                float(value)  # only a number may start with - or +: a negative number stays one
    cells = {value for row in rows for value in row}
    formulas = {'=HYPERLINK("http://evil","x")', "+1", "-2", "@x", "\tx"}
    assert not cells & formulas  # "-2" would pass as a number above: never written raw
    if formulas & {c[1:] for c in cells}:  # a hostile value is a whole cell: all of them guarded
        assert {"'" + f for f in formulas} <= cells


def _check_markdown(text: str) -> None:
    table = [line for line in text.splitlines() if line.startswith("|")]
    blocks: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.startswith("|"):
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    for block in (b for b in blocks if b):
        widths = {len(re.findall(r"(?<!\\)\|", line)) for line in block}
        assert len(widths) == 1, block  # every row has the header's cells: no | or newline leaks
    assert all("](" not in line for line in table)  # no Markdown link can form
    assert "[link=http://evil]" not in text  # brackets escaped


@pytest.mark.parametrize("what", ["requests", "focus"])
def test_csv_exports_guard_formulas_and_keep_numbers(run, hostile_db, tmp_path, what):
    target = tmp_path / f"{what}.csv"
    result = run("export", what, "-o", str(target), "--db", hostile_db, "--pricing",
                 FIXTURE_PRICING)  # fmt: skip
    assert result.code == 0, result.stderr
    text = target.read_text(encoding="utf-8")
    assert RAW_CONTROLS.search(text) is None
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows
    feature = "feature" if what == "requests" else "x_Feature"
    features = {r[feature] for r in rows}
    # hand-checked: each hostile value with its guard (a ' before a formula start)
    assert {'\'=HYPERLINK("http://evil","x")', "'+1", "'-2", "'@x", "'\tx"} <= features
    assert {"[/]x", "␛]8;;http://evil␇x", "a\nb|c", "\ufffdevil"} <= features
    for row in rows:
        for value in row.values():
            if value.startswith(FORMULA):
                float(value)
    if what == "requests":
        assert {r["input_tokens"] for r in rows} == {"1000"}  # numbers untouched


def test_parquet_export_keeps_values_as_logged(run, hostile_db, tmp_path):
    import duckdb

    target = tmp_path / "requests.parquet"
    result = run("export", "requests", "-o", str(target), "--db", hostile_db, "--pricing",
                 FIXTURE_PRICING)  # fmt: skip
    assert result.code == 0, result.stderr
    features = {r[0] for r in duckdb.sql(f"SELECT feature FROM '{target}'").fetchall()}
    assert set(HOSTILE) <= features  # typed, not parsed: nothing to guard


def test_dashboard_escapes_labels(run, hostile_db, tmp_path):
    target = tmp_path / "dash.html"
    result = run("dashboard", "-o", str(target), "--db", hostile_db, "--pricing",
                 FIXTURE_PRICING)  # fmt: skip
    assert result.code == 0, result.stderr
    page = target.read_text(encoding="utf-8")
    body = page.split("</script>", 1)[1]  # after the embedded plotly.js
    assert RAW_CONTROLS.search(body) is None
    # Plotly writes its JSON with / as \u002f; Plotly reads <a href> in a label as a link
    assert "[link=http:\\u002f\\u002fevil]ok[\\u002flink]" in body
    assert "&lt;a href=http:\\u002f\\u002fevil&gt;ok&lt;\\u002fa&gt;" in body
    assert "a href=http:\\u002f\\u002fevil>" not in body


def test_pricing_show_list_with_hostile_model_ids(run, tmp_path):
    pricing = tmp_path / "hostile_pricing"
    pricing.mkdir()
    (pricing / "evil.yaml").write_text(
        "provider: evil\ncurrency: USD\nsource: test\nmodels:\n"
        "  - id: '[/]x'\n    match: ['[/]x', '=cmd']\n"
        "    versions:\n      - {effective_from: 2026-01-01, input: 1.0, output: 2.0}\n",
        encoding="utf-8",
    )
    for args in (["list", "--provider", "evil"], ["show", "[/]x"]):
        for fmt in FORMATS:
            result = run("pricing", *args, "--pricing", str(pricing), "--format", fmt)
            assert result.code == 0, result.stderr
            if fmt == "table":
                assert "[/]x" in result.stdout
            if fmt == "csv" and args[0] == "list":
                assert "'=cmd" in result.stdout or "=cmd" not in result.stdout


def test_stderr_messages_show_controls(run, tmp_path):
    name = tmp_path / "x\x1b[2Jy.jsonl"
    name.write_text("not json\n", encoding="utf-8")
    result = run("ingest", str(name), "--db", str(tmp_path / "s.duckdb"))
    assert "x␛[2Jy.jsonl" in result.stderr
    assert "\x1b" not in result.stderr


@pytest.mark.parametrize(
    ("value", "shown", "markdown", "csv_cell", "label"),
    [
        ("[/]x", "[/]x", "\\[/\\]x", "[/]x", "[/]x"),
        ("\x1b]8;;u\x07x", "␛]8;;u␇x", "␛\\]8;;u␇x", "␛]8;;u␇x", "␛]8;;u␇x"),
        ("a\nb|c", "a␊b|c", "a␊b\\|c", "a\nb|c", "a␊b|c"),
        ("=1+2", "=1+2", "=1+2", "'=1+2", "=1+2"),
        ("-2", "-2", "-2", "'-2", "-2"),
        ("\tx", "␉x", "␉x", "'\tx", "␉x"),
        ("\u202eevil\x7f", "\ufffdevil␡", "\ufffdevil␡", "\ufffdevil␡", "\ufffdevil␡"),
        ("<a href=u>ok</a>", "<a href=u>ok</a>", "\\<a href=u\\>ok\\</a\\>", "<a href=u>ok</a>",
         "&lt;a href=u&gt;ok&lt;/a&gt;"),
    ],
)  # fmt: skip
def test_safe_rules(value, shown, markdown, csv_cell, label):
    assert plain(value) == shown
    assert markdown_cell(value) == markdown
    assert csv_text(value) == csv_cell
    assert html_label(value) == label
