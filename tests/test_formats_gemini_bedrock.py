"""Gemini `generateContent` responses and Bedrock Converse responses / invocation logs, normalised
with their token semantics and priced, every number worked out by hand.

Gemini (tests/data/cloud/gemini.jsonl), priced with the PACKAGED table for gemini-2.5-flash:
0.30 in / 2.50 out / 0.03 cache read (USD per million tokens). `promptTokenCount` INCLUDES
`cachedContentTokenCount`; `toolUsePromptTokenCount` is extra input; `candidatesTokenCount`
EXCLUDES `thoughtsTokenCount`, which is billed as output.

  vtx-7f3a9c (Vertex AI, createTime): prompt 12,000 (8,000 cached) + tool-use prompt 500,
    candidates 700 + thoughts 1,800
    input 12,500, cache read 8,000, output 2,500, reasoning 1,800
    (12,500 - 8,000) x 0.30 + 8,000 x 0.03 + 2,500 x 2.50 = 1,350 + 240 + 6,250 = 7,840 → $0.00784
  gem-resp-2 (wrapped): 3,000 x 0.30 + 1,024 x 2.50 = 900 + 2,560 = 3,460 → $0.00346
  gem-stream-3 (three chunks, one without usage; the final one is kept):
    2,000 x 0.30 + (400 + 600) x 2.50 = 600 + 2,500 = 3,100 → $0.0031
  gem-bare-4 (bare, --timestamp): 1,000 x 0.30 + 200 x 2.50 = 300 + 500 = 800 → $0.0008
  total 7,840 + 3,460 + 3,100 + 800 = 15,200 → $0.0152

Thinking tokens billed as output, written out (vtx-7f3a9c): the response reports
candidatesTokenCount 700 and thoughtsTokenCount 1,800 separately, and totalTokenCount
15,000 = 12,000 + 500 + 700 + 1,800. Google bills the thoughts at the output rate, so the output
is 700 + 1,800 = 2,500 tokens = 2,500 x 2.50 = $0.00625. Reading candidatesTokenCount alone
would bill 700 x 2.50 = $0.00175 and miss 1,800 x 2.50 = $0.0045 — 57 % of this request's cost.

Bedrock (tests/data/cloud/bedrock.jsonl), priced with the test table tests/data/cloud/pricing
(provider aws): both models 3.00 in / 15.00 out / 0.30 read / 3.75 5-minute write / 6.00 1-hour
write. `inputTokens` EXCLUDES `cacheReadInputTokens` and `cacheWriteInputTokens`.

  br-req-1: input 1,200 + 8,000 read + 1,000 written (5m) = 10,200; output 350
    1,200 x 3 + 8,000 x 0.30 + 1,000 x 3.75 + 350 x 15 = 3,600 + 2,400 + 3,750 + 5,250
    = 15,000 → $0.015
  br-req-2: 300 + 3,000 written, split by cacheDetails into 2,000 (1h) + 1,000 (5m); output 500
    300 x 3 + 1,000 x 3.75 + 2,000 x 6 + 500 x 15 = 900 + 3,750 + 12,000 + 7,500 = 24,150 → $0.02415
  8f0c2a6e-… (invocation log, Converse): 2,500 x 3 + 600 x 15 = 7,500 + 9,000 = 16,500 → $0.0165
  b4d1e2f3-… (invocation log, InvokeModel; counts from the record): 100 + 5,000 read; output 200
    100 x 3 + 5,000 x 0.30 + 200 x 15 = 300 + 1,500 + 3,000 = 4,800 → $0.0048
  d00dfeed-… (boto3 body wrapped with modelId; time from the HTTP Date header):
    400 x 3 + 100 x 15 = 1,200 + 1,500 = 2,700 → $0.0027
  c0ffee00-… (bare boto3 body): no model id → quarantined
  total 15,000 + 24,150 + 16,500 + 4,800 + 2,700 = 63,150 → $0.06315
"""

