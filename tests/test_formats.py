"""Every log format, in its documented shape, normalised with exact token semantics and priced.

Expected costs by hand from the packaged list prices (USD per million tokens):
  gpt-4.1 2.00 in / 8.00 out / 0.50 cached · gpt-5-mini 0.25 / 2.00 / 0.025, flex x0.5 ·
  gpt-4o-mini 0.15 / 0.60 · claude-sonnet-4-5 3.00 / 15.00 / read 0.30 / 5m 3.75 / 1h 6.00 ·
  claude-haiku-4-5 1.00 / 5.00 / 0.10 / 1.25 · claude-opus-4-5 5.00 / 25.00 / 0.50 / 1h 10.00 ·
  batch x0.5 on everything.
"""

from __future__ import annotations

import pytest

from costops.analysis.session import analysis_session
from tests.conftest import DATA

FORMATS = DATA / "formats"

# OpenAI chat: 2,000 prompt tokens INCLUDE 1,024 cached: 976 x 2 + 1,024 x 0.5 + 300 x 8
OPENAI_CHAT = (2000, 1024, 0, 0, 300, 0, 0.004864)
# Anthropic-style usage (input 50 EXCLUDES 10,000 read + 2,000 written), 5-minute writes:
# 50 x 3 + 10,000 x 0.30 + 2,000 x 3.75 + 400 x 15
SONNET_5M = (12050, 10000, 2000, 0, 400, 0, 0.01665)

EXPECTED = {
    # request_id: (input, cache_read, write_5m, write_1h, output, reasoning, cost)
    "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT": OPENAI_CHAT,
    "chatcmpl-wrapped-1": OPENAI_CHAT,
    # Responses API, flex tier: (904 x 0.25 + 4,096 x 0.025 + 1,200 x 2) x 0.5
    "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b": (
        5000,
        4096,
        0,
        0,
        1200,
        800,
        0.0013642,
    ),
    # 1-hour writes at the 1-hour rate: 50 x 3 + 10,000 x 0.30 + 2,000 x 6 + 400 x 15
    "msg_01XFDUDYJgAACzvnptvVoYEL": (12050, 10000, 0, 2000, 400, 0, 0.02115),
    # no cache_creation split: writes are 5-minute: 50 x 3 + 1,000 x 3.75 + 100 x 15
    "msg_01NoSplit5m": (1050, 0, 1000, 0, 100, 0, 0.0054),
    # Anthropic batch, haiku: (1,000 x 1 + 2,000 x 0.10 + 500 x 5) x 0.5
    "msg_batch_0001": (3000, 2000, 0, 0, 500, 0, 0.00185),
    "batch:doc-0002": (0, 0, 0, 0, 0, 0, 0.0),  # errored: recorded, zero tokens, zero cost
    "batch:doc-0003": (0, 0, 0, 0, 0, 0, 0.0),  # expired
    # OpenAI batch, gpt-4o-mini: (1,000 x 0.15 + 200 x 0.60) x 0.5
    "chatcmpl-batch-1": (1000, 0, 0, 0, 200, 0, 0.000135),
    "batch_req_456": (0, 0, 0, 0, 0, 0, 0.0),
    # LiteLLM: new versions include cache in prompt_tokens, old ones don't: same request
    "chatcmpl-ll-1": SONNET_5M,
    "chatcmpl-ll-2-old": SONNET_5M,
    "chatcmpl-ll-3-cached": (0, 0, 0, 0, 0, 0, 0.0),  # served by LiteLLM's cache: no call
    "chatcmpl-ll-4": OPENAI_CHAT,
    # LiteLLM StandardLoggingPayload: 904 x 0.25 + 4,096 x 0.025 + 1,200 x 2
    "chatcmpl-slp-1": (5000, 4096, 0, 0, 1200, 800, 0.0027284),
    # Langfuse: usage keys sum to the total; `input` excludes cache:
    # 1,000 x 1 + 2,000 x 0.10 + 400 x 1.25 + 500 x 5
    "obs-1": (3400, 2000, 400, 0, 500, 0, 0.0042),
    "obs-2": OPENAI_CHAT,
    # Claude Code, three streamed lines of one message: counted once, final usage:
    # 8 x 5 + 20,000 x 0.50 + 3,000 x 10 (1h) + 480 x 25
    "msg_01CCstream": (23008, 20000, 0, 3000, 480, 0, 0.05204),
    # OTLP: current semconv (input includes cache), the old era, and OpenLIT's exclusive count
    "msg_otel_1": SONNET_5M,
    "eee19b7ec3c1b177": OPENAI_CHAT,
    "b7ad6b7169203331": SONNET_5M,
}


