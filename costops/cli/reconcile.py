"""`costops reconcile`: costops' cost against the cost the logs reported, and why they differ."""

from __future__ import annotations

from typing import Annotated

import typer

from costops.cli.common import (
    DbOption,
    EngineOption,
    FormatOption,
    OutputOption,
    PricingOption,
    SinceOption,
    SourceOption,
    UntilOption,
    WaitOption,
    WhereOption,
    db_path,
    emit,
)
from costops.errors import CheckFailed, UsageError
from costops.render.words import count


def reconcile_command(
    by: Annotated[str, typer.Option("--by", help="Dimensions, comma-separated.")] = "feature,model",
    tolerance: Annotated[
        float,
        typer.Option("--tolerance", help="Allowed difference, relative to the logged cost."),
    ] = 0.01,
    top: Annotated[
        int, typer.Option("--top", "-n", min=0, help="How many differing requests to list.")
    ] = 10,
    fail: Annotated[
        bool, typer.Option("--fail-on-difference", help="Exit 1 when any request differs.")
    ] = False,
    since: SinceOption = None,
    until: UntilOption = None,
    where: WhereOption = None,
    fmt: FormatOption = None,
    output: OutputOption = None,
    db: DbOption = None,
    wait: WaitOption = 0.0,
    pricing: PricingOption = None,
    engine: EngineOption = None,
    source: SourceOption = None,
) -> None:
    """Compare costops' cost with the cost the logs reported (logged_cost), by group and for the
    most different requests, naming the likely cause."""
    from costops.analysis.filters import Filters, parse_dimensions, parse_where
    from costops.analysis.reconcile import reconcile
    from costops.analysis.session import analysis_session
    from costops.render.reconcile import reconciliation_result

    if not 0 <= tolerance < 1:
        raise UsageError(f"--tolerance {tolerance}: expected a fraction such as 0.01 (1 %)")
    with analysis_session(db_path(db), pricing, wait=wait, engine=engine, source=source) as con:
        filters = Filters(since, until, parse_where(where), "UTC")
        result = reconcile(con, parse_dimensions(by, "UTC"), filters, tolerance, top)
    emit(reconciliation_result(result), fmt, output)
    differing = result.totals.get("differing_requests") or 0
    if fail and differing:
        differ = "differs from its" if differing == 1 else "differ from their"
        raise CheckFailed(f"{count(differing, 'request')} {differ} logged cost")
