"""Sums of money that do not depend on the order rows arrive in.

A float sum's last digits change with the order DuckDB's threads add rows in, so the same data
gave different bytes from run to run. `money_sum(x)` rounds each amount to 1e-12 dollars, sums
exactly as a DECIMAL and gives back a double: the same data, the same number, every time.
`decimal_sum(x)` keeps the DECIMAL, for exact arithmetic before it is shown (two equal sums
subtract to exactly 0). Both are SQL macros, defined on every connection (store.db).
"""

from __future__ import annotations

from decimal import Decimal

MONEY = "DECIMAL(38, 12)"

MACROS_SQL = f"""
CREATE OR REPLACE TEMP MACRO decimal_sum(x) AS sum(CAST(x AS {MONEY}));
CREATE OR REPLACE TEMP MACRO money_sum(x) AS CAST(sum(CAST(x AS {MONEY})) AS DOUBLE);
"""


def money_difference(a: float, b: float) -> float:
    """a - b for two amounts summed by money_sum (at most 12 decimals), exactly: as decimals,
    not as doubles (whose difference shows digits neither amount has)."""
    return float(Decimal(repr(a)) - Decimal(repr(b)))
