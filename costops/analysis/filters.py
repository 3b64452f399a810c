"""The one filter object every analysis takes, and the one validator for identifiers in SQL."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import duckdb

from costops.engine import is_spark
from costops.errors import UsageError

# Dimension name → SQL over priced_requests (alias p). Time buckets use the local time `lt`.
COLUMN_DIMENSIONS = (
    "feature", "model", "provider", "customer", "prompt_template", "environment", "workspace",
    "task_id", "session_id", "status", "service_tier", "region",
)  # fmt: skip
# (Casts, not strftime: several times faster over millions of rows; the text is the same.)
TIME_DIMENSIONS = {
    "day": "CAST(CAST({lt} AS DATE) AS VARCHAR)",
    "week": "CAST(CAST(date_trunc('week', {lt}) AS DATE) AS VARCHAR)",
    "month": "left(CAST(CAST({lt} AS DATE) AS VARCHAR), 7)",
}
ATTRIBUTE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$")
TIMEZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$")
ALL_DIMENSIONS = (*COLUMN_DIMENSIONS, *TIME_DIMENSIONS, "attr.NAME")


@dataclass(frozen=True)
class Dimension:
    name: str  # as the user wrote it; also the output key
    sql: str  # a validated expression over priced_requests p


@dataclass(frozen=True)
class Grouping:
    """SQL pieces to group a query over `p` by dimensions (all empty without dimensions)."""

    keys: str  # 'expr AS "name", ' for each dimension, to start a SELECT list
    group_by: str  # 'GROUP BY "name", …'
    order: str  # ', "name", …' to end an ORDER BY


def grouping(dims: list[Dimension]) -> Grouping:
    names = ", ".join(f'"{d.name}"' for d in dims)
    return Grouping(
        keys="".join(f'{d.sql} AS "{d.name}", ' for d in dims),
        group_by=f"GROUP BY {names}" if dims else "",
        order="".join(f', "{d.name}"' for d in dims),
    )


@dataclass(frozen=True)
class Filters:
    since: str | None = None
    until: str | None = None
    where: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    tz: str = "UTC"


def validate_timezone(con: duckdb.DuckDBPyConnection, tz: str) -> str:
    if not TIMEZONE_NAME.match(tz):
        raise UsageError(f"--tz {tz!r}: not a time zone name (e.g. UTC, Europe/Berlin)")
    check = duckdb.connect() if is_spark(con) else con  # DuckDB's zone names, either engine
    try:
        check.execute("SELECT timezone(?, TIMESTAMPTZ '2026-01-01 00:00:00+00')", [tz]).fetchone()
    except duckdb.Error as exc:
        raise UsageError(f"--tz {tz!r}: unknown time zone (e.g. UTC, Europe/Berlin)") from exc
    finally:
        if check is not con:
            check.close()
    return tz


def local_time(tz: str) -> str:
    """p.ts (stored in UTC) as wall-clock time in `tz`, a validated zone name."""
    return "p.ts" if tz == "UTC" else f"timezone('{tz}', timezone('UTC', p.ts))"


def dimension(name: str, tz: str) -> Dimension:
    """The one place a user-supplied dimension becomes SQL; anything unknown is refused."""
    if name in COLUMN_DIMENSIONS:
        return Dimension(name, f"p.{name}")
    if name in TIME_DIMENSIONS:
        return Dimension(name, TIME_DIMENSIONS[name].format(lt=local_time(tz)))
    if name.startswith("attr."):
        attribute = name[len("attr.") :]
        if ATTRIBUTE_NAME.match(attribute):
            return Dimension(name, f"json_extract_string(p.attributes, '$.\"{attribute}\"')")
        raise UsageError(
            f"{name!r}: attribute names may use letters, digits, _ . - (up to 64 characters)"
        )
    raise UsageError(f"unknown dimension {name!r} (choose from {', '.join(ALL_DIMENSIONS)})")


def parse_dimensions(spec: str | None, tz: str) -> list[Dimension]:
    if not spec:
        return []
    names = [part.strip() for part in spec.split(",") if part.strip()]
    if len(set(names)) != len(names):
        raise UsageError(f"--by {spec!r}: a dimension appears twice")
    return [dimension(name, tz) for name in names]


def parse_where(items: list[str] | None) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--where {item!r}: expected DIM=VALUE, e.g. feature=search")
        pairs.append((name.strip(), value))
    return tuple(pairs)


def in_scope(con: duckdb.DuckDBPyConnection, filters: Filters) -> bool:
    """Whether any stored request passes the filters."""
    where, params = where_clause(filters)
    found = con.execute(f"SELECT 1 FROM priced_requests p WHERE {where} LIMIT 1", params)
    return bool(found.fetchall())


def where_clause(filters: Filters) -> tuple[str, list[object]]:
    """SQL conditions (joined with AND) and their bound parameters, over priced_requests p."""
    conditions: list[str] = []
    params: list[object] = []
    if filters.since and filters.until:
        start = _bound(filters.since, "--since", inclusive_day_end=False)
        end = _bound(filters.until, "--until", inclusive_day_end=True)
        if dt.datetime.fromisoformat(start) >= dt.datetime.fromisoformat(end):
            raise UsageError(f"--since {filters.since} is not before --until {filters.until}")
    if filters.since:
        conditions.append("p.ts >= CAST(timezone(?, CAST(? AS TIMESTAMP)) AS TIMESTAMP)")
        params += [filters.tz, _bound(filters.since, "--since", inclusive_day_end=False)]
    if filters.until:
        conditions.append("p.ts < CAST(timezone(?, CAST(? AS TIMESTAMP)) AS TIMESTAMP)")
        params += [filters.tz, _bound(filters.until, "--until", inclusive_day_end=True)]
    grouped: dict[str, list[str]] = {}
    for name, value in filters.where:
        grouped.setdefault(name, []).append(value)
    for name, values in grouped.items():
        expr = dimension(name, filters.tz).sql
        conditions.append(f"{expr} IN ({', '.join('?' for _ in values)})")
        params += values
    return (" AND ".join(conditions) or "TRUE"), params


def _bound(text: str, flag: str, *, inclusive_day_end: bool) -> str:
    """A local wall-clock bound: a bare date for --until means the end of that day."""
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            if inclusive_day_end:
                day += dt.timedelta(days=1)
            return f"{day.isoformat()} 00:00:00"
        moment = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(f"{flag} {text!r}: expected a date like 2026-03-01") from exc
    if moment.tzinfo is not None:
        raise UsageError(f"{flag} {text!r}: give a local time without offset and use --tz")
    return moment.isoformat(sep=" ")
