"""Cloud model APIs: Gemini `generateContent` responses (Gemini API and Vertex AI) and Amazon
Bedrock Converse responses or model-invocation log records.

Token semantics: Gemini `promptTokenCount` INCLUDES `cachedContentTokenCount`, and
`toolUsePromptTokenCount` is extra input; `candidatesTokenCount` EXCLUDES `thoughtsTokenCount`,
which is billed as output, so it is added. Bedrock `inputTokens` EXCLUDES `cacheReadInputTokens`
and `cacheWriteInputTokens`, so they are added; `cacheDetails` splits writes by TTL (none: all
5-minute). A Bedrock body carries no model id or time: they come from the wrapper line.
"""

from __future__ import annotations

from costops.config import MAPPABLE as DIMENSIONS
from costops.ingest.canonical import missing
from costops.ingest.formats.sql import first, i, s, total, v, wrapper_dimensions

# The time given by --timestamp (NULL when not given; the file's mtime is never guessed here).
GIVEN_TIME = "to_json($given_ts::VARCHAR)"

# `b`: the response body. A wrapper line carries it under `response`; a Bedrock
# model-invocation log record under `output.outputBodyJson`.
RESPONSE_SQL = {
    "gemini": "COALESCE(j->'$.response', j)",
    "bedrock": "COALESCE(j->'$.response', j->'$.output.outputBodyJson', j)",
}

# Auto-detection, in the order of DETECT_SQL (`raw` is the line, `keys` its top-level keys).
GEMINI_DETECT_SQL = (
    "(list_contains(keys, 'usageMetadata') OR (raw->'$.response.usageMetadata') IS NOT NULL)"
)
# A streamed chunk without usage (the usage comes on a later chunk of the same response).
GEMINI_CHUNK_SQL = (
    "(list_contains(keys, 'candidates') OR (raw->'$.response.candidates') IS NOT NULL)"
)
BEDROCK_DETECT_SQL = (
    "((raw->'$.usage.inputTokens') IS NOT NULL OR (raw->'$.response.usage.inputTokens') IS NOT NULL"
    " OR (list_contains(keys, 'modelId') AND ((raw->'$.input.inputTokenCount') IS NOT NULL"
    " OR (raw->'$.output.outputTokenCount') IS NOT NULL"
    " OR (raw->>'$.schemaType') = 'ModelInvocationLog')))"
)

# A quarantine reason for a body logged without its context says how to supply it.
_HINTS = {
    ("gemini", missing("timestamp")): "a Gemini API response carries no time (Vertex AI adds "
    "createTime): log it as {timestamp, response} or pass --timestamp",
    ("bedrock", missing("timestamp")): "a Bedrock response carries no time: log it as "
    "{timestamp, modelId, requestId, response} or pass --timestamp",
    ("bedrock", missing("model")): "a Bedrock response carries no model id: log it as "
    "{timestamp, modelId, requestId, response}",
}


def hinted_reason(reason: str) -> str:
    """SQL: `reason` (an expression over a staged line with `format`), with the hint appended
    where one of these formats lacks a model or time."""
    whens = " ".join(
        f"WHEN format = '{fmt}' AND {reason} = '{why}' THEN '{why}: {hint}'"
        for (fmt, why), hint in _HINTS.items()
    )
    return f"CASE {whens} ELSE {reason} END"


def gemini_fields() -> dict[str, str]:
    usage = "$.usageMetadata"
    has_usage = f"json_type(b->'{usage}') = 'OBJECT'"
    prompt = i(f"{usage}.promptTokenCount", "b")
    tool_prompt = i(f"{usage}.toolUsePromptTokenCount", "b")
    candidates = i(f"{usage}.candidatesTokenCount", "b")
    thoughts = i(f"{usage}.thoughtsTokenCount", "b")
    return {
        "request_id": first(s("$.responseId", "b"), s("$.request_id"), s("$.requestId")),
        "timestamp": first(v("$.createTime", "b"), v("$.timestamp"), GIVEN_TIME),
        "provider": "'google'",
        "model": first(s("$.modelVersion", "b"), s("$.model")),
        # promptTokenCount includes the cached part; tool-use prompt tokens are extra input.
        # A streamed chunk may omit a count that is still zero.
        "input_tokens": f"CASE WHEN {has_usage} THEN COALESCE({prompt}, 0) "
        f"+ COALESCE({tool_prompt}, 0) END",
        "cache_read_tokens": i(f"{usage}.cachedContentTokenCount", "b"),
        # candidatesTokenCount excludes the thinking tokens, which are billed as output.
        "output_tokens": f"CASE WHEN {has_usage} THEN COALESCE({candidates}, 0) "
        f"+ COALESCE({thoughts}, 0) END",
        "reasoning_tokens": thoughts,
        "finish_reason": first(f"lower({s('$.candidates[0].finishReason', 'b')})",
                               f"lower({s('$.promptFeedback.blockReason', 'b')})"),
        "max_tokens": first(v("$.request.generationConfig.maxOutputTokens"),
                            v("$.request.max_tokens")),
        "logged_cost": first(v("$.cost"), v("$.logged_cost")),
        **wrapper_dimensions(),
    }  # fmt: skip


