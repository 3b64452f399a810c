"""Import other price lists into reviewable costops YAML, one file per provider.

`litellm`: LiteLLM's model_prices_and_context_window.json (USD per token). Every price-like key
is either mapped or reported; nothing is dropped silently. Versions are dated with the import
date: a price list says what holds now, not since when.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml

from costops.errors import InputDataError, UsageError
from costops.rates.tables import PricingTables

PER_MILLION = 1_000_000
CHAT_MODES = (None, "chat", "responses", "completion")
# LiteLLM provider slugs → the provider names of the packaged tables, so imports overlay them.
PROVIDERS = {"gemini": "google", "vertex_ai-language-models": "google"}
# LiteLLM key → costops rate key (USD per token → USD per million tokens).
BASE_KEYS = {
    "input_cost_per_token": "input",
    "output_cost_per_token": "output",
    "cache_read_input_token_cost": "cache_read",
    "cache_creation_input_token_cost": "cache_write_5m",
    "cache_creation_input_token_cost_above_1hr": "cache_write_1h",
    "output_cost_per_reasoning_token": "reasoning",
}
THRESHOLD = re.compile(r"^(?P<base>.+)_above_(?P<n>\d+)k_tokens$")
TIER = re.compile(r"^(?P<base>.+)_(?P<tier>flex|priority|batches)$")
NOT_PRICES = re.compile(
    r"^(max_|supports_|supported_|mode$|litellm_provider$|source$|metadata$|"
    r"deprecation_date$|tool_use_system_prompt_tokens$|output_vector_size$)"
)


@dataclass
class ImportResult:
    tables: dict[str, str]  # provider → YAML text
    models: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # why whole entries were skipped
    unmapped: Counter[str] = field(default_factory=Counter)  # price keys with no costops rule


def import_litellm(
    data: dict[str, Any],
    today: dt.date,
    providers: set[str],
    known: dict[str, str] | None = None,
) -> ImportResult:
    """`known` maps names the existing tables already claim (exact patterns, lower case) to
    their entry (provider/id): such a name's prices become a version of that entry, so the
    import overlays it instead of competing with it for the same logged name."""
    by_provider: dict[str, list[dict[str, Any]]] = {}
    claimed: set[str] = set()
    result = ImportResult({})
    for name, entry in sorted(data.items(), key=lambda item: _claim_order(item[0], known or {})):
        if name == "sample_spec" or not isinstance(entry, dict):
            continue
        provider = str(entry.get("litellm_provider") or "unknown")
        provider = PROVIDERS.get(provider, provider)
        if providers and provider not in providers:
            continue
        if entry.get("mode") not in CHAT_MODES:
            result.skipped[f"mode {entry.get('mode')}"] += 1
            continue
        version, unmapped = _version(entry, today)
        result.unmapped.update(unmapped)
        if version is None:
            result.skipped["no input/output price per token"] += 1
            continue
        model: dict[str, Any] = {"id": name, "match": [name], "versions": [version]}
        existing = (known or {}).get(name.lower())
        if existing:
            if existing in claimed:
                result.skipped[f"another name of an entry already imported ({existing})"] += 1
                continue
            claimed.add(existing)
            provider, model_id = existing.split("/", 1)
            model = {"id": model_id, "versions": [version]}
        by_provider.setdefault(provider, []).append(model)
        result.models += 1
    source = f"LiteLLM model_prices_and_context_window.json, imported {today}"
    for provider, models in by_provider.items():
        result.tables[provider] = _table(provider, source, models)
    return result


def _table(provider: str, source: str, models: list[dict[str, Any]]) -> str:
    """One provider's pricing file, as YAML."""
    doc = {"provider": provider, "currency": "USD", "source": source, "models": models}
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


def _claim_order(name: str, known: dict[str, str]) -> tuple[int, str]:
    """A name equal to the id of the entry that claims it goes first: its prices are the ones
    kept for that entry."""
    existing = known.get(name.lower(), "")
    return (0 if existing.split("/", 1)[-1] == name.lower() else 1, name)


def _version(entry: dict[str, Any], today: dt.date) -> tuple[dict[str, Any] | None, list[str]]:
    base: dict[str, float] = {}
    above: dict[int, dict[str, float]] = {}
    tiers: dict[str, dict[str, float]] = {}
    extra: dict[str, float] = {}
    unmapped: list[str] = []
    for key, value in entry.items():
        if NOT_PRICES.match(key):
            continue
        if not isinstance(value, int | float) or isinstance(value, bool):
            if "cost" in key:
                unmapped.append(key)
            continue
        if key == "input_cost_per_request":
            extra["per_request"] = float(value)
        elif key in BASE_KEYS:
            base[BASE_KEYS[key]] = _per_million(value)
        elif (m := THRESHOLD.match(key)) and m["base"] in BASE_KEYS:
            above.setdefault(int(m["n"]) * 1000, {})[BASE_KEYS[m["base"]]] = _per_million(value)
        elif (m := TIER.match(key)) and m["base"] in BASE_KEYS:
            tiers.setdefault(m["tier"], {})[BASE_KEYS[m["base"]]] = _per_million(value)
        elif "cost" in key:
            unmapped.append(key)
    if "input" not in base or "output" not in base:
        return None, unmapped
    version: dict[str, Any] = {"effective_from": today, **base, **extra}
    if above:
        threshold = min(above)
        tier = above[threshold]
        if "input" in tier and "output" in tier:
            version["long_context"] = {"above_input_tokens": threshold, **tier}
        else:
            unmapped += [f"*_above_{threshold // 1000}k_tokens (no input/output pair)"]
        unmapped += [
            f"*_above_{n // 1000}k_tokens (a second threshold)" for n in above if n != threshold
        ]
    batches = tiers.pop("batches", None)
    if batches:
        multiplier = _common_ratio(batches, base)
        if multiplier is None:
            unmapped.append("*_batches (rates that are not one discount of the base rates)")
        else:
            version["batch_multiplier"] = multiplier
    if tiers:
        version["service_tiers"] = tiers
    return version, unmapped


def _common_ratio(rates: dict[str, float], base: dict[str, float]) -> float | None:
    ratios = {round(rates[k] / base[k], 6) for k in rates if base.get(k)}
    return ratios.pop() if len(ratios) == 1 and set(rates) <= set(base) else None


def _per_million(value: float) -> float:
    return round(value * PER_MILLION, 6)


# genai-prices ModelPrice attribute → costops rate key (both USD per million tokens).
GENAI_KEYS = {
    "input_mtok": "input",
    "output_mtok": "output",
    "cache_read_mtok": "cache_read",
    "cache_write_mtok": "cache_write_5m",
    "cache_write_1h_mtok": "cache_write_1h",
}
GENAI_TIER_KEYS = frozenset({"speed"})  # price variant keys imported as service tiers


def import_genai_prices(
    providers_data: list[Any], today: dt.date, since: dt.date, providers: set[str]
) -> ImportResult:
    """genai-prices' package data: dated prices become versions (unconstrained prices apply
    from `since`), tiered prices the long-context tier, batch variants explicit batch rates,
    other variants service tiers, time-of-day prices daily windows with their own rates."""
    result = ImportResult({})
    for provider in providers_data:
        if providers and provider.id not in providers:
            continue
        models = []
        for model in provider.models:
            entry, unmapped = _genai_model(model, since)
            result.unmapped.update(unmapped)
            if entry is None:
                result.skipped["no input/output price per million tokens"] += 1
                continue
            models.append(entry)
            result.models += 1
        if models:
            source = f"genai-prices package data, imported {today}"
            result.tables[provider.id] = _table(provider.id, source, models)
    return result


def _genai_model(model: Any, since: dt.date) -> tuple[dict[str, Any] | None, list[str]]:
    unmapped: list[str] = []
    conditional = (
        model.prices
        if isinstance(model.prices, list)
        else [SimpleNamespace(prices=model.prices, constraint=None)]
    )
    versions: list[dict[str, Any]] = []
    windows: list[Any] = []
    for price in conditional:
        constraint = price.constraint
        kind = type(constraint).__name__
        if kind == "TimeOfDateConstraint":
            windows.append(price)
            continue
        start = getattr(constraint, "start_date", since)
        rates, missing = _genai_rates(price.prices)
        unmapped += missing
        if "input" in rates and "output" in rates:
            versions.append({"effective_from": start, **rates})
    if not versions:
        return None, unmapped
    versions.sort(key=lambda v: v["effective_from"])
    for price in windows:
        unmapped += _add_window(versions[-1], price)
    for variant in model.price_variants or []:
        unmapped += _add_variant(versions, variant)
    return {"id": model.id, "match": _globs(model.match, model.id), "versions": versions}, unmapped