@pytest.fixture(scope="module")
def priced(tmp_path_factory):
    import subprocess
    import sys
    from pathlib import Path

    db = str(tmp_path_factory.mktemp("formats") / "formats.duckdb")
    costops = Path(sys.executable).parent / "costops"
    result = subprocess.run(
        [str(costops), "ingest", str(FORMATS), "--db", db, "--timestamp", "2026-06-02T00:00:00Z"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    with analysis_session(db) as con:
        rows = con.execute(
            "SELECT request_id, input_tokens, cache_read_tokens, cache_write_5m_tokens, "
            "cache_write_1h_tokens, output_tokens, reasoning_tokens, cost, is_batch, feature, "
            "task_id, customer, environment, status, model, logged_cost FROM priced_requests"
        ).fetchall()
        quarantine = con.execute("SELECT file, line_no, reason FROM quarantine").fetchall()
    return {r[0]: r[1:] for r in rows}, quarantine, result.stderr


@pytest.mark.parametrize("request_id", sorted(EXPECTED))
def test_tokens_and_cost(priced, request_id):
    rows, _, _ = priced
    *tokens, cost = EXPECTED[request_id]
    got = rows[request_id]
    assert tuple(got[:6]) == tuple(tokens)
    assert got[6] == pytest.approx(cost, rel=1e-9)


def test_every_request_is_accounted_for(priced):
    rows, quarantine, stderr = priced
    assert set(rows) == set(EXPECTED)
    assert [(f.rsplit("/", 1)[1], n, r) for f, n, r in quarantine] == [
        ("anthropic.jsonl", 3, "missing timestamp")
    ]
    assert "claude-code 3, skip 1" in stderr  # the user line carries no usage: skipped


def test_batch_lines_are_batch_and_errors_are_errors(priced):
    rows, _, _ = priced
    for rid in ("msg_batch_0001", "chatcmpl-batch-1", "batch:doc-0002", "batch_req_456"):
        assert rows[rid][7] is True
    assert rows["batch:doc-0002"][12] == "error" and rows["batch_req_456"][12] == "error"
    assert rows["chatcmpl-batch-1"][12] == "ok"


def test_dimensions_from_each_format(priced):
    rows, _, _ = priced
    feature, task, customer, env = 8, 9, 10, 11
    assert rows["chatcmpl-wrapped-1"][feature] == "email-draft"
    assert rows["chatcmpl-wrapped-1"][customer] == "cust-acme"
    assert rows["chatcmpl-ll-1"][feature] == "support-agent"  # spend_logs_metadata
    assert rows["chatcmpl-ll-4"][feature] == "email-draft"  # first request tag
    assert rows["chatcmpl-ll-1"][customer] == "cust-globex"  # end_user
    assert rows["msg_01CCstream"][feature] == "billing-api"  # the project, from cwd
    assert rows["msg_01CCstream"][task] == "5f2a7c1e-1111-4b2a-9c3d-0a1b2c3d4e5f"  # the session
    assert rows["msg_otel_1"][feature] == "triage-agent"  # the trace's agent
    assert rows["msg_otel_1"][task] == "5b8efff798038103d269b633813fc60c"  # the agent trace
    assert rows["msg_otel_1"][env] == "prod"  # resource attribute
    assert rows["b7ad6b7169203331"][feature] == "weekly-report"  # app.feature
    assert rows["msg_otel_1"][14] == pytest.approx(0.01665)  # gen_ai.usage.cost → logged_cost


def test_secrets_and_prompt_text_are_not_stored(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    import duckdb

    db = str(tmp_path / "secrets.duckdb")
    costops = Path(sys.executable).parent / "costops"
    subprocess.run([str(costops), "ingest", str(FORMATS / "litellm.jsonl"), "--db", db],
                   check=True, capture_output=True)  # fmt: skip
    with duckdb.connect(db, read_only=True) as con:
        everything = repr(con.execute("SELECT * FROM requests").fetchall())
    assert "secret prompt text" not in everything  # LiteLLM `messages`
    assert "88dc28d0" not in everything  # LiteLLM `api_key` / `user_api_key`


def test_forced_format_and_unrecognised_shapes(run, db, tmp_path):
    path = tmp_path / "odd.jsonl"
    path.write_text('{"hello": "world", "n": 1}\n' + (FORMATS / "langfuse.jsonl").read_text())
    result = run("ingest", str(path), "--db", db)
    assert "odd.jsonl:1: unrecognised format (keys: hello, n)" in result.stderr
    assert "2 requests inserted" in result.stderr
    forced = tmp_path / "forced.jsonl"
    forced.write_text((FORMATS / "langfuse.jsonl").read_text())
    result = run("ingest", str(forced), "--format", "openai", "--db", db)
    assert "quarantined" in result.stderr and "0 requests inserted" in result.stderr


def _features(db):
    import duckdb

    with duckdb.connect(db, read_only=True) as con:
        return dict(con.execute("SELECT request_id, feature FROM requests").fetchall())


def test_map_option_overrides_dimensions_for_any_format(run, db, tmp_path):
    line = (
        '{"timestamp": "2026-06-01T00:00:00Z", "feature": "default-feature", '
        '"metadata": {"product": {"area": "billing"}}, '
        '"response": {"id": "chatcmpl-m1", "object": "chat.completion", "model": "gpt-4.1", '
        '"created": 1780272000, "usage": {"prompt_tokens": 10, "completion_tokens": 2}}}\n'
    )
    (tmp_path / "m.jsonl").write_text(line)
    args = ("ingest", str(tmp_path / "m.jsonl"), str(FORMATS / "otlp_traces.jsonl"), "--db", db)
    result = run(*args, "--map", "feature=metadata.product.area",
                 "--map", "feature=otel:gen_ai.request.model")  # fmt: skip
    assert result.code == 0, result.stderr
    features = _features(db)
    assert features["chatcmpl-m1"] == "billing"
    assert features["msg_otel_1"] == "claude-sonnet-4-5"


def test_config_file_dimension_mappings(run, db, tmp_path):
    (tmp_path / "costops.yaml").write_text(
        'dimensions:\n  feature: ["metadata.missing", "request_tags[1]"]\n'
    )
    assert run("ingest", str(FORMATS / "litellm.jsonl"), "--db", db).code == 0
    features = _features(db)
    assert features["chatcmpl-ll-1"] == "prod"  # request_tags[1]
    assert features["chatcmpl-ll-4"] == "email-draft"  # no second tag: the default mapping


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("budgets: {}\nbudegts: {}\n", "costops.yaml: unknown key 'budegts'"),
        ("dimensions:\n  colour: metadata.x\n", "unknown dimension 'colour'"),
        ('dimensions:\n  feature: "x\'); drop table requests; --"\n', "is not a JSON path"),
        ("features:\n  search: {batchabel: true}\n", "features.search: unknown key 'batchabel'"),
    ],
)
def test_bad_config_is_a_usage_error_naming_file_and_key(run, db, tmp_path, config, message):
    (tmp_path / "costops.yaml").write_text(config)
    result = run("ingest", str(FORMATS / "litellm.jsonl"), "--db", db)
    assert result.code == 2 and message in result.stderr


def test_bad_map_option_is_a_usage_error(run, db):
    result = run("ingest", str(FORMATS / "litellm.jsonl"), "--map", "feature", "--db", db)
    assert result.code == 2 and "expected DIM=PATH" in result.stderr


def test_prompt_prefix_is_hashed_and_sized_but_not_stored(run, db):
    import duckdb

    assert run("ingest", str(FORMATS / "litellm.jsonl"), "--db", db).code == 0
    with duckdb.connect(db, read_only=True) as con:
        rows = dict(
            con.execute("SELECT request_id, (prefix_hash, prefix_tokens) FROM requests").fetchall()
        )
    cached_hash, cached_tokens = rows["chatcmpl-ll-1"]  # system prompt with a cache breakpoint
    plain_hash, plain_tokens = rows["chatcmpl-ll-2-old"]  # system prompt, no breakpoint
    assert len(cached_hash) == 16 and len(plain_hash) == 16
    # the system prompt is ~93 % of the prompt's characters: that share of the 12,050 tokens
    assert 0.85 * 12050 < cached_tokens < 12050 and 0.85 * 12050 < plain_tokens < 12050
    assert rows["chatcmpl-ll-4"] == (None, None)  # no prompt logged: no prefix identity


def _batch_rows(db):
    import duckdb

    with duckdb.connect(db, read_only=True) as con:
        rows = con.execute(
            "SELECT request_id, model, feature, customer, max_tokens, prefix_hash, "
            "prefix_tokens FROM requests WHERE batch"
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_batch_inputs_give_results_their_dimensions_and_prefix(run, db):
    files = [
        str(FORMATS / f) for f in ("openai_batch_output.jsonl", "anthropic_batch_results.jsonl")
    ]
    inputs = [str(FORMATS / f) for f in ("openai_batch_input.jsonl", "anthropic_batch_input.jsonl")]
    # results first, inputs in a later command: the join happens either way
    assert run("ingest", *files, "--db", db, "--timestamp", "2026-06-02T00:00:00Z").code == 0
    assert _batch_rows(db)["msg_batch_0001"][1] is None
    result = run("ingest", *inputs, "--db", db)
    assert "2 batch inputs kept" in result.stderr
    rows = _batch_rows(db)
    _, feature, customer, max_tokens, prefix_hash, prefix_tokens = rows["msg_batch_0001"]
    assert (feature, customer, max_tokens) == ("doc-summarize", "cust-initech", 1024)
    assert len(prefix_hash) == 16 and 0 < prefix_tokens < 3000  # system prompt share of 3,000
    assert rows["chatcmpl-batch-1"][1:4] == ("translate", "cust-acme", 1000)
    assert rows["batch:doc-0002"][0] == "claude-haiku-4-5"  # the errored result learns its model
    assert rows["batch:doc-0003"][1] is None  # no input line for it


def test_an_ambiguous_custom_id_joins_nothing(run, db, tmp_path):
    other = (FORMATS / "openai_batch_input.jsonl").read_text().replace('"translate"', '"other"')
    (tmp_path / "second_batch_input.jsonl").write_text(other)
    run("ingest", str(FORMATS / "openai_batch_input.jsonl"), str(tmp_path), "--db", db)
    run("ingest", str(FORMATS / "openai_batch_output.jsonl"), "--db", db)
    assert _batch_rows(db)["chatcmpl-batch-1"][1] is None


def test_planted_secrets_are_not_in_the_database_file(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    import duckdb

    db = tmp_path / "secrets.duckdb"
    costops = Path(sys.executable).parent / "costops"
    subprocess.run([str(costops), "ingest", str(FORMATS / "litellm.jsonl"), "--db", str(db)],
                   check=True, capture_output=True)  # fmt: skip
    with duckdb.connect(str(db)) as con:
        con.execute("CHECKPOINT")
    data = db.read_bytes()
    assert b"chatcmpl-ll-1" in data  # the control: stored strings are readable in the file
    assert b"secret prompt text" not in data and b"88dc28d0f030c55ed4ab" not in data


def test_keep_text_is_an_explicit_opt_in(run, db):
    import duckdb

    run("ingest", str(FORMATS / "litellm.jsonl"), "--db", db, "--keep-text")
    with duckdb.connect(db, read_only=True) as con:
        kept = dict(con.execute("SELECT request_id, raw FROM request_text").fetchall())
    assert "secret prompt text" in kept["chatcmpl-ll-1"] and len(kept) == 5
