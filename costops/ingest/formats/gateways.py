"""Gateway and tracing exports: LiteLLM spend logs and logging payloads, Langfuse observations,
Claude Code session transcripts."""

from __future__ import annotations

from costops.ingest.formats.sql import (
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
        f"TRY_CAST({input_tokens} AS BIGINT)",
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


# Langfuse splits usage so that its keys sum to the total: `input` excludes cached tokens, which
# appear under their own keys (input_cached_tokens, cache_read_input_tokens, …).
_LF_READ = ("input_cached_tokens", "input_cache_read", "cache_read_input_tokens")
_LF_WRITE = ("cache_creation_input_tokens", "input_cache_creation")
_LF_REASONING = ("output_reasoning_tokens", "output_reasoning")


def langfuse_fields() -> dict[str, str]:
    def usage(key: str) -> str:
        return first(i(f"$.usageDetails.{key}"), i(f"$.usage_details.{key}"))

    read = total(*(usage(k) for k in _LF_READ))
    written = total(*(usage(k) for k in _LF_WRITE))
    reasoning = total(*(usage(k) for k in _LF_REASONING))
    plain_in = first(usage("input"), i("$.usage.input"), i("$.promptTokens"))
    plain_out = first(usage("output"), i("$.usage.output"), i("$.completionTokens"))
    return {
        "request_id": s("$.id"),
        "timestamp": v("$.startTime"),
        "provider": s("$.metadata.provider"),
        "model": first(s("$.model"), s("$.providedModelName")),
        "input_tokens": total(plain_in, read, written),
        "cache_read_tokens": read,
        "cache_write_5m_tokens": written,
        "output_tokens": total(plain_out, reasoning),
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


def claude_code_fields() -> dict[str, str]:
    """An assistant line of a Claude Code transcript: Anthropic usage under `message`; the same
    message repeats while streaming (request_id = message.id, so it counts once)."""
    usage = "$.message.usage"
    read = i(f"{usage}.cache_read_input_tokens")
    created = i(f"{usage}.cache_creation_input_tokens")
    has_split = f"(j->'{usage}.cache_creation') IS NOT NULL"
    project = "NULLIF(regexp_extract(j->>'$.cwd', '([^/\\\\]+)[/\\\\]*$', 1), '')"
    return {
        "request_id": first(s("$.message.id"), s("$.requestId"), s("$.uuid")),
        "timestamp": v("$.timestamp"),
        "provider": "'anthropic'",
        "model": s("$.message.model"),
        "input_tokens": total(i(f"{usage}.input_tokens"), read, created),
        "cache_read_tokens": read,
        "cache_write_5m_tokens": f"CASE WHEN {has_split} "
        f"THEN {i(f'{usage}.cache_creation.ephemeral_5m_input_tokens')} ELSE {created} END",
        "cache_write_1h_tokens": f"CASE WHEN {has_split} "
        f"THEN {i(f'{usage}.cache_creation.ephemeral_1h_input_tokens')} END",
        "output_tokens": v(f"{usage}.output_tokens"),
        "finish_reason": s("$.message.stop_reason"),
        "service_tier": s(f"{usage}.service_tier"),
        "feature": project,
        "task_id": s("$.sessionId"),
        "session_id": s("$.sessionId"),
        "attributes": f"json_object('project', {project}, 'git_branch', j->>'$.gitBranch', "
        "'claude_code_version', j->>'$.version')",
    }