def _genai_rates(price: Any) -> tuple[dict[str, Any], list[str]]:
    rates: dict[str, Any] = {}
    unmapped: list[str] = []
    long_context: dict[str, Any] = {}
    for key, value in vars(price).items():
        if value is None or key.startswith("_"):
            continue
        if key == "requests_kcount":
            rates["per_request"] = round(float(value) / 1000, 9)
            continue
        if key not in GENAI_KEYS:
            unmapped.append(key)
            continue
        name = GENAI_KEYS[key]
        if hasattr(value, "tiers"):
            rates[name] = float(value.base)
            if value.tiers:
                first = value.tiers[0]
                long_context["above_input_tokens"] = int(first.start)
                long_context[name] = float(first.price)
                if len(value.tiers) > 1:
                    unmapped.append(f"{key} (a second price tier)")
        else:
            rates[name] = float(value)
    if long_context:
        rates["long_context"] = long_context
    else:
        rates["long_context"] = None  # a dated version without tiers ends an earlier tier
    return rates, unmapped


def _explicit_rates(price: Any) -> tuple[dict[str, float], list[str]]:
    """A partial genai-prices price (a variant or a window) as explicit costops rates."""
    rates, unmapped = _genai_rates(price)
    return {k: v for k, v in rates.items() if k in GENAI_KEYS.values()}, unmapped


def _add_window(version: dict[str, Any], price: Any) -> list[str]:
    """A genai-prices time-of-day price: a daily window (UTC) with its own explicit rates."""
    explicit, unmapped = _explicit_rates(price.prices)
    start, end = price.constraint.start_time, price.constraint.end_time
    window = {"from": start.strftime("%H:%M"), "to": end.strftime("%H:%M"), "timezone": "UTC"}
    version.setdefault("time_of_day", []).append({**window, **explicit})
    return unmapped


def _add_variant(versions: list[dict[str, Any]], variant: Any) -> list[str]:
    explicit, unmapped = _explicit_rates(variant.prices)
    if not explicit:
        return unmapped
    if variant.when == {"processing": "batch"} and "input" not in explicit:
        return [*unmapped, "batch variant without an input rate"]
    start = getattr(variant.constraint, "start_date", None)
    if start is not None and start not in [v["effective_from"] for v in versions]:
        # the variant starts within a version: split that version at its start
        earlier = [v for v in versions if v["effective_from"] < start]
        if earlier:
            versions.append({**earlier[-1], "effective_from": start})
            versions.sort(key=lambda v: v["effective_from"])
    targets = [v for v in versions if start is None or v["effective_from"] >= start]
    if variant.when == {"processing": "batch"}:
        for version in targets:
            version["batch_rates"] = explicit
        return unmapped
    if len(variant.when) == 1 and next(iter(variant.when)) in GENAI_TIER_KEYS:
        tier = next(iter(variant.when.values()))
        for version in targets:
            version.setdefault("service_tiers", {})[tier] = explicit
        return unmapped
    return [*unmapped, f"price variant {variant.when}"]


def _globs(match: Any, model_id: str) -> list[str]:
    """genai-prices match clauses as globs where they translate; else the id itself."""
    out: list[str] = []
    stack = [match]
    while stack:
        clause = stack.pop()
        for attr, glob in (("equals", "{}"), ("starts_with", "{}*"), ("ends_with", "*{}"),
                           ("contains", "*{}*")):  # fmt: skip
            value = getattr(clause, attr, None)
            if isinstance(value, str) and not any(c in value for c in "*?[]"):
                out.append(glob.format(value))
        stack += getattr(clause, "or_", None) or []
    return list(dict.fromkeys(out)) or [model_id]


def read_litellm(file: Path | None) -> dict[str, Any]:
    """LiteLLM's price map from a file; a missing or malformed file is an input error."""
    if file is None:
        raise UsageError("litellm: give the path of model_prices_and_context_window.json")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputDataError(f"{file}: not a readable JSON price list: {exc}") from exc
    if not isinstance(data, dict):
        raise InputDataError(f"{file}: expected a JSON object of model -> prices")
    return data


def claimed_names(tables: PricingTables) -> dict[str, str]:
    """Logged names the tables claim with an exact pattern (or their id) → the entry's key."""
    names = {model.id.lower(): model.key for model in tables.models}
    for model in tables.models:
        for pattern in model.match:
            if pattern.exact:
                names.setdefault(pattern.pattern.lower(), model.key)
    return names


def write_tables(result: ImportResult, out: Path, source: str) -> list[Path]:
    """One YAML file per provider in `out`, named after the importer and the provider."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in sorted(result.tables.items()):
        target = out / f"{source}-{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.yaml"
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written
