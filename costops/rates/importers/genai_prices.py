"""`genai-prices`: the installed genai-prices package's data as costops tables, one per provider.

What genai-prices says, said in costops' table form, so that a request is priced as its
`calc_price` prices it:
- a model's prices are replayed over time: at each date where any price or variant starts, the
  price in force is genai-prices' own choice (the last active conditional price, else the
  first), and each change becomes a dated version holding only what changed (`null` unsets);
  the first version starts at `since` (genai-prices uses its first price before any date);
- tiered prices become `long_context` tiers (every rate given at each tier, untiered ones at
  their base rate), time-of-day prices `time_of_day` windows with their explicit rates, batch
  variants `batch_rates`, service-tier/speed variants `service_tiers` (a tiered variant rate:
  a `long_context` list inside them);
- `cache_write_mtok` prices every cache write unless a 1-hour rate is given, so it becomes both
  `cache_write_5m` and `cache_write_1h`; a model with an input but no output price bills output
  at 0 (an embedding model), as genai-prices does;
- match clauses become globs (`equals`, `starts_with`, `ends_with`, `contains`) or regular
  expressions; a leading negative lookahead (which DuckDB's RE2 lacks) becomes `unless`.
Price keys costops has no usage column for (audio, images, web searches, …) are reported.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections import Counter
from typing import Any

from costops.rates.importers.common import ImportResult, table_yaml

# genai-prices price key → costops rate keys (both USD per million tokens)
TOKEN_KEYS = {
    "input_mtok": ("input",),
    "output_mtok": ("output",),
    "cache_read_mtok": ("cache_read",),
    "cache_write_mtok": ("cache_write_5m", "cache_write_1h"),
    "cache_write_5m_mtok": ("cache_write_5m",),
    "cache_write_1h_mtok": ("cache_write_1h",),
    "output_reasoning_mtok": ("reasoning",),
}
# a more specific key wins over a general one for the same costops rate
SPECIFIC = {"cache_write_5m_mtok": 1, "cache_write_1h_mtok": 1}
VERSION_EXTRAS = ("long_context", "time_of_day", "batch_rates", "service_tiers", "per_request")
TIER_CONTEXT_KEYS = ("service_tier", "speed")
BATCHABLE = (
    "input",
    "output",
    "cache_read",
    "cache_write_5m",
    "cache_write_1h",
    "reasoning",
)  # variant context keys that are service tiers


def import_genai_prices(
    providers_data: list[Any], today: dt.date, since: dt.date, providers: set[str]
) -> ImportResult:
    result = ImportResult({})
    for provider in providers_data:
        if providers and provider.id not in providers:
            continue
        models = []
        for model in provider.models:
            entry = _model(model, since, result.unmapped)
            if entry is None:
                result.skipped["no token prices (input or output per million tokens)"] += 1
                continue
            models.append(entry)
            result.models += 1
        if not models:
            continue
        extra: dict[str, Any] = {}
        if provider.fallback_model_providers:
            extra["fallback_providers"] = list(provider.fallback_model_providers)
        if provider.model_match is not None:
            claims = _patterns(provider.model_match, result.unmapped)
            if claims:
                extra["model_match"] = claims
        source = f"genai-prices package data, imported {today}"
        result.tables[provider.id] = table_yaml(provider.id, source, models, extra)
    return result


def _model(model: Any, since: dt.date, unmapped: Counter[str]) -> dict[str, Any] | None:
    prices = model.prices if isinstance(model.prices, list) else None
    conditional = prices or [_Unconditional(model.prices)]
    variants = list(model.price_variants or [])
    starts = {
        c.constraint.start_date
        for c in [*conditional, *variants]
        if type(c.constraint).__name__ == "StartDateConstraint"
    }
    dates = sorted({min([since, *starts]), *starts})
    versions: list[dict[str, Any]] = []
    previous: dict[str, Any] = {}
    for day in dates:
        state = _state_on(conditional, variants, day, unmapped)
        if state is None:
            continue
        changed = {k: v for k, v in state.items() if previous.get(k) != v}
        changed.update({k: None for k in previous if k not in state})
        if changed or not versions:
            versions.append({"effective_from": day, **changed})
        previous = state
    if not versions or "input" not in versions[0]:
        return None
    entry: dict[str, Any] = {"id": model.id}
    match = _patterns(model.match, unmapped)
    if match != [model.id]:
        entry["match"] = match or [model.id]
    entry["versions"] = versions
    return entry


@dataclasses.dataclass
class _Unconditional:
    prices: Any
    constraint: Any = None


def _state_on(
    conditional: list[Any], variants: list[Any], day: dt.date, unmapped: Counter[str]
) -> dict[str, Any] | None:
    """Everything that prices a request on `day` (from its first moment, UTC)."""
    by_date = [(i, c) for i, c in enumerate(conditional) if not _is_time(c.constraint)]
    active = [i for i, c in by_date if c.constraint is None or c.constraint.start_date <= day]
    base_index = active[-1] if active else -1
    base = conditional[max(base_index, 0)].prices
    state = _rates(base, unmapped)
    if "input" not in state:
        return None
    windows = [c for i, c in enumerate(conditional) if _is_time(c.constraint) and i > base_index]
    if windows:
        state["time_of_day"] = [_window(c, unmapped) for c in windows]
    batch: dict[str, Any] = {}
    tiers: dict[str, dict[str, Any]] = {}
    for variant in variants:
        constraint = variant.constraint
        if _is_time(constraint):
            unmapped["price variant with a time-of-day constraint"] += 1
            continue
        if constraint is not None and constraint.start_date > day:
            continue
        explicit = _explicit(variant.prices, unmapped)
        if not explicit and variant.when == {"processing": "batch"}:
            # an empty batch variant: batch is billed at the standard rates (no discount)
            explicit = {k: v for k, v in state.items() if k in (*BATCHABLE, "long_context")}
        if not explicit:
            continue
        if variant.when == {"processing": "batch"}:
            target = batch
        elif len(variant.when) == 1 and next(iter(variant.when)) in TIER_CONTEXT_KEYS:
            target = tiers.setdefault(next(iter(variant.when.values())).lower(), {})
        else:
            unmapped[f"price variant {variant.when}"] += 1
            continue
        for key, value in explicit.items():  # the first variant that gives a rate wins
            target.setdefault(key, value)
    if batch:
        state["batch_rates"] = batch
    if tiers:
        state["service_tiers"] = tiers
    return state


def _is_time(constraint: Any) -> bool:
    return type(constraint).__name__ == "TimeOfDateConstraint"


def _rates(price: Any, unmapped: Counter[str]) -> dict[str, Any]:
    """A genai-prices ModelPrice as a version's rates (tiers as long_context)."""
    rates: dict[str, Any] = {}
    tiered: dict[str, Any] = {}
    rank: dict[str, int] = {}
    for key, value in vars(price).items():
        if value is None or key.startswith("_"):
            continue
        if key == "requests_kcount":
            rates["per_request"] = round(float(value) / 1000, 12)
            continue
        if key not in TOKEN_KEYS:
            unmapped[key] += 1
            continue
        for name in TOKEN_KEYS[key]:
            if rank.get(name, -1) > SPECIFIC.get(key, 0):
                continue
            rank[name] = SPECIFIC.get(key, 0)
            if hasattr(value, "tiers"):
                rates[name] = float(value.base)
                tiered[name] = value
            else:
                rates[name] = float(value)
                tiered.pop(name, None)
    if "input" in rates and "output" not in rates:
        rates["output"] = 0.0
    if tiered:
        rates["long_context"] = _tiers(rates, tiered, unmapped)
    return rates


def _tiers(
    rates: dict[str, Any], tiered: dict[str, Any], unmapped: Counter[str]
) -> list[dict[str, Any]]:
    thresholds = sorted({t.start for value in tiered.values() for t in value.tiers})
    out = []
    for threshold in thresholds:
        tier: dict[str, Any] = {"above_input_tokens": int(threshold)}
        for name, base in rates.items():
            if name == "per_request":
                continue
            value = tiered.get(name)
            if value is None:
                tier[name] = base
                continue
            crossed = [t for t in value.tiers if t.start <= threshold]
            tier[name] = float(crossed[-1].price) if crossed else float(value.base)
        out.append(tier)
    return out


def _explicit(price: Any, unmapped: Counter[str], tiers: bool = True) -> dict[str, Any]:
    """A partial price (a variant, or a window: no tiers there) as explicit rates."""
    rates = _rates(price, unmapped)
    if "output" in rates and "output_mtok" not in vars(price):
        rates.pop("output")  # a partial price: output 0 is only for a whole model price
        for tier in rates.get("long_context") or []:
            tier.pop("output", None)
    if "long_context" in rates and not tiers:
        unmapped["tiered rates in a time-of-day window (base rate used)"] += 1
        rates.pop("long_context")
    return {k: v for k, v in rates.items() if k != "per_request"}


