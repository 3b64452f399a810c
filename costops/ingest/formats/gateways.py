"""Gateway and tracing exports: LiteLLM spend logs and logging payloads, Langfuse observations,
Claude Code session transcripts."""

from __future__ import annotations

from costops.ingest.formats.sql import (
    COUNT_TYPE,
    first,
    i,
    latency_ms,
    prompt_prefix,
    s,
    total,
    v,
    wrapper_dimensions,
)

# LiteLLM: cache details live in metadata.additional_usage_values (spend logs) or
# metadata.usage_object (logging payload). For Anthropic, older LiteLLM versions report
# prompt_tokens WITHOUT cache tokens; newer ones include them and add
# prompt_tokens_details.cached_tokens. Exclusive when the details are absent or when prompt_tokens
# is smaller than the cache tokens it should contain.
USAGE_SQL = "COALESCE(j->'$.metadata.additional_usage_values', j->'$.metadata.usage_object')"


def litellm_fields() -> dict[str, str]:
    read = first(
        i("$.cache_read_input_tokens", "u"), i("$.prompt_tokens_details.cached_tokens", "u")
    )
    written = i("$.cache_creation_input_tokens", "u")
    prompt = i("$.prompt_tokens")
    provider = first(s("$.custom_llm_provider"), "split_part(j->>'$.model', '/', 1)")
    exclusive = (
        f"(lower({provider}) = 'anthropic' AND ({v('$.prompt_tokens_details', 'u')} IS NULL "
        f"OR {prompt} < COALESCE({read}, 0) + COALESCE({written}, 0)))"
    )
    cache_hit = f"(lower({s('$.cache_hit')}) = 'true')"  # served by LiteLLM's cache: no call
    input_tokens = (
        f"CASE WHEN {cache_hit} THEN 0 WHEN {exclusive} "
        f"THEN {total(prompt, read, written)} ELSE {v('$.prompt_tokens')} END"
    )
    prefix_hash, prefix_tokens = prompt_prefix(
        first(v("$.messages"), v("$.proxy_server_request.messages")),
        f"CAST({first(v('$.proxy_server_request.tools'), v('$.model_parameters.tools'))} "
        "AS VARCHAR)",
        f"TRY_CAST({input_tokens} AS DOUBLE)",
    )
    return {
        "request_id": first(s("$.request_id"), s("$.id")),
        "timestamp": v("$.startTime"),
        "provider": f"lower({provider})",
        "model": first(s("$.model"), s("$.model_group")),
        "input_tokens": input_tokens,
        "cache_read_tokens": f"CASE WHEN {cache_hit} THEN 0 ELSE {read} END",
        "cache_write_5m_tokens": f"CASE WHEN {cache_hit} THEN 0 ELSE {written} END",
        "output_tokens": f"CASE WHEN {cache_hit} THEN 0 ELSE {v('$.completion_tokens')} END",
        "reasoning_tokens": f"CASE WHEN {cache_hit} THEN 0 ELSE "
        f"{i('$.completion_tokens_details.reasoning_tokens', 'u')} END",
        "status": f"CASE WHEN lower({s('$.status')}) IN ('failure', 'error') THEN 'error' "
        "ELSE 'ok' END",
        "latency_ms": latency_ms("$.startTime", "$.endTime"),
        "max_tokens": v("$.model_parameters.max_tokens"),
        "logged_cost": first(v("$.spend"), v("$.response_cost")),
        "prefix_hash": prefix_hash,
        "prefix_tokens": prefix_tokens,
        **wrapper_dimensions({
            "feature": [s("$.metadata.spend_logs_metadata.feature"),
                        s("$.metadata.requester_metadata.feature"), s("$.request_tags[0]"),
                        s("$.metadata.tags[0]")],
            "customer": [s("$.end_user"), s("$.metadata.user_api_key_end_user_id")],
            "workspace": [s("$.team_id"), s("$.metadata.user_api_key_team_id")],
            "trace_id": [s("$.trace_id")],
            "session_id": [s("$.session_id")],
        }),
    }  # fmt: skip


