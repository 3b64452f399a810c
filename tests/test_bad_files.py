"""Bad files and bad databases (issue 14, items 12-15): each one line on stderr, the right exit
code, no traceback, no hang.

YAML bombs: nine strings, then eight anchors each listing the previous one nine times, expand to
9^9 = 387,420,489 strings. Counting nodes (a list is one node plus its items): a = 10 nodes;
b's aliases add 9 x 10 = 90 (b = 91); c adds 9 x 91 = 819 (c = 820); d adds 9 x 820 = 7,380,
8,289 so far; e's first alias adds 7,381 more: 15,670 > 10,000, refused on line 5 (e's line).
Nesting: a pricing table needs about 8 levels, costops.yaml about 5; 65 is refused.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from costops import safe_yaml


def laughs(levels: int, top_key: str) -> str:
    """A billion-laughs document: `top_key` holds 9**(levels + 1) strings through aliases."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(levels):
        name, previous = chr(98 + i), chr(97 + i)
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    lines.append(f"{top_key}: *{chr(97 + levels)}")
    return "\n".join(lines) + "\n"


def nested(depth: int, top_key: str) -> str:
    return f"{top_key}: " + "[" * depth + "]" * depth + "\n"


def test_an_alias_bomb_is_refused_within_a_second():
    start = time.monotonic()
    with pytest.raises(safe_yaml.YamlTooComplex, match="aliases expand to more than 10,000"):
        safe_yaml.load(laughs(8, "provider"))
    assert time.monotonic() - start < 1.0


def test_a_little_sharing_through_aliases_still_loads():
    # 3 anchors of 9 values each, used 3 times: 27 values added, far under the bound
    text = "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9]\nb: [*a, *a, *a]\nc: {<<: &m {x: 1}, y: 2}\nd: *m\n"
    assert safe_yaml.load(text)["b"] == [[1, 2, 3, 4, 5, 6, 7, 8, 9]] * 3


@pytest.mark.parametrize("key", ["provider", "models"])
def test_an_alias_bomb_in_a_pricing_table_is_exit_4(run, tmp_path, key):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "bomb.yaml").write_text(laughs(5, key))
    result = run("pricing", "check", "--pricing", str(tmp_path / "p"))
    assert result.code == 4, result.stderr
    assert result.stderr.strip() == (
        f"costops: error: {tmp_path / 'p' / 'bomb.yaml'}: refused: line 5: aliases expand to "
        "more than 10,000 values (write the values out, or share less)"
    )


def test_deep_nesting_in_a_pricing_table_is_exit_4(run, tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "deep.yaml").write_text(nested(65, "models"))
    result = run("pricing", "check", "--pricing", str(tmp_path / "p"))
    assert result.code == 4, result.stderr
    assert "deep.yaml: refused: line 1: nested more than 64 levels deep" in result.stderr


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            laughs(8, "budgets"),
            "refused: line 5: aliases expand to more than 10,000 values "
            "(write the values out, or share less)",
        ),
        (nested(65, "budgets"), "refused: line 1: nested more than 64 levels deep"),
        # libyaml stops at 1,000 levels itself (PyYAML's own parser overflowed the stack)
        (nested(100_000, "budgets"), "not valid YAML line 1: exceeded maximum nesting depth"),
    ],
    ids=["bomb", "deep", "deeper"],
)
def test_a_bad_costops_yaml_is_exit_2_within_a_second(run, tmp_path, text, problem):
    (tmp_path / "costops.yaml").write_text(text)
    (tmp_path / "empty.jsonl").write_text("")
    start = time.monotonic()
    result = run("ingest", "empty.jsonl", "--db", str(tmp_path / "x.duckdb"))
    assert time.monotonic() - start < 1.0
    assert result.code == 2, result.stderr
    assert result.stderr.strip() == f"costops: error: costops.yaml: {problem}"
    assert not Path(tmp_path / "x.duckdb").exists()
