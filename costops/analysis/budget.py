"""Budgets (SPEC §9): per task (cost, tokens) and per day/week/month by any dimension (cost).
A budget is breached when the actual is above its limit; exactly at the limit is not a breach."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from typing import Any

import duckdb

from costops.analysis.filters import Filters, dimension, local_time, where_clause
from costops.analysis.session import fetch_dicts
from costops.errors import ConfigError

PERIODS = ("task", "day", "week", "month")
BUDGET_KEYS = frozenset({"name", "per", "by", "where", "max_cost", "max_tokens"})
# Float sums of exact cents can land a hair above them: a breach must exceed by more than this.
EPSILON = 1e-9


@dataclass(frozen=True)
class Budget:
    name: str
    per: str
    max_cost: float | None = None
    max_tokens: int | None = None
    by: str | None = None
    where: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def describe(self) -> str:
        limit = (
            f"${self.max_cost:,.2f}" if self.max_cost is not None else f"{self.max_tokens:,} tokens"
        )
        scope = f" per {self.by}" if self.by else ""
        only = "".join(f", {k}={v}" for k, v in self.where)
        return f"{limit} per {self.per}{scope}{only}"


def parse_budgets(raw: Any, where: str) -> list[Budget]:
    """`budgets:` in costops.yaml: a list of {name, per, by?, where?, max_cost?, max_tokens?}."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: budgets: expected a list")
    out = []
    for index, item in enumerate(raw):
        here = f"{where}: budgets[{index}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{here}: expected a mapping")
        for key in item:
            if key not in BUDGET_KEYS:
                raise ConfigError(
                    f"{here}: unknown key {key!r} (allowed: {', '.join(sorted(BUDGET_KEYS))})"
                )
        per = item.get("per")
        if per not in PERIODS:
            raise ConfigError(f"{here}: per: expected one of {', '.join(PERIODS)}")
        cost, tokens = item.get("max_cost"), item.get("max_tokens")
        if cost is None and tokens is None:
            raise ConfigError(f"{here}: needs max_cost or max_tokens")
        if tokens is not None and per != "task":
            raise ConfigError(f"{here}: max_tokens is a per-task budget")
        for value, key in ((cost, "max_cost"), (tokens, "max_tokens")):
            if value is not None and (not isinstance(value, int | float) or value < 0):
                raise ConfigError(f"{here}: {key}: expected a non-negative number")
        filters = item.get("where") or {}
        if not isinstance(filters, dict):
            raise ConfigError(f"{here}: where: expected a mapping of dimension -> value")
        out.append(Budget(
            name=str(item.get("name") or f"budget {index + 1}"), per=per,
            max_cost=float(cost) if cost is not None else None,
            max_tokens=int(tokens) if tokens is not None else None,
            by=item.get("by"), where=tuple((str(k), str(v)) for k, v in filters.items()),
        ))  # fmt: skip
    return out


# The three costliest contributors of a breach, from ranked rows (alias r: shown, cost, rank),
# as columns: a list built by ordered aggregation would not be portable SQL, and the amounts are
# formatted here (printf rounds differently on Spark). _contributors lists them.
TOP = 3
TOP_SQL = ", ".join(
    [*(f"max(CASE WHEN r.rank = {i} THEN r.shown END) AS top_{i}, "
       f"max(CASE WHEN r.rank = {i} THEN r.cost END) AS top_{i}_cost" for i in range(1, TOP + 1)),
     f"least(count(*), {TOP}) AS top_count"]
)  # fmt: skip

TASK_SQL = f"""
WITH calls AS (
    SELECT p.task_id, p.ts, p.request_id, p.model, p.cost,
        p.input_tokens + p.output_tokens AS tokens,
        -- exact running sums (costops.analysis.exact), as DOUBLE
        CAST(decimal_sum({{measure}}) OVER (
            PARTITION BY p.task_id ORDER BY p.ts, p.request_id
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS DOUBLE) AS running,
        p.request_id || ' (' || p.model AS shown,
        row_number() OVER (PARTITION BY p.task_id
                           ORDER BY p.cost DESC NULLS LAST, p.request_id) AS rank
    FROM evaluated_requests p WHERE p.task_id IS NOT NULL AND {{where}}
)
SELECT r.task_id AS scope, max(r.running) AS actual,
    strftime(min(CASE WHEN r.running > ? + ? THEN r.ts END), '%Y-%m-%dT%H:%M:%SZ')
        AS first_crossed,
    {TOP_SQL}
FROM calls r GROUP BY r.task_id HAVING max(r.running) > ? + ?
ORDER BY actual DESC, scope
"""

PERIOD_SQL = f"""
WITH calls AS (
    SELECT {{period}} AS period, {{key}} AS key, p.ts, p.cost, {{contributor}} AS contributor,
        CAST(decimal_sum(p.cost) OVER (PARTITION BY {{period}}, {{key}} ORDER BY p.ts, p.request_id
                          ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS DOUBLE) AS running
    FROM evaluated_requests p WHERE {{where}}
),
groups AS (
    SELECT period, key, max(running) AS actual,
        min(CASE WHEN running > ? + ? THEN ts END) AS crossed
    FROM calls GROUP BY period, key
),
contributors AS (
    SELECT period, key, contributor, money_sum(cost) AS cost FROM calls
    GROUP BY period, key, contributor
),
ranked AS (
    SELECT period, key,
        cost, COALESCE(contributor, '(none)') AS shown,
        row_number() OVER (PARTITION BY period, key
                           ORDER BY cost DESC NULLS LAST, contributor) AS rank
    FROM contributors
),
tops AS (SELECT r.period, r.key, {TOP_SQL} FROM ranked r GROUP BY r.period, r.key)
SELECT g.period, g.key, g.actual,
    strftime(g.crossed, '%Y-%m-%dT%H:%M:%SZ') AS first_crossed,
    {", ".join(f"t.top_{i}, t.top_{i}_cost" for i in range(1, TOP + 1))}, t.top_count
FROM groups g
LEFT JOIN tops t ON t.period = g.period AND t.key IS NOT DISTINCT FROM g.key
WHERE g.actual > ? + ?
ORDER BY g.period, g.actual DESC
"""


