"""No secrets or prompts kept (SPEC §2, §4; issue 14 items 8 and 9).

Marker strings are planted where each format naturally carries a key or a prompt, in good lines
and in bad ones, and then searched for in the bytes of the database files (after a CHECKPOINT,
the .duckdb and any .wal) and in everything the commands print or write. Every secret marker
contains SECRETMARK (or is the base64 of one), every prompt or completion PROMPTMARK.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import duckdb
import pytest

from costops.store.migrations import MIGRATIONS, MIGRATIONS_TABLE, migrate

BASIC = base64.b64encode(b"user:SECRETMARK-basic").decode()
TS = "2026-06-03T12:00:00Z"


def litellm(request_id: str, completion_tokens: int = 20) -> dict:
    """A LiteLLM spend log: metadata logged as a JSON-encoded string, proxy request headers."""
    metadata = {
        "user_api_key": "sk-SECRETMARK-litellm-in-string",
        "user_api_key_user_email": "SECRETMARK.person@example.com",
        "headers": {"authorization": "Bearer SECRETMARK-bearer-in-string",
                    "api-key": "SECRETMARK-azure-in-string"},
    }  # fmt: skip
    return {
        "request_id": request_id, "call_type": "acompletion", "startTime": TS,
        "endTime": "2026-06-03T12:00:02Z", "model": "gpt-4.1", "custom_llm_provider": "openai",
        "api_key": "SECRETMARK0hashed0key", "prompt_tokens": 100,
        "completion_tokens": completion_tokens, "spend": 0.001, "status": "success",
        "metadata": json.dumps(metadata),
        "proxy_server_request": {"headers": {"authorization": f"Basic {BASIC}",
                                             "x-api-key": "SECRETMARK-anthropic-header"}},
        "messages": [{"role": "system", "content": "PROMPTMARK system prompt"},
                     {"role": "user", "content": "PROMPTMARK user prompt"}],
        "response": {"choices": [{"message": {"content": "PROMPTMARK completion"}}]},
    }  # fmt: skip


def azure(request_id: str, completion_tokens: int = 20) -> dict:
    """An Azure OpenAI call logged with its request: the `api-key` header, the messages."""
    return {
        "timestamp": TS,
        "request": {"headers": {"api-key": "SECRETMARK0azure0key0hex"},
                    "body": {"messages": [{"role": "user", "content": "PROMPTMARK azure"}]}},
        "response": {"id": request_id, "object": "chat.completion", "created": 1780488000,
                     "model": "gpt-4.1",
                     "choices": [{"message": {"content": "PROMPTMARK azure answer"}}],
                     "usage": {"prompt_tokens": 100, "completion_tokens": completion_tokens}},
    }  # fmt: skip


def _attr(key: str, value: dict) -> dict:
    return {"key": key, "value": value}


def otlp(span_id: str, output_tokens: str = "20") -> dict:
    """An OTLP export: request headers as attributes (string and string[]), message attributes."""
    text = {"stringValue": "PROMPTMARK otlp"}
    attributes = [
        _attr("gen_ai.operation.name", {"stringValue": "chat"}),
        _attr("gen_ai.provider.name", {"stringValue": "openai"}),
        _attr("gen_ai.request.model", {"stringValue": "gpt-4.1"}),
        _attr("gen_ai.response.id", {"stringValue": f"otel-{span_id}"}),
        _attr("gen_ai.usage.input_tokens", {"intValue": "100"}),
        _attr("gen_ai.usage.output_tokens", {"intValue": output_tokens}),
        _attr("http.request.header.authorization", {"stringValue": "Bearer SECRETMARK-otlp"}),
        _attr("http.request.header.api-key",
              {"arrayValue": {"values": [{"stringValue": "SECRETMARK-otlp-array"}]}}),
        _attr("gen_ai.input.messages", {"stringValue": json.dumps(
            [{"role": "user", "parts": [{"type": "text", "content": "PROMPTMARK input"}]}])}),
        _attr("gen_ai.output.messages", text),
        _attr("gen_ai.system_instructions", text),
        _attr("gen_ai.prompt.0.content", text),
        _attr("gen_ai.completion.0.content", text),
    ]  # fmt: skip
    span = {
        "traceId": "5b8efff798038103d269b633813fc60c", "spanId": span_id, "name": "chat gpt-4.1",
        "kind": 3, "startTimeUnixNano": "1780488000000000000",
        "endTimeUnixNano": "1780488001000000000", "attributes": attributes, "status": {},
    }  # fmt: skip
    resource = {"attributes": [_attr("service.name", {"stringValue": "bot"})]}
    return {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": [span]}]}]}


def langfuse(observation_id: str, output: int = 5) -> dict:
    return {
        "id": observation_id, "traceId": "trace-m", "type": "GENERATION", "startTime": TS,
        "model": "gpt-4.1", "usageDetails": {"input": 10, "output": output},
        "input": [{"role": "user", "content": "PROMPTMARK langfuse input"}],
        "output": {"role": "assistant", "content": "PROMPTMARK langfuse output"},
        "metadata": {"headers": {"Authorization": "Bearer SECRETMARK-langfuse"}},
    }  # fmt: skip


def claude_code(message_id: str, output_tokens: int = 12) -> dict:
    return {
        "type": "assistant", "sessionId": "s-1", "timestamp": TS, "uuid": f"u-{message_id}",
        "requestId": f"req-{message_id}",
        "message": {"id": message_id, "type": "message", "role": "assistant",
                    "model": "claude-sonnet-4-5-20250929",
                    "content": [{"type": "text", "text": "PROMPTMARK claude code"},
                                {"type": "tool_use", "id": "t1", "name": "Bash",
                                 "input": {"command": "curl -H 'x-api-key: SECRETMARK-cc'"}}],
                    "usage": {"input_tokens": 8, "output_tokens": output_tokens}},
    }  # fmt: skip


def canonical(request_id: str, output_tokens: int = 20) -> dict:
    return {
        "request_id": request_id, "timestamp": TS, "model": "gpt-4.1", "input_tokens": 100,
        "output_tokens": output_tokens,
        "attributes": {"team": "growth", "authorization": "Bearer SECRETMARK-attribute",
                       "api-key": "SECRETMARK-attribute-azure", "prompt": "PROMPTMARK attr",
                       "gen_ai.prompt.0.content": "PROMPTMARK attr", "messages": "PROMPTMARK",
                       "llm.completions.0.content": "PROMPTMARK attr", "system": "PROMPTMARK"},
    }  # fmt: skip


def lines(make, good_id: str, bad_id: str, **bad) -> list[str]:
    """A good line, a bad one (a negative count) and a truncated copy (not JSON)."""
    whole = json.dumps(make(bad_id, **bad))
    return [json.dumps(make(good_id)), whole, whole[:-3]]


def write_marked_logs(root: Path) -> list[str]:
    files = {
        "litellm.jsonl": lines(litellm, "ll-good", "ll-bad", completion_tokens=-1),
        "azure.jsonl": lines(azure, "az-good", "az-bad", completion_tokens=-1),
        "otlp.jsonl": lines(otlp, "a1", "a2", output_tokens="-1"),
        "langfuse.jsonl": lines(langfuse, "lf-good", "lf-bad", output=-1),
        "claude.jsonl": lines(claude_code, "cc-good", "cc-bad", output_tokens=-1),
        "canonical.jsonl": lines(canonical, "co-good", "co-bad", output_tokens=-1),
        # a clean canonical file takes the fast path
        "canonical_fast.jsonl": [json.dumps(canonical("co-fast"))],
    }
    for name, text in files.items():
        (root / name).write_text("\n".join(text) + "\n")
    return [str(root / name) for name in files]


def database_bytes(db: str) -> bytes:
    with duckdb.connect(db) as con:
        con.execute("CHECKPOINT")
    return b"".join(p.read_bytes() for p in (Path(db), Path(db + ".wal")) if p.exists())


def outputs(run, db: str, tmp_path: Path) -> tuple[list[str], bytes]:
    """Everything the reading commands print or write about the marked data."""
    printed = []
    for args in (
        ("quarantine",), ("quarantine", "--format", "json"), ("quarantine", "--format", "csv"),
        ("quarantine", "--format", "markdown"), ("report", "--by", "attr.team"),
        ("report", "--by", "model", "--format", "json"),
        ("export", "requests", "-o", str(tmp_path / "requests.csv")),
    ):  # fmt: skip
        result = run(*args, "--db", db)
        assert result.code == 0, (args, result.stderr)
        printed += [result.stdout, result.stderr]
    return printed, (tmp_path / "requests.csv").read_bytes()


@pytest.mark.parametrize("keep_text", [False, True], ids=["default", "keep-text"])
def test_planted_secrets_and_prompts_are_nowhere_they_should_not_be(run, db, tmp_path, keep_text):
    paths = write_marked_logs(tmp_path)
    ingest = run("ingest", *paths, "--db", db, *(["--keep-text"] if keep_text else []))
    assert ingest.code == 0, ingest.stderr
    with duckdb.connect(db, read_only=True) as con:
        ids = {r for (r,) in con.execute("SELECT request_id FROM requests").fetchall()}
        quarantined = con.execute("SELECT count(*) FROM quarantine").fetchone()
    # every good line stored, every bad one (2 per file, 6 files) quarantined
    assert ids == {"ll-good", "az-good", "otel-a1", "lf-good", "cc-good", "co-good", "co-fast"}
    assert quarantined == (12,)
    printed, exported = outputs(run, db, tmp_path)
    data = database_bytes(db)
    assert b"ll-good" in data and b"ll-good" in exported  # the control: stored text is visible
    for text in (data, exported, *(p.encode() for p in [ingest.stdout, ingest.stderr, *printed])):
        assert b"SECRETMARK" not in text and BASIC.encode() not in text
        if not keep_text:
            assert b"PROMPTMARK" not in text
    if keep_text:  # kept, as asked: the lines' text with their keys redacted
        assert b"PROMPTMARK" in data and b"[REDACTED]" in data


def test_quarantine_stores_length_hash_and_structure_not_the_line(run, db, tmp_path):
    line = '{"model": "m", "input_tokens": -1, "usage": {"a": [1, "x"]}, "prompt": "PROMPTMARK"}'
    (tmp_path / "q.jsonl").write_text(line + "\n")
    assert run("ingest", str(tmp_path / "q.jsonl"), "--db", db).code == 3
    with duckdb.connect(db, read_only=True) as con:
        row = con.execute("SELECT byte_length, sha256, structure, raw FROM quarantine").fetchone()
    # 15 + 20 + 26 + 23 = 84 bytes ('{"model": "m", ', '"input_tokens": -1, ',
    # '"usage": {"a": [1, "x"]}, ', '"prompt": "PROMPTMARK"}'); the structure as DuckDB's
    # json_structure writes it: a list of mixed values is "JSON"
    assert row == (
        84,
        hashlib.sha256(line.encode()).hexdigest(),
        '{"model":"VARCHAR","input_tokens":"BIGINT","usage":{"a":["JSON"]},"prompt":"VARCHAR"}',
        None,
    )
    listed = run("quarantine", "--db", db, "--format", "json").json()["rows"][0]
    assert listed["byte_length"] == 84 and listed["raw"] is None
    assert "PROMPTMARK" not in run("quarantine", "--db", db).stdout


def test_keep_text_keeps_the_quarantined_line_redacted(run, db, tmp_path):
    line = json.dumps({"model": "m", "input_tokens": -1, "api-key": "SECRETMARK",
                       "messages": [{"content": "PROMPTMARK"}]})  # fmt: skip
    (tmp_path / "q.jsonl").write_text(line + "\n")
    run("ingest", str(tmp_path / "q.jsonl"), "--db", db, "--keep-text")
    with duckdb.connect(db, read_only=True) as con:
        (raw,) = con.execute("SELECT raw FROM quarantine").fetchone()
    assert raw == line.replace('"SECRETMARK"', '"[REDACTED]"')


@pytest.mark.parametrize("keep_text", [False, True], ids=["default", "keep-text"])
def test_attributes_lose_secrets_always_and_prompts_unless_kept(run, db, tmp_path, keep_text):
    # a clean canonical file: the fast path by default, the general path with --keep-text
    (tmp_path / "a.jsonl").write_text(json.dumps(canonical("co-good")) + "\n")
    run("ingest", str(tmp_path / "a.jsonl"), "--db", db, *(["--keep-text"] if keep_text else []))
    with duckdb.connect(db, read_only=True) as con:
        (attributes,) = con.execute("SELECT attributes FROM requests").fetchone()
    expected = {"team": "growth", "authorization": "[REDACTED]", "api-key": "[REDACTED]"}
    if keep_text:
        expected |= {"prompt": "PROMPTMARK attr", "gen_ai.prompt.0.content": "PROMPTMARK attr",
                     "messages": "PROMPTMARK", "llm.completions.0.content": "PROMPTMARK attr",
                     "system": "PROMPTMARK"}  # fmt: skip
    assert json.loads(attributes) == expected
    assert run("report", "--by", "attr.team", "--db", db, "--format", "json").code == 0


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ('{"api-key": "abc123"}', '{"api-key": "[REDACTED]"}'),
        ('{"Ocp-Apim-Subscription-Key": "k"}', '{"Ocp-Apim-Subscription-Key": "[REDACTED]"}'),
        ('{"x-goog-api-key": ["k1", "k2"]}', '{"x-goog-api-key": "[REDACTED]"}'),
        ('{"m": "{\\"api_key\\": \\"k\\"}"}', '{"m": "{\\"api_key\\": \\"[REDACTED]\\"}"}'),
        ('{"key": "http.request.header.cookie", "value": {"stringValue": "c=1"}}',
         '{"key": "http.request.header.cookie", "value": {"stringValue": "[REDACTED]"}}'),
        ("Authorization: Basic dXNlcjpwYXNz", "Authorization: [REDACTED]"),
        ("https://u:pw@host/v1?api_key=k&x=1", "https://[REDACTED]@host/v1?api_key=[REDACTED]&x=1"),
        ("mail bob.smith@example.co.uk now", "mail [EMAIL] now"),
        ("task-abcdefghijk sk-abcdefghijk", "task-abcdefghijk [REDACTED]"),
        ('{"input_tokens": 5, "max_tokens": 9}', '{"input_tokens": 5, "max_tokens": 9}'),
        ('{"paid_tokens": "5", "oidc.id_token": "t"}',
         '{"paid_tokens": "5", "oidc.id_token": "[REDACTED]"}'),
    ],
)  # fmt: skip
def test_redaction_covers_each_natural_place_and_leaves_counts(text, redacted):
    from costops.ingest.redact import redact_sql

    with duckdb.connect() as con:
        assert con.execute(f"SELECT {redact_sql('$1')}", [text]).fetchone() == (redacted,)


def test_migration_4_drops_the_text_of_lines_quarantined_before(tmp_path):
    path = str(tmp_path / "v3.duckdb")
    con = duckdb.connect(path)
    con.execute(
        f"CREATE TABLE {MIGRATIONS_TABLE} "
        "(version INTEGER PRIMARY KEY, description VARCHAR, applied_at TIMESTAMP)"
    )
    for number, description, sql in MIGRATIONS[:3]:
        con.execute(sql)
        con.execute(f"INSERT INTO {MIGRATIONS_TABLE} VALUES (?, ?, now())", [number, description])
    con.execute("INSERT INTO quarantine VALUES (1, 'f', 2, 'not valid JSON', 'PROMPTMARK', now()), "
                "(1, 'f', 3, 'missing model', '{\"prompt\": \"PROMPTMARK\"}', now())")  # fmt: skip
    migrate(con, path)
    assert con.execute(
        "SELECT line_no, raw, byte_length, sha256, structure FROM quarantine ORDER BY 1"
    ).fetchall() == [(2, None, None, None, None), (3, None, None, None, '{"prompt":"VARCHAR"}')]
    con.close()
