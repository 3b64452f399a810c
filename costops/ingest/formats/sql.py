"""Small SQL builders shared by the adapters. Paths are constants of the adapters, never input."""

from __future__ import annotations

from costops.config import MAPPABLE as DIMENSIONS


def s(path: str, src: str = "j") -> str:
    """The string at a JSON path (NULL when absent)."""
    return f"({src}->>'{path}')"


def v(path: str, src: str = "j") -> str:
    """The JSON fragment at a path, passed through so the canonical checks see its real type."""
    return f"({src}->'{path}')"


# Counts are added up as HUGEINT: a sum of 64-bit counts cannot overflow, and the canonical
# checks quarantine whatever is out of range (canonical.MAX_COUNT).
COUNT_TYPE = "HUGEINT"


def i(path: str, src: str = "j") -> str:
    """The integer at a path, for arithmetic (NULL when absent or not a number)."""
    return f"TRY_CAST({src}->'{path}' AS {COUNT_TYPE})"


# A staged row's file, for a table aliased {t}: `_files` (see run.ONE_FILE_SQL) maps line numbers
# to the files ingested together (one file read alone: all of its numbers).
IN_FILE = "JOIN _files f ON {t}.line_no BETWEEN f.first_line AND f.last_line"

# The time for records that carry none (batch results): --timestamp or the file's mtime (a
# column of the staged lines: files ingested together each have their own).
FALLBACK_TIME = "to_json(default_ts)"


def latency_ms(start: str, end: str) -> str:
    """Milliseconds between two timestamp strings of the line."""
    return (
        f"TRY_CAST(date_diff('millisecond', TRY_CAST({s(start)} AS TIMESTAMPTZ), "
        f"TRY_CAST({s(end)} AS TIMESTAMPTZ)) AS BIGINT)"
    )


def first(*exprs: str) -> str:
    return f"COALESCE({', '.join(exprs)})"


def total(*exprs: str) -> str:
    """A sum where absent parts count as 0, NULL only when every part is absent."""
    parts = " + ".join(f"COALESCE({e}, 0)" for e in exprs)
    return f"CASE WHEN {' OR '.join(f'{e} IS NOT NULL' for e in exprs)} THEN {parts} END"


def wrapper_dimensions(extra: dict[str, list[str]] | None = None) -> dict[str, str]:
    """Dimensions from a wrapper line: the top level, then its `metadata` object."""
    out = {}
    for dim in DIMENSIONS:
        candidates = [*((extra or {}).get(dim, [])), s(f"$.{dim}"), s(f"$.metadata.{dim}")]
        out[dim] = first(*candidates)
    return out


def canonical_object(fields: dict[str, str]) -> str:
    pairs = ", ".join(f"'{name}', {expr}" for name, expr in fields.items())
    return f"json_object({pairs})"


def patch(canon: str, values: dict[str, str]) -> str:
    """Override dimensions of a canonical object where the mapped value is present."""
    if not values:
        return canon
    pairs = ", ".join(
        f"'{dim}', COALESCE({expr}, {canon}->>'$.{dim}')" for dim, expr in values.items()
    )
    return f"json_merge_patch({canon}, json_object({pairs}))"


def json_mappings(mappings: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """--map / costops.yaml JSON paths into the logged line, first present value wins."""
    out = {}
    for dim, paths in mappings.items():
        exprs = [f"json_extract_string(raw, '{p}')" for p in paths if not p.startswith("otel:")]
        if exprs:
            out[dim] = first(*exprs)
    return out


def stable_prompt(messages: str, head: str) -> tuple[str, str, str]:
    """SQL for the stable prefix text of a logged prompt, the whole prompt text, and whether
    there is a prefix at all.

    The stable prefix is `head` (tools, and a separate system prompt where the API has one) plus
    the messages up to the last cache breakpoint (`cache_control`), or plus the system messages
    when there is none.
    """
    items = f"COALESCE(json_extract({messages}, '$[*]'), [])"
    breakpoint = (
        f"list_max(list_transform({items}, "
        "lambda x, k: CASE WHEN contains(x::VARCHAR, '\"cache_control\"') THEN k END))"
    )
    stable_messages = (
        f"CASE WHEN {breakpoint} IS NOT NULL THEN list_slice({items}, 1, {breakpoint}) "
        f"ELSE list_filter({items}, lambda x: x->>'$.role' = 'system') END"
    )
    stable = f"(COALESCE({head}, '') || array_to_string({stable_messages}, ''))"
    whole = f"(COALESCE({head}, '') || COALESCE({messages}::VARCHAR, ''))"
    usable = f"(json_type({messages}) = 'ARRAY' AND length({stable}) > 0)"
    return stable, whole, usable


def prompt_prefix(messages: str, head: str, input_tokens: str) -> tuple[str, str]:
    """prefix_hash and prefix_tokens from a logged prompt; the text itself is never stored.
    Tokens are estimated from the prefix's share of the prompt's characters times input_tokens."""
    stable, whole, usable = stable_prompt(messages, head)
    prefix_hash = f"CASE WHEN {usable} THEN left(sha256({stable}), 16) END"
    prefix_tokens = (
        f"CASE WHEN {usable} THEN TRY_CAST(round({input_tokens} * length({stable}) "
        f"/ length({whole})) AS BIGINT) END"
    )
    return prefix_hash, prefix_tokens
