"""`costops tasks` and `costops budget check`: agent fan-out, per-task cost, budget alerts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from costops.cli.common import (
    ConfigOption,
    DbOption,
    EngineOption,
    FormatOption,
    IngestOption,
    OutputOption,
    PricingOption,
    SinceOption,
    SourceOption,
    TzOption,
    UntilOption,
    WaitOption,
    WhereOption,
    check_amount,
    db_path,
    emit,
    ingest_first,
)
from costops.errors import UsageError
from costops.render.columns import Column
from costops.render.table import stderr
from costops.render.words import count

if TYPE_CHECKING:
    from costops.analysis.budget import Budget
    from costops.render.result import Result

budget_app = typer.Typer(help="Budgets per task and per period, for alerting.",
                         no_args_is_help=True)  # fmt: skip

GROUP_COLUMNS = [
    Column("tasks", "tasks", "int", priority=1),
    Column("calls_per_task", "calls/task", "ratio", priority=3),
    Column("input_tokens_per_task", "input tok/task", "tokens", priority=4),
    Column("output_tokens_per_task", "output tok/task", "tokens", priority=4),
    Column("cost", "cost", "money"),
    Column("cost_p50", "p50/task", "money", priority=2),
    Column("cost_p95", "p95/task", "money", priority=2),
    Column("cost_max", "max/task", "money", priority=3),
    Column("retry_share", "retries", "pct", priority=3),
]
TOP_COLUMNS = [
    Column("task_id", "task"),
    Column("calls", "calls", "int", priority=2),
    Column("cost", "cost", "money"),
    Column("duration_s", "seconds", "num", priority=3),
    Column("started", "started", priority=4),
    Column("verdict", "eval", "rate", priority=2),
]
BREACH_COLUMNS = [
    Column("budget", "budget"),
    Column("scope", "breached by"),
    Column("limit", "limit", "rate"),
    Column("actual", "actual", "num"),
    Column("unit", "unit"),
    Column("first_crossed", "first crossed"),
    Column("contributors", "top contributors"),
]


def tasks(
    by: Annotated[str, typer.Option("--by", help="Dimensions, comma-separated.")] = "feature",
    top: Annotated[
        int, typer.Option("--top", "-n", min=0, help="How many of the costliest tasks.")
    ] = 10,
    since: SinceOption = None,
    until: UntilOption = None,
    where: WhereOption = None,
    tz: TzOption = "UTC",
    fmt: FormatOption = None,
    output: OutputOption = None,
    db: DbOption = None,
    wait: WaitOption = 0.0,
    pricing: PricingOption = None,
    engine: EngineOption = None,
    source: SourceOption = None,
    ingest: IngestOption = None,
) -> None:
    """Agent tasks: calls and tokens per task, cost per task (p50/p95/max), retries."""
    from costops.analysis.filters import Filters, parse_dimensions, parse_where, validate_timezone
    from costops.analysis.session import analysis_session
    from costops.analysis.tasks import build_tasks
    from costops.render.result import Result, Section, scope_meta

    ingest_first(ingest, db, wait, engine=engine)
    with analysis_session(db_path(db), pricing, wait=wait, engine=engine, source=source) as con:
        validate_timezone(con, tz)
        dims = parse_dimensions(by, tz)
        report = build_tasks(con, dims, Filters(since, until, parse_where(where), tz), top)
    names = [Column(d, d) for d in report.group_by]
    sections = [
        Section("rows", "Agent tasks: what one task costs", names + GROUP_COLUMNS, report.rows,
                report.totals),
        Section("costliest", f"The costliest tasks ({count(len(report.costliest), 'task')})",
                TOP_COLUMNS[:1] + names + TOP_COLUMNS[1:], report.costliest),
    ]  # fmt: skip
    meta = scope_meta(report.group_by, report.filters)
    keys = [*report.group_by, *(c.key for c in GROUP_COLUMNS)]
    emit(Result(meta, sections, csv_keys=keys), fmt, output)


@budget_app.command("check")
def check(
    task_cost: Annotated[
        float | None,
        typer.Option("--task-cost", callback=check_amount, help="USD per task."),
    ] = None,
    task_tokens: Annotated[
        int | None, typer.Option("--task-tokens", min=0, help="Tokens per task.")
    ] = None,
    daily_cost: Annotated[
        float | None,
        typer.Option("--daily-cost", callback=check_amount, help="USD per day (per --by)."),
    ] = None,
    weekly_cost: Annotated[
        float | None,
        typer.Option("--weekly-cost", callback=check_amount, help="USD per week (per --by)."),
    ] = None,
    monthly_cost: Annotated[
        float | None,
        typer.Option("--monthly-cost", callback=check_amount, help="USD per month (per --by)."),
    ] = None,
    by: Annotated[
        str | None, typer.Option("--by", help="Dimension for the period budgets.")
    ] = None,
    forecast: Annotated[
        bool,
        typer.Option(
            "--forecast",
            help="Warn when month-to-date spend, projected to month end, would breach.",
        ),
    ] = False,
    config: ConfigOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    where: WhereOption = None,
    tz: TzOption = "UTC",
    fmt: FormatOption = None,
    output: OutputOption = None,
    db: DbOption = None,
    wait: WaitOption = 0.0,
    pricing: PricingOption = None,
    engine: EngineOption = None,
    source: SourceOption = None,
    ingest: IngestOption = None,
) -> None:
    """Check budgets (flags and costops.yaml); exit 1 when any is breached, 0 when none."""
    from costops.analysis.budget import check_budgets, parse_budgets
    from costops.analysis.filters import Filters, parse_where, validate_timezone
    from costops.analysis.session import analysis_session
    from costops.config import load_config

    settings = load_config(config)
    budgets = parse_budgets(settings.budgets, settings.source or "costops.yaml")
    budgets += _flag_budgets(task_cost, task_tokens, daily_cost, weekly_cost, monthly_cost, by)
    if not budgets:
        raise UsageError(
            "no budgets: pass --task-cost/--daily-cost/… or add budgets: to costops.yaml"
        )
    ingest_first(ingest, db, wait, config, engine)
    with analysis_session(db_path(db), pricing, wait=wait, engine=engine, source=source) as con:
        validate_timezone(con, tz)
        breaches, warnings = check_budgets(
            con, budgets, Filters(since, until, parse_where(where), tz), forecast
        )
    for row in breaches:
        row["contributors"] = "; ".join(row["top_contributors"] or [])
    emit(_budget_result(breaches, warnings, budgets), fmt, output)
    for w in warnings:
        stderr.print(
            f"warning: {w['budget']} {w['scope']}: projected ${w['projected']:,.2f} "
            f"> limit ${w['limit']:,.2f} (month to date ${w['month_to_date']:,.2f})"
        )
    if breaches:
        raise typer.Exit(1)


def _flag_budgets(
    task_cost: float | None,
    task_tokens: int | None,
    daily: float | None,
    weekly: float | None,
    monthly: float | None,
    by: str | None,
) -> list[Budget]:
    from costops.analysis.budget import Budget

    out = []
    if task_cost is not None or task_tokens is not None:
        out.append(Budget("--task-cost/--task-tokens", "task", task_cost, task_tokens))
    for flag, per, value in (("--daily-cost", "day", daily), ("--weekly-cost", "week", weekly),
                             ("--monthly-cost", "month", monthly)):  # fmt: skip
        if value is not None:
            out.append(Budget(flag, per, value, by=by))
    return out


def _budget_result(
    breaches: list[dict[str, Any]], warnings: list[dict[str, Any]], budgets: list[Budget]
) -> Result:
    from costops.render.result import Result, Section

    title = f"{len(breaches)} budget breach{'es' if len(breaches) != 1 else ''}"
    caption = "checked: " + "; ".join(f"{b.name}: {b.describe()}" for b in budgets)
    section = Section("rows", title, BREACH_COLUMNS, breaches, {"breaches": len(breaches)},
                      caption=caption, show_totals=False)  # fmt: skip
    meta = {"breached": bool(breaches), "budgets": [b.describe() for b in budgets],
            "forecast_warnings": warnings}  # fmt: skip
    return Result(meta, [section])
