"""Questions about the pricing tables themselves: list, history of one model, consistency check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from costops.rates.cost import load_price_tables
from costops.rates.match import resolve
from costops.rates.tables import PricedModel, PricingTables
from costops.store.db import DUCKDB_CONFIG


@dataclass(frozen=True)
class Finding:
    level: str  # error | warning
    where: str
    message: str


def list_rows(tables: PricingTables) -> list[dict[str, Any]]:
    rows = []
    for model in sorted(tables.models, key=lambda m: (m.provider, m.id)):
        latest = model.versions[-1]
        lc = (latest.long_context or [{}])[0]
        rows.append({
            "provider": model.provider,
            "model": model.id,
            "versions": len(model.versions),
            "effective_from": latest.effective_from.date().isoformat(),
            **latest.rates,
            "long_context_above": int(lc["above_input_tokens"]) if lc else None,
            "batch_multiplier": latest.batch_multiplier,
            "min_cacheable_tokens": model.min_cacheable_tokens,
            "user_table": model.user,
        })  # fmt: skip
    return rows


def resolve_model(
    tables: PricingTables, name: str, provider: str | None = None
) -> PricedModel | None:
    """By table id (`claude-sonnet-4-5`, `anthropic/claude-sonnet-4-5`) or as a logged name,
    matched exactly as the pricing join matches it (costops.rates.match)."""
    exact = [m for m in tables.find(name) if provider is None or m.provider == provider]
    if exact:
        return exact[0]
    con = duckdb.connect(config=DUCKDB_CONFIG)
    try:
        load_price_tables(con, tables)
        key = resolve(con, name, provider)
    finally:
        con.close()
    return next((m for m in tables.models if m.key == key), None)


def history_rows(model: PricedModel) -> list[dict[str, Any]]:
    rows = []
    for v in model.versions:
        lc = (v.long_context or [{}])[0]
        rows.append({
            "effective_from": v.effective_from.isoformat(sep=" "),
            "effective_to": v.effective_to.isoformat(sep=" ") if v.effective_to else None,
            **v.rates,
            "long_context_above": int(lc["above_input_tokens"]) if lc else None,
            "long_context_input": lc.get("input"),
            "long_context_output": lc.get("output"),
            "batch_multiplier": v.batch_multiplier,
            "batch_stacks_with_cache": v.batch_stacks_with_cache,
            "service_tiers": v.service_tiers or None,
            "regional_uplift": v.regional_uplift or None,
            "cache_storage_per_mtok_hour": v.cache_storage_per_mtok_hour,
        })  # fmt: skip
    return rows


def check(tables: PricingTables) -> list[Finding]:
    """Problems beyond what loading already refuses (loading raises on invalid files)."""
    findings: list[Finding] = []
    owners: dict[tuple[str, str], str] = {}  # (provider, pattern) → the entry that claims it
    for model in tables.models:
        where = f"{model.source_file}: model {model.id}"
        for pattern in model.match:
            key = (model.provider.lower(), str(pattern).lower())
            if key in owners and owners[key] != model.key:
                findings.append(
                    Finding("error", where, f"pattern '{pattern}' also matches {owners[key]}")
                )
            owners.setdefault(key, model.key)
        for v in model.versions:
            when = f"{where}: version {v.effective_from.date()}"
            if v.rates["cache_read"] is None:
                findings.append(
                    Finding("warning", when, "no cache_read rate: cache reads priced as input")
                )
            if model.provider == "anthropic" and v.rates["cache_write_1h"] is None:
                findings.append(
                    Finding(
                        "warning", when, "no cache_write_1h rate: 1-hour writes priced as input"
                    )
                )
            if v.long_context and v.long_context[0]["input"] < (v.rates["input"] or 0):
                findings.append(
                    Finding("warning", when, "long_context input rate is below the base rate")
                )
    return findings