from __future__ import annotations

import json

import duckdb
import pytest

from costops.analysis.session import analysis_session
from tests.conftest import DATA

CLOUD = DATA / "cloud"
GEMINI = str(CLOUD / "gemini.jsonl")
BEDROCK = str(CLOUD / "bedrock.jsonl")
AWS_PRICING = str(CLOUD / "pricing")
GIVEN_TIME = "2026-06-02T00:00:00Z"

GEMINI_EXPECTED = {
    # request_id: (input, cache_read, write_5m, write_1h, output, reasoning, cost)
    "vtx-7f3a9c": (12500, 8000, 0, 0, 2500, 1800, 0.00784),
    "gem-resp-2": (3000, 0, 0, 0, 1024, 0, 0.00346),
    "gem-stream-3": (2000, 0, 0, 0, 1000, 600, 0.0031),
    "gem-bare-4": (1000, 0, 0, 0, 200, 0, 0.0008),
}
BEDROCK_EXPECTED = {
    "br-req-1": (10200, 8000, 1000, 0, 350, 0, 0.015),
    "br-req-2": (3300, 0, 1000, 2000, 500, 0, 0.02415),
    "8f0c2a6e-5d1b-4c3e-9a7f-2b6d0e4f1a93": (2500, 0, 0, 0, 600, 0, 0.0165),
    "b4d1e2f3-0a1b-4c5d-8e9f-a0b1c2d3e4f5": (5100, 5000, 0, 0, 200, 0, 0.0048),
    "d00dfeed-1111-4222-8333-444455556666": (400, 0, 0, 0, 100, 0, 0.0027),
}
HINT_MODEL = (
    "missing model: a Bedrock response carries no model id: "
    "log it as {timestamp, modelId, requestId, response}"
)


def _priced(db: str, pricing: list[str] | None = None) -> dict[str, tuple]:
    with analysis_session(db, pricing) as con:
        rows = con.execute(
            "SELECT request_id, input_tokens, cache_read_tokens, cache_write_5m_tokens, "
            "cache_write_1h_tokens, output_tokens, reasoning_tokens, cost FROM priced_requests"
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


def _requests(db: str, columns: str) -> dict[str, tuple]:
    with duckdb.connect(db, read_only=True) as con:
        rows = con.execute(f"SELECT request_id, {columns} FROM requests").fetchall()
    return {r[0]: r[1:] for r in rows}


def _quarantine(db: str) -> list[tuple[int, str]]:
    with duckdb.connect(db, read_only=True) as con:
        return con.execute("SELECT line_no, reason FROM quarantine ORDER BY line_no").fetchall()


@pytest.fixture
def gemini_db(run, db):
    result = run("ingest", GEMINI, "--timestamp", GIVEN_TIME, "--db", db)
    assert result.code == 0, result.stderr
    assert "6 lines (gemini 5, skip 1)" in result.stderr  # the chunk without usage is skipped
    assert "4 requests inserted" in result.stderr and "1 duplicate" in result.stderr
    return db


@pytest.fixture
def bedrock_db(run, db):
    result = run("ingest", BEDROCK, "--db", db)
    assert result.code == 0, result.stderr
    assert "6 lines (bedrock 6)" in result.stderr
    return db


def _check(rows: dict[str, tuple], expected: dict[str, tuple]) -> None:
    assert set(rows) == set(expected)
    for request_id, (*tokens, cost) in expected.items():
        assert tuple(rows[request_id][:6]) == tuple(tokens), request_id
        assert rows[request_id][6] == pytest.approx(cost, rel=1e-9), request_id


def test_gemini_tokens_and_cost_with_the_packaged_prices(gemini_db):
    _check(_priced(gemini_db), GEMINI_EXPECTED)


def test_gemini_report_total(run, gemini_db):
    result = run("report", "--by", "model", "--format", "json", "--db", gemini_db)
    assert result.code == 0, result.stderr
    report = result.json()
    assert [row["model"] for row in report["rows"]] == ["gemini-2.5-flash"]
    assert report["totals"]["cost"] == pytest.approx(0.0152, rel=1e-9)
    assert report["totals"]["output_tokens"] == 2500 + 1024 + 1000 + 200
    assert report["totals"]["unpriced_requests"] == 0


def test_gemini_thinking_tokens_are_billed_as_output(gemini_db):
    """candidatesTokenCount 700 + thoughtsTokenCount 1,800 = 2,500 output tokens at 2.50:
    $0.00625 of the request's $0.00784 (see the module docstring)."""
    row = _priced(gemini_db)["vtx-7f3a9c"]
    output, reasoning, cost = row[4], row[5], row[6]
    assert (output, reasoning) == (700 + 1800, 1800)
    input_cost = (12500 - 8000) * 0.30 / 1e6 + 8000 * 0.03 / 1e6
    assert cost - input_cost == pytest.approx(2500 * 2.50 / 1e6, rel=1e-9)


def test_gemini_fields_and_streamed_chunks(gemini_db):
    rows = _requests(
        gemini_db, "provider, model, ts::VARCHAR, finish_reason, max_tokens, feature, customer"
    )
    # Vertex AI's createTime is the request's time
    assert rows["vtx-7f3a9c"][:4] == (
        "google", "gemini-2.5-flash", "2026-06-01 09:00:00.123456", "stop",
    )  # fmt: skip
    assert rows["gem-resp-2"][2:] == (
        "2026-06-01 10:00:00", "max_tokens", 1024, "search-summary", "cust-initech",
    )  # fmt: skip
    # three chunks share the responseId: one request, the final (most complete) chunk
    assert rows["gem-stream-3"][2:4] == ("2026-06-01 11:00:01.2", "stop")
    assert rows["gem-bare-4"][2] == "2026-06-02 00:00:00"  # --timestamp


def test_bare_gemini_response_without_time_is_quarantined_with_a_hint(run, db, tmp_path):
    bare = tmp_path / "bare.jsonl"
    bare.write_text((CLOUD / "gemini.jsonl").read_text().splitlines(keepends=True)[-1])
    result = run("ingest", str(bare), "--db", db)
    assert result.code == 3  # nothing usable
    assert _quarantine(db) == [(1, (
        "missing timestamp: a Gemini API response carries no time (Vertex AI adds createTime): "
        "log it as {timestamp, response} or pass --timestamp"
    ))]  # fmt: skip
    assert "bare.jsonl:1: missing timestamp: a Gemini API response" in result.stderr


def test_bedrock_tokens_and_cost(bedrock_db):
    _check(_priced(bedrock_db, [AWS_PRICING]), BEDROCK_EXPECTED)


def test_bedrock_report_total(run, bedrock_db):
    args = ("report", "--by", "model", "--format", "json", "--pricing", AWS_PRICING)
    result = run(*args, "--db", bedrock_db)
    assert result.code == 0, result.stderr
    report = result.json()
    costs = {row["model"]: row["cost"] for row in report["rows"]}
    assert costs["us.anthropic.claude-sonnet-4-5-20250929-v1:0"] == pytest.approx(0.04395)
    assert costs["anthropic.claude-3-5-sonnet-20240620-v1:0"] == pytest.approx(0.0192)
    assert report["totals"]["cost"] == pytest.approx(0.06315, rel=1e-9)
    assert report["totals"]["cache_write_tokens"] == 1000 + 3000


def test_bedrock_fields(bedrock_db):
    rows = _requests(
        bedrock_db,
        "provider, ts::VARCHAR, finish_reason, latency_ms, max_tokens, feature, customer, "
        "attributes",
    )
    assert {r[0] for r in rows.values()} == {"aws"}
    assert rows["br-req-1"][1:6] == ("2026-06-01 12:00:00", "end_turn", 2450, None,
                                     "contract-review")  # fmt: skip
    assert rows["br-req-2"][2] == "max_tokens"
    log = rows["8f0c2a6e-5d1b-4c3e-9a7f-2b6d0e4f1a93"]
    # an invocation log: requestMetadata tags the request; maxTokens from the logged request
    assert log[1:7] == ("2026-06-01 13:00:00", "end_turn", 1800, 2048, "ticket-triage",
                        "cust-umbrella")  # fmt: skip
    assert json.loads(log[7]) == {"aws_region": "us-east-1", "operation": "Converse"}
    assert rows["b4d1e2f3-0a1b-4c5d-8e9f-a0b1c2d3e4f5"][2] == "end_turn"  # Anthropic stop_reason
    # boto3's ResponseMetadata: the request id and the HTTP Date header
    assert rows["d00dfeed-1111-4222-8333-444455556666"][1:3] == ("2026-06-01 14:10:05", "end_turn")


def test_bedrock_prompt_text_is_not_stored(bedrock_db):
    with duckdb.connect(bedrock_db, read_only=True) as con:
        everything = repr(con.execute("SELECT * FROM requests").fetchall())
    assert "secret ticket text" not in everything


def test_bedrock_body_without_model_or_time_is_quarantined_with_a_hint(run, db, tmp_path):
    body = {"output": {"message": {"role": "assistant", "content": [{"text": "hi"}]}},
            "stopReason": "end_turn", "usage": {"inputTokens": 5, "outputTokens": 1,
                                                "totalTokens": 6}}  # fmt: skip
    no_time = {"modelId": "anthropic.claude-3-5-sonnet-20240620-v1:0", "requestId": "r-no-time",
               "response": body}  # fmt: skip
    path = tmp_path / "bodies.jsonl"
    path.write_text(json.dumps(body) + "\n" + json.dumps(no_time) + "\n")
    result = run("ingest", str(path), "--db", db)
    assert result.code == 3
    assert _quarantine(db) == [
        (1, HINT_MODEL),
        (2, "missing timestamp: a Bedrock response carries no time: "
            "log it as {timestamp, modelId, requestId, response} or pass --timestamp"),
    ]  # fmt: skip
    assert f"bodies.jsonl:1: {HINT_MODEL}" in result.stderr
    # --timestamp supplies the time; a model id still has to come from the line
    again = tmp_path / "again.jsonl"
    again.write_text(path.read_text() + "\n")  # other bytes: not skipped as already ingested
    result = run("ingest", str(again), "--timestamp", GIVEN_TIME, "--db", db)
    assert "1 request inserted" in result.stderr and HINT_MODEL in result.stderr
    assert _requests(db, "ts::VARCHAR")["r-no-time"] == ("2026-06-02 00:00:00",)


def test_bedrock_bare_body_in_the_fixture_is_quarantined(bedrock_db):
    assert _quarantine(bedrock_db) == [(5, HINT_MODEL)]


@pytest.mark.parametrize(
    ("fmt", "path", "quarantined"),
    [
        ("gemini", GEMINI, 0),  # forced, the chunk without usage is still skipped
        ("bedrock", BEDROCK, 1),  # the bare body without a model id
    ],
)
def test_forced_format_gives_the_same_requests(run, db, fmt, path, quarantined):
    result = run("ingest", path, "--format", fmt, "--timestamp", GIVEN_TIME, "--db", db)
    assert result.code == 0, result.stderr
    assert f"{quarantined} quarantined" in result.stderr
    expected = GEMINI_EXPECTED if fmt == "gemini" else BEDROCK_EXPECTED
    assert set(_requests(db, "model")) == set(expected)


def test_formats_are_listed_in_ingest_help(run):
    result = run("ingest", "--help")
    assert "gemini" in result.stdout and "bedrock" in result.stdout
