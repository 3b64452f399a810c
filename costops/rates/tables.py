"""Load pricing YAML files into validated, fully-resolved dated price versions."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from costops.errors import PricingError

RATE_KEYS = ("input", "output", "cache_read", "cache_write_5m", "cache_write_1h", "reasoning")
LONG_CONTEXT_KEYS = frozenset({"above_input_tokens", *RATE_KEYS})
VERSION_KEYS = frozenset(
    {
        *RATE_KEYS,
        "long_context",
        "batch_multiplier",
        "batch_stacks_with_cache",
        "regional_uplift",
        "service_tiers",
        "cache_storage_per_mtok_hour",
    }
)
MODEL_KEYS = frozenset({"id", "match", "min_cacheable_tokens", "versions"})
FILE_KEYS = frozenset({"provider", "currency", "source", "defaults", "models"})
TIER_KEYS = frozenset({"multiplier", *RATE_KEYS})


@dataclass(frozen=True)
class PriceVersion:
    """One dated version with inheritance resolved; rates in USD per million tokens."""

    effective_from: dt.datetime
    effective_to: dt.datetime | None
    rates: dict[str, float | None]
    long_context: dict[str, float] | None
    batch_multiplier: float | None
    batch_stacks_with_cache: bool
    regional_uplift: dict[str, float]
    service_tiers: dict[str, dict[str, float]]
    cache_storage_per_mtok_hour: float | None


@dataclass
class PricedModel:
    provider: str
    id: str
    match: list[str]
    min_cacheable_tokens: int | None
    versions: list[PriceVersion]
    source_file: str
    user: bool = False

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.id}"


@dataclass
class PricingTables:
    models: list[PricedModel]
    files: list[str]
    content_hash: str
    warnings: list[str] = field(default_factory=list)

    def find(self, name: str) -> list[PricedModel]:
        lowered = name.lower()
        return [m for m in self.models if lowered in (m.id.lower(), m.key.lower())]


def packaged_dir() -> Path:
    """The tables shipped inside the package (the repository's pricing/ links here)."""
    return Path(__file__).resolve().parent.parent / "pricing_data"


def load_tables(user_dirs: list[str] | None = None) -> PricingTables:
    """Packaged tables, then each user directory (COSTOPS_PRICING / --pricing) layered on top."""
    dirs: list[tuple[Path, bool]] = [(packaged_dir(), False)]
    env_dir = os.environ.get("COSTOPS_PRICING")
    for extra in [*([env_dir] if env_dir else []), *(user_dirs or [])]:
        path = Path(extra)
        if not path.is_dir():
            raise PricingError(f"{extra}: pricing directory not found")
        dirs.append((path, True))

    merged: dict[str, PricedModel] = {}
    files: list[str] = []
    digest = hashlib.sha256()
    for directory, user in dirs:
        for path in sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml")):
            text = path.read_text(encoding="utf-8")
            digest.update(path.name.encode() + b"\0" + text.encode())
            files.append(str(path))
            for model in parse_file(text, str(path), user=user):
                previous = merged.get(model.key)
                merged[model.key] = _overlay(previous, model) if previous else model
    return PricingTables(list(merged.values()), files, digest.hexdigest())


def _overlay(base: PricedModel, top: PricedModel) -> PricedModel:
    """A user's table wins over the packaged one for the same model and effective date."""
    by_date = {v.effective_from: v for v in base.versions}
    by_date.update({v.effective_from: v for v in top.versions})
    versions = _chain([by_date[d] for d in sorted(by_date)])
    return PricedModel(
        provider=top.provider,
        id=top.id,
        match=list(dict.fromkeys([*top.match, *base.match])),
        min_cacheable_tokens=top.min_cacheable_tokens or base.min_cacheable_tokens,
        versions=versions,
        source_file=top.source_file,
        user=True,
    )


def _chain(versions: list[PriceVersion]) -> list[PriceVersion]:
    """Set each version's effective_to to the next version's effective_from."""
    out = []
    for index, version in enumerate(versions):
        nxt = versions[index + 1].effective_from if index + 1 < len(versions) else None
        out.append(_replace_to(version, nxt))
    return out


def _replace_to(version: PriceVersion, effective_to: dt.datetime | None) -> PriceVersion:
    return PriceVersion(
        effective_from=version.effective_from,
        effective_to=effective_to,
        rates=version.rates,
        long_context=version.long_context,
        batch_multiplier=version.batch_multiplier,
        batch_stacks_with_cache=version.batch_stacks_with_cache,
        regional_uplift=version.regional_uplift,
        service_tiers=version.service_tiers,
        cache_storage_per_mtok_hour=version.cache_storage_per_mtok_hour,
    )


class _Where:
    """Builds `file: model M: key K: problem` messages for exit code 4."""

    def __init__(self, file: str, model: str = "", key: str = ""):
        self.file, self.model, self.key = file, model, key

    def at(self, model: str = "", key: str = "") -> _Where:
        return _Where(self.file, model or self.model, key or self.key)

    def error(self, problem: str) -> PricingError:
        parts = [self.file]
        if self.model:
            parts.append(f"model {self.model}")
        if self.key:
            parts.append(f"key {self.key}")
        return PricingError(": ".join(parts) + f": {problem}")


def parse_file(text: str, file: str, *, user: bool = False) -> list[PricedModel]:
    where = _Where(file)
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise where.error(f"not valid YAML{line}: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(doc, dict):
        raise where.error("expected a mapping with provider, currency and models")
    _unknown(doc, FILE_KEYS, where)
    provider = doc.get("provider")
    if not isinstance(provider, str) or not provider:
        raise where.at(key="provider").error("required, a provider name like anthropic")
    currency = doc.get("currency", "USD")
    if currency != "USD":
        raise where.at(key="currency").error(f"only USD is supported, got {currency!r}")
    defaults = doc.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise where.at(key="defaults").error("expected a mapping")
    _unknown(defaults, VERSION_KEYS, where.at(key="defaults"))
    models = doc.get("models")
    if not isinstance(models, list) or not models:
        raise where.at(key="models").error("expected a non-empty list of models")
    parsed = [_parse_model(m, provider, defaults, where, user) for m in models]
    seen: set[str] = set()
    for model in parsed:
        if model.id in seen:
            raise where.at(model=model.id).error("model id appears twice in this file")
        seen.add(model.id)
    return parsed


def _parse_model(
    raw: Any, provider: str, defaults: dict[str, Any], where: _Where, user: bool
) -> PricedModel:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise where.error("every model needs an `id`")
    here = where.at(model=raw["id"])
    _unknown(raw, MODEL_KEYS, here)
    match = raw.get("match") or [raw["id"]]
    if not isinstance(match, list) or not all(isinstance(p, str) and p for p in match):
        raise here.at(key="match").error("expected a list of glob patterns")
    min_cacheable = raw.get("min_cacheable_tokens")
    if min_cacheable is not None and (not _is_int(min_cacheable) or min_cacheable < 0):
        raise here.at(key="min_cacheable_tokens").error("expected a non-negative integer")
    versions_raw = raw.get("versions")
    if not isinstance(versions_raw, list) or not versions_raw:
        raise here.at(key="versions").error("expected a non-empty list of dated versions")

    resolved: list[PriceVersion] = []
    inherited: dict[str, Any] = dict(defaults)
    for entry in versions_raw:
        if not isinstance(entry, dict):
            raise here.at(key="versions").error("each version must be a mapping")
        _unknown(entry, VERSION_KEYS | {"effective_from"}, here)
        start = _parse_date(entry.get("effective_from"), here.at(key="effective_from"))
        inherited = {**inherited, **{k: v for k, v in entry.items() if k != "effective_from"}}
        version = _resolve_version(inherited, start, here.at(key=f"versions[{start.date()}]"))
        if resolved and version.effective_from <= resolved[-1].effective_from:
            raise here.at(key="effective_from").error(
                f"{version.effective_from.date()} is not after the previous version "
                f"({resolved[-1].effective_from.date()}); versions must be in date order"
            )
        resolved.append(version)
    return PricedModel(
        provider=provider,
        id=raw["id"],
        match=match,
        min_cacheable_tokens=min_cacheable,
        versions=_chain(resolved),
        source_file=where.file,
        user=user,
    )


def _resolve_version(values: dict[str, Any], start: dt.datetime, where: _Where) -> PriceVersion:
    rates: dict[str, float | None] = {}
    for key in RATE_KEYS:
        rates[key] = _rate(values.get(key), where.at(key=key))
    for key in ("input", "output"):
        if rates[key] is None:
            raise where.at(key=key).error("required (USD per million tokens)")
    long_context = values.get("long_context")
    lc: dict[str, float] | None = None
    if long_context is not None:
        lc = _parse_long_context(long_context, rates, where.at(key="long_context"))
    batch_multiplier = values.get("batch_multiplier")
    if batch_multiplier is not None:
        batch_multiplier = _rate(batch_multiplier, where.at(key="batch_multiplier"))
    stacks = values.get("batch_stacks_with_cache", True)
    if not isinstance(stacks, bool):
        raise where.at(key="batch_stacks_with_cache").error("expected true or false")
    storage = values.get("cache_storage_per_mtok_hour")
    if storage is not None:
        storage = _rate(storage, where.at(key="cache_storage_per_mtok_hour"))
    return PriceVersion(
        effective_from=start,
        effective_to=None,
        rates=rates,
        long_context=lc,
        batch_multiplier=batch_multiplier,
        batch_stacks_with_cache=stacks,
        regional_uplift=_multipliers(
            values.get("regional_uplift"), where.at(key="regional_uplift")
        ),
        service_tiers=_service_tiers(values.get("service_tiers"), where.at(key="service_tiers")),
        cache_storage_per_mtok_hour=storage,
    )


def _parse_long_context(raw: Any, base: dict[str, float | None], where: _Where) -> dict[str, float]:
    if not isinstance(raw, dict):
        raise where.error("expected a mapping with above_input_tokens and rates")
    _unknown(raw, LONG_CONTEXT_KEYS, where)
    threshold = raw.get("above_input_tokens")
    if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold <= 0:
        raise where.at(key="long_context.above_input_tokens").error("expected a positive integer")
    tier: dict[str, float] = {"above_input_tokens": float(threshold)}
    for key in RATE_KEYS:
        value = _rate(raw.get(key), where.at(key=f"long_context.{key}"))
        if value is not None:
            tier[key] = value
    if "input" not in tier or "output" not in tier:
        raise where.error("a long_context tier needs input and output rates")
    # Cache rates missing from the tier scale with the tier's input rate, as providers do.
    base_input = base["input"] or 0.0
    scale = tier["input"] / base_input if base_input else 1.0
    for key in ("cache_read", "cache_write_5m", "cache_write_1h"):
        if key not in tier and base[key] is not None:
            tier[key] = float(base[key] or 0.0) * scale
    return tier


def _multipliers(raw: Any, where: _Where) -> dict[str, float]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise where.error("expected a mapping of name -> multiplier")
    out = {}
    for name, value in raw.items():
        multiplier = _rate(value, where.at(key=f"{where.key}.{name}"))
        out[str(name).lower()] = multiplier if multiplier is not None else 1.0
    return out


def _service_tiers(raw: Any, where: _Where) -> dict[str, dict[str, float]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise where.error("expected a mapping of tier -> {multiplier} or explicit rates")
    out: dict[str, dict[str, float]] = {}
    for tier, spec in raw.items():
        here = where.at(key=f"service_tiers.{tier}")
        if not isinstance(spec, dict) or not spec:
            raise here.error("expected {multiplier: X} or explicit rates")
        _unknown(spec, TIER_KEYS, here)
        values = {k: _rate(v, here.at(key=f"service_tiers.{tier}.{k}")) for k, v in spec.items()}
        out[str(tier).lower()] = {k: v for k, v in values.items() if v is not None}
    return out


def _rate(value: Any, where: _Where) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise where.error(f"expected a number, got {value!r}")
    if value < 0 or value != value or value in (float("inf"), float("-inf")):
        raise where.error(f"expected a finite non-negative number, got {value!r}")
    return float(value)


def _parse_date(value: Any, where: _Where) -> dt.datetime:
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise where.error(f"expected a date like 2026-03-13, got {value!r}") from exc
    else:
        raise where.error("required: the UTC date the version takes effect, like 2026-03-13")
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def _unknown(mapping: dict[str, Any], allowed: frozenset[str], where: _Where) -> None:
    for key in mapping:
        if key not in allowed:
            raise where.at(key=str(key)).error(
                f"unknown key (allowed: {', '.join(sorted(allowed))})"
            )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
