"""`costops.yaml`: dimension mappings, feature metadata, budgets, cascade pairs (SPEC §1).

Validated on load: an unknown key, or a value of the wrong type (`batchable: "false"`, a number
in quotes), is a one-line error naming the file, the key path and what was expected (exit 2).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from costops import safe_yaml
from costops.errors import ConfigError

DEFAULT_CONFIG = "costops.yaml"
TOP_KEYS = frozenset({"dimensions", "features", "budgets", "cascade"})
MAPPABLE = (
    "feature", "task_id", "trace_id", "session_id", "customer", "prompt_template",
    "environment", "workspace",
)  # fmt: skip
# A JSON path into the logged line (`metadata.team`, `$.tags[0]`), or `otel:ATTRIBUTE` for a
# span attribute of an OTLP line.
JSON_PATH = re.compile(
    r"^\$?(\.[A-Za-z0-9_\-]+|\[\d+\])+$|^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+|\[\d+\])*$"
)
OTEL_ATTRIBUTE = re.compile(r"^otel:[A-Za-z0-9_.\-]{1,128}$")
PLAIN_KEY = re.compile(r"^[A-Za-z0-9_\-]+$")
SHOWN_CHARS = 40


@dataclass(frozen=True)
class Kind:
    """What a value must be: the words an error uses, and the test."""

    expected: str
    test: Callable[[Any], bool]


def _is_number(value: Any) -> bool:
    # YAML's true/false are Python ints, and .nan/.inf are floats: neither is a usable number
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer of hundreds of digits
        return False


TEXT = Kind("a string", lambda v: isinstance(v, str))
NAME = Kind("a non-empty string", lambda v: isinstance(v, str) and bool(v.strip()))
BOOLEAN = Kind("true or false", lambda v: isinstance(v, bool))
NUMBER = Kind("a number", _is_number)
INTEGER = Kind("a whole number", lambda v: isinstance(v, int) and not isinstance(v, bool))
MILLISECONDS = Kind("a positive number of milliseconds", lambda v: _is_number(v) and v > 0)
MAPPING = Kind("a mapping", lambda v: isinstance(v, dict))
LIST = Kind("a list", lambda v: isinstance(v, list))

FEATURE_TYPES = {"batchable": BOOLEAN, "latency_slo_ms": MILLISECONDS, "description": TEXT}
# Budgets' keys and their meaning (per: one of …, max_cost ≥ 0) are checked by parse_budgets.
BUDGET_TYPES = {
    "name": TEXT, "per": TEXT, "by": TEXT, "where": MAPPING, "max_cost": NUMBER,
    "max_tokens": INTEGER,
}  # fmt: skip
PAIR_TYPES = {"from": NAME, "to": NAME}


class FeatureSettings(TypedDict, total=False):
    batchable: bool
    latency_slo_ms: float
    description: str


@dataclass(frozen=True)
class CascadePair:
    """Try `to_model` before `from_model`, the model used today; `origin`: the config entry
    that named them (None: the command line did)."""

    from_model: str
    to_model: str
    origin: str | None = None


@dataclass(frozen=True)
class Config:
    dimensions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    features: dict[str, FeatureSettings] = field(default_factory=dict)
    budgets: list[dict[str, Any]] | None = None
    cascade: tuple[CascadePair, ...] = ()
    source: str | None = None

    def batchable(self) -> list[str]:
        """Features marked `batchable: true`, in file order."""
        return [name for name, settings in self.features.items() if settings.get("batchable")]

    def latency_slos(self) -> dict[str, float]:
        """Each feature's latency SLO in milliseconds, where it has one."""
        return {
            name: settings["latency_slo_ms"]
            for name, settings in self.features.items()
            if "latency_slo_ms" in settings
        }


