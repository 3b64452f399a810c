"""OTLP export lines longer than any other line (a collector's 8,192-span batch with messages
reaches hundreds of MB) are split into export lines of whole traces before DuckDB parses them.

Here the limits are made small (the split threshold 64 KiB, export groups of 8 KiB, chunks of
32 KiB), so a few hundred spans exercise every path; the slow test runs the real sizes.
Prices by hand as in test_otlp_robust: a gpt-4.1 span of 1,000 in / 100 out costs 0.0028.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from costops.analysis.session import analysis_session
from costops.ingest import sources
from costops.ingest.formats import otlp
from tests.test_otlp_robust import (
    MiB,
    _attr,
    _export,
    _ingest_measured,
    _span,
    _totals,
)

KiB = 1024


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "MAX_LINE_BYTES", 64 * KiB)
    monkeypatch.setattr(sources, "CHUNK_BYTES", 32 * KiB)
    monkeypatch.setattr(otlp, "GROUP_CHARS", 8 * KiB)


def _agent(trace: int, feature: str) -> dict:
    """An agent span naming the feature: the context its trace's model calls get."""
    return {"traceId": f"{trace:032x}", "spanId": f"a{trace:015x}", "name": "invoke_agent",
            "attributes": [_attr("gen_ai.operation.name", "invoke_agent"),
                           _attr("gen_ai.agent.name", f"agent-{trace}"),
                           _attr("costops.feature", feature)]}  # fmt: skip


def _rows(db: str) -> dict[str, tuple]:
    with analysis_session(db) as con:
        rows = con.execute(
            "SELECT request_id, feature, line_no, cost FROM priced_requests"
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_a_long_export_line_is_split_keeping_traces_whole(run, db, tmp_path, small_limits):
    """400 chat spans in 100 traces, each trace's agent span (the feature) placed at the end of
    the line, far from its model calls: every request still gets its trace's feature, its own
    line number, and its price."""
    spans = [_span(i, content="x" * 200) for i in range(400)]
    agents = [_agent(t, f"feature-{t % 7}") for t in range(100)]
    long_line = _export(spans + agents)
    assert len(long_line) > 4 * 64 * KiB  # split into many groups and chunks
    path = tmp_path / "traces.jsonl"
    path.write_text(_export([_span(1000)]) + long_line + _export([_span(1001)]))
    result = run("ingest", str(path), "--db", db)
    assert result.code == 0, result.stderr
    assert "3 lines (otlp 3)" in result.stderr
    assert "402 requests inserted" in result.stderr and "0 quarantined" in result.stderr
    rows = _rows(db)
    assert len(rows) == 402
    for i in range(400):
        assert rows[f"resp_{i}"][:2] == (f"feature-{(i // 4) % 7}", 2), i
    assert rows["resp_1000"][1] == 1 and rows["resp_1001"][1] == 3
    assert sum(r[2] for r in rows.values()) == pytest.approx(402 * 0.0028)


def test_a_bad_span_in_a_split_line_is_quarantined_under_the_line_number(
    run, db, tmp_path, small_limits
):
    spans = [_span(i, content="x" * 200) for i in range(300)]
    spans[150] = _span(150, input_tokens=-5)
    path = tmp_path / "traces.jsonl"
    path.write_text(_export([_span(1000)]) + _export(spans))
    result = run("ingest", str(path), "--db", db)
    assert result.code == 0, result.stderr
    assert "2 lines (otlp 2)" in result.stderr and "300 requests inserted" in result.stderr
    with analysis_session(db) as con:
        quarantined = con.execute("SELECT line_no, reason FROM quarantine").fetchall()
    assert [line for line, _ in quarantined] == [2]


def test_a_long_export_line_with_no_model_call_is_one_skipped_line(run, db, tmp_path, small_limits):
    path = tmp_path / "traces.jsonl"
    path.write_text(_export([_agent(t, "f" * 300) for t in range(500)]))
    result = run("ingest", str(path), "--db", db)
    assert result.code == 0, result.stderr
    assert "1 line" in result.stderr and "0 requests inserted" in result.stderr
    with analysis_session(db) as con:
        skipped = con.execute("SELECT lines_read, quarantined FROM ingest_runs").fetchall()
    assert skipped == [(1, 0)]


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda line: line[:-3] + "\n", "not valid JSON"),
        (lambda line: line.replace('"resp_7"', '"resp_\udcff"'), "not valid UTF-8"),
        (lambda line: line.replace('"scopeSpans":[', '"scopeSpans":{"a":[', 1), "not an OTLP"),
    ],
)
def test_a_long_export_line_that_cannot_be_split_is_quarantined_once(
    run, db, tmp_path, small_limits, damage, reason
):
    line = damage(_export([_span(i, content="x" * 200) for i in range(300)]))
    path = tmp_path / "traces.jsonl"
    path.write_bytes(line.encode("utf-8", "surrogateescape") + _export([_span(1000)]).encode())
    result = run("ingest", str(path), "--db", db)
    assert result.code == 0, result.stderr
    assert "1 request inserted" in result.stderr
    with analysis_session(db) as con:
        quarantined = con.execute("SELECT line_no, reason FROM quarantine").fetchall()
    assert len(quarantined) == 1
    assert quarantined[0][0] == 1 and quarantined[0][1].startswith(reason)


