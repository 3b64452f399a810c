"""Secrets out of any text ingest keeps (SPEC §2): key-shaped strings, values under secret-like
names and e-mail addresses are replaced in SQL; prompt-like attribute keys are dropped.

Kept text is the raw line of a quarantined line or a stored request with `--keep-text`, and the
canonical `attributes` of every request. The patterns work on the text, valid JSON or not, and
also inside JSON-encoded strings (LiteLLM logs its metadata as a string holding JSON).
"""

from __future__ import annotations

REDACTED = "[REDACTED]"
EMAIL = "[EMAIL]"

# Strings that are keys by their shape, wherever they appear (RE2 syntax).
TOKEN_PATTERNS = (
    r"\bsk-[A-Za-z0-9_\-]{8,}",  # OpenAI, Anthropic (sk-ant-…), Langfuse secret keys
    r"\bpk-lf-[A-Za-z0-9\-]{8,}",  # Langfuse public keys
    r"(?i:\bbearer)\s+[A-Za-z0-9._~+/=\-]{6,}",
    r"\bBasic\s+[A-Za-z0-9+/]{8,}={0,2}",
    r"\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}(?:\.[A-Za-z0-9_\-]*)?",  # JWTs
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",  # AWS access key ids
    r"\bAIza[0-9A-Za-z_\-]{35}",  # Google API keys
    r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})",
    r"\bxox[abprs]-[A-Za-z0-9\-]{10,}",  # Slack
)
EMAIL_PATTERN = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"

# Names whose value is a secret: JSON keys, HTTP headers (Azure `api-key`, Anthropic
# `x-api-key`, Gemini `x-goog-api-key`, Azure APIM subscription keys), OTLP attributes
# (`http.request.header.*` — every request header, since any of them can carry a credential).
SECRET_NAME = (
    r"(?:[A-Za-z0-9_.\-]*(?:api[_\-]?key|apikey|authorization|auth[_\-]?token|access[_\-]?token"
    r"|refresh[_\-]?token|session[_\-]?token|security[_\-]?token|secret|password"
    r"|passwd|cookie|credential|private[_\-]?key|subscription[_\-]?key)[A-Za-z0-9_.\-]*"
    r"|(?:[A-Za-z0-9_.\-]*[_.\-])?id[_\-]?token[A-Za-z0-9_.\-]*"  # id_token, not paid_tokens
    r"|http\.request\.header\.[A-Za-z0-9_.\-]*)"
)
# A JSON string (escapes included) or an array of plain values.
_JSON_VALUE = r'(?:"(?:[^"\\]|\\.)*"|\[[^\[\]{}]*\])'
NAMED_PATTERNS: tuple[tuple[str, str], ...] = (
    # "api-key": "…" or "api-key": ["…"]
    (rf'("{SECRET_NAME}"\s*:\s*){_JSON_VALUE}', rf'\1"{REDACTED}"'),
    # the same inside a JSON-encoded string: \"api_key\": \"…\" (any depth of escaping)
    (rf'(\\+)"({SECRET_NAME})\\+"\s*:\s*\\+"[^"]*"', rf'\1"\2\1": \1"{REDACTED}\1"'),
    # OTLP: {"key": "http.request.header.api-key", "value": {"arrayValue": {…}}}
    (
        rf'("key"\s*:\s*"{SECRET_NAME}"\s*,\s*"value"\s*:\s*)'
        r"\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*\}",
        rf'\1{{"stringValue": "{REDACTED}"}}',
    ),
    # header or query style: api-key: …, Authorization: Basic …, password=…
    (
        rf"\b({SECRET_NAME})(\s*[:=]\s*)(?:(?:bearer|basic|digest|token)\s+)?"
        r"[^\s\"',;&{}\[\]\\]+",
        rf"\1\2{REDACTED}",
    ),
    # user:password@ in a URL
    (r"://[^/\s:@\"\\]+:[^/\s@\"\\]+@", rf"://{REDACTED}@"),
)

# Every pattern above needs one of these: text without any is left as it is, unscanned.
TRIGGER = (
    r"(?i)sk-|pk-lf-|bearer|basic|eyj|akia|asia|aiza|gh[pousr]_|github_pat_|xox[abprs]-|@|://"
    r"|key|auth|token|secret|passw|cookie|credential|http\.request\.header"
)

# Attribute keys that hold prompt or completion text: dropped unless --keep-text (SPEC §2).
PROMPT_KEY = (
    r"prompts?|completions?|inputs?|outputs?|messages?|contents?|system|system_prompt"
    r"|instructions|gen_ai\.prompt.*|gen_ai\.completion.*|gen_ai\.input\.messages"
    r"|gen_ai\.output\.messages|gen_ai\.system_instructions|gen_ai\.tool\.call\.(?:arguments|result)"
    r"|llm\.prompts.*|llm\.completions.*|llm\.(?:input|output)_messages.*|(?:input|output)\.value"
    r"|traceloop\.entity\.(?:input|output)|.*\.(?:prompt|completion|content|messages)"
)
# Every prompt-like key contains one of these: an object without any keeps all its keys.
PROMPT_TRIGGER = r"(?i)prompt|completion|input|output|message|content|system|instructions|gen_ai"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def tokens_sql(expr: str) -> str:
    """`expr` with key-shaped strings and e-mail addresses replaced (for names and reasons)."""
    tokens = "|".join(f"(?:{p})" for p in TOKEN_PATTERNS)
    out = f"regexp_replace({expr}, {_literal(tokens)}, {_literal(REDACTED)}, 'g')"
    return f"regexp_replace({out}, {_literal(EMAIL_PATTERN)}, {_literal(EMAIL)}, 'g')"


def redact_sql(expr: str) -> str:
    """`expr` (a line, or JSON text) with every secret this module knows replaced."""
    out = tokens_sql(expr)  # first, so that a named value is never half redacted
    for pattern, replacement in NAMED_PATTERNS:
        out = f"regexp_replace({out}, {_literal(pattern)}, {_literal(replacement)}, 'gi')"
    return f"CASE WHEN regexp_matches({expr}, {_literal(TRIGGER)}) THEN {out} ELSE {expr} END"


def _is_prompt_key(key: str) -> str:
    return f"regexp_full_match({key}, {_literal(PROMPT_KEY)}, 'i')"


def without_prompt_keys_sql(attributes: str) -> str:
    """A JSON object (text) without its prompt-like keys; unchanged when it has none."""
    keys = f"json_keys({attributes})"
    kept = (
        f"list_filter({keys}, lambda k, n: NOT {_is_prompt_key('k')} "
        f"AND list_position({keys}, k) = n)"  # a repeated key once
    )
    pointer = "'/' || replace(replace(k, '~', '~0'), '/', '~1')"
    pairs = (
        f"list_transform({kept}, lambda k: to_json(k)::VARCHAR || ':' "
        f"|| json_extract({attributes}, {pointer})::VARCHAR)"
    )
    return (
        f"CASE WHEN regexp_matches({attributes}, {_literal(PROMPT_TRIGGER)}) "
        f"AND list_bool_or(list_transform({keys}, lambda k: {_is_prompt_key('k')})) "
        f"THEN '{{' || array_to_string({pairs}, ',') || '}}' ELSE {attributes} END"
    )


def attributes_sql(attributes: str, keep_text: bool) -> str:
    """Stored attributes: secrets redacted always, prompt-like keys dropped unless kept."""
    text = attributes if keep_text else without_prompt_keys_sql(attributes)
    return redact_sql(text)
