"""Load pricing YAML files into validated, fully-resolved dated price versions."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import pickle
import re
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from costops.errors import PricingError
from costops.rates.contracts import ContractTerm, is_contract, parse_contract
from costops.rates.dates import utc_datetime

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
        "batch_rates",
        "per_request",
        "time_of_day",
    }
)
WINDOW_KEYS = frozenset({"from", "to", "timezone", "multiplier", *RATE_KEYS})
CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
MODEL_KEYS = frozenset({"id", "match", "min_cacheable_tokens", "versions"})
DATE_KEYS = frozenset({"effective_from", "effective_to"})
FILE_KEYS = frozenset(
    {"provider", "currency", "source", "defaults", "models", "fallback_providers", "model_match"}
)
PATTERN_KEYS = frozenset({"glob", "regex", "unless"})
TIER_KEYS = frozenset({"multiplier", "long_context", *RATE_KEYS})


@dataclass(frozen=True)
class MatchPattern:
    """One way a logged name (lower case) meets an entry: a glob (`*`, `?`; no wildcard means
    the exact name) or a regular expression searched in the name; `unless` is a regular
    expression that, found in the name, rules the pattern out."""

    kind: str  # glob | regex
    pattern: str
    unless: str | None = None

    @property
    def exact(self) -> bool:
        return self.kind == "glob" and not any(c in self.pattern for c in "*?")

    def __str__(self) -> str:
        text = self.pattern if self.kind == "glob" else f"/{self.pattern}/"
        return text + (f" unless /{self.unless}/" if self.unless else "")


@dataclass(frozen=True)
class ProviderInfo:
    """File-level facts about a provider: whose tables price its names when its own table has
    none (Azure serves OpenAI's models), and which logged names belong to it when a request
    names no provider (`claude*` → anthropic)."""

    fallback_providers: tuple[str, ...] = ()
    model_match: tuple[MatchPattern, ...] = ()


@dataclass(frozen=True)
class PriceVersion:
    """One dated version with inheritance resolved; rates in USD per million tokens."""

    effective_from: dt.datetime
    effective_to: dt.datetime | None
    rates: dict[str, float | None]
    # tiers by input size, ascending: above a tier's threshold its rates price the whole request
    long_context: list[dict[str, float]] | None
    batch_multiplier: float | None
    batch_stacks_with_cache: bool
    regional_uplift: dict[str, float]
    service_tiers: dict[str, dict[str, float]]
    cache_storage_per_mtok_hour: float | None
    per_request: float | None = None  # a flat fee per request, USD
    # a service tier's (or batch's) own rates above input thresholds, ascending
    tier_context: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    # daily windows: from/to (minutes of the day), timezone, and a multiplier or explicit rates
    time_of_day: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class PricedModel:
    provider: str
    id: str
    match: list[MatchPattern]
    min_cacheable_tokens: int | None
    versions: list[PriceVersion]
    source_file: str
    user: bool = False
    position: int = 0  # order in its file: the earlier of two equally specific patterns wins
    layer: int = 0  # 0 packaged, then each --pricing directory in order: a later one wins

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.id}"


@dataclass
class PricingTables:
    models: list[PricedModel]
    files: list[str]
    content_hash: str
    warnings: list[str] = field(default_factory=list)
    contracts: list[ContractTerm] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)  # logged name (lower) → model key
    providers: dict[str, ProviderInfo] = field(default_factory=dict)

    def find(self, name: str) -> list[PricedModel]:
        lowered = name.lower()
        return [m for m in self.models if lowered in (m.id.lower(), m.key.lower())]


def packaged_dir() -> Path:
    """The tables shipped inside the package (the repository's pricing/ links here)."""
    return Path(__file__).resolve().parent.parent / "pricing_data"


@dataclass(frozen=True)
class PricingFile:
    layer: int  # 0 packaged, then each user directory in order
    path: Path
    text: str


@dataclass(frozen=True)
class PricingSources:
    """The pricing files in layering order, read but not parsed, and a hash of everything the
    parsed tables depend on: each file's layer, name and content."""

    files: list[PricingFile]
    content_hash: str


def pricing_sources(user_dirs: list[str] | None = None) -> PricingSources:
    """Packaged tables, then each user directory (COSTOPS_PRICING / --pricing), as read."""
    dirs = [packaged_dir()]
    env_dir = os.environ.get("COSTOPS_PRICING")
    for extra in [*([env_dir] if env_dir else []), *(user_dirs or [])]:
        path = Path(extra)
        if not path.is_dir():
            raise PricingError(f"{extra}: pricing directory not found")
        dirs.append(path)
    files: list[PricingFile] = []
    digest = hashlib.sha256()
    for layer, directory in enumerate(dirs):
        for path in sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml")):
            text = path.read_text(encoding="utf-8")
            data = text.encode()
            digest.update(f"{layer}\0{path.name}\0{len(data)}\0".encode() + data)
            files.append(PricingFile(layer, path, text))
    return PricingSources(files, digest.hexdigest())


def load_tables(
    user_dirs: list[str] | None = None, sources: PricingSources | None = None
) -> PricingTables:
    """Packaged tables, then each user directory layered on top (`sources`: already read)."""
    sources = sources or pricing_sources(user_dirs)
    merged: dict[str, PricedModel] = {}
    contracts: list[ContractTerm] = []
    aliases: dict[str, tuple[str, str]] = {}  # logged name → (model key, file)
    providers: dict[str, ProviderInfo] = {}
    for source in sources.files:
        layer = source.layer
        parsed = _parse_cached(source.text, str(source.path), layer > 0)
        if parsed.contracts is not None:
            contracts += parsed.contracts
        elif parsed.aliases is not None:
            aliases.update(parsed.aliases)
        else:
            for model in parsed.models:
                model = dataclasses.replace(model, layer=layer) if layer else model
                previous = merged.get(model.key)
                merged[model.key] = _overlay(previous, model) if previous else model
            # a later file's provider facts replace only what it states
            known = providers.get(parsed.provider, ProviderInfo())
            providers[parsed.provider] = ProviderInfo(
                parsed.info.fallback_providers or known.fallback_providers,
                parsed.info.model_match or known.model_match,
            )
    for name, (key, file) in aliases.items():
        if key not in merged:
            raise PricingError(f"{file}: alias {name}: no table entry {key} (provider/id)")
    return PricingTables(
        list(merged.values()), [str(f.path) for f in sources.files], sources.content_hash,
        contracts=contracts, aliases={name: key for name, (key, _) in aliases.items()},
        providers=providers,
    )  # fmt: skip


@dataclass
class _ParsedFile:
    """One pricing file, parsed and validated: a contract, an aliases file or a table."""

    contracts: list[ContractTerm] | None = None
    aliases: dict[str, tuple[str, str]] | None = None
    models: list[PricedModel] = field(default_factory=list)
    provider: str = ""
    info: ProviderInfo = field(default_factory=ProviderInfo)


def _parse_file(text: str, file: str, user: bool) -> _ParsedFile:
    doc = load_yaml(text, file)
    if is_contract(doc):
        return _ParsedFile(contracts=parse_contract(doc, file))
    if isinstance(doc, dict) and "aliases" in doc:
        return _ParsedFile(aliases=_parse_aliases(doc, file))
    models = parse_models(doc, file, user=user)
    return _ParsedFile(models=models, provider=str(doc["provider"]).lower(),
                       info=parse_provider_info(doc, file))  # fmt: skip


def _parse_cached(text: str, file: str, user: bool) -> _ParsedFile:
    """_parse_file, kept in the user's cache directory by the file's content and this code: the
    packaged tables hold thousands of models and YAML costs seconds to read; a cache entry
    that cannot be read is parsed again, one that cannot be written is skipped."""
    key = hashlib.sha256(
        b"\0".join([_CODE_HASH.encode(), file.encode(), str(user).encode(), text.encode()])
    ).hexdigest()
    target = _cache_dir() / f"{key}.pickle"
    try:
        with target.open("rb") as handle:
            cached = pickle.load(handle)
        if isinstance(cached, _ParsedFile):
            return cached
    except (OSError, pickle.PickleError, EOFError, AttributeError, ImportError, ValueError,
            TypeError, IndexError):  # fmt: skip
        pass
    parsed = _parse_file(text, file, user)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_suffix(f".{os.getpid()}.tmp")
        temp.write_bytes(pickle.dumps(parsed, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(temp, target)
    except OSError:
        pass
    return parsed


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "costops" / "pricing"


# what the parse depends on besides the file: this module, the contracts, dates, YAML readers
_CODE_HASH = hashlib.sha256(
    b"".join((Path(__file__).parent / name).read_bytes()
             for name in ("tables.py", "contracts.py", "dates.py", "../safe_yaml.py"))
).hexdigest()  # fmt: skip


def _parse_aliases(doc: dict[str, Any], file: str) -> dict[str, tuple[str, str]]:
    """`aliases: {logged name: provider/id}`: e.g. an Azure deployment name for its model."""
    raw = doc.get("aliases")
    if set(doc) - {"aliases", "source"} or not isinstance(raw, dict) or not raw:
        raise PricingError(f"{file}: expected `aliases:` mapping logged names to provider/id")
    out = {}
    for name, key in raw.items():
        if not isinstance(key, str) or "/" not in key:
            raise PricingError(f"{file}: alias {name}: expected a table entry like openai/gpt-5")
        out[str(name).lower()] = (key, file)
    return out


def _overlay(base: PricedModel, top: PricedModel) -> PricedModel:
    """The later table (a user's) wins for the same model over every date one of its versions
    covers (from its effective_from to the next one's, or its own effective_to); on other dates
    the earlier table's versions still serve, cut to those dates."""
    covered = [(v.effective_from, v.effective_to) for v in top.versions]
    pieces = list(top.versions)
    for version in base.versions:
        for start, end in _uncovered(version.effective_from, version.effective_to, covered):
            pieces.append(dataclasses.replace(version, effective_from=start, effective_to=end))
    versions = sorted(pieces, key=lambda v: v.effective_from)
    return PricedModel(
        provider=top.provider,
        id=top.id,
        match=list(dict.fromkeys([*top.match, *base.match])),
        min_cacheable_tokens=top.min_cacheable_tokens or base.min_cacheable_tokens,
        versions=versions,
        source_file=top.source_file,
        user=True,
        position=base.position,
        layer=top.layer,
    )


Span = tuple[dt.datetime, dt.datetime | None]  # [from, to); to None: open-ended


def _uncovered(start: dt.datetime, end: dt.datetime | None, covered: list[Span]) -> list[Span]:
    """The parts of [start, end) outside every covered span."""
    parts: list[Span] = [(start, end)]
    for c_start, c_end in covered:
        kept: list[Span] = []
        for p_start, p_end in parts:
            if p_end is None or p_end > c_start:  # the part reaches into the covered span
                if p_start < c_start:
                    kept.append((p_start, c_start))
                if c_end is not None and (p_end is None or p_end > c_end):
                    kept.append((max(p_start, c_end), p_end))
            else:
                kept.append((p_start, p_end))
        parts = kept
    return parts


def _chain(versions: list[PriceVersion]) -> list[PriceVersion]:
    """Set each version's effective_to to the next version's effective_from."""
    out = []
    for index, version in enumerate(versions):
        nxt = versions[index + 1].effective_from if index + 1 < len(versions) else None
        out.append(dataclasses.replace(version, effective_to=nxt))
    return out


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


def load_yaml(text: str, file: str) -> Any:
    import yaml  # only a table not parsed before needs the YAML reader (start-up time)

    from costops import safe_yaml

    try:
        return safe_yaml.load(text)
    except safe_yaml.YamlTooComplex as exc:
        raise _Where(file).error(f"refused: {exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise _Where(file).error(f"not valid YAML{line}: {getattr(exc, 'problem', exc)}") from exc


def parse_file(text: str, file: str, *, user: bool = False) -> list[PricedModel]:
    return parse_models(load_yaml(text, file), file, user=user)


def parse_models(doc: Any, file: str, *, user: bool = False) -> list[PricedModel]:
    where = _Where(file)
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
    parsed = [
        _parse_model(m, provider, defaults, where, user, position)
        for position, m in enumerate(models)
    ]
    seen: set[str] = set()
    for model in parsed:
        if model.id in seen:
            raise where.at(model=model.id).error("model id appears twice in this file")
        seen.add(model.id)
    return parsed


def parse_provider_info(doc: dict[str, Any], file: str) -> ProviderInfo:
    where = _Where(file)
    fallbacks = doc.get("fallback_providers") or []
    if not isinstance(fallbacks, list) or not all(isinstance(p, str) and p for p in fallbacks):
        raise where.at(key="fallback_providers").error("expected a list of provider names")
    model_match = _patterns(doc.get("model_match") or [], where.at(key="model_match"))
    return ProviderInfo(tuple(p.lower() for p in fallbacks), tuple(model_match))


def _patterns(raw: Any, where: _Where) -> list[MatchPattern]:
    """`match:` items: a glob string, or {glob | regex, unless}."""
    if not isinstance(raw, list):
        raise where.error("expected a list of glob patterns or {regex: ...} mappings")
    out = []
    for item in raw:
        if isinstance(item, str) and item:
            out.append(MatchPattern("glob", item))
            continue
        if not isinstance(item, dict) or len({"glob", "regex"} & set(item)) != 1:
            raise where.error(f"expected a glob or {{glob|regex: ..., unless: ...}}, got {item!r}")
        _unknown(item, PATTERN_KEYS, where)
        kind = "glob" if "glob" in item else "regex"
        unless = item.get("unless")
        for value in (item[kind], *([unless] if unless is not None else [])):
            if not isinstance(value, str) or not value:
                raise where.error(f"expected a non-empty string, got {value!r}")
        for expression in [item[kind]] * (kind == "regex") + [unless] * (unless is not None):
            _check_regex(expression, where)
        out.append(MatchPattern(kind, item[kind], unless))
    return out


def _check_regex(expression: str, where: _Where) -> None:
    """Patterns are matched by DuckDB, whose RE2 has no lookaround or backreferences: a pattern
    it cannot run is a table error here, not a failed report later."""
    try:
        duckdb.execute("SELECT regexp_matches('', ?)", [expression]).fetchall()
    except duckdb.Error as exc:
        problem = str(exc).splitlines()[0].split(": ", 1)[-1]
        raise where.error(
            f"regular expression {expression!r} is not RE2 ({problem}); no lookaround: "
            "write `^(?!X)` as `unless: X`"
        ) from exc


def _parse_model(
    raw: Any, provider: str, defaults: dict[str, Any], where: _Where, user: bool, position: int
) -> PricedModel:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise where.error("every model needs an `id`")
    here = where.at(model=raw["id"])
    _unknown(raw, MODEL_KEYS, here)
    match = _patterns(raw.get("match") or [raw["id"]], here.at(key="match"))
    min_cacheable = raw.get("min_cacheable_tokens")
    if min_cacheable is not None and (not _is_int(min_cacheable) or min_cacheable < 0):
        raise here.at(key="min_cacheable_tokens").error("expected a non-negative integer")
    versions_raw = raw.get("versions")
    if not isinstance(versions_raw, list) or not versions_raw:
        raise here.at(key="versions").error("expected a non-empty list of dated versions")

    resolved: list[PriceVersion] = []
    ends: list[dt.datetime | None] = []  # explicit effective_to, where a version has one
    inherited: dict[str, Any] = dict(defaults)
    for entry in versions_raw:
        if not isinstance(entry, dict):
            raise here.at(key="versions").error("each version must be a mapping")
        _unknown(entry, VERSION_KEYS | DATE_KEYS, here)
        start = _parse_date(entry.get("effective_from"), here.at(key="effective_from"))
        end = entry.get("effective_to")
        ends.append(None if end is None else _parse_date(end, here.at(key="effective_to")))
        inherited = {**inherited, **{k: v for k, v in entry.items() if k not in DATE_KEYS}}
        version = _resolve_version(inherited, start, here.at(key=f"versions[{start.date()}]"))
        if resolved and version.effective_from <= resolved[-1].effective_from:
            raise here.at(key="effective_from").error(
                f"{version.effective_from.date()} is not after the previous version "
                f"({resolved[-1].effective_from.date()}); versions must be in date order"
            )
        resolved.append(version)
    versions = _chain(resolved)
    _check_ends(resolved, ends, here)
    if ends[-1] is not None:  # the last version may end: later requests are unpriced
        versions[-1] = dataclasses.replace(versions[-1], effective_to=ends[-1])
    return PricedModel(
        provider=provider,
        id=raw["id"],
        match=match,
        min_cacheable_tokens=min_cacheable,
        versions=versions,
        source_file=where.file,
        user=user,
        position=position,
    )


def _check_ends(
    versions: list[PriceVersion], ends: list[dt.datetime | None], where: _Where
) -> None:
    """An explicit effective_to must meet the next version's effective_from: no gap (requests
    that no price covers) and no overlap (two prices for one request)."""
    for index, (version, end) in enumerate(zip(versions, ends, strict=True)):
        if end is None:
            continue
        here = where.at(key=f"versions[{version.effective_from.date()}].effective_to")
        if end <= version.effective_from:
            raise here.error(f"{end.date()} is not after effective_from")
        if index + 1 < len(versions):
            following = versions[index + 1].effective_from
            if end < following:
                raise here.error(
                    f"gap: no price from {end.date()} until the next version ({following.date()})"
                )
            if end > following:
                raise here.error(
                    f"overlap: ends {end.date()}, after the next version starts "
                    f"({following.date()})"
                )


def _resolve_version(values: dict[str, Any], start: dt.datetime, where: _Where) -> PriceVersion:
    rates: dict[str, float | None] = {}
    for key in RATE_KEYS:
        rates[key] = _rate(values.get(key), where.at(key=key))
    for key in ("input", "output"):
        if rates[key] is None:
            raise where.at(key=key).error("required (USD per million tokens)")
    long_context = values.get("long_context")
    lc: list[dict[str, float]] | None = None
    if long_context is not None:
        here = where.at(key="long_context")
        lc = [_complete_tier(tier, rates, here) for tier in _tiers(long_context, here)]
    batch_multiplier = values.get("batch_multiplier")
    if batch_multiplier is not None:
        batch_multiplier = _rate(batch_multiplier, where.at(key="batch_multiplier"))
    stacks = values.get("batch_stacks_with_cache", True)
    if not isinstance(stacks, bool):
        raise where.at(key="batch_stacks_with_cache").error("expected true or false")
    storage = values.get("cache_storage_per_mtok_hour")
    if storage is not None:
        storage = _rate(storage, where.at(key="cache_storage_per_mtok_hour"))
    tiers, contexts = _service_tiers(values.get("service_tiers"), where.at(key="service_tiers"))
    batch_rates = values.get("batch_rates")
    if batch_rates is not None:
        if "batch" in tiers:
            raise where.at(key="batch_rates").error("batch rates given twice (service_tiers.batch)")
        explicit, context = _service_tiers({"batch": batch_rates}, where.at(key="batch_rates"))
        if "multiplier" in explicit["batch"]:
            raise where.at(key="batch_rates").error(
                "expected explicit rates (a rate not given is the version's own)"
            )
        tiers["batch"] = explicit["batch"]
        contexts.update(context)
    per_request = _rate(values.get("per_request"), where.at(key="per_request"))
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
        service_tiers=tiers,
        cache_storage_per_mtok_hour=storage,
        per_request=per_request,
        tier_context=contexts,
        time_of_day=_windows(values.get("time_of_day"), where.at(key="time_of_day")),
    )


def _windows(raw: Any, where: _Where) -> list[dict[str, Any]]:
    """`time_of_day`: daily windows (a window may wrap midnight; from inclusive, to exclusive)
    in an IANA time zone, each with a multiplier of every rate or explicit rates (off-peak or
    peak pricing). Windows of one version share a time zone and must not overlap."""
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    windows = [_window(item, where.at(key=f"time_of_day[{n}]")) for n, item in enumerate(items)]
    if len({w["timezone"] for w in windows}) > 1:
        raise where.error("every window of a version must use the same timezone")
    taken: set[int] = set()
    for window in windows:
        minutes = _minutes(window["from"], window["to"])
        if taken & minutes:
            raise where.error("windows overlap")
        taken |= minutes
    return windows


def _window(raw: Any, where: _Where) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise where.error("expected {from, to, timezone, multiplier or rates}")
    _unknown(raw, WINDOW_KEYS, where)
    out: dict[str, Any] = {}
    for key in ("from", "to"):
        match = CLOCK.match(str(raw.get(key, "")))
        if not match:
            raise where.at(key=f"{where.key}.{key}").error("expected a time of day like 16:30")
        out[key] = int(match[1]) * 60 + int(match[2])
    if out["from"] == out["to"]:
        raise where.error("from and to are the same time: an empty or whole-day window")
    zone = raw.get("timezone", "UTC")
    try:
        zoneinfo.ZoneInfo(str(zone))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise where.error(f"unknown time zone {zone!r}") from exc
    rates = {k: _rate(raw.get(k), where.at(key=f"{where.key}.{k}")) for k in RATE_KEYS}
    multiplier = _rate(raw.get("multiplier"), where.at(key=f"{where.key}.multiplier"))
    explicit = {k: v for k, v in rates.items() if v is not None}
    if (multiplier is None) == (not explicit):
        raise where.error("give either a multiplier or explicit rates")
    return {**out, "timezone": str(zone), "multiplier": multiplier, **rates}


def _minutes(start: int, end: int) -> set[int]:
    return set(range(start, end)) if start < end else set(range(start, 1440)) | set(range(end))


def _complete_tier(
    tier: dict[str, float], base: dict[str, float | None], where: _Where
) -> dict[str, float]:
    """A version's long-context tier prices the whole request: it needs input and output rates;
    cache rates it does not give scale with its input rate, as providers do."""
    if "input" not in tier or "output" not in tier:
        raise where.error("a long_context tier needs input and output rates")
    base_input = base["input"] or 0.0
    scale = tier["input"] / base_input if base_input else 1.0
    scaled = {
        key: float(base[key] or 0.0) * scale
        for key in ("cache_read", "cache_write_5m", "cache_write_1h")
        if key not in tier and base[key] is not None
    }
    return {**tier, **scaled}


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


def _service_tiers(
    raw: Any, where: _Where
) -> tuple[dict[str, dict[str, float]], dict[str, list[dict[str, float]]]]:
    """Tier → {multiplier} or explicit rates; and tier → its own rates above input thresholds
    (`long_context:` inside the tier, a list like the version's; a rate a tier does not give is
    the version's own for that request)."""
    if raw is None:
        return {}, {}
    if not isinstance(raw, dict):
        raise where.error("expected a mapping of tier -> {multiplier} or explicit rates")
    out: dict[str, dict[str, float]] = {}
    contexts: dict[str, list[dict[str, float]]] = {}
    for tier, spec in raw.items():
        here = where.at(key=f"service_tiers.{tier}")
        if not isinstance(spec, dict) or not spec:
            raise here.error("expected {multiplier: X} or explicit rates")
        _unknown(spec, TIER_KEYS, here)
        rates = {k: v for k, v in spec.items() if k != "long_context"}
        values = {k: _rate(v, here.at(key=f"service_tiers.{tier}.{k}")) for k, v in rates.items()}
        out[str(tier).lower()] = {k: v for k, v in values.items() if v is not None}
        if spec.get("long_context") is not None:
            contexts[str(tier).lower()] = _tiers(
                spec["long_context"], here.at(key=f"service_tiers.{tier}.long_context")
            )
    return out, contexts


def _tiers(raw: Any, where: _Where) -> list[dict[str, float]]:
    """`long_context:` (of a version, a service tier or batch rates): one tier or a list, each
    {above_input_tokens: N, rates…}, in ascending order of N."""
    out = []
    for item in raw if isinstance(raw, list) else [raw]:
        if not isinstance(item, dict):
            raise where.error("expected tiers {above_input_tokens: N, rates...}")
        _unknown(item, LONG_CONTEXT_KEYS, where)
        threshold = item.get("above_input_tokens")
        if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold <= 0:
            raise where.at(key=f"{where.key}.above_input_tokens").error(
                "expected a positive integer"
            )
        rates = {k: _rate(item.get(k), where.at(key=f"{where.key}.{k}")) for k in RATE_KEYS}
        tier = {k: v for k, v in rates.items() if v is not None}
        if not tier:
            raise where.error("a tier needs at least one rate")
        out.append({"above_input_tokens": float(threshold), **tier})
    thresholds = [t["above_input_tokens"] for t in out]
    if not out or thresholds != sorted(set(thresholds)):
        raise where.error("expected tiers in ascending order of above_input_tokens")
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
    try:
        return utc_datetime(value)
    except ValueError as exc:
        raise where.error(str(exc)) from exc


def _unknown(mapping: dict[str, Any], allowed: frozenset[str], where: _Where) -> None:
    for key in mapping:
        if key not in allowed:
            raise where.at(key=str(key)).error(
                f"unknown key (allowed: {', '.join(sorted(allowed))})"
            )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
