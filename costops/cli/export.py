"""`costops export focus|requests -o FILE.csv|.parquet`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from costops.cli.common import (
    DbOption,
    EngineOption,
    PricingOption,
    SinceOption,
    SourceOption,
    TzOption,
    UntilOption,
    WaitOption,
    WhereOption,
    check_output,
    db_path,
    writing,
)
from costops.render.table import stderr

app = typer.Typer(help="Export costs for BI tools and FinOps platforms.", no_args_is_help=True)
OutOption = Annotated[Path, typer.Option("--output", "-o", help="FILE.csv or FILE.parquet.")]


def _export(
    what: str,
    output: Path,
    since: str | None,
    until: str | None,
    where: list[str] | None,
    tz: str,
    db: str | None,
    pricing: list[str] | None,
    wait: float,
    engine: str | None,
    source: str | None,
) -> None:
    from costops.analysis.filters import Filters, parse_where, validate_timezone
    from costops.analysis.session import analysis_session
    from costops.render.focus import export

    check_output(output)
    with (
        analysis_session(db_path(db), pricing, wait=wait, engine=engine, source=source) as con,
        writing(output),
    ):
        validate_timezone(con, tz)
        rows = export(con, what, Filters(since, until, parse_where(where), tz), output)
    stderr.print(f"{rows:,} rows written to {output}")


@app.command("focus")
def focus(
    output: OutOption,
    since: SinceOption = None,
    until: UntilOption = None,
    where: WhereOption = None,
    tz: TzOption = "UTC",
    db: DbOption = None,
    wait: WaitOption = 0.0,
    pricing: PricingOption = None,
    engine: EngineOption = None,
    source: SourceOption = None,
) -> None:
    """FinOps FOCUS 1.3 rows: daily per SKU price (model, token class, tier…), feature, customer."""
    _export("focus", output, since, until, where, tz, db, pricing, wait, engine, source)


@app.command("requests")
def requests(
    output: OutOption,
    since: SinceOption = None,
    until: UntilOption = None,
    where: WhereOption = None,
    tz: TzOption = "UTC",
    db: DbOption = None,
    wait: WaitOption = 0.0,
    pricing: PricingOption = None,
    engine: EngineOption = None,
    source: SourceOption = None,
) -> None:
    """Every priced request with its cost components, for notebooks and BI tools."""
    _export("requests", output, since, until, where, tz, db, pricing, wait, engine, source)