def bedrock_fields() -> dict[str, str]:
    usage = "$.usage"
    invocation_log = "((j->'$.input') IS NOT NULL AND (j->'$.modelId') IS NOT NULL)"
    errored = f"(({v('$.errorCode')}) IS NOT NULL AND json_type({v('$.errorCode')}) <> 'NULL')"
    zero = f"CASE WHEN {errored} THEN 0 END"  # a failed call is recorded, at $0
    plain_in = first(i(f"{usage}.inputTokens", "b"), i("$.input.inputTokenCount"))
    read = first(i(f"{usage}.cacheReadInputTokens", "b"), i("$.input.cacheReadInputTokenCount"))
    written = first(
        i(f"{usage}.cacheWriteInputTokens", "b"), i("$.input.cacheWriteInputTokenCount")
    )
    details = f"COALESCE(json_extract(b, '{usage}.cacheDetails[*]'), [])"
    written_1h = (
        f"list_sum(list_transform({details}, lambda d: CASE WHEN d->>'$.ttl' = '1h' "
        "THEN TRY_CAST(d->'$.inputTokens' AS BIGINT) ELSE 0 END))"
    )
    has_split = f"(len({details}) > 0)"
    # boto3 keeps the response's HTTP Date header: the time the call ended, to the second.
    http_date = (
        "to_json(strftime(try_strptime(b->>'$.ResponseMetadata.HTTPHeaders.date', "
        "'%a, %d %b %Y %H:%M:%S GMT'), '%Y-%m-%dT%H:%M:%SZ'))"
    )
    tier = s("$.serviceTier.type", "b")
    return {
        "request_id": first(s("$.requestId"), s("$.request_id"),
                            s("$.ResponseMetadata.RequestId", "b")),
        "timestamp": first(v("$.timestamp"), http_date, GIVEN_TIME),
        "provider": "'aws'",
        "model": first(s("$.modelId"), s("$.model_id"), s("$.model")),
        # inputTokens excludes cache: all input = input + cache reads + cache writes
        "input_tokens": first(total(plain_in, read, written), zero),
        "cache_read_tokens": read,
        "cache_write_5m_tokens": f"CASE WHEN {has_split} "
        f"THEN COALESCE({written}, 0) - {written_1h} ELSE {written} END",
        "cache_write_1h_tokens": f"CASE WHEN {has_split} THEN {written_1h} END",
        "output_tokens": first(v(f"{usage}.outputTokens", "b"), v("$.output.outputTokenCount"),
                               zero),
        "finish_reason": first(s("$.stopReason", "b"), s("$.stop_reason", "b")),
        "status": f"CASE WHEN {errored} THEN 'error' ELSE 'ok' END",
        "latency_ms": v("$.metrics.latencyMs", "b"),
        "service_tier": f"CASE WHEN {tier} = 'default' THEN 'standard' ELSE {tier} END",
        "max_tokens": first(v("$.input.inputBodyJson.inferenceConfig.maxTokens"),
                            v("$.request.inferenceConfig.maxTokens")),
        "logged_cost": first(v("$.cost"), v("$.logged_cost")),
        "attributes": f"CASE WHEN {invocation_log} THEN json_object("
        f"'aws_region', {s('$.region')}, 'operation', {s('$.operation')}) END",
        # Converse `requestMetadata` (copied into invocation logs) is where callers tag requests.
        **wrapper_dimensions({
            dim: [s(f"$.requestMetadata.{dim}")] for dim in DIMENSIONS
        } | {"trace_id": [s("$.requestMetadata.trace_id"), s("$.requestMetadata.traceId")]}),
    }  # fmt: skip
