"""Which format a line is, by its shape; and the canonical JSON each single-record format makes."""

from __future__ import annotations

from costops.ingest.formats import FORMATS
from costops.ingest.formats.cloud import (
    BEDROCK_DETECT_SQL,
    GEMINI_CHUNK_SQL,
    GEMINI_DETECT_SQL,
    bedrock_fields,
    gemini_fields,
)
from costops.ingest.formats.cloud import RESPONSE_SQL as CLOUD_RESPONSE_SQL
from costops.ingest.formats.gateways import (
    CLAUDE_CODE_BOOKKEEPING_SQL,
    LANGFUSE_NO_USAGE_SQL,
    USAGE_SQL,
    claude_code_fields,
    langfuse_fields,
    litellm_fields,
)
from costops.ingest.formats.providers import RESPONSE_SQL, anthropic_fields, openai_fields
from costops.ingest.formats.sql import canonical_object

__all__ = ["FORMATS"]  # also importable from here

# Lines that carry no usage of their own: counted as skipped, not quarantined.
SKIP = "skip"
BATCH_INPUT = "batch-input"  # stored for the join with batch results, not a request


def _has(key: str) -> str:
    return f"list_contains(keys, '{key}')"


# Checked in order; the first shape that fits wins. `keys` are the line's top-level keys.
DETECT_SQL = f"""CASE
    WHEN {_has("model")} AND {_has("input_tokens")} AND {_has("timestamp")}
        AND NOT ({_has("usage")} OR {_has("custom_id")} OR {_has("resourceSpans")}
                 OR {_has("sessionId")} OR {_has("spend")} OR {_has("response_cost")}
                 OR {_has("usageDetails")} OR {_has("type")} OR {_has("object")})
        THEN 'costops'
    WHEN {_has("resourceSpans")} THEN 'otlp'
    WHEN {_has("custom_id")} AND {_has("result")} THEN 'anthropic-batch'
    WHEN {_has("custom_id")} AND ({_has("response")} OR {_has("error")}) THEN 'openai-batch'
    WHEN {_has("custom_id")} AND ({_has("params")} OR {_has("body")}) THEN '{BATCH_INPUT}'
    WHEN {_has("sessionId")} AND (raw->>'$.type') = 'assistant'
        AND (raw->'$.message.usage') IS NOT NULL THEN 'claude-code'
    WHEN {_has("sessionId")} AND {_has("uuid")} THEN '{SKIP}'
    WHEN {CLAUDE_CODE_BOOKKEEPING_SQL} THEN '{SKIP}'
    WHEN {LANGFUSE_NO_USAGE_SQL} THEN '{SKIP}'
    WHEN (raw->>'$.type') = 'GENERATION' OR {_has("usageDetails")} THEN 'langfuse'
    WHEN {_has("spend")} AND {_has("startTime")} THEN 'litellm'
    WHEN {_has("response_cost")} AND {_has("startTime")} THEN 'litellm'
    WHEN (raw->>'$.object') IN ('chat.completion', 'response') THEN 'openai'
    WHEN (raw->>'$.response.object') IN ('chat.completion', 'response') THEN 'openai'
    WHEN (raw->>'$.type') = 'message' AND {_has("usage")} THEN 'anthropic'
    WHEN (raw->>'$.response.type') = 'message' THEN 'anthropic'
    WHEN {GEMINI_DETECT_SQL} THEN 'gemini'
    WHEN {BEDROCK_DETECT_SQL} THEN 'bedrock'
    WHEN {GEMINI_CHUNK_SQL} THEN '{SKIP}'
    WHEN ({_has("passed")} OR {_has("score")}) AND NOT {_has("input_tokens")}
        AND NOT {_has("output_tokens")} AND NOT {_has("usage")} THEN 'eval'
    WHEN {_has("model")} AND ({_has("input_tokens")} OR {_has("output_tokens")}) THEN 'costops'
    ELSE 'unknown'
END"""

# The fields every single-record adapter fills; the canonical format is the line itself.
_ADAPTERS = {
    "openai": openai_fields("openai"),
    "openai-batch": openai_fields("openai-batch"),
    "anthropic": anthropic_fields("anthropic"),
    "anthropic-batch": anthropic_fields("anthropic-batch"),
    "litellm": litellm_fields(),
    "langfuse": langfuse_fields(),
    "claude-code": claude_code_fields(),
    "gemini": gemini_fields(),
    "bedrock": bedrock_fields(),
}

RESPONSE_CASE_SQL = (
    "CASE format "
    + " ".join(
        f"WHEN '{fmt}' THEN {expr}" for fmt, expr in {**RESPONSE_SQL, **CLOUD_RESPONSE_SQL}.items()
    )
    + " ELSE j END"
)

CANONICAL_CASE_SQL = (
    "CASE format WHEN 'costops' THEN raw "
    + " ".join(f"WHEN '{fmt}' THEN {canonical_object(fields)}" for fmt, fields in _ADAPTERS.items())
    + " END"
)

__all__ = [
    "BATCH_INPUT",
    "CANONICAL_CASE_SQL",
    "DETECT_SQL",
    "FORMATS",
    "RESPONSE_CASE_SQL",
    "SKIP",
    "USAGE_SQL",
]