def check_budgets(
    con: duckdb.DuckDBPyConnection, budgets: list[Budget], filters: Filters, forecast: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Breaches, and (with forecast) month budgets on course to breach by month end."""
    breaches: list[dict[str, Any]] = []
    warnings: list[dict[str, Any]] = []
    for budget in budgets:
        scoped = Filters(filters.since, filters.until, filters.where + budget.where, filters.tz)
        where, params = where_clause(scoped)
        if budget.per == "task":
            breaches += _task_breaches(con, budget, where, params)
        else:
            breaches += _period_breaches(con, budget, where, params, filters.tz)
            if forecast and budget.per == "month":
                warnings += _forecast(con, budget, where, params, filters.tz)
    return breaches, warnings


def _task_breaches(
    con: duckdb.DuckDBPyConnection, budget: Budget, where: str, params: list[object]
) -> list[dict[str, Any]]:
    out = []
    measures = (
        ("p.cost", budget.max_cost, "USD"),
        ("p.input_tokens + p.output_tokens", budget.max_tokens, "tokens"),
    )
    for measure, limit, unit in measures:
        if limit is None:
            continue
        sql = TASK_SQL.format(measure=measure, where=where)
        for row in fetch_dicts(con, sql, [*params, limit, EPSILON, limit, EPSILON]):
            out.append(_breach(budget, f"task {row['scope']}", limit, unit, row))
    return out


def _period_breaches(
    con, budget: Budget, where: str, params: list[object], tz: str
) -> list[dict[str, Any]]:
    period = dimension(budget.per, tz).sql
    key = dimension(budget.by, tz).sql if budget.by else "'all'"
    contributor = dimension("model" if budget.by == "feature" else "feature", tz).sql
    sql = PERIOD_SQL.format(period=period, key=key, where=where, contributor=contributor)
    limit = budget.max_cost or 0.0
    out = []
    for row in fetch_dicts(con, sql, [*params, limit, EPSILON, limit, EPSILON]):
        scope = f"{budget.per} {row['period']}" + (
            f", {budget.by}={row['key']}" if budget.by else ""
        )
        out.append(_breach(budget, scope, limit, "USD", row))
    return out


def _forecast(
    con, budget: Budget, where: str, params: list[object], tz: str
) -> list[dict[str, Any]]:
    """Month-to-date spend of the latest month, projected linearly to the month's end."""
    local = local_time(tz)
    key = dimension(budget.by, tz).sql if budget.by else "'all'"
    sql = f"""
    WITH latest AS (SELECT max({local}) AS now FROM evaluated_requests p WHERE {where})
    SELECT {key} AS key, money_sum(p.cost) AS mtd, any_value(l.now) AS now
    FROM evaluated_requests p, latest l
    WHERE {where} AND date_trunc('month', {local}) = date_trunc('month', l.now)
    GROUP BY 1
    """
    out = []
    for row in fetch_dicts(con, sql, [*params, *params]):
        now = row["now"]
        days = calendar.monthrange(now.year, now.month)[1]
        elapsed = now.day - 1 + (now.hour * 3600 + now.minute * 60 + now.second) / 86400
        if not elapsed or row["mtd"] is None:
            continue
        projected = row["mtd"] / elapsed * days
        if projected > (budget.max_cost or 0.0) + EPSILON and row["mtd"] <= (
            budget.max_cost or 0.0
        ):
            out.append({
                "budget": budget.name, "scope": f"month {now:%Y-%m}"
                + (f", {budget.by}={row['key']}" if budget.by else ""),
                "limit": budget.max_cost, "month_to_date": row["mtd"], "projected": projected,
            })  # fmt: skip
    return out


def _contributors(row: dict[str, Any], *, per_task: bool) -> list[str | None]:
    """The top contributors as shown: a task's calls with their cost to 4 places, a period's
    models (or features) to the cent, or unpriced."""
    shown: list[str | None] = []
    for i in range(1, (row["top_count"] or 0) + 1):
        name, cost = row[f"top_{i}"], row[f"top_{i}_cost"]
        if per_task:
            shown.append(None if name is None else f"{name}, ${cost or 0:.4f})")
        else:
            shown.append(f"{name} ({'unpriced' if cost is None else f'${cost:.2f}'})")
    return shown


def _breach(
    budget: Budget, scope: str, limit: float, unit: str, row: dict[str, Any]
) -> dict[str, Any]:
    return {
        "budget": budget.name, "rule": budget.describe(), "scope": scope, "limit": limit,
        "unit": unit, "actual": row["actual"], "first_crossed": row["first_crossed"],
        "top_contributors": _contributors(row, per_task=budget.per == "task"),
    }  # fmt: skip
