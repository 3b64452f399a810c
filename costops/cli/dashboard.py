"""`costops dashboard -o FILE.html`: one self-contained page to share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from costops.cli.common import (
    ConfigOption,
    DbOption,
    EmbeddingsOption,
    IngestOption,
    PricingOption,
    SelfHostOption,
    SinceOption,
    TzOption,
    UntilOption,
    WaitOption,
    WhereOption,
    check_output,
    db_path,
    ingest_first,
    writing,
)
from costops.render.table import stderr


def dashboard(
    output: Annotated[Path, typer.Option("--output", "-o", help="The HTML file to write.")],
    since: SinceOption = None,
    until: UntilOption = None,
    where: WhereOption = None,
    tz: TzOption = "UTC",
    config: ConfigOption = None,
    db: DbOption = None,
    wait: WaitOption = 0.0,
    pricing: PricingOption = None,
    ingest: IngestOption = None,
    embeddings: EmbeddingsOption = None,
    self_host: SelfHostOption = None,
) -> None:
    """One self-contained HTML dashboard (works offline) to share."""
    from costops.analysis.filters import Filters, parse_where, validate_timezone
    from costops.analysis.overview import build_overview
    from costops.analysis.session import analysis_session
    from costops.config import load_config

    check_output(output)
    load_config(config)  # a bad config file is an error before any work
    ingest_first(ingest, db, wait, config)
    with analysis_session(db_path(db), pricing, wait=wait) as con:
        validate_timezone(con, tz)
        filters = Filters(since, until, parse_where(where), tz)
        overview = build_overview(con, filters, config, embeddings, self_host)
    span = " to ".join(x for x in (since, until) if x)
    title = "LLM spend" + (f", {span}" if span else "")
    from costops.render.dashboard import build_dashboard

    page = build_dashboard(overview, title)
    with writing(output):
        output.write_text(page, encoding="utf-8")
    if overview.empty:
        scope = "match --since/--until/--where" if since or until or where else "in the database"
        stderr.print(f"note: no requests {scope}; the dashboard shows empty states")
    stderr.print(f"dashboard written to {output}")
