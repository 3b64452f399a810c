"""The canonical `costops` JSONL format (SPEC §3) and eval records (SPEC §6), parsed in DuckDB.

Each field becomes a SQL expression over the line's JSON (`j`); each invariant becomes a
(condition, reason) pair, so every bad line gets a reason without a Python loop over lines.
"""

from __future__ import annotations

STRING_FIELDS = (
    "request_id", "provider", "model", "feature", "task_id", "trace_id", "session_id",
    "customer", "prompt_template", "environment", "workspace", "prefix_hash", "finish_reason",
    "status", "service_tier", "region",
)  # fmt: skip
TOKEN_FIELDS = (
    "input_tokens", "cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
    "output_tokens", "reasoning_tokens",
)  # fmt: skip
OPTIONAL_INT_FIELDS = ("prefix_tokens", "max_tokens", "latency_ms")
# Request settings and measurements, not counts: an unusable value (max_tokens -1 for "unset",
# "null", a negative latency from skewed clocks) becomes NULL and the request is kept (SPEC §4).
SETTING_FIELDS = ("max_tokens", "latency_ms")
COUNT_FIELDS = (*TOKEN_FIELDS, *(f for f in OPTIONAL_INT_FIELDS if f not in SETTING_FIELDS))
REQUIRED_TOKEN_FIELDS = ("input_tokens", "output_tokens")
INTEGER_TYPES = "('UBIGINT', 'BIGINT')"
# No request has more tokens than this: a larger count is a bug or an attack, and it would
# overflow sums of counts (cache subsets, budgets).
MAX_COUNT = 10**12
EARLIEST, LATEST = "2000-01-01", "2100-01-01"


def _f(field: str) -> str:
    """The field's raw JSON fragment, from the one json_transform of the line (`f`)."""
    return f'f."{field}"'


def _type(field: str) -> str:
    return f"json_type({_f(field)})"


def _present(field: str) -> str:
    return f"({_type(field)} IS NOT NULL AND {_type(field)} <> 'NULL')"


def _string(field: str, text: frozenset[str] = frozenset()) -> str:
    """A string field; `text` names the fields the reader already gave as text (the fast path
    reads strings as VARCHAR, which equals json_extract_string of the fragment)."""
    if field in text:
        return f"NULLIF({_f(field)}, '')"
    return f"NULLIF(json_extract_string({_f(field)}, '$'), '')"


def _integer(field: str) -> str:
    """The count; NULL when it is not an integer or above MAX_COUNT (so sums cannot overflow)."""
    value = f"TRY_CAST({_f(field)} AS BIGINT)"
    within = f"{_type(field)} IN {INTEGER_TYPES} AND {value} <= {MAX_COUNT}"
    return f"CASE WHEN {within} THEN {value} END"


def _setting(field: str) -> str:
    """A non-negative integer, also written as a string of digits; anything else is NULL."""
    digits = f"regexp_full_match({_string(field)}, '[0-9]{{1,18}}')"
    return (
        f"CASE WHEN {_type(field)} IN {INTEGER_TYPES} AND TRY_CAST({_f(field)} AS BIGINT) >= 0 "
        f"THEN TRY_CAST({_f(field)} AS BIGINT) "
        f"WHEN {_type(field)} = 'VARCHAR' AND {digits} THEN CAST({_string(field)} AS BIGINT) END"
    )


def _shown(field: str) -> str:
    """The offending value, shortened, for a quarantine reason."""
    return f"left({_f(field)}::VARCHAR, 40)"


def _timestamp(field: str) -> str:
    """ISO 8601 (offset or UTC) or epoch seconds / ms / µs / ns, chosen by magnitude → UTC."""
    number = (
        f"CASE WHEN {_type(field)} IN ('UBIGINT', 'BIGINT', 'DOUBLE') "
        f"THEN TRY_CAST({_f(field)} AS DOUBLE) "
        f"WHEN {_type(field)} = 'VARCHAR' THEN TRY_CAST({_string(field)} AS DOUBLE) END"
    )
    n = f"({number})"
    micros = (
        f"CASE WHEN abs({n}) < 1e11 THEN {n} * 1e6 WHEN abs({n}) < 1e14 THEN {n} * 1e3 "
        f"WHEN abs({n}) < 1e17 THEN {n} WHEN abs({n}) < 1e20 THEN {n} / 1e3 END"
    )
    from_number = f"make_timestamp(TRY_CAST(({micros}) AS BIGINT))"
    from_text = f"TRY_CAST(TRY_CAST({_string(field)} AS TIMESTAMPTZ) AS TIMESTAMP)"
    return f"CASE WHEN ({number}) IS NOT NULL THEN {from_number} ELSE {from_text} END"