def _window(conditional: Any, unmapped: Counter[str]) -> dict[str, Any]:
    constraint = conditional.constraint
    start, end = constraint.start_time, constraint.end_time
    zone = "UTC"
    if start.tzinfo is not None and start.utcoffset() != dt.timedelta(0):
        unmapped["time-of-day window with a UTC offset"] += 1
    return {
        "from": start.strftime("%H:%M"),
        "to": end.strftime("%H:%M"),
        "timezone": zone,
        **_explicit(conditional.prices, unmapped, tiers=False),
    }


def _patterns(clause: Any, unmapped: Counter[str]) -> list[Any]:
    """A genai-prices match clause as costops match patterns (an `or` is a list)."""
    kind = type(clause).__name__
    if kind == "ClauseOr":
        return [p for sub in clause.or_ for p in _patterns(sub, unmapped)]
    if kind == "ClauseAnd":
        return _conjunction(clause.and_, unmapped)
    pattern = _positive(clause)
    if pattern is None:
        unmapped[f"match clause {kind}"] += 1
        return []
    return [pattern]


def _positive(clause: Any) -> Any:
    """One clause as a glob string or {regex, unless}; None when it cannot be said."""
    kind = type(clause).__name__
    forms = {
        "ClauseEquals": ("equals", "{}", "^{}$"),
        "ClauseStartsWith": ("starts_with", "{}*", "^{}"),
        "ClauseEndsWith": ("ends_with", "*{}", "{}$"),
        "ClauseContains": ("contains", "*{}*", "{}"),
    }
    if kind in forms:
        attr, glob, regex = forms[kind]
        value = str(getattr(clause, attr)).lower()
        if any(c in value for c in "*?"):
            return {"regex": regex.format(re.escape(value))}
        return glob.format(value)
    if kind == "ClauseRegex":
        return _regex(clause.regex)
    return None


def _regex(expression: str) -> dict[str, str] | None:
    """`^(?!X)REST` → {regex: ^REST, unless: ^X}; other lookarounds cannot be said in RE2."""
    if expression.startswith("^(?!"):
        end = _closing(expression, 1)
        if end is None:
            return None
        unless, rest = "^" + expression[4:end], "^" + expression[end + 1 :]
        if _lookaround(unless) or _lookaround(rest):
            return None
        return {"regex": rest, "unless": unless}
    return None if _lookaround(expression) else {"regex": expression}


def _conjunction(clauses: list[Any], unmapped: Counter[str]) -> list[Any]:
    """`and` of one positive clause and negative-lookahead regexes → {regex, unless}."""
    positive, negative = [], []
    for clause in clauses:
        pattern = _positive(clause)
        if isinstance(pattern, dict) and pattern.get("regex") == "^" and "unless" in pattern:
            negative.append(pattern["unless"])
        elif pattern is not None:
            positive.append(pattern)
        else:
            unmapped["match clause in an `and`"] += 1
            return []
    if len(positive) != 1 or len(negative) > 1:
        unmapped["match `and` of several positive clauses"] += 1
        return []
    only = positive[0]
    if isinstance(only, dict) and "unless" in only:
        unmapped["match `and` of several negative clauses"] += 1
        return []
    glob_or_regex = {"glob": only} if isinstance(only, str) else dict(only)
    if negative:
        glob_or_regex["unless"] = negative[0]
    return [glob_or_regex]


def _closing(expression: str, start: int) -> int | None:
    """The index of the parenthesis closing the group opened at `start`."""
    depth = 0
    index = start
    while index < len(expression):
        char = expression[index]
        if char == "\\":
            index += 2
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    return None


def _lookaround(expression: str) -> bool:
    return bool(re.search(r"\(\?<?[=!]", expression))