def load_config(path: str | None) -> Config:
    """`path`, or ./costops.yaml when present, or an empty config."""
    target = Path(path) if path else Path(DEFAULT_CONFIG)
    if not target.exists():
        if path:
            raise ConfigError(f"{path}: config file not found")
        return Config()
    name = str(target)
    doc = safe_yaml.load_file_text(target.read_text(encoding="utf-8"), name) or {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{name}: expected a mapping of {', '.join(sorted(TOP_KEYS))}")
    for key in doc:
        if key not in TOP_KEYS:
            raise ConfigError(
                f"{name}: unknown key {key!r} (allowed: {', '.join(sorted(TOP_KEYS))})"
            )
    # A section whose entries are all commented out loads as null: the same as leaving it out.
    given = {key: value for key, value in doc.items() if value is not None}
    return Config(
        dimensions=parse_mappings(given.get("dimensions", {}), name),
        features=_features(given.get("features", {}), name),
        budgets=_budgets(given.get("budgets", []), name),
        cascade=_cascade(given.get("cascade", []), name),
        source=name,
    )


def parse_mappings(raw: Any, where: str) -> dict[str, tuple[str, ...]]:
    """{dimension: path or [paths]} → validated paths, tried in order."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: dimensions: expected a mapping of dimension -> path(s)")
    out: dict[str, tuple[str, ...]] = {}
    for dim, paths in raw.items():
        if dim not in MAPPABLE:
            raise ConfigError(
                f"{where}: dimensions: unknown dimension {dim!r} "
                f"(choose from {', '.join(MAPPABLE)})"
            )
        listed = [paths] if isinstance(paths, str) else paths
        if not isinstance(listed, list) or not listed:
            raise ConfigError(f"{where}: dimensions.{dim}: expected a path or a list of paths")
        out[dim] = tuple(_path(p, f"{where}: dimensions.{dim}") for p in listed)
    return out


def parse_map_options(items: list[str] | None) -> dict[str, tuple[str, ...]]:
    """`--map DIM=PATH` options (repeatable; several for one DIM are tried in order)."""
    raw: dict[str, list[str]] = {}
    for item in items or []:
        dim, sep, path = item.partition("=")
        if not sep:
            raise ConfigError(f"--map {item!r}: expected DIM=PATH, e.g. feature=metadata.product")
        raw.setdefault(dim.strip(), []).append(path.strip())
    return parse_mappings(raw, "--map")


def _path(path: Any, where: str) -> str:
    if not isinstance(path, str) or not (JSON_PATH.match(path) or OTEL_ATTRIBUTE.match(path)):
        raise ConfigError(
            f"{where}: {path!r} is not a JSON path like metadata.team or $.tags[0], "
            "nor otel:ATTRIBUTE"
        )
    if path.startswith("otel:"):
        return path
    return path if path.startswith("$") else "$." + path


def _features(raw: Any, where: str) -> dict[str, FeatureSettings]:
    _expect(raw, MAPPING, "features", where)
    for name, settings in raw.items():
        _name_key(name, "features", where)
        _settings(settings, FEATURE_TYPES, _key("features", name), where, closed=True)
    return raw


def _budgets(raw: Any, where: str) -> list[dict[str, Any]]:
    _expect(raw, LIST, "budgets", where)
    for index, item in enumerate(raw):
        path = f"budgets[{index}]"
        _settings(item, BUDGET_TYPES, path, where, closed=False)
        for dim, value in (item.get("where") or {}).items():
            _name_key(dim, f"{path}.where", where)
            _expect(value, TEXT, _key(f"{path}.where", dim), where)
    return raw


def _cascade(raw: Any, where: str) -> tuple[CascadePair, ...]:
    _expect(raw, LIST, "cascade", where)
    pairs = []
    for index, item in enumerate(raw):
        path = f"cascade[{index}]"
        _settings(item, PAIR_TYPES, path, where, closed=True)
        missing = [key for key in PAIR_TYPES if key not in item]
        if missing:
            raise ConfigError(f"{where}: {path}: needs {' and '.join(missing)} (a model each)")
        if item["from"].strip().lower() == item["to"].strip().lower():
            raise ConfigError(f"{where}: {path}: from and to name the same model")
        # the file name only: no machine path in machine output
        origin = f"{Path(where).name}: {path}"
        pairs.append(CascadePair(item["from"].strip(), item["to"].strip(), origin))
    return tuple(pairs)


def _settings(raw: Any, types: dict[str, Kind], path: str, where: str, closed: bool) -> None:
    """A mapping whose known keys hold values of their kind; `closed`: no other keys."""
    _expect(raw, MAPPING, path, where)
    for key, value in raw.items():
        kind = types.get(key)
        if kind is None:
            if closed:
                raise ConfigError(
                    f"{where}: {path}: unknown key {key!r} (allowed: {', '.join(sorted(types))})"
                )
            continue
        _expect(value, kind, _key(path, key), where)


def _expect(value: Any, kind: Kind, path: str, where: str) -> None:
    if not kind.test(value):
        raise ConfigError(f"{where}: {path}: expected {kind.expected}, got {_shown(value)}")


def _name_key(key: Any, path: str, where: str) -> None:
    # YAML reads an unquoted `on:`, `yes:` or `2024:` as a boolean or a number, not a name
    if not isinstance(key, str):
        raise ConfigError(f"{where}: {path}: names are strings, got {_shown(key)} (quote it)")


def _key(path: str, key: Any) -> str:
    """`path.key`, or `path['odd key']` when the key is not a plain word."""
    text = str(key)
    return f"{path}.{text}" if PLAIN_KEY.match(text) else f"{path}[{text!r}]"


def _shown(value: Any) -> str:
    """A value as an error shows it: its YAML type, and short scalars themselves."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = value if len(value) <= SHOWN_CHARS else value[:SHOWN_CHARS] + "…"
        return f"the string {text!r}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"
