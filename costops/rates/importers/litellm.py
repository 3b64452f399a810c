"""`litellm`: LiteLLM's model_prices_and_context_window.json (USD per token). Every price-like key
is either mapped or reported; nothing is dropped silently. Versions are dated with the import
date: a price list says what holds now, not since when.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

from costops.errors import InputDataError, UsageError
from costops.rates.importers.common import ImportResult, table_yaml
from costops.rates.match import PROVIDER_ALIASES

PER_MILLION = 1_000_000
CHAT_MODES = (None, "chat", "responses", "completion")
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


def import_litellm(
    data: dict[str, Any],
    today: dt.date,
    providers: set[str],
    known: dict[tuple[str, str], str] | None = None,
) -> ImportResult:
    """`known` maps names the existing tables already claim (exact patterns, lower case) to
    their entry (provider/id): such a name's prices become a version of that entry, so the
    import overlays it instead of competing with it for the same logged name."""
    by_provider: dict[str, list[dict[str, Any]]] = {}
    claimed: set[str] = set()
    result = ImportResult({})
    for name, entry in sorted(data.items(), key=lambda item: _claim_order(item, known or {})):
        if name == "sample_spec" or not isinstance(entry, dict):
            continue
        provider = _provider(entry)
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
        existing = (known or {}).get((provider, name.lower()))
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
        result.tables[provider] = table_yaml(provider, source, models)
    return result


def _claim_order(item: tuple[str, Any], known: dict[tuple[str, str], str]) -> tuple[int, str]:
    """A name equal to the id of the entry that claims it goes first: its prices are the ones
    kept for that entry."""
    name, entry = item
    provider = _provider(entry) if isinstance(entry, dict) else ""
    existing = known.get((provider, name.lower()), "")
    return (0 if existing.split("/", 1)[-1] == name.lower() else 1, name)


def _provider(entry: dict[str, Any]) -> str:
    """The table provider of a LiteLLM entry (its slug mapped onto genai-prices' ids)."""
    provider = str(entry.get("litellm_provider") or "unknown")
    return PROVIDER_ALIASES.get(provider, provider)


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