def missing(field: str) -> str:
    """The quarantine reason for a required field that is absent (formats add hints to it)."""
    return f"missing {field}"


def _timestamp_checks(field: str, required: bool) -> list[tuple[str, str]]:
    checks = []
    if required:
        checks.append((f"NOT {_present(field)}", f"'{missing(field)}'"))
    checks += [
        (
            f"{_present(field)} AND ts IS NULL",
            f"'unparseable {field}: ' || {_shown(field)}",
        ),
        (
            f"ts < TIMESTAMP '{EARLIEST}' OR ts >= TIMESTAMP '{LATEST}'",
            f"'{field} out of range ({EARLIEST} to {LATEST}): ' || {_shown(field)}",
        ),
    ]
    return checks


def _integer_checks(field: str) -> list[tuple[str, str]]:
    return [
        (
            f"{_type(field)} IN ('UBIGINT', 'BIGINT', 'DOUBLE') "
            f"AND TRY_CAST({_f(field)} AS DOUBLE) > {MAX_COUNT}",
            f"'token count out of range: {field} ' || {_shown(field)}",
        ),
        (
            f"{_present(field)} AND {_type(field)} NOT IN {INTEGER_TYPES}",
            f"'{field} is not an integer: ' || {_shown(field)}",
        ),
        (f"{_integer(field)} < 0", f"'{field} is negative: ' || {_shown(field)}"),
    ]


def _reason(checks: list[tuple[str, str]]) -> str:
    whens = "\n".join(f"        WHEN {cond} THEN {reason}" for cond, reason in checks)
    return f"CASE\n{whens}\n    END"


def request_checks(text: frozenset[str] = frozenset()) -> list[tuple[str, str]]:
    """The invariants of a request line, in the order their reasons are given."""
    return [
        (f"{_string('model', text)} IS NULL", f"'{missing('model')}'"),
        *_timestamp_checks("timestamp", required=True),
        *[check for f in COUNT_FIELDS for check in _integer_checks(f)],
        *[(f"NOT {_present(f)}", f"'missing {f}'") for f in REQUIRED_TOKEN_FIELDS],
        (
            f"{_present('batch')} AND {_type('batch')} <> 'BOOLEAN'",
            f"'batch is not true/false: ' || {_shown('batch')}",
        ),
        (
            f"{_present('logged_cost')} AND {_type('logged_cost')} NOT IN "
            "('UBIGINT', 'BIGINT', 'DOUBLE')",
            f"'logged_cost is not a number: ' || {_shown('logged_cost')}",
        ),
        (
            f"{_present('attributes')} AND {_type('attributes')} <> 'OBJECT'",
            "'attributes is not an object'",
        ),
        (
            "COALESCE(cache_read_tokens, 0) + COALESCE(cache_write_5m_tokens, 0) "
            "+ COALESCE(cache_write_1h_tokens, 0) > input_tokens",
            "'cache tokens (read + writes) exceed input_tokens'",
        ),
        (
            "COALESCE(reasoning_tokens, 0) > output_tokens",
            "'reasoning_tokens exceed output_tokens'",
        ),
    ]


def request_columns_sql(text: frozenset[str] = frozenset()) -> str:
    """Stage 1: typed columns (NULL where a value is missing or malformed)."""
    return ",\n    ".join(
        [f"{_string(f, text)} AS {f}" for f in STRING_FIELDS]
        + [f"{_integer(f)} AS {f}" for f in COUNT_FIELDS]
        + [f"{_setting(f)} AS {f}" for f in SETTING_FIELDS]
        + [
            f"({_timestamp('timestamp')}) AS ts",
            f"CASE WHEN {_type('batch')} = 'BOOLEAN' THEN {_f('batch')}::BOOLEAN END AS batch",
            f"TRY_CAST({_f('logged_cost')} AS DOUBLE) AS logged_cost",
            f"CASE WHEN {_type('attributes')} = 'OBJECT' "
            f"THEN {_f('attributes')}::VARCHAR END AS attributes",
        ]
    )


REQUEST_COLUMNS_SQL = request_columns_sql()

REQUEST_COLUMN_NAMES = (
    *STRING_FIELDS, *TOKEN_FIELDS, *OPTIONAL_INT_FIELDS, "ts", "batch", "logged_cost", "attributes",
)  # fmt: skip

