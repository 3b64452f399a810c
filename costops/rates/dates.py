"""Dates in pricing files (YAML dates, datetimes or ISO strings) as naive UTC datetimes."""

from __future__ import annotations

import datetime as dt
from typing import Any


def utc_datetime(value: Any) -> dt.datetime:
    """The value as a naive UTC datetime; ValueError says what was wrong."""
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"expected a date like 2026-03-13, got {value!r}") from exc
    else:
        raise ValueError("required: a UTC date like 2026-03-13")
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed
