"""OpenAI and Anthropic response objects, alone, wrapped, or inside batch result lines.

Token semantics (the classic mistakes): OpenAI `prompt_tokens` / `input_tokens` INCLUDE
`cached_tokens`; Anthropic `input_tokens` EXCLUDES `cache_read_input_tokens` and
`cache_creation_input_tokens`, so they are added; `cache_creation.ephemeral_5m/1h_input_tokens`
split writes by TTL (no split: all 5-minute).
"""

from __future__ import annotations

from costops.ingest.formats.sql import FALLBACK_TIME, first, i, s, total, v, wrapper_dimensions

# `b`: the response object. Wrapped lines carry it under `response`; OpenAI batch output under
# `response.body`; Anthropic batch results under `result.message`.
RESPONSE_SQL = {
    "openai": "COALESCE(j->'$.response', j)",
    "anthropic": "COALESCE(j->'$.response', j)",
    "openai-batch": "j->'$.response.body'",
    "anthropic-batch": "j->'$.result.message'",
}

BATCH_FAILED = {
    "openai-batch": "(((j->'$.error') IS NOT NULL AND json_type((j->'$.error')) <> 'NULL') "
    "OR TRY_CAST((j->>'$.response.status_code') AS INTEGER) >= 400)",
    "anthropic-batch": "((j->>'$.result.type') <> 'succeeded')",
}


def openai_fields(fmt: str) -> dict[str, str]:
    batch = fmt == "openai-batch"
    failed = BATCH_FAILED["openai-batch"] if batch else "false"
    zero = "0" if batch else "NULL"
    return {
        "request_id": first(s("$.id", "b"), s("$.response.request_id"), s("$.id")),
        "timestamp": first(v("$.timestamp"), v("$.created", "b"), v("$.created_at", "b"),
                           FALLBACK_TIME if batch else "NULL"),
        "provider": "'openai'",
        "model": first(s("$.model", "b"), s("$.model"), s("$.request.model"), "'unknown'")
        if batch else first(s("$.model", "b"), s("$.model")),
        "input_tokens": first(v("$.usage.prompt_tokens", "b"), v("$.usage.input_tokens", "b"),
                              zero),
        "cache_read_tokens": first(v("$.usage.prompt_tokens_details.cached_tokens", "b"),
                                   v("$.usage.input_tokens_details.cached_tokens", "b")),
        "output_tokens": first(v("$.usage.completion_tokens", "b"), v("$.usage.output_tokens", "b"),
                               zero),
        "reasoning_tokens": first(v("$.usage.completion_tokens_details.reasoning_tokens", "b"),
                                  v("$.usage.output_tokens_details.reasoning_tokens", "b")),
        "finish_reason": first(s("$.choices[0].finish_reason", "b"),
                               s("$.incomplete_details.reason", "b"), s("$.status", "b")),
        "status": f"CASE WHEN {failed} OR {s('$.status', 'b')} IN ('failed', 'cancelled') "
        "THEN 'error' ELSE 'ok' END",
        "max_tokens": first(v("$.max_output_tokens", "b"), v("$.request.max_tokens"),
                            v("$.request.max_completion_tokens")),
        "service_tier": "'batch'" if batch else f"CASE WHEN {s('$.service_tier', 'b')} = 'default' "
        f"THEN 'standard' ELSE {s('$.service_tier', 'b')} END",
        "batch": "true" if batch else "NULL",
        "logged_cost": first(v("$.cost"), v("$.logged_cost")),
        "attributes": f"json_object('custom_id', {s('$.custom_id')})" if batch else "NULL",
        **wrapper_dimensions({"feature": [s("$.metadata.feature", "b")],
                              "customer": [s("$.metadata.customer", "b"), s("$.user", "b")]}),
    }  # fmt: skip


def anthropic_fields(fmt: str) -> dict[str, str]:
    batch = fmt == "anthropic-batch"
    failed = BATCH_FAILED["anthropic-batch"] if batch else "false"
    usage = "$.usage"
    read = i(f"{usage}.cache_read_input_tokens", "b")
    created = i(f"{usage}.cache_creation_input_tokens", "b")
    split_5m = i(f"{usage}.cache_creation.ephemeral_5m_input_tokens", "b")
    split_1h = i(f"{usage}.cache_creation.ephemeral_1h_input_tokens", "b")
    has_split = f"(b->'{usage}.cache_creation') IS NOT NULL"
    zero = "0" if batch else "NULL"
    return {
        "request_id": first(s("$.id", "b"), f"'batch:' || {s('$.custom_id')}" if batch else "NULL"),
        "timestamp": first(v("$.timestamp"), v("$.created_at"), FALLBACK_TIME if batch else "NULL"),
        "provider": "'anthropic'",
        "model": first(s("$.model", "b"), s("$.model"), "'unknown'" if batch else "NULL"),
        # input_tokens excludes cache: all input = input + cache reads + cache writes
        "input_tokens": first(total(i(f"{usage}.input_tokens", "b"), read, created), zero),
        "cache_read_tokens": read,
        "cache_write_5m_tokens": f"CASE WHEN {has_split} THEN {split_5m} ELSE {created} END",
        "cache_write_1h_tokens": f"CASE WHEN {has_split} THEN {split_1h} END",
        "output_tokens": first(v(f"{usage}.output_tokens", "b"), zero),
        "finish_reason": s("$.stop_reason", "b"),
        "status": f"CASE WHEN {failed} THEN 'error' ELSE 'ok' END",
        "service_tier": "'batch'" if batch else s(f"{usage}.service_tier", "b"),
        "region": s(f"{usage}.inference_geo", "b"),
        "batch": "true" if batch else "NULL",
        "max_tokens": v("$.request.max_tokens"),
        "logged_cost": first(v("$.cost"), v("$.logged_cost")),
        "attributes": f"json_object('custom_id', {s('$.custom_id')})" if batch else "NULL",
        **wrapper_dimensions(),
    }  # fmt: skip
