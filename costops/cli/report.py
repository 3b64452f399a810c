"""`costops report`: cost by any dimensions, Pareto shares, cost per successful output."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from costops.cli.common import (
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
    db_path,
    emit,
    ingest_first,
)


class CostBasis(StrEnum):
    effective = "effective"
    list = "list"


def report(
    by: Annotated[
        str,
        typer.Option("--by", help="Dimensions, comma-separated: feature, model, day, attr.NAME…"),
    ] = "feature",
    since: SinceOption = None,
    until: UntilOption = None,
    where: WhereOption = None,
    top: Annotated[
        int | None, typer.Option("--top", "-n", min=0, help="Show only the N costliest rows.")
    ] = None,
    tz: TzOption = "UTC",
    fmt: FormatOption = None,
    output: OutputOption = None,
    db: DbOption = None,
    wait: WaitOption = 0.0,
    pricing: PricingOption = None,
    engine: EngineOption = None,
    source: SourceOption = None,
    ingest: IngestOption = None,
    wide: Annotated[
        bool, typer.Option("--wide", help="Every column, however wide the table gets.")
    ] = False,
    compact: Annotated[
        bool, typer.Option("--compact", help="Only the main columns (cost, share, pass rate).")
    ] = False,
    cost: Annotated[
        CostBasis,
        typer.Option(
            "--cost",
            case_sensitive=False,
            help="effective: after contract discounts; list: before them.",
        ),
    ] = CostBasis.effective,
) -> None:
    """Where the money goes: cost by DIM with Pareto shares, pass rate and cost per success."""
    from costops.analysis.cache import use_list_prices
    from costops.analysis.filters import Filters, parse_dimensions, parse_where, validate_timezone
    from costops.analysis.report import build_report
    from costops.analysis.session import analysis_session
    from costops.render.report import report_result

    ingest_first(ingest, db, wait, engine=engine)
    with analysis_session(db_path(db), pricing, wait=wait, engine=engine, source=source) as con:
        if cost == "list":
            use_list_prices(con)
        validate_timezone(con, tz)
        filters = Filters(since, until, parse_where(where), tz)
        result = build_report(con, parse_dimensions(by, tz), filters, top)
        result.cost_basis = cost.value
    shown = report_result(result)
    shown.layout = "compact" if compact else "wide" if wide else "fit"
    emit(shown, fmt, output)
