"""`costops pricing list|show|check|coverage|diff|import`: the tables, one model's history,
gaps, what a table change would do to the stored requests' cost, and importers."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from costops.cli.common import (
    DbOption,
    FormatOption,
    OutputOption,
    PricingOption,
    WaitOption,
    db_path,
    emit,
)
from costops.errors import CheckFailed, PricingError, UsageError
from costops.render import words
from costops.render.columns import Column
from costops.render.table import stderr

if TYPE_CHECKING:
    from costops.render.result import Result

app = typer.Typer(help="Inspect and check the versioned pricing tables.", no_args_is_help=True)

RATE_COLUMNS = [
    Column("input", "input", "rate"),
    Column("output", "output", "rate"),
    Column("cache_read", "cache read", "rate"),
    Column("cache_write_5m", "write 5m", "rate"),
    Column("cache_write_1h", "write 1h", "rate"),
]
LIST_COLUMNS = [
    Column("provider", "provider"),
    Column("model", "model"),
    Column("effective_from", "since"),
    *RATE_COLUMNS,
    Column("long_context_above", "long ctx >", "int"),
    Column("batch_multiplier", "batch x", "rate"),
    Column("versions", "versions", "int"),
]
SHOW_COLUMNS = [
    Column("effective_from", "from"),
    Column("effective_to", "to", "rate"),
    *RATE_COLUMNS,
    Column("long_context_above", "long ctx >", "int"),
    Column("long_context_input", "lc input", "rate"),
    Column("long_context_output", "lc output", "rate"),
    Column("batch_multiplier", "batch x", "rate"),
]
COVERAGE_COLUMNS = [
    Column("provider", "provider"),
    Column("model", "logged model"),
    # a table shows the nearest table's name where the entry would be
    Column(
        "priced_as",
        "priced as",
        shown=lambda r: (
            r.get("priced_as")
            or (f"none (nearest: {r['suggestion']})" if r.get("suggestion") else None)
        ),
    ),
    Column("match", "match"),
    Column("status", "status"),
    Column("requests", "requests", "int"),
    Column("unpriced_requests", "unpriced", "int"),
    Column("unpriced_tokens", "unpriced tokens", "tokens"),
    Column("first_seen", "first seen"),
    Column("last_seen", "last seen"),
]


def _prices_result(title: str, columns: list[Column], rows: list[dict[str, Any]]) -> Result:
    """A table of prices (USD per million tokens); CSV/Parquet keep every key of the rows."""
    from costops.render.result import Result, Section

    keys = [k for k, v in rows[0].items() if not isinstance(v, dict)] if rows else None
    section = Section("rows", title, columns, rows, {"rows": len(rows)}, show_totals=False)
    meta = {"currency": "USD", "unit": "USD per million tokens"}
    return Result(meta, [section], csv_keys=keys or [c.key for c in columns])


@app.command("list")
def list_models(
    provider: Annotated[
        list[str] | None, typer.Option("--provider", help="Only this provider (repeatable).")
    ] = None,
    fmt: FormatOption = None,
    output: OutputOption = None,
    pricing: PricingOption = None,
) -> None:
    """Every priced model with its current rates (USD per million tokens)."""
    from costops.rates.inspect import list_rows
    from costops.rates.tables import load_tables

    rows = list_rows(load_tables(pricing))
    if provider:
        wanted = {p.lower() for p in provider}
        rows = [r for r in rows if r["provider"].lower() in wanted]
    title = f"{len(rows)} priced models (USD per million tokens, current version)"
    emit(_prices_result(title, LIST_COLUMNS, rows), fmt, output)


@app.command("show")
def show(
    model: Annotated[str, typer.Argument(help="Table id or a logged model name.")],
    fmt: FormatOption = None,
    output: OutputOption = None,
    pricing: PricingOption = None,
) -> None:
    """The dated price history of one model."""
    from costops.rates.inspect import history_rows, resolve_model
    from costops.rates.tables import load_tables

    tables = load_tables(pricing)
    found = resolve_model(tables, model)
    if found is None:
        raise UsageError(
            f"{model}: no pricing table matches this model; see `costops pricing list`"
        )
    source = Path(found.source_file).name  # the file's name: output never carries a machine path
    title = f"{found.key} — matches {', '.join(map(str, found.match))} ({source})"
    emit(_prices_result(title, SHOW_COLUMNS, history_rows(found)), fmt, output)


@app.command("check")
def check_tables(
    pricing: PricingOption = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="List every warning, not a count of each.")
    ] = False,
) -> None:
    """Validate the tables: schema, version order, pattern clashes, missing cache rates."""
    from costops.rates.inspect import check
    from costops.rates.tables import load_tables

    tables = load_tables(pricing)
    findings = check(tables)
    warnings: Counter[str] = Counter()
    for finding in findings:
        if finding.level == "error" or verbose:
            stderr.print(f"{finding.level}: {finding.where}: {finding.message}")
        else:
            warnings[finding.message] += 1
    for message, count in warnings.most_common():
        stderr.print(f"warning: {message} ({count:,} versions; --verbose lists them)")  # fmt: skip
    errors = sum(f.level == "error" for f in findings)
    versions = sum(len(m.versions) for m in tables.models)
    stderr.print(
        f"{len(tables.files)} files, {len(tables.models)} models, {versions} versions: "
        f"{errors} errors, {len(findings) - errors} warnings",
    )
    if errors:
        raise PricingError(f"{errors} problem(s) in the pricing tables (listed above)")


@app.command("coverage")
def coverage(
    fail_on_unpriced: Annotated[
        bool, typer.Option("--fail-on-unpriced", help="Exit 1 when any request has no price.")
    ] = False,
    fmt: FormatOption = None,
    output: OutputOption = None,
    db: DbOption = None,
    wait: WaitOption = 0.0,
    pricing: PricingOption = None,
) -> None:
    """Logged models and whether a table prices them (unpriced is NULL, never $0)."""
    from costops.analysis.coverage import coverage_rows
    from costops.analysis.session import analysis_session
    from costops.render.result import Result, Section

    with analysis_session(db_path(db), pricing, wait=wait) as con:
        rows = coverage_rows(con)
    title = "Pricing coverage of logged models"
    section = Section("rows", title, COVERAGE_COLUMNS, rows, _coverage_totals(rows),
                      show_totals=False)  # fmt: skip
    emit(Result({"currency": "USD"}, [section], csv_keys=list(rows[0]) if rows else None),
         fmt, output)  # fmt: skip
    unpriced = sum(r["unpriced_requests"] for r in rows)
    if fail_on_unpriced and unpriced:
        have = "has" if unpriced == 1 else "have"
        raise CheckFailed(
            f"{words.count(unpriced, 'request')} {have} no price; add a table with --pricing DIR"
        )


def _coverage_totals(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {"models": len(rows), "requests": sum(r["requests"] for r in rows),
            "unpriced_requests": sum(r["unpriced_requests"] for r in rows)}  # fmt: skip


def _diff_columns(dims: list[str]) -> list[Column]:
    return [
        *(Column(d, d) for d in dims),
        Column("requests", "requests", "int"),
        Column("changed_requests", "changed", "int"),
        Column("old_cost", "old cost", "money"),
        Column("new_cost", "new cost", "money"),
        Column("change", "change", "money"),
        Column("change_pct", "change %", "pct"),
        Column("newly_unpriced", "newly unpriced", "int"),
        Column("rematched", "matched to another table"),
    ]


@app.command("diff")
def diff(
    old: Annotated[str, typer.Argument(help="Pricing directory as it is (e.g. pricing/).")],
    new: Annotated[str, typer.Argument(help="Pricing directory with the change.")],
    by: Annotated[str, typer.Option("--by", help="Dimensions, comma-separated.")] = "feature,model",
    fmt: FormatOption = None,
    output: OutputOption = None,
    db: DbOption = None,
    wait: WaitOption = 0.0,
) -> None:
    """What changing the tables from OLD to NEW would do to the cost of the stored requests.
    Each directory is layered over the packaged tables, as with --pricing."""
    from costops.analysis.filters import parse_dimensions
    from costops.analysis.pricing_diff import pricing_diff
    from costops.rates.tables import load_tables
    from costops.render.result import Result, Section
    from costops.store.db import open_db

    old_tables, new_tables = load_tables([old]), load_tables([new])
    with open_db(db_path(db), create=False, wait=wait, read_only=True) as con:
        dims = parse_dimensions(by, "UTC")
        totals, rows = pricing_diff(con, old_tables, new_tables, dims)
    columns = _diff_columns([d.name for d in dims])
    change = totals["change"]
    title = (
        f"Pricing diff {Path(old).name} → {Path(new).name}: {totals['changed_requests']:,} of "
        f"{totals['requests']:,} requests change cost"
        + (f", total {change:+,.2f} USD" if change is not None else "")
    )
    meta = {"currency": "USD", "group_by": [d.name for d in dims]}  # no paths in machine output
    emit(Result(meta, [Section("rows", title, columns, rows, totals)]), fmt, output)


@app.command("import")
def import_prices(
    source: Annotated[str, typer.Argument(help="litellm or genai-prices.")],
    file: Annotated[
        Path | None,
        typer.Argument(help="litellm: its model_prices_and_context_window.json."),
    ] = None,
    out: Annotated[
        Path,
        typer.Option(
            "-o", "--output", help="Directory for the YAML files (use it with --pricing)."
        ),
    ] = Path("pricing-import"),
    out_alias: Annotated[Path | None, typer.Option("--out", hidden=True)] = None,
    provider: Annotated[
        list[str] | None, typer.Option("--provider", help="Only this provider (repeatable).")
    ] = None,
    since: Annotated[
        str, typer.Option("--since", help="genai-prices: from when its undated prices apply.")
    ] = "2020-01-01",
) -> None:
    """Convert another price list into costops YAML for review: LiteLLM's price map (dated
    today) or the installed genai-prices package's data (with its own dates). Every price key
    without a costops rule is reported, never dropped silently."""
    from costops.rates.importers import (
        claimed_names,
        import_genai_prices,
        import_litellm,
        read_litellm,
        write_tables,
    )
    from costops.rates.tables import load_tables

    today = dt.date.today()
    out = out_alias or out
    wanted = set(provider or [])
    if source == "litellm":
        result = import_litellm(read_litellm(file), today, wanted, claimed_names(load_tables()))
    elif source == "genai-prices":
        try:
            from genai_prices import data
        except ImportError as exc:  # an optional extra: the rest of costops runs without it
            raise UsageError(
                "pricing import genai-prices needs the genai-prices package: "
                "pip install 'costops[prices]'"
            ) from exc
        try:
            start = dt.date.fromisoformat(since)
        except ValueError as exc:
            raise UsageError(f"--since {since!r}: expected a date like 2024-01-01") from exc
        result = import_genai_prices(data.providers, today, start, wanted)
    else:
        raise UsageError(f"{source}: unknown importer (supported: litellm, genai-prices)")
    for target in write_tables(result, out, source):
        stderr.print(f"wrote {target}")
    for why, count in result.skipped.most_common():
        stderr.print(f"skipped {count:,} entries: {why}")
    for key, count in result.unmapped.most_common():
        stderr.print(f"not imported: {key} ({count:,} models)")
    stderr.print(
        f"{result.models:,} models in {len(result.tables)} tables; check them with "
        f"`costops pricing check --pricing {out}`",
    )