# Langfuse splits usage so that its keys sum to the total: `input` excludes the cached, written
# and audio tokens and `output` the reasoning and audio tokens, which appear under their own keys
# (its OpenAI mapping: input_cached_tokens, output_reasoning_tokens; its LangChain handler:
# input_cache_read, output_reasoning; Anthropic's own names). Keys that Langfuse's OTLP endpoint
# keeps as OpenInference sent them (`prompt_details.cache_read`, `completion_details.reasoning`)
# are parts of `input` / `output`, not added to them.
_LF_READ = ("input_cached_tokens", "input_cache_read", "cache_read_input_tokens")
_LF_WRITE = ("cache_creation_input_tokens", "input_cache_creation")
_LF_REASONING = ("output_reasoning_tokens", "output_reasoning")
_LF_AUDIO_IN = ("input_audio_tokens", "input_audio")
_LF_AUDIO_OUT = ("output_audio_tokens", "output_audio")
_LF_READ_INSIDE = ('"prompt_details.cache_read"',)
_LF_WRITE_INSIDE = ('"prompt_details.cache_write"',)
_LF_REASONING_INSIDE = ('"completion_details.reasoning"',)

# Observation types that are not model calls unless they carry usage (agent steps, tools, …).
_LF_OTHER_TYPES = (
    "SPAN", "EVENT", "AGENT", "TOOL", "CHAIN", "RETRIEVER", "EVALUATOR", "EMBEDDING", "GUARDRAIL",
)  # fmt: skip


def _no_positive_count(path: str) -> str:
    values = f"json_extract(raw, '{path}.*')"
    return f"COALESCE(list_max(list_transform({values}, lambda x: TRY_CAST(x AS BIGINT))), 0) <= 0"


# For detection (over `raw` and its top-level `keys`): a Langfuse observation that is not a
# GENERATION and has no usage — a span of the trace, not a request: skipped, not quarantined.
LANGFUSE_NO_USAGE_SQL = (
    f"((raw->>'$.type') IN {_LF_OTHER_TYPES!r} AND list_contains(keys, 'traceId') "
    f"AND {_no_positive_count('$.usageDetails')} AND {_no_positive_count('$.usage_details')} "
    f"AND {_no_positive_count('$.usage')} "
    "AND COALESCE(TRY_CAST(raw->'$.promptTokens' AS BIGINT), 0) <= 0 "
    "AND COALESCE(TRY_CAST(raw->'$.completionTokens' AS BIGINT), 0) <= 0)"
)


def langfuse_fields() -> dict[str, str]:
    def usage(*keys: str) -> str:
        return total(*(first(i(f"$.usageDetails.{k}"), i(f"$.usage_details.{k}")) for k in keys))

    read = total(usage(*_LF_READ), usage(*_LF_READ_INSIDE))
    written = total(usage(*_LF_WRITE), usage(*_LF_WRITE_INSIDE))
    reasoning = total(usage(*_LF_REASONING), usage(*_LF_REASONING_INSIDE))
    plain_in = first(usage("input"), i("$.usage.input"), i("$.promptTokens"))
    plain_out = first(usage("output"), i("$.usage.output"), i("$.completionTokens"))
    inputs = total(plain_in, usage(*_LF_READ, *_LF_WRITE, *_LF_AUDIO_IN))
    outputs = total(plain_out, usage(*_LF_REASONING, *_LF_AUDIO_OUT))
    # Langfuse prices a usage key that is absent as 0: input-only usage is 0 output, and back.
    return {
        "request_id": s("$.id"),
        "timestamp": v("$.startTime"),
        "provider": s("$.metadata.provider"),
        "model": first(s("$.model"), s("$.providedModelName")),
        "input_tokens": first(inputs, f"CASE WHEN {outputs} IS NOT NULL THEN 0 END"),
        "cache_read_tokens": read,
        "cache_write_5m_tokens": written,
        "output_tokens": first(outputs, f"CASE WHEN {inputs} IS NOT NULL THEN 0 END"),
        "reasoning_tokens": reasoning,
        "status": f"CASE WHEN {s('$.level')} = 'ERROR' THEN 'error' ELSE 'ok' END",
        "latency_ms": latency_ms("$.startTime", "$.endTime"),
        "max_tokens": v("$.modelParameters.max_tokens"),
        "logged_cost": first(v("$.calculatedTotalCost"), v("$.costDetails.total")),
        **wrapper_dimensions({
            "trace_id": [s("$.traceId")],
            "prompt_template": [s("$.promptName")],
            "feature": [s("$.metadata.feature"), s("$.name")],
            "environment": [s("$.environment")],
        }),
    }  # fmt: skip


