"""What every importer shares: the result, one provider's YAML, claimed names, writing."""

from __future__ import annotations

import os
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from costops.rates.tables import PricingTables


@dataclass
class ImportResult:
    tables: dict[str, str]  # provider → YAML text
    models: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # why whole entries were skipped
    unmapped: Counter[str] = field(default_factory=Counter)  # price keys with no costops rule


def table_yaml(
    provider: str,
    source: str,
    models: list[dict[str, Any]],
    extra: dict[str, Any] | None = None,
) -> str:
    """One provider's pricing file, as YAML (`extra`: file keys such as defaults)."""
    doc = {"provider": provider, "currency": "USD", "source": source, **(extra or {}),
           "models": models}  # fmt: skip
    return yaml.dump(doc, Dumper=_DUMPER, sort_keys=False, allow_unicode=True, width=100)


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """No `&id001`/`*id001` anchors: a shared date object is written out each time."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


_DUMPER = _Dumper


def claimed_names(tables: PricingTables) -> dict[tuple[str, str], str]:
    """(provider, logged name) the tables claim with an exact pattern or their id → the
    entry's key."""
    names = {(m.provider.lower(), m.id.lower()): m.key for m in tables.models}
    for model in tables.models:
        for pattern in model.match:
            if pattern.exact:
                names.setdefault((model.provider.lower(), pattern.pattern.lower()), model.key)
    return names


def write_tables(result: ImportResult, out: Path, prefix: str) -> list[Path]:
    """One YAML file per provider in `out` (`PREFIX-provider.yaml`, or `provider.yaml` for an
    empty prefix). Each file is written whole or not at all: a temp file renamed over it, so an
    interrupted import never leaves a truncated table that still loads."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in sorted(result.tables.items()):
        stem = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
        target = out / (f"{prefix}-{stem}.yaml" if prefix else f"{stem}.yaml")
        write_atomic(target, text)
        written.append(target)
    return written


def write_atomic(target: Path, text: str) -> None:
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
