"""The serving table self-host reads: GPU prices and per-GPU throughput of open models.

The table ships in the package (costops/serving_data/serving.yaml); `--serving FILE` adds rows
of the same shape that win over it. A file is validated on load: a wrong key or value is a
one-line error naming the file, the row and what was expected (exit 2).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from costops import safe_yaml
from costops.config import NAME, NUMBER, Kind
from costops.errors import ConfigError, UsageError

PRECISIONS = ("bf16", "fp8", "int8", "int4")
TOP_KEYS = ("as_of", "gpus", "models")
SOURCE_KEYS = ("source", "date", "note")
GPU_KEYS = ("id", "price_per_hour", *SOURCE_KEYS)
FIGURES = ("prefill_tokens_per_s", "decode_tokens_per_s")
ROW_KEYS = ("id", "gpu", "precision", *FIGURES, "gpus_per_replica", *SOURCE_KEYS)
ALIAS_KEYS = ("id", "class", "note")

PRICE = Kind("an amount of USD, 0 or more", lambda v: NUMBER.test(v) and v >= 0)
RATE = Kind("a positive number of tokens per second", lambda v: NUMBER.test(v) and v > 0)
COUNT = Kind("a whole number, 1 or more",
             lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1)  # fmt: skip
PRECISION = Kind(f"one of {', '.join(PRECISIONS)}", lambda v: v in PRECISIONS)
# YAML reads an unquoted 2026-11-30 as a date
DATED = Kind("text or a date", lambda v: isinstance(v, str | dt.date))


@dataclass(frozen=True)
class Gpu:
    id: str
    price_per_hour: float
    source: str | None
    date: str | None
    origin: str  # the file that gave it


@dataclass(frozen=True)
class Throughput:
    """One model (or size class) on one GPU type at one precision, per GPU."""

    id: str
    gpu: str
    precision: str
    prefill_tokens_per_s: float
    decode_tokens_per_s: float
    gpus_per_replica: int
    source: str | None
    date: str | None
    note: str | None
    origin: str


@dataclass(frozen=True)
class ServingTable:
    """Rows in the order they win: the user's file first, then the shipped table."""

    gpus: tuple[Gpu, ...]
    rows: tuple[Throughput, ...]
    classes: dict[str, str]  # model id (lower case) -> the size class it is served as
    as_of: str | None

    def gpu(self, gpu_id: str) -> Gpu | None:
        return next((g for g in self.gpus if g.id.lower() == gpu_id.lower()), None)

    def pick(self, model: str, gpu: str | None, precision: str) -> Throughput:
        """The row serving `model` at `precision` (on `gpu`, else the first row's GPU): the
        model's own rows first, then its size class's."""
        ids = [model.lower()]
        if model.lower() in self.classes:
            ids.append(self.classes[model.lower()].lower())
        rows = [r for i in ids for r in self.rows if r.id.lower() == i]
        if not rows and len(ids) > 1:
            raise UsageError(
                f"--model {model}: served as {self.classes[ids[0]]}, which has no throughput "
                "rows in the serving table; add them with --serving FILE"
            )
        if not rows:
            known = sorted({r.id for r in self.rows} | set(self.classes))
            raise UsageError(
                f"--model {model}: not in the serving table (known: {', '.join(known)}); add "
                "its GPU and throughput with --serving FILE"
            )
        if (
            gpu is not None
            and self.gpu(gpu) is None
            and not any(r.gpu.lower() == gpu.lower() for r in self.rows)
        ):
            listed = ", ".join(g.id for g in self.gpus)
            raise UsageError(f"--gpu {gpu}: unknown GPU type (known: {listed})")
        fits = [
            r
            for r in rows
            if r.precision == precision and (gpu is None or r.gpu.lower() == gpu.lower())
        ]
        if not fits:
            has = "; ".join(sorted({f"{r.gpu} {r.precision}" for r in rows}))
            on = f" on {gpu}" if gpu else ""
            raise UsageError(
                f"--model {model}: no {precision} throughput{on} in the serving table (it has: "
                f"{has}); pick one with --gpu/--precision, or add a measured row with --serving "
                "FILE"
            )
        return fits[0]


def shipped_text() -> str:
    """The serving table inside the package."""
    return (resources.files("costops") / "serving_data" / "serving.yaml").read_text("utf-8")