# For detection: the bookkeeping lines every Claude Code transcript carries besides its messages
# (no sessionId + uuid, no usage), each keyed on its exact shape so that a line of another log
# that merely shares a `type` value is still unrecognised.
_CLAUDE_CODE_BOOKKEEPING = {
    "file-history-snapshot": ("messageId", "snapshot"),
    "summary": ("summary", "leafUuid"),
    "queue-operation": ("operation", "sessionId"),
}


def _shape(kind: str, keys: tuple[str, ...]) -> str:
    has_keys = " AND ".join(f"list_contains(keys, '{key}')" for key in keys)
    return f"((raw->>'$.type') = '{kind}' AND {has_keys})"


CLAUDE_CODE_BOOKKEEPING_SQL = (
    "(" + " OR ".join(_shape(kind, keys) for kind, keys in _CLAUDE_CODE_BOOKKEEPING.items()) + ")"
)


# Every field the adapter below reads: a transcript line (its message's content, tool results) is
# parsed once, into this struct (`json_transform`), not once per field. Strings as text (equal to
# `->>`), counts and the time as JSON fragments (the canonical checks see their real type).
_CLAUDE_CODE_USAGE = {
    "input_tokens": "JSON", "output_tokens": "JSON", "cache_read_input_tokens": "JSON",
    "cache_creation_input_tokens": "JSON", "service_tier": "VARCHAR",
    "cache_creation": {"ephemeral_5m_input_tokens": "JSON", "ephemeral_1h_input_tokens": "JSON"},
}  # fmt: skip
CLAUDE_CODE_STRUCTURE = {
    "message": {
        "id": "VARCHAR", "model": "VARCHAR", "stop_reason": "VARCHAR", "usage": _CLAUDE_CODE_USAGE,
    },
    "requestId": "VARCHAR", "uuid": "VARCHAR", "timestamp": "JSON", "sessionId": "VARCHAR",
    "cwd": "VARCHAR", "gitBranch": "VARCHAR", "version": "VARCHAR",
}  # fmt: skip


def claude_code_fields(line: str = "cc") -> dict[str, str]:
    """An assistant line of a Claude Code transcript (`line`: its CLAUDE_CODE_STRUCTURE): Anthropic
    usage under `message`; the same message repeats while streaming (request_id = message.id, so
    it counts once)."""
    usage = f"{line}.message.usage"

    def count(field: str) -> str:
        return f"TRY_CAST({field} AS {COUNT_TYPE})"

    read = count(f"{usage}.cache_read_input_tokens")
    created = count(f"{usage}.cache_creation_input_tokens")
    split = f"{usage}.cache_creation"  # NULL when absent (or null): then all writes are 5m
    project = f"NULLIF(regexp_extract({line}.cwd, '([^/\\\\]+)[/\\\\]*$', 1), '')"
    return {
        "request_id": first(f"{line}.message.id", f"{line}.requestId", f"{line}.uuid"),
        "timestamp": f"{line}.timestamp",
        "provider": "'anthropic'",
        "model": f"{line}.message.model",
        "input_tokens": total(count(f"{usage}.input_tokens"), read, created),
        "cache_read_tokens": read,
        "cache_write_5m_tokens": f"CASE WHEN {split} IS NOT NULL "
        f"THEN {count(f'{split}.ephemeral_5m_input_tokens')} ELSE {created} END",
        "cache_write_1h_tokens": f"CASE WHEN {split} IS NOT NULL "
        f"THEN {count(f'{split}.ephemeral_1h_input_tokens')} END",
        "output_tokens": f"{usage}.output_tokens",
        "finish_reason": f"{line}.message.stop_reason",
        "service_tier": f"{usage}.service_tier",
        "feature": project,
        "task_id": f"{line}.sessionId",
        "session_id": f"{line}.sessionId",
        "attributes": f"json_object('project', {project}, 'git_branch', {line}.gitBranch, "
        f"'claude_code_version', {line}.version)",
    }
