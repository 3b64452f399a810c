"""Batch *input* files: what each `custom_id` asked for, joined to its result for dimensions,
max_tokens and the prompt prefix (the prompt text itself is not stored).

OpenAI: `{"custom_id", "method", "url", "body": {"model", "messages", "tools", "max_tokens",
"metadata"}}`. Anthropic: `{"custom_id", "params": {"model", "system", "tools", "messages",
"max_tokens", "metadata"}}`. A custom_id that two different inputs share is ambiguous and joins
nothing.
"""

from __future__ import annotations

from costops.ingest.formats.sql import IN_FILE, first, s, stable_prompt

_REQUEST = "COALESCE(j->'$.body', j->'$.params')"


def _dim(name: str) -> str:
    return first(
        s(f"$.{name}"), s(f"$.metadata.{name}"), s(f"$.body.metadata.{name}"),
        s(f"$.params.metadata.{name}"),
    )  # fmt: skip


_HEAD = (
    f"(COALESCE(CAST({_REQUEST}->'$.tools' AS VARCHAR), '') "
    f"|| COALESCE(CAST({_REQUEST}->'$.system' AS VARCHAR), ''))"
)
_STABLE, _WHOLE, _USABLE = stable_prompt(f"({_REQUEST}->'$.messages')", _HEAD)

STORE_SQL = f"""
INSERT INTO batch_inputs
SELECT j->>'$.custom_id', {_REQUEST}->>'$.model',
    TRY_CAST({_REQUEST}->'$.max_tokens' AS BIGINT),
    {_dim("feature")}, COALESCE({_dim("customer")}, {s("$.params.metadata.user_id")}),
    {_dim("task_id")}, {_dim("prompt_template")},
    CASE WHEN {_USABLE} THEN left(sha256({_STABLE}), 16) END,
    CASE WHEN {_USABLE} THEN length({_STABLE}) END,
    CASE WHEN {_USABLE} THEN length({_WHOLE}) END,
    f.run_id, line_no - f.shift
FROM (SELECT *, raw::JSON AS j FROM _classified WHERE format = 'batch-input') c
{IN_FILE.format(t="c")}
"""

# Results (whose attributes carry their custom_id) take what their input said, where they lack it.
JOIN_SQL = """
UPDATE requests SET
    feature = COALESCE(requests.feature, b.feature),
    customer = COALESCE(requests.customer, b.customer),
    task_id = COALESCE(requests.task_id, b.task_id),
    prompt_template = COALESCE(requests.prompt_template, b.prompt_template),
    max_tokens = COALESCE(requests.max_tokens, b.max_tokens),
    prefix_hash = COALESCE(requests.prefix_hash, b.prefix_hash),
    prefix_tokens = COALESCE(requests.prefix_tokens,
        CAST(round(requests.input_tokens * b.prefix_chars / b.prompt_chars) AS BIGINT)),
    model = CASE WHEN requests.model = 'unknown' AND b.model IS NOT NULL THEN b.model
                 ELSE requests.model END
FROM (
    SELECT any_value(custom_id) AS custom_id, any_value(model) AS model,
        any_value(max_tokens) AS max_tokens, any_value(feature) AS feature,
        any_value(customer) AS customer, any_value(task_id) AS task_id,
        any_value(prompt_template) AS prompt_template, any_value(prefix_hash) AS prefix_hash,
        any_value(prefix_chars) AS prefix_chars, any_value(prompt_chars) AS prompt_chars
    FROM (SELECT DISTINCT custom_id, model, max_tokens, feature, customer, task_id,
                 prompt_template, prefix_hash, prefix_chars, prompt_chars FROM batch_inputs)
    GROUP BY custom_id HAVING count(*) = 1
) b
WHERE requests.batch AND json_extract_string(requests.attributes, '$.custom_id') = b.custom_id
"""