def load_serving(path: str | None) -> ServingTable:
    """The shipped table, with `path`'s rows (when given) winning over it."""
    tables = [_parse(shipped_text(), "costops/serving_data/serving.yaml")]
    if path:
        target = Path(path)
        if not target.is_file():
            raise ConfigError(f"{path}: serving file not found")
        try:
            text = target.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not UTF-8 text (a YAML serving file)") from None
        tables.insert(0, _parse(text, path))
    classes: dict[str, str] = {}
    for table in reversed(tables):
        classes.update(table.classes)
    return ServingTable(
        gpus=tuple(g for t in tables for g in t.gpus),
        rows=tuple(r for t in tables for r in t.rows),
        classes=classes,
        as_of=tables[-1].as_of,
    )


def _parse(text: str, name: str) -> ServingTable:
    doc = safe_yaml.load_file_text(text, name) or {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{name}: expected a mapping with gpus: and models: lists")
    _known(doc, TOP_KEYS, "", name)
    gpus = [_gpu(row, f"gpus[{i}]", name) for i, row in enumerate(_list(doc, "gpus", name))]
    rows: list[Throughput] = []
    classes: dict[str, str] = {}
    for i, row in enumerate(_list(doc, "models", name)):
        where = f"models[{i}]"
        if isinstance(row, dict) and "class" in row:
            _known(row, ALIAS_KEYS, where, name)
            _expect(row.get("id"), NAME, f"{where}.id", name)
            _expect(row["class"], NAME, f"{where}.class", name)
            if row["id"].lower() in classes:
                raise ConfigError(f"{name}: {where}.id: {row['id']!r} is named twice")
            classes[row["id"].lower()] = row["class"]
        else:
            rows.append(_row(row, where, name))
    _unique([g.id.lower() for g in gpus], "gpus", "gpu id", name)
    keys = [f"{r.id.lower()} on {r.gpu.lower()} at {r.precision}" for r in rows]
    _unique(keys, "models", "row for", name)
    as_of = doc.get("as_of")
    return ServingTable(tuple(gpus), tuple(rows), classes, None if as_of is None else str(as_of))


def _gpu(row: Any, where: str, name: str) -> Gpu:
    _known(row, GPU_KEYS, where, name)
    _expect(row.get("id"), NAME, f"{where}.id", name)
    _expect(row.get("price_per_hour"), PRICE, f"{where}.price_per_hour", name)
    source, date, _ = _sources(row, where, name)
    return Gpu(row["id"], float(row["price_per_hour"]), source, date, name)


def _row(row: Any, where: str, name: str) -> Throughput:
    _known(row, ROW_KEYS, where, name)
    _expect(row.get("id"), NAME, f"{where}.id", name)
    _expect(row.get("gpu"), NAME, f"{where}.gpu", name)
    _expect(row.get("precision"), PRECISION, f"{where}.precision", name)
    for key in FIGURES:
        _expect(row.get(key), RATE, f"{where}.{key}", name)
    _expect(row.get("gpus_per_replica", 1), COUNT, f"{where}.gpus_per_replica", name)
    source, date, note = _sources(row, where, name)
    return Throughput(
        row["id"], row["gpu"], row["precision"], float(row["prefill_tokens_per_s"]),
        float(row["decode_tokens_per_s"]), row.get("gpus_per_replica", 1), source, date, note,
        name,
    )  # fmt: skip


def _sources(row: dict[str, Any], where: str, name: str) -> tuple[str | None, ...]:
    for key in SOURCE_KEYS:
        if row.get(key) is not None:
            _expect(row[key], DATED, f"{where}.{key}", name)
    return tuple(None if row.get(k) is None else str(row[k]) for k in SOURCE_KEYS)


def _list(doc: dict[str, Any], key: str, name: str) -> list[Any]:
    value = doc.get(key) or []
    if not isinstance(value, list):
        raise ConfigError(f"{name}: {key}: expected a list of rows, got {_shown(value)}")
    return value


def _known(row: Any, allowed: tuple[str, ...], where: str, name: str) -> None:
    if not isinstance(row, dict):
        raise ConfigError(f"{name}: {where}: expected a mapping, got {_shown(row)}")
    for key in row:
        if key not in allowed:
            at = f"{where}: " if where else ""
            raise ConfigError(f"{name}: {at}unknown key {key!r} (allowed: {', '.join(allowed)})")


def _expect(value: Any, kind: Kind, path: str, name: str) -> None:
    if not kind.test(value):
        got = "nothing" if value is None else _shown(value)
        raise ConfigError(f"{name}: {path}: expected {kind.expected}, got {got}")


def _unique(keys: list[str], section: str, what: str, name: str) -> None:
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise ConfigError(f"{name}: {section}: a second {what} {key}")
        seen.add(key)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
