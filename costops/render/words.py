"""Counts in words: "1 request", "2 requests"."""

from __future__ import annotations

IRREGULAR = {"prefix": "prefixes", "breach": "breaches", "was": "were", "has": "have"}


def count(n: int, noun: str) -> str:
    """`n` and the noun, singular for exactly one: count(1, "line") is "1 line"."""
    return f"{n:,} {noun if n == 1 else plural(noun)}"


def plural(noun: str) -> str:
    return IRREGULAR.get(noun, noun + "s")
