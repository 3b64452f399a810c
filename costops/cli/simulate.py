"""`costops simulate caching|batch|cascade|output|plan`: what a lever would have saved."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from costops.analysis.filters import Filters, parse_dimensions, parse_where, validate_timezone
from costops.analysis.session import analysis_session
from costops.analysis.simulate.runner import run
from costops.cli.common import (
    ConfigOption,
    DbOption,
    FormatOption,
    OutputOption,
    PricingOption,
    SinceOption,
    TzOption,
    UntilOption,
    WaitOption,
    WhereOption,
    check_format,
    db_path,
    emit,
)
from costops.config import load_config
from costops.render.simulation import render
from costops.render.table import stderr

app = typer.Typer(
    help="What a cost lever would have saved on your own traffic.", no_args_is_help=True
)

ByOption = Annotated[str, typer.Option("--by", help="Dimensions to group by, comma-separated.")]
TtlOption = Annotated[str, typer.Option("--ttl", help="5m | 1h | best (cheaper TTL per prefix).")]
FeaturesOption = Annotated[
    str | None,
    typer.Option("--features", help="Features whose work can wait 24 h, comma-separated "
                 "(default: `batchable: true` in costops.yaml)."),
]  # fmt: skip
FromOption = Annotated[str | None, typer.Option("--from", help="The model used today.")]
ToOption = Annotated[str | None, typer.Option("--to", help="The cheaper model to try first.")]
ModeOption = Annotated[
    str, typer.Option("--mode", help="cascade (try cheap first) | route (one model per unit).")
]
RateOption = Annotated[
    float | None,
    typer.Option("--escalation-rate", help="Assumed share of units that escalate, where no "
                 "shadow evals measure it."),
]  # fmt: skip
RatioOption = Annotated[
    float, typer.Option("--output-ratio", help="Output tokens of the cheaper model ÷ original.")
]
TrimOption = Annotated[
    float, typer.Option("--trim", help="Percent shorter visible output (a tighter schema).")
]
CapOption = Annotated[int | None, typer.Option("--cap", help="A max_tokens cap to price.")]


def _execute(name: str, common: dict[str, Any], **options: Any) -> None:
    fmt = check_format(common["fmt"])
    with analysis_session(db_path(common["db"]), common["pricing"], wait=common["wait"]) as con:
        tz = validate_timezone(con, common["tz"])
        filters = Filters(common["since"], common["until"], parse_where(common["where"]), tz)
        sim = run(con, name, parse_dimensions(common["by"], tz), filters, **options)
    for warning in sim.warnings:
        stderr.print(f"warning: {warning}")
    emit(render(sim, fmt), common["output"])


def _features(features: str | None, config: str | None) -> list[str]:
    if features:
        return [f.strip() for f in features.split(",") if f.strip()]
    settings = load_config(config).features
    return [name for name, options in settings.items() if options.get("batchable")]


@app.command("caching")
def caching(
    ttl: TtlOption = "5m",
    by: ByOption = "feature",
    since: SinceOption = None,
    until: UntilOption = None,
    where: WhereOption = None,
    tz: TzOption = "UTC",
    fmt: FormatOption = "table",
    output: OutputOption = None,
    db: DbOption = None,
    wait: WaitOption = 0.0,
    pricing: PricingOption = None,
) -> None:
    """Prompt caching: TTL simulation per prefix, hit rates, break-even and a verdict."""
    _execute("caching", locals(), ttl=ttl)


@app.command("batch")
def batch(
    features: FeaturesOption = None,
    config: ConfigOption = None,
    by: ByOption = "feature",
    since: SinceOption = None,
    until: UntilOption = None,
    where: WhereOption = None,
    tz: TzOption = "UTC",
    fmt: FormatOption = "table",
    output: OutputOption = None,
    db: DbOption = None,
    wait: WaitOption = 0.0,
    pricing: PricingOption = None,
) -> None:
    """Batch APIs: eligible work re-priced at batch rates, and the share of spend that moves."""
    _execute("batch", locals(), features=_features(features, config))


@app.command("cascade")
def cascade(
    from_model: FromOption = None,
    to_model: ToOption = None,
    mode: ModeOption = "cascade",
    escalation_rate: RateOption = None,
    output_ratio: RatioOption = 1.0,
    by: ByOption = "feature",
    since: SinceOption = None,
    until: UntilOption = None,
    where: WhereOption = None,
    tz: TzOption = "UTC",
    fmt: FormatOption = "table",
    output: OutputOption = None,
    db: DbOption = None,
    wait: WaitOption = 0.0,
    pricing: PricingOption = None,
) -> None:
    """A cheaper model first (or a router): escalation, pass rate and cost per success."""
    _execute("cascade", locals(), from_model=from_model, to_model=to_model, mode=mode,
             escalation_rate=escalation_rate, output_ratio=output_ratio)  # fmt: skip


@app.command("output")
def output_(
    trim: TrimOption = 0.0,
    cap: CapOption = None,
    by: ByOption = "feature",
    since: SinceOption = None,
    until: UntilOption = None,
    where: WhereOption = None,
    tz: TzOption = "UTC",
    fmt: FormatOption = "table",
    output: OutputOption = None,
    db: DbOption = None,
    wait: WaitOption = 0.0,
    pricing: PricingOption = None,
) -> None:
    """Output tokens against max_tokens, truncation, and a trimmed schema or a cap."""
    _execute("output", locals(), trim=trim, cap=cap)


@app.command("plan")
def plan(
    order: Annotated[
        str | None,
        typer.Option("--order", help="Lever order (default cascade,caching,output,batch)."),
    ] = None,
    ttl: TtlOption = "best",
    features: FeaturesOption = None,
    config: ConfigOption = None,
    from_model: FromOption = None,
    to_model: ToOption = None,
    mode: ModeOption = "cascade",
    escalation_rate: RateOption = None,
    output_ratio: RatioOption = 1.0,
    trim: TrimOption = 0.0,
    cap: CapOption = None,
    by: ByOption = "feature",
    since: SinceOption = None,
    until: UntilOption = None,
    where: WhereOption = None,
    tz: TzOption = "UTC",
    fmt: FormatOption = "table",
    output: OutputOption = None,
    db: DbOption = None,
    wait: WaitOption = 0.0,
    pricing: PricingOption = None,
) -> None:
    """The levers stacked, each on what the previous left: a savings waterfall."""
    steps = [s.strip() for s in order.split(",")] if order else None
    _execute(
        "plan",
        locals(),
        order=steps,
        ttl=ttl,
        features=_features(features, config),
        from_model=from_model,
        to_model=to_model,
        mode=mode,
        escalation_rate=escalation_rate,
        output_ratio=output_ratio,
        trim=trim,
        cap=cap,
    )
