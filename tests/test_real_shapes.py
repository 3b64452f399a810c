"""Records in the shapes real emitters write, kept whole: an unusable request *setting* becomes
NULL, and lines that are not requests (Langfuse spans, Claude Code bookkeeping, OTLP tool spans)
are skipped and counted, never quarantined. Values are invented; the shapes are the emitters'.

Expected tokens by hand (SPEC §3: input includes cache, output includes reasoning):
  Langfuse usageDetails split so its keys sum to the total (`input` excludes cache reads/writes,
  `output` excludes reasoning), except the OpenInference keys Langfuse keeps as they come
  (`prompt_details.cache_read` inside `input`, `completion_details.reasoning` inside `output`):
    lf-split      input 40 + input_cache_read 300 + input_audio 5 = 345, read 300;
                  output 20 + output_reasoning 64 = 84, reasoning 64
    lf-openinf    input 900 (read 512 inside), output 700 (reasoning 450 inside)
    lf-input-only input 1200, no output key: output 0
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest


def _write(path: Path, *records: object) -> str:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def _rows(db: str, sql: str) -> list[tuple]:
    with duckdb.connect(db, read_only=True) as con:
        return con.execute(sql).fetchall()


def _stored(db: str) -> dict[str, tuple]:
    return {
        r[0]: r[1:]
        for r in _rows(
            db,
            "SELECT request_id, input_tokens, cache_read_tokens, cache_write_5m_tokens, "
            "output_tokens, reasoning_tokens, max_tokens, latency_ms FROM requests",
        )
    }


def _quarantined(db: str) -> list[tuple]:
    return _rows(db, "SELECT line_no, reason FROM quarantine ORDER BY line_no")


def _observation(obs_id: str, obs_type: str = "GENERATION", **fields: object) -> dict:
    """A Langfuse observation as GET /api/public/observations returns it."""
    return {
        "id": obs_id, "traceId": "0af7651916cd43dd8448eb211c80319c", "type": obs_type,
        "name": "ChatOpenAI", "startTime": "2026-05-04T09:00:00.000Z",
        "endTime": "2026-05-04T09:00:02.500Z", "model": "gpt-4o-mini",
        "modelParameters": {"temperature": 0.2}, "usageDetails": {"input": 10, "output": 2},
        "costDetails": {}, "level": "DEFAULT", "inputUsage": 0, "outputUsage": 0,
        "totalUsage": 0, "environment": "default", **fields,
    }  # fmt: skip


def _span(name: str, attributes: dict[str, object], span_id: str = "00f067aa0ba902b7") -> dict:
    def value(v: object) -> dict:
        if isinstance(v, bool):
            return {"boolValue": v}
        if isinstance(v, int):
            return {"intValue": str(v)}
        return {"stringValue": v}

    return {
        "traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "spanId": span_id, "name": name,
        "kind": 3, "startTimeUnixNano": "1777885200000000000",
        "endTimeUnixNano": "1777885201500000000", "status": {},
        "attributes": [{"key": k, "value": value(v)} for k, v in attributes.items()],
    }  # fmt: skip


def _traces(*spans: dict, sdk: str = "openlit") -> dict:
    return {
        "resourceSpans": [{
            "resource": {"attributes": [
                {"key": "telemetry.sdk.name", "value": {"stringValue": sdk}},
                {"key": "service.name", "value": {"stringValue": "checkout"}},
            ]},
            "scopeSpans": [{"scope": {"name": "openlit.otel.tracing"}, "spans": list(spans)}],
        }]
    }  # fmt: skip


def _chat_span(max_tokens: int | str, span_id: str = "00f067aa0ba902b7") -> dict:
    return _span("openai.chat.completions", {
        "gen_ai.system": "openai", "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o-mini", "gen_ai.response.id": f"chatcmpl-{span_id}",
        "gen_ai.request.max_tokens": max_tokens, "gen_ai.request.temperature": "1",
        "gen_ai.usage.input_tokens": 21, "gen_ai.usage.output_tokens": 57,
    }, span_id)  # fmt: skip


# --- 1. an unusable request setting is NULL, the request is kept ----------------------------


def test_openlit_max_tokens_minus_one_is_unset_not_a_reason_to_drop(run, db, tmp_path):
    path = _write(tmp_path / "openlit.jsonl", _traces(_chat_span(-1)))
    result = run("ingest", path, "--db", db)
    assert result.code == 0, result.stderr
    assert _quarantined(db) == []
    assert _stored(db) == {"chatcmpl-00f067aa0ba902b7": (21, 0, 0, 57, 0, None, 1500)}


@pytest.mark.parametrize("max_tokens", [-1, "null", "unlimited", "", 1.5, "-2", {"v": 1}])
def test_langfuse_unusable_max_tokens_becomes_null(run, db, tmp_path, max_tokens):
    obs = _observation("lf-mt", modelParameters={"max_tokens": max_tokens, "top_p": "null"})
    result = run("ingest", _write(tmp_path / "lf.jsonl", obs), "--db", db)
    assert result.code == 0, result.stderr
    assert _quarantined(db) == []
    assert _stored(db) == {"lf-mt": (10, 0, 0, 2, 0, None, 2500)}


def test_an_integer_max_tokens_is_kept_even_as_a_numeric_string(run, db, tmp_path):
    path = _write(
        tmp_path / "lf.jsonl",
        _observation("lf-int", modelParameters={"max_tokens": 512}),
        _observation("lf-str", modelParameters={"max_tokens": "2048"}),
    )
    assert run("ingest", path, "--db", db).code == 0
    assert {k: v[5] for k, v in _stored(db).items()} == {"lf-int": 512, "lf-str": 2048}


def test_canonical_settings_are_nulled_but_counts_still_quarantine(run, db, tmp_path):
    def req(rid: str, **fields: object) -> dict:
        return {"request_id": rid, "timestamp": "2026-05-04T09:00:00Z", "model": "gpt-4o-mini",
                "input_tokens": 100, "output_tokens": 10, **fields}  # fmt: skip

    path = _write(
        tmp_path / "canonical.jsonl",
        req("neg-max", max_tokens=-1),
        req("str-max", max_tokens="null"),
        req("neg-latency", latency_ms=-40),
        req("float-latency", latency_ms=12.5),
        req("neg-output", output_tokens=-1),
        req("neg-prefix", prefix_tokens=-3),
    )
    result = run("ingest", path, "--db", db)
    assert result.code == 0, result.stderr
    assert {k: v[5:] for k, v in _stored(db).items()} == {
        "neg-max": (None, None), "str-max": (None, None),
        "neg-latency": (None, None), "float-latency": (None, None),
    }  # fmt: skip
    assert _quarantined(db) == [
        (5, "output_tokens is negative: -1"),
        (6, "prefix_tokens is negative: -3"),
    ]


def test_langfuse_end_before_start_keeps_the_request_without_latency(run, db, tmp_path):
    obs = _observation("lf-skew", endTime="2026-05-04T08:59:59.000Z")
    assert run("ingest", _write(tmp_path / "lf.jsonl", obs), "--db", db).code == 0
    assert _quarantined(db) == []
    assert _stored(db)["lf-skew"][6] is None


# --- 2. Langfuse: usage keys, and observations that are not model calls ----------------------


def test_langfuse_usage_keys_split_inclusive_and_absent(run, db, tmp_path):
    path = _write(
        tmp_path / "lf.jsonl",
        _observation("lf-split", usageDetails={
            "input": 40, "output": 20, "total": 429, "input_audio": 5, "input_cache_read": 300,
            "output_audio": 0, "output_reasoning": 64}),
        _observation("lf-openinf", model="gemini-2.5-flash", usageDetails={
            "input": 900, "prompt_details.cache_read": 512, "output": 700,
            "completion_details.reasoning": 450, "total": 1600}),
        _observation("lf-input-only", modelParameters={"max_tokens": "null"},
                     usageDetails={"input": 1200, "total": 1200}),
    )  # fmt: skip
    result = run("ingest", path, "--db", db)
    assert result.code == 0, result.stderr
    assert _quarantined(db) == []
    stored = {k: v[:5] for k, v in _stored(db).items()}
    assert stored == {
        "lf-split": (345, 300, 0, 84, 64),
        "lf-openinf": (900, 512, 0, 700, 450),
        "lf-input-only": (1200, 0, 0, 0, 0),
    }


def test_langfuse_spans_and_events_without_usage_are_skipped_and_counted(run, db, tmp_path):
    path = _write(
        tmp_path / "trace.jsonl",
        _observation("span-1", "SPAN", name="LangGraph", model=None, modelParameters=None,
                     usageDetails={}),
        _observation("gen-1"),
        _observation("event-1", "EVENT", name="retry", model=None, usageDetails=None),
        {k: v for k, v in _observation("tool-1", "TOOL", model=None).items()
         if k not in ("usageDetails", "modelParameters")},
        _observation("span-2", "SPAN", model=None, usageDetails={},
                     usage={"input": 0, "output": 0, "total": 0, "unit": "TOKENS"}),
    )  # fmt: skip
    result = run("ingest", path, "--db", db)
    assert result.code == 0, result.stderr
    assert _quarantined(db) == []
    assert list(_stored(db)) == ["gen-1"]
    assert "4 skipped (no usage)" in result.stderr and "0 quarantined" in result.stderr


def test_a_generation_without_usage_is_still_quarantined(run, db, tmp_path):
    path = _write(tmp_path / "lf.jsonl", _observation("gen-empty", usageDetails={}))
    run("ingest", path, "--db", db)
    assert _quarantined(db) == [(1, "missing input_tokens")]


# --- 3. Claude Code transcripts: bookkeeping lines are skipped, unknown lines are not ------


SESSION = "9d7c1e2a-5b3f-4c8d-a1e0-7f6b5a4c3d2e"


def _assistant(uuid: str, message_id: str) -> dict:
    return {
        "parentUuid": None, "isSidechain": False, "userType": "external",
        "cwd": "/home/dev/repos/invoice-bot", "sessionId": SESSION, "version": "2.0.14",
        "gitBranch": "main", "type": "assistant", "uuid": uuid,
        "timestamp": "2026-05-04T09:00:00.000Z", "requestId": "req_011CTest",
        "message": {"id": message_id, "type": "message", "role": "assistant",
                    "model": "claude-sonnet-4-5-20250929", "stop_reason": "end_turn",
                    "usage": {"input_tokens": 4, "cache_creation_input_tokens": 200,
                              "cache_read_input_tokens": 9000, "output_tokens": 77,
                              "cache_creation": {"ephemeral_5m_input_tokens": 200,
                                                 "ephemeral_1h_input_tokens": 0}}},
    }  # fmt: skip


def test_claude_code_bookkeeping_lines_are_skipped_and_counted(run, db, tmp_path):
    snapshot_id = "6a1b2c3d-0000-4e5f-8a9b-0c1d2e3f4a5b"
    project = tmp_path / "projects" / "-home-dev-repos-invoice-bot"
    project.mkdir(parents=True)
    path = _write(
        project / f"{SESSION}.jsonl",
        {"type": "summary", "summary": "Invoice parser fix", "leafUuid": "c0ffee00-1111"},
        {"type": "file-history-snapshot", "messageId": snapshot_id,
         "snapshot": {"messageId": snapshot_id, "trackedFileBackups": {},
                      "timestamp": "2026-05-04T08:59:58.000Z"}, "isSnapshotUpdate": False},
        {"type": "queue-operation", "operation": "enqueue",
         "timestamp": "2026-05-04T08:59:59.000Z", "sessionId": SESSION, "content": "go on"},
        {"parentUuid": None, "sessionId": SESSION, "type": "user", "uuid": "u-1",
         "timestamp": "2026-05-04T08:59:59.500Z", "message": {"role": "user", "content": "hi"}},
        _assistant("a-1", "msg_01InvoiceBot"),
        {"parentUuid": "a-1", "sessionId": SESSION, "type": "system", "subtype": "stop_hook",
         "uuid": "s-1", "timestamp": "2026-05-04T09:00:01.000Z", "level": "info"},
    )  # fmt: skip
    for forced in ((), ("--format", "claude-code")):  # forcing the format skips them too
        (tmp_path / "cc.duckdb").unlink(missing_ok=True)
        result = run("ingest", path, "--db", str(tmp_path / "cc.duckdb"), *forced)
        assert result.code == 0, result.stderr
        assert _quarantined(str(tmp_path / "cc.duckdb")) == []
        assert {k: v[:5] for k, v in _stored(str(tmp_path / "cc.duckdb")).items()} == {
            "msg_01InvoiceBot": (9204, 9000, 200, 77, 0)
        }
        assert "5 skipped (no usage)" in result.stderr


def test_lookalikes_of_claude_code_bookkeeping_are_still_unrecognised(run, db, tmp_path):
    path = _write(
        tmp_path / "other.jsonl",
        {"type": "summary", "text": "weekly digest"},
        {"type": "file-history-snapshot", "files": 3},
        {"type": "queue-operation", "operation": "enqueue"},
        {"type": "SPAN", "name": "no trace id, no usage"},
    )
    result = run("ingest", path, "--db", db)
    assert result.code == 3  # nothing usable
    assert [r.split(" (")[0] for _, r in _quarantined(db)] == ["unrecognised format"] * 4


# --- 4. OTLP spans that are not model calls ----------------------------------------------


def test_otlp_workflow_agent_and_tool_spans_are_skipped_not_quarantined(run, db, tmp_path):
    workflow = _span("joke_workflow.workflow", {"traceloop.span.kind": "workflow",
                                                "traceloop.entity.name": "joke_workflow"},
                     "1111111111111111")  # fmt: skip
    agent = _span(
        "invoke_agent planner",
        {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner"},
        "2222222222222222",
    )
    tool = _span(
        "execute_tool search",
        {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"},
        "3333333333333333",
    )
    chat_without_model = _span("chat", {"gen_ai.operation.name": "chat"}, "4444444444444444")
    path = _write(
        tmp_path / "traces.jsonl",
        _traces(workflow, agent, _chat_span(256, "5555555555555555"), tool, sdk="opentelemetry"),
        _traces(workflow, agent, tool, chat_without_model, sdk="opentelemetry"),
    )
    result = run("ingest", path, "--db", db)
    assert result.code == 0, result.stderr
    assert _quarantined(db) == []
    stored = _stored(db)
    assert stored == {"chatcmpl-5555555555555555": (21, 0, 0, 57, 0, 256, 1500)}
    assert "1 skipped (no usage)" in result.stderr  # the line with no model call


@pytest.mark.parametrize(
    ("split", "expected"),
    [
        # (input, cache read, 5m writes, 1h writes)
        (
            {"ephemeral_5m_input_tokens": 150, "ephemeral_1h_input_tokens": 50},
            (9204, 9000, 150, 50),
        ),
        (None, (9204, 9000, 200, 0)),  # logged as null: every write is a 5-minute one
        ("absent", (9204, 9000, 200, 0)),
        ({}, (9204, 9000, 0, 0)),  # a split that names no class: nothing is counted twice
    ],
)
def test_claude_code_cache_writes_follow_the_split_when_one_is_given(run, db, tmp_path, split,
                                                                     expected):  # fmt: skip
    """200 cache-creation tokens in all: input = 4 + 9000 read + 200 written = 9204."""
    line = _assistant("a-1", "msg_split")
    usage = line["message"]["usage"]
    if split == "absent":
        del usage["cache_creation"]
    else:
        usage["cache_creation"] = split
    result = run("ingest", _write(tmp_path / "cc.jsonl", line), "--db", db)
    assert result.code == 0, result.stderr
    assert _rows(db, "SELECT input_tokens, cache_read_tokens, cache_write_5m_tokens, "
                     "cache_write_1h_tokens FROM requests") == [expected]  # fmt: skip
