"""OTLP exports as real collectors send them: attribute lists with a repeated or missing key, and
batches of thousands of spans in one line.

Prices by hand from the packaged list prices: gpt-4.1 is 2.00 in / 8.00 out (USD per million
tokens), so a span of 1,000 input and 100 output tokens costs 1,000 x 2 + 100 x 8 = 2,800 per
million = 0.0028.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from costops.analysis.session import analysis_session

COSTOPS = str(Path(sys.executable).parent / "costops")
MiB = 1024 * 1024


def _attr(key: str | None, value: Any) -> dict[str, Any]:
    kind = "intValue" if isinstance(value, int) else "stringValue"
    entry: dict[str, Any] = {"value": {kind: str(value)}}
    if key is not None:
        entry["key"] = key
    return entry


def _span(i: int, input_tokens: int = 1000, extra: list[dict[str, Any]] | None = None,
          content: str = "") -> dict[str, Any]:  # fmt: skip
    """A chat span on gpt-4.1 with 100 output tokens; `content` goes in gen_ai.input.messages."""
    attributes = [
        _attr("gen_ai.operation.name", "chat"),
        _attr("gen_ai.provider.name", "openai"),
        _attr("gen_ai.request.model", "gpt-4.1"),
        _attr("gen_ai.response.id", f"resp_{i}"),
        _attr("gen_ai.usage.input_tokens", input_tokens),
        _attr("gen_ai.usage.output_tokens", 100),
        *(extra or []),
    ]
    if content:
        attributes.append(_attr("gen_ai.input.messages", content))
    start = 1_780_740_000_000_000_000 + i * 1_000_000_000
    return {"traceId": f"{i // 4:032x}", "spanId": f"{i:016x}", "name": "chat gpt-4.1",
            "kind": 3, "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + 500_000_000),
            "attributes": attributes, "status": {}}  # fmt: skip


def _export(spans: list[dict[str, Any]], resource: list[dict[str, Any]] | None = None) -> str:
    """One TracesData line, as the collector's file exporter writes it."""
    resource = resource or [_attr("service.name", "support-bot")]
    data = {
        "resourceSpans": [
            {
                "resource": {"attributes": resource},
                "scopeSpans": [
                    {"scope": {"name": "opentelemetry.instrumentation.openai"}, "spans": spans}
                ],
            }
        ]
    }
    return json.dumps(data, separators=(",", ":")) + "\n"


