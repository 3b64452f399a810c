"""Hostile input never crashes ingest or costs a good line: each bad line gets a reason."""

from __future__ import annotations

import gzip
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

GOOD = json.dumps({"request_id": "good-1", "timestamp": "2026-03-02T10:00:00Z",
                   "model": "gpt-4.1", "input_tokens": 10, "output_tokens": 2})  # fmt: skip
FIELDS = [
    "request_id",
    "timestamp",
    "model",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "reasoning_tokens",
    "batch",
    "attributes",
    "passed",
    "usage",
    "resourceSpans",
    "custom_id",
    "result",
    "response",
    "type",
    "object",
    "sessionId",
]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
records = st.dictionaries(st.sampled_from(FIELDS), values, max_size=8)


def _line(record: dict) -> str:  # type: ignore[type-arg]
    return json.dumps(record, allow_nan=True)


hostile = st.one_of(
    records.map(_line),
    st.text(max_size=60).filter(lambda s: "\n" not in s and "\r" not in s),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")).filter(lambda s: "\n" not in s),
    st.just('{"a": ' * 50 + "1" + "}" * 50),
    st.just("\ufeff" + GOOD),
)


@pytest.mark.slow
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=st.lists(hostile, min_size=1, max_size=12))
def test_hostile_lines_are_explained_and_the_good_line_is_kept(run, tmp_path, lines):
    path = tmp_path / "fuzz.jsonl"
    db = str(tmp_path / "fuzz.duckdb")
    path.write_bytes("\n".join([*lines, GOOD]).encode("utf-8", "surrogatepass") + b"\n")
    result = run("ingest", str(path), "--db", db)
    assert result.code == 0, result.stderr
    assert "Traceback" not in result.stderr
    import duckdb

    with duckdb.connect(db, read_only=True) as con:
        assert con.execute(
            "SELECT count(*) FROM requests WHERE request_id = 'good-1'"
        ).fetchone() == (1,)
        assert con.execute("SELECT count(*) FROM quarantine WHERE reason = ''").fetchone() == (0,)
        # whatever was kept honours the invariants (the fast path never lets a bad line in)
        assert con.execute(
            "SELECT count(*) FROM requests WHERE input_tokens < 0 OR output_tokens < 0 "
            "OR cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens > input_tokens "
            "OR reasoning_tokens > output_tokens OR ts < TIMESTAMP '2000-01-01' "
            "OR ts >= TIMESTAMP '2100-01-01' OR model IS NULL"
        ).fetchone() == (0,)
    path.unlink()
    (tmp_path / "fuzz.duckdb").unlink()


def test_empty_binary_and_wrongly_gzipped_files(run, db, tmp_path):
    (tmp_path / "empty.jsonl").write_bytes(b"")
    assert run("ingest", str(tmp_path / "empty.jsonl"), "--db", db).code == 0
    (tmp_path / "bin.jsonl").write_bytes(bytes(range(256)) * 4)
    result = run("ingest", str(tmp_path / "bin.jsonl"), "--db", db)
    assert result.code == 3 and "Traceback" not in result.stderr
    (tmp_path / "fake.jsonl.gz").write_bytes(GOOD.encode())
    result = run("ingest", str(tmp_path / "fake.jsonl.gz"), "--db", db)
    assert result.code == 3 and "not a readable gzip file" in result.stderr
    with gzip.open(tmp_path / "real.jsonl.gz", "wt") as handle:
        handle.write(GOOD + "\n")
    assert run("ingest", str(tmp_path / "real.jsonl.gz"), "--db", db).code == 0


@pytest.mark.slow
def test_a_100_mb_single_line_is_quarantined_not_parsed(run, db, tmp_path):
    path = tmp_path / "huge.jsonl"
    with open(path, "w") as handle:
        handle.write('{"model": "gpt-4.1", "prompt": "' + "x" * (100 * 1024 * 1024) + '"}\n')
        handle.write(GOOD + "\n")
    result = run("ingest", str(path), "--db", db)
    assert result.code == 0 and "huge.jsonl:1: line longer than 16 MiB" in result.stderr
    import duckdb

    with duckdb.connect(db, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM requests").fetchone() == (1,)
        # no text kept without --keep-text, and no structure for a line not parsed
        assert con.execute("SELECT raw, structure FROM quarantine").fetchone() == (None, None)


def test_a_yaml_bomb_in_a_pricing_table_is_a_clean_exit_4(run, tmp_path):
    bomb = "\n".join(
        ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
        + [f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},"
           f"*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]"
           for i in range(8)]
        + ["models: *i"]
    )  # fmt: skip
    (tmp_path / "bomb.yaml").write_text(bomb)
    result = run("pricing", "check", "--pricing", str(tmp_path))
    assert result.code == 4 and "bomb.yaml" in result.stderr


def test_a_lone_bracket_first_line_is_json_lines_not_a_damaged_array(run, tmp_path):
    """Hypothesis found it: "[" then a good record read as a JSON array, which failed, and the
    whole file was refused. A later line that is a whole JSON object makes it JSON Lines: the
    "[" is quarantined and the record kept."""
    path = tmp_path / "lines.jsonl"
    path.write_text("[\n" + GOOD + "\n", encoding="utf-8")
    db = str(tmp_path / "x.duckdb")
    result = run("ingest", str(path), "--db", db)
    assert result.code == 0, result.stderr
    assert "1 requests inserted" in result.stderr or "1 request inserted" in result.stderr
    assert "1 quarantined" in result.stderr
    damaged = tmp_path / "damaged.json"
    damaged.write_text('[\n  {\n    "a": 1,\n', encoding="utf-8")  # a cut pretty-printed array
    assert "not a valid JSON array" in run("ingest", str(damaged), "--db", db).stderr