def test_split_export_keeps_each_span_under_its_resource_and_scope():
    """Spans of one trace under two resources stay in one line, each under its own resource and
    scope, text unchanged; traces are not cut between lines."""
    resource_b = [_attr("service.name", "b")]
    data = json.loads(_export([_span(i) for i in range(8)]))
    other = json.loads(_export([_span(i) for i in range(8, 12)], resource_b))
    data["resourceSpans"] += other["resourceSpans"]
    text = json.dumps(data, indent=1)
    lines = list(otlp.split_export(text, group_chars=1))  # one trace per line
    assert len(lines) == 3  # traces 0..2 (4 spans each)
    seen = []
    for line in lines:
        export = json.loads(line)
        traces = {s["traceId"] for r in export["resourceSpans"] for ss in r["scopeSpans"]
                  for s in ss["spans"]}  # fmt: skip
        assert len(traces) == 1
        for r in export["resourceSpans"]:
            service = r["resource"]["attributes"][0]["value"]["stringValue"]
            for ss in r["scopeSpans"]:
                seen += [(service, s["spanId"]) for s in ss["spans"]]
    expected = [("support-bot", f"{i:016x}") for i in range(8)]
    expected += [("b", f"{i:016x}") for i in range(8, 12)]
    assert sorted(seen) == sorted(expected)


def test_a_line_past_the_export_limit_is_cut_off(run, db, tmp_path, monkeypatch, small_limits):
    monkeypatch.setattr(otlp, "MAX_LINE_BYTES", 128 * KiB)
    path = tmp_path / "traces.jsonl"
    long_line = _export([_span(i, content="x" * 500) for i in range(400)])
    path.write_text(long_line + _export([_span(1)]))
    result = run("ingest", str(path), "--db", db)
    assert result.code == 0, result.stderr
    with analysis_session(db) as con:
        quarantined = con.execute("SELECT line_no, reason FROM quarantine").fetchall()
    assert quarantined == [(1, sources.too_long(128 * KiB))]
    assert len(_rows(db)) == 1


@pytest.mark.slow
def test_an_export_line_over_64_mib_is_split_in_bounded_memory(tmp_path: Path):
    """8,192 spans with 9 KiB of messages each (76 MB in one line; the limit used to be 64 MiB,
    and a 100 MB line ran out of memory): every span stored, and the line after it."""
    path = tmp_path / "big.jsonl"
    after = _export([_span(99_999, content="small")])
    path.write_text(_export([_span(i, content="m" * 9216) for i in range(8192)]) + after)
    assert path.stat().st_size > 64 * MiB
    db = tmp_path / "t.duckdb"
    code, rss_mb, err = _ingest_measured(path, db)
    assert code == 0, err
    assert rss_mb < 1536, f"peak RSS {rss_mb:.0f} MB"
    assert "2 lines (otlp 2)" in err
    count, tokens, cost = _totals(db)
    assert (count, tokens) == (8193, 8_193_000)
    assert cost == pytest.approx(8193 * 0.0028)
