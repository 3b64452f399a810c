"""`costops.yaml`: dimension mappings, feature metadata, budgets, cascade pairs (SPEC §1).

Validated on load; an unknown key is an error naming the key and the file (exit 2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from costops import safe_yaml
from costops.errors import ConfigError

DEFAULT_CONFIG = "costops.yaml"
TOP_KEYS = frozenset({"dimensions", "features", "budgets", "cascade"})
FEATURE_KEYS = frozenset({"batchable", "latency_slo_ms", "description"})
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


@dataclass(frozen=True)
class Config:
    dimensions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    features: dict[str, dict[str, Any]] = field(default_factory=dict)
    budgets: Any = None
    cascade: Any = None
    source: str | None = None


def load_config(path: str | None) -> Config:
    """`path`, or ./costops.yaml when present, or an empty config."""
    target = Path(path) if path else Path(DEFAULT_CONFIG)
    if not target.exists():
        if path:
            raise ConfigError(f"{path}: config file not found")
        return Config()
    name = str(target)
    try:
        doc = safe_yaml.load(target.read_text(encoding="utf-8")) or {}
    except safe_yaml.YamlTooComplex as exc:
        raise ConfigError(f"{name}: refused: {exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{name}: not valid YAML{line}: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"{name}: expected a mapping of {', '.join(sorted(TOP_KEYS))}")
    for key in doc:
        if key not in TOP_KEYS:
            raise ConfigError(
                f"{name}: unknown key {key!r} (allowed: {', '.join(sorted(TOP_KEYS))})"
            )
    return Config(
        dimensions=parse_mappings(doc.get("dimensions") or {}, name),
        features=_features(doc.get("features") or {}, name),
        budgets=doc.get("budgets"),
        cascade=doc.get("cascade"),
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


def _features(raw: Any, where: str) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: features: expected a mapping of feature name -> settings")
    for name, settings in raw.items():
        if not isinstance(settings, dict):
            raise ConfigError(f"{where}: features.{name}: expected a mapping")
        for key in settings:
            if key not in FEATURE_KEYS:
                raise ConfigError(
                    f"{where}: features.{name}: unknown key {key!r} "
                    f"(allowed: {', '.join(sorted(FEATURE_KEYS))})"
                )
    return raw
