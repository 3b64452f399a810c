"""Contract prices: a discount off list prices for a provider, a model or every model, from a
date (an enterprise agreement, committed-use pricing), layered over the list tables.

A contract is a YAML file in a pricing directory with a top-level `contract` key:

    contract: acme-enterprise-2026
    terms:
      - provider: anthropic          # optional: every provider when absent
        model: "claude-sonnet-*"     # optional glob over table ids: every model when absent
        effective_from: 2026-03-01
        effective_to: 2027-03-01     # optional, exclusive
        discount: 0.15               # 15 % off list

Where several terms cover a request, the most specific wins (model, then provider, then all),
then the latest start. Reports show effective cost; `--cost list` shows list prices.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import itertools
from dataclasses import dataclass
from typing import Any

from costops.errors import PricingError
from costops.rates.dates import utc_datetime

TERM_KEYS = frozenset({"provider", "model", "effective_from", "effective_to", "discount"})
FAR_FUTURE = dt.datetime(9999, 1, 1)


@dataclass(frozen=True)
class ContractTerm:
    contract: str
    provider: str | None
    model: str | None
    effective_from: dt.datetime
    effective_to: dt.datetime | None
    discount: float
    file: str

    @property
    def specificity(self) -> int:
        return 2 if self.model else 1 if self.provider else 0

    def covers(self, provider: str, model_id: str) -> bool:
        if self.provider and self.provider.lower() != provider.lower():
            return False
        return not self.model or fnmatch.fnmatchcase(model_id.lower(), self.model.lower())


def is_contract(doc: Any) -> bool:
    return isinstance(doc, dict) and "contract" in doc


def parse_contract(doc: dict[str, Any], file: str) -> list[ContractTerm]:
    name = doc.get("contract")
    if not isinstance(name, str) or not name:
        raise PricingError(f"{file}: key contract: expected the contract's name")
    unknown = set(doc) - {"contract", "terms", "source"}
    if unknown:
        raise PricingError(f"{file}: key {sorted(unknown)[0]}: unknown key in a contract file")
    terms = doc.get("terms")
    if not isinstance(terms, list) or not terms:
        raise PricingError(f"{file}: key terms: expected a non-empty list of terms")
    return [_term(raw, name, file, index) for index, raw in enumerate(terms)]


def _term(raw: Any, name: str, file: str, index: int) -> ContractTerm:
    where = f"{file}: contract {name}: terms[{index}]"
    if not isinstance(raw, dict):
        raise PricingError(f"{where}: expected a mapping")
    unknown = set(raw) - TERM_KEYS
    if unknown:
        raise PricingError(f"{where}: key {sorted(unknown)[0]}: unknown key")
    discount = raw.get("discount")
    if isinstance(discount, bool) or not isinstance(discount, int | float) or not 0 <= discount < 1:
        raise PricingError(f"{where}: key discount: expected a fraction from 0 to below 1")
    start = _date(raw.get("effective_from"), f"{where}: key effective_from")
    end = raw.get("effective_to")
    end_at = _date(end, f"{where}: key effective_to") if end is not None else None
    if end_at is not None and end_at <= start:
        raise PricingError(f"{where}: key effective_to: not after effective_from")
    for key in ("provider", "model"):
        if raw.get(key) is not None and not isinstance(raw.get(key), str):
            raise PricingError(f"{where}: key {key}: expected a name")
    return ContractTerm(name, raw.get("provider"), raw.get("model"), start, end_at,
                        float(discount), file)  # fmt: skip


def _date(value: Any, where: str) -> dt.datetime:
    try:
        return utc_datetime(value)
    except ValueError as exc:
        raise PricingError(f"{where}: {exc}") from exc


def discount_rows(
    models: list[tuple[str, str, str]], terms: list[ContractTerm]
) -> list[tuple[str, dt.datetime, dt.datetime, float, str]]:
    """Per table entry (key, provider, id): non-overlapping (from, to, discount, contract)
    periods, the winning term in each, ready for the as-of join."""
    out = []
    for key, provider, model_id in models:
        covering = [t for t in terms if t.covers(provider, model_id)]
        if not covering:
            continue
        ends = {t.effective_to or FAR_FUTURE for t in covering}
        bounds = sorted({t.effective_from for t in covering} | ends)
        for start, end in itertools.pairwise(bounds):
            active = [
                t
                for t in covering
                if t.effective_from <= start and (t.effective_to or FAR_FUTURE) >= end
            ]
            if active:
                best = max(active, key=lambda t: (t.specificity, t.effective_from))
                out.append((key, start, end, best.discount, best.contract))
    return out