def _priced(db: str) -> dict[str, tuple[Any, ...]]:
    with analysis_session(db) as con:
        rows = con.execute(
            "SELECT request_id, input_tokens, output_tokens, cost, attributes FROM priced_requests"
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_a_repeated_attribute_key_keeps_its_last_value(run, db, tmp_path):
    """Was: "Map keys must be unique", and the whole file lost (both lines here)."""
    repeated = _span(1, input_tokens=7, extra=[_attr("gen_ai.usage.input_tokens", 1000)])
    resource = [_attr("service.name", "old-name"), _attr("service.name", "support-bot")]
    path = tmp_path / "traces.jsonl"
    path.write_text(_export([repeated], resource) + _export([_span(2)]))
    result = run("ingest", str(path), "--db", db)
    assert result.code == 0, result.stderr
    rows = _priced(db)
    # the later 1,000 input tokens, not the earlier 7: 0.0028, as for the plain span
    assert rows["resp_1"][:2] == (1000, 100)
    assert rows["resp_1"][2] == pytest.approx(0.0028)
    assert json.loads(rows["resp_1"][3]) == {"service": "support-bot"}
    assert rows["resp_2"][2] == pytest.approx(0.0028)


def test_an_attribute_without_a_key_is_ignored(run, db, tmp_path):
    """Was: "map_from_entries ... can not be NULL", and the whole file lost."""
    keyless = _span(1, extra=[_attr(None, "no key"), {"key": None, "value": {"intValue": "5"}}])
    path = tmp_path / "traces.jsonl"
    path.write_text(_export([keyless], [_attr(None, "x"), _attr("service.name", "support-bot")]))
    result = run("ingest", str(path), "--db", db)
    assert result.code == 0, result.stderr
    rows = _priced(db)
    assert rows["resp_1"][:2] == (1000, 100)
    assert json.loads(rows["resp_1"][3]) == {"service": "support-bot"}


def test_an_export_line_that_cannot_be_read_is_quarantined_not_lost(run, db, tmp_path):
    """Was: an export line with a bad byte counted as read, yet neither stored nor quarantined."""
    bad = _export([_span(1)]).replace("support-bot", "support-\udcffbot")
    path = tmp_path / "traces.jsonl"
    path.write_bytes(bad.encode("utf-8", "surrogateescape") + _export([_span(2)]).encode())
    result = run("ingest", str(path), "--db", db)
    assert result.code == 0, result.stderr
    assert "1 quarantined" in result.stderr
    assert list(_priced(db)) == ["resp_2"]
    with analysis_session(db) as con:
        reasons = con.execute("SELECT line_no, reason FROM quarantine").fetchall()
    assert reasons == [(1, "not valid UTF-8")]


def _ingest_measured(path: Path, db: Path) -> tuple[int, float, str]:
    """Exit code, peak RSS in MB and stderr of `costops ingest` in its own process."""
    with open(path.parent / "err.txt", "w+b") as err:
        proc = subprocess.Popen([COSTOPS, "ingest", str(path), "--db", str(db)],
                                stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        err.seek(0)
        return proc.returncode, usage.ru_maxrss / 1024, err.read().decode()


def _totals(db: Path) -> tuple[int, int, float]:
    with analysis_session(str(db)) as con:
        row = con.execute("SELECT count(*), sum(input_tokens), sum(cost) FROM priced_requests")
        count, tokens, cost = row.fetchall()[0]
    return int(count), int(tokens), float(cost)


@pytest.mark.slow
def test_an_export_of_10000_spans_in_one_line_ingests_in_bounded_memory(tmp_path):
    """Was: out of memory at 1,000 spans (every span row carried the whole line)."""
    path = tmp_path / "batch.jsonl"
    path.write_text(_export([_span(i) for i in range(10_000)]))
    code, rss_mb, err = _ingest_measured(path, tmp_path / "t.duckdb")
    assert code == 0, err
    assert rss_mb < 1536, f"peak RSS {rss_mb:.0f} MB"
    # 10,000 spans of 1,000 input tokens at 0.0028 each
    count, tokens, cost = _totals(tmp_path / "t.duckdb")
    assert (count, tokens) == (10_000, 10_000_000)
    assert cost == pytest.approx(28.0)


@pytest.mark.slow
def test_an_otlp_export_line_may_pass_16_mib(tmp_path):
    """An 8,192-span export carrying its messages (2 KiB a span: 19 MiB) is read whole; any other
    line over 16 MiB is still cut off unparsed."""
    spans = [_span(i, content="m" * 2048) for i in range(8192)]
    big = _export(spans)
    assert 16 * MiB < len(big) < 32 * MiB
    other = json.dumps({"request_id": "r1", "model": "gpt-4.1", "note": "x" * (17 * MiB)})
    path = tmp_path / "big.jsonl"
    path.write_text(big + other + "\n")
    db = tmp_path / "t.duckdb"
    code, rss_mb, err = _ingest_measured(path, db)
    assert code == 0, err
    assert rss_mb < 1536, f"peak RSS {rss_mb:.0f} MB"
    count, tokens, cost = _totals(db)
    assert (count, tokens) == (8192, 8_192_000)
    assert cost == pytest.approx(8192 * 0.0028)
    with analysis_session(str(db)) as con:
        reasons = con.execute("SELECT line_no, reason FROM quarantine").fetchall()
    assert reasons == [(2, "line longer than 16 MiB: not parsed")]


@pytest.mark.slow
def test_an_export_line_of_60_mb_ingests_within_the_default_memory_cap(tmp_path):
    """8,192 spans with 7 KiB of messages each. Was: out of memory (exit 5, the file and every
    later file lost) in the duplicate-key check, which parsed the line once per nested path."""
    path = tmp_path / "big.jsonl"
    path.write_text(_export([_span(i, content="m" * 7168) for i in range(8192)]))
    assert 56 * MiB < path.stat().st_size < 64 * MiB
    code, rss_mb, err = _ingest_measured(path, tmp_path / "t.duckdb")
    assert code == 0, err
    assert rss_mb < 2048, f"peak RSS {rss_mb:.0f} MB"
    assert _totals(tmp_path / "t.duckdb")[:2] == (8192, 8_192_000)


def test_keep_text_stores_each_span_its_own_text(run, db, tmp_path):
    """Was: with --keep-text, every span of a line got every span's text (a join on the line
    number alone): 3 spans stored 9 texts, two of them each request's neighbours'."""
    path = tmp_path / "traces.jsonl"
    path.write_text(_export([_span(i) for i in range(3)]))
    assert run("ingest", str(path), "--db", db, "--keep-text").code == 0
    with analysis_session(db) as con:
        texts = con.execute("SELECT request_id, raw FROM request_text").fetchall()
    assert sorted(r for r, _ in texts) == ["resp_0", "resp_1", "resp_2"]
    for request_id, raw in texts:
        assert json.loads(raw)["attributes"][3]["value"]["stringValue"] == request_id