# A good line passes this cheap test; only the others go through every check for a reason.
# It must imply that every check below passes (tests/test_fuzz.py holds it to that).
FAST_OK_SQL = " AND ".join([
    "model IS NOT NULL",
    f"ts >= TIMESTAMP '{EARLIEST}' AND ts < TIMESTAMP '{LATEST}'",
    "input_tokens >= 0 AND output_tokens >= 0",
    *[f"({_f(f)} IS NULL OR {f} >= 0)" for f in COUNT_FIELDS],
    f"({_f('batch')} IS NULL OR batch IS NOT NULL)",
    f"({_f('logged_cost')} IS NULL OR {_type('logged_cost')} IN ('UBIGINT', 'BIGINT', 'DOUBLE'))",
    f"({_f('attributes')} IS NULL OR attributes IS NOT NULL)",
    "COALESCE(cache_read_tokens, 0) + COALESCE(cache_write_5m_tokens, 0) "
    "+ COALESCE(cache_write_1h_tokens, 0) <= input_tokens",
    "COALESCE(reasoning_tokens, 0) <= output_tokens",
])  # fmt: skip


def request_reason_sql(text: frozenset[str] = frozenset()) -> str:
    """Stage 2 (over stage 1): the first failed invariant, or NULL for a good line."""
    return f"CASE WHEN {FAST_OK_SQL} THEN NULL ELSE {_reason(request_checks(text))} END"


REQUEST_REASON_SQL = request_reason_sql()

# A prefix larger than the whole input cannot be the input's prefix: the request is kept and its
# prefix (hash and size) becomes NULL, so the caching simulation counts it as having none.
PREFIX_FITS_SQL = "prefix_tokens IS NULL OR prefix_tokens <= input_tokens"

# The request_id when a line has none: a stable hash of the format and the line's content.
FALLBACK_ID_SQL = "'costops:' || md5(raw)"


def eval_checks(text: frozenset[str] = frozenset()) -> list[tuple[str, str]]:
    """The invariants of an eval line, in the order their reasons are given."""
    return [
        (
            f"{_string('request_id', text)} IS NULL AND {_string('task_id', text)} IS NULL",
            "'eval has neither request_id nor task_id'",
        ),
        (f"{_type('passed')} IS DISTINCT FROM 'BOOLEAN'", "'passed must be true or false'"),
        (
            f"{_present('score')} AND {_type('score')} NOT IN ('UBIGINT', 'BIGINT', 'DOUBLE')",
            f"'score is not a number: ' || {_shown('score')}",
        ),
        *_timestamp_checks("timestamp", required=False),
    ]


def eval_columns(text: frozenset[str] = frozenset()) -> dict[str, str]:
    """Each column of an eval, as an expression over the line's fragments."""
    return {
        "request_id": _string("request_id", text),
        "task_id": _string("task_id", text),
        "evaluator": f"COALESCE({_string('evaluator', text)}, 'default')",
        "passed": f"CASE WHEN {_type('passed')} = 'BOOLEAN' THEN {_f('passed')}::BOOLEAN END",
        "score": f"TRY_CAST({_f('score')} AS DOUBLE)",
        "ts": f"({_timestamp('timestamp')})",
        "model": _string("model", text),
    }


def eval_reason_sql(text: frozenset[str] = frozenset()) -> str:
    """The first failed invariant of an eval line, or NULL for a good one."""
    return _reason(eval_checks(text))


EVAL_COLUMNS = eval_columns()
EVAL_COLUMNS_SQL = ",\n    ".join(f"{expr} AS {name}" for name, expr in EVAL_COLUMNS.items())
EVAL_REASON_SQL = eval_reason_sql()


# Each line's JSON is parsed once, by json_transform into a struct of raw JSON fragments.
REQUEST_FIELDS = (
    *STRING_FIELDS, *TOKEN_FIELDS, *OPTIONAL_INT_FIELDS,
    "timestamp", "batch", "logged_cost", "attributes",
)  # fmt: skip
EVAL_FIELDS = ("request_id", "task_id", "evaluator", "passed", "score", "timestamp", "model")


def fragments(fields: tuple[str, ...], source: str = "raw") -> str:
    """`json_transform(source, ...)`: each field as a JSON fragment (NULL if absent)."""
    structure = ", ".join(f'"{name}": "JSON"' for name in fields)
    return f"json_transform({source}, '{{{structure}}}')"
