"""`costops simulate caching|batch|cascade|output|semantic-cache|self-host|plan`: what a lever
(or an alternative to the API) would have saved."""

from __future__ import annotations

import dataclasses
from enum import StrEnum
from typing import Annotated, Any

import typer

from costops.cli.common import (
    ConfigOption,
    DbOption,
    EmbeddingsOption,
    EngineOption,
    FormatOption,
    IngestOption,
    OutputOption,
    PricingOption,
    SelfHostOption,
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
from costops.render.table import stderr

app = typer.Typer(
    help="What a cost lever would have saved on your own traffic.", no_args_is_help=True
)

ByOption = Annotated[str, typer.Option("--by", help="Dimensions to group by, comma-separated.")]


class Ttl(StrEnum):
    five_minutes = "5m"
    one_hour = "1h"
    best = "best"


class Mode(StrEnum):
    cascade = "cascade"
    route = "route"


TtlOption = Annotated[
    Ttl, typer.Option("--ttl", case_sensitive=False, help="best: the cheaper TTL per prefix.")
]
FeaturesOption = Annotated[
    str | None,
    typer.Option("--features", help="Features whose work can wait 24 h, comma-separated "
                 "(default: `batchable: true` in costops.yaml)."),
]  # fmt: skip
FromOption = Annotated[
    str | None,
    typer.Option("--from", help="The model used today (default: the `cascade:` pair in "
                 "costops.yaml)."),
]  # fmt: skip
ToOption = Annotated[
    str | None,
    typer.Option("--to", help="The cheaper model to try first (default: the `cascade:` pair "
                 "in costops.yaml)."),
]  # fmt: skip
ModeOption = Annotated[
    Mode,
    typer.Option(
        "--mode",
        case_sensitive=False,
        help="cascade: try the cheap model first; route: one model per unit.",
    ),
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
    from costops.analysis.filters import (
        Filters,
        in_scope,
        parse_dimensions,
        parse_where,
        validate_timezone,
    )
    from costops.analysis.session import analysis_session
    from costops.analysis.simulate.engine import empty_simulation
    from costops.analysis.simulate.runner import run
    from costops.render.simulation import simulation_result

    ingest_first(
        common["ingest"], common["db"], common["wait"], common.get("config"), common["engine"]
    )
    with analysis_session(
        db_path(common["db"]),
        common["pricing"],
        wait=common["wait"],
        engine=common["engine"],
        source=common["source"],
    ) as con:
        tz = validate_timezone(con, common["tz"])
        filters = Filters(common["since"], common["until"], parse_where(common["where"]), tz)
        dims = parse_dimensions(common["by"], tz)
        if in_scope(con, filters):
            sim = run(con, name, dims, filters, config=common.get("config"), **options)
        else:  # nothing to replay: an empty result, $0 on both sides (null would mean unpriced)
            stderr.print("note: no request in scope (--since/--until/--where, or an empty "
                         "database): nothing to simulate")  # fmt: skip
            sim = empty_simulation(name, [d.name for d in dims], filters)
    for warning in sim.warnings:
        stderr.print(f"warning: {warning}")
    emit(simulation_result(sim), common["fmt"], common["output"])


def _features(features: str | None) -> list[str] | None:
    """--features A,B; None leaves the default (`batchable: true` in costops.yaml) to the runner."""
    return [f.strip() for f in features.split(",") if f.strip()] if features else None


@app.command("caching")
def caching(
    ttl: TtlOption = Ttl.five_minutes,
    by: ByOption = "feature",
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
    """Prompt caching: TTL simulation per prefix, hit rates, break-even and a verdict."""
    _execute("caching", locals(), ttl=ttl.value)


@app.command("batch")
def batch(
    features: FeaturesOption = None,
    config: ConfigOption = None,
    by: ByOption = "feature",
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
    """Batch APIs: eligible work re-priced at batch rates, and the share of spend that moves."""
    _execute("batch", locals(), features=_features(features))


@app.command("cascade")
def cascade(
    from_model: FromOption = None,
    to_model: ToOption = None,
    mode: ModeOption = Mode.cascade,
    escalation_rate: RateOption = None,
    output_ratio: RatioOption = 1.0,
    by: ByOption = "feature",
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
    config: ConfigOption = None,
    ingest: IngestOption = None,
) -> None:
    """A cheaper model first (or a router): escalation, pass rate and cost per success."""
    _execute("cascade", locals(), from_model=from_model, to_model=to_model, mode=mode.value,
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
    fmt: FormatOption = None,
    output: OutputOption = None,
    db: DbOption = None,
    wait: WaitOption = 0.0,
    pricing: PricingOption = None,
    engine: EngineOption = None,
    source: SourceOption = None,
    ingest: IngestOption = None,
) -> None:
    """Output tokens against max_tokens, truncation, and a trimmed schema or a cap."""
    _execute("output", locals(), trim=trim, cap=cap)


EmbedModelOption = Annotated[
    str | None,
    typer.Option("--embed-model", metavar="DIR", show_default=False,
                 help="A local model2vec model folder: costops embeds the text kept with "
                 "`ingest --keep-text` (pip install 'costops[embed]'; nothing is downloaded)."),
]  # fmt: skip
ThresholdOption = Annotated[
    float | None,
    typer.Option("--threshold", help="Cosine similarity that counts as the same question "
                 "[default: 0.95]."),
]  # fmt: skip
ScopeOption = Annotated[
    str | None,
    typer.Option("--scope", help="Dimensions a cache entry is shared within "
                 "[default: provider,model,feature]."),
]  # fmt: skip
EmbeddingModelOption = Annotated[
    str | None,
    typer.Option("--embedding-model", help="The model that embeds each query, priced from the "
                 "pricing tables [default: text-embedding-3-small]."),
]  # fmt: skip
MaxEntriesOption = Annotated[
    int | None,
    typer.Option("--max-entries", help="Cache capacity per scope; the least recently hit entry "
                 "goes first [default: unlimited]."),
]  # fmt: skip


@app.command("semantic-cache")
def semantic_cache(
    embeddings: EmbeddingsOption = None,
    embed_model: EmbedModelOption = None,
    threshold: ThresholdOption = None,
    sweep: Annotated[
        str | None,
        typer.Option(
            "--sweep",
            metavar="A:B:STEP",
            help="One row per threshold, e.g. 0.80:0.99:0.01; the verdict picks one.",
        ),
    ] = None,
    ttl: Annotated[
        str, typer.Option("--ttl", help="How long an entry lives: 30m, 24h, 7d or none.")
    ] = "24h",
    scope: ScopeOption = None,
    embedding_model: EmbeddingModelOption = None,
    labels: Annotated[
        str | None,
        typer.Option(
            "--labels",
            metavar="FILE",
            show_default=False,
            help="Pairs marked by a human: request_id_a, request_id_b, same (true/false).",
        ),
    ] = None,
    min_precision: Annotated[
        float,
        typer.Option(
            "--min-precision", help="Precision the verdict's threshold needs on the labelled pairs."
        ),
    ] = 0.97,
    max_entries: MaxEntriesOption = None,
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            help="Dimensions to group by, comma-separated [default: feature; "
            "none with --sweep, which gives one row per threshold].",
        ),
    ] = None,
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
    """Semantic caching: similar questions served from earlier answers, net of embeddings."""
    from costops.analysis.simulate.semantic import settings
    from costops.errors import UsageError

    if sweep and by:
        raise UsageError("--sweep gives one row per threshold: drop --by (or use --threshold)")
    by = by if by is not None or sweep else "feature"
    options = dict(embeddings=embeddings, embed_model=embed_model, threshold=threshold,
                   sweep=sweep, semantic_ttl=ttl, scope=scope, embedding_model=embedding_model,
                   labels=labels, min_precision=min_precision, max_entries=max_entries)  # fmt: skip
    settings(options)  # a bad option is an error even when no request is in scope
    _execute("semantic-cache", locals(), **options)


class Precision(StrEnum):
    bf16 = "bf16"
    fp8 = "fp8"
    int8 = "int8"
    int4 = "int4"


@app.command("self-host")
def self_host(
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="The open model to serve (a serving-table id, e.g. llama-3.1-8b or 8b).",
            show_default=False,
        ),
    ],
    serving: Annotated[
        str | None,
        typer.Option(
            "--serving",
            metavar="FILE",
            show_default=False,
            help="Your measured GPUs and throughputs (YAML); its rows win over the "
            "shipped serving table.",
        ),
    ] = None,
    gpu: Annotated[
        str | None, typer.Option("--gpu", help="GPU type (default: the model row's).")
    ] = None,
    gpu_price: Annotated[
        float | None,
        typer.Option(
            "--gpu-price",
            help="USD per GPU-hour (default: the serving table's).",
            callback=check_amount,
        ),
    ] = None,
    precision: Annotated[
        Precision, typer.Option("--precision", case_sensitive=False, help="Weights' precision.")
    ] = Precision.fp8,
    target_utilization: Annotated[
        float,
        typer.Option(
            "--target-utilization", help="Share of each GPU's throughput to plan for, in (0, 1]."
        ),
    ] = 0.6,
    min_replicas: Annotated[
        int, typer.Option("--min-replicas", help="Replicas kept up in every hour.")
    ] = 1,
    autoscale: Annotated[
        bool,
        typer.Option("--autoscale", help="Pay each hour's GPUs (default: the peak, always on)."),
    ] = False,
    fine_tune_cost: Annotated[
        float,
        typer.Option(
            "--fine-tune-cost",
            metavar="USD",
            callback=check_amount,
            help="One-off fine-tuning cost, amortised.",
        ),
    ] = 0.0,
    amortize_months: Annotated[
        float, typer.Option("--amortize-months", help="Months the fine-tune is amortised over.")
    ] = 12.0,
    assumed_pass_rate: Annotated[
        float | None,
        typer.Option(
            "--assumed-pass-rate", help="The model's pass rate where no shadow eval measures it."
        ),
    ] = None,
    by: ByOption = "feature",
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
    """Serving an open model on rented GPUs instead of the API: GPUs, cost, break-even, verdict."""
    from costops.analysis.simulate.selfhost import SelfHostOptions, validate

    host = SelfHostOptions(model=model, serving=serving, gpu=gpu, gpu_price=gpu_price,
                           precision=precision.value, target_utilization=target_utilization,
                           min_replicas=min_replicas, autoscale=autoscale,
                           fine_tune_cost=fine_tune_cost, amortize_months=amortize_months,
                           assumed_pass_rate=assumed_pass_rate)  # fmt: skip
    validate(host)  # a bad option is an error even with nothing in scope
    _execute("self-host", locals(), **dataclasses.asdict(host))


@app.command("plan")
def plan(
    order: Annotated[
        str | None,
        typer.Option(
            "--order", help="Lever order (default cascade,caching,semantic-cache,output,batch)."
        ),
    ] = None,
    ttl: TtlOption = Ttl.best,
    features: FeaturesOption = None,
    config: ConfigOption = None,
    from_model: FromOption = None,
    to_model: ToOption = None,
    mode: ModeOption = Mode.cascade,
    escalation_rate: RateOption = None,
    output_ratio: RatioOption = 1.0,
    trim: TrimOption = 0.0,
    cap: CapOption = None,
    embeddings: EmbeddingsOption = None,
    embed_model: EmbedModelOption = None,
    threshold: ThresholdOption = None,
    semantic_ttl: Annotated[
        str, typer.Option("--semantic-ttl", help="How long a semantic cache entry lives.")
    ] = "24h",
    scope: ScopeOption = None,
    embedding_model: EmbeddingModelOption = None,
    max_entries: MaxEntriesOption = None,
    self_host: SelfHostOption = None,
    serving: Annotated[
        str | None,
        typer.Option(
            "--serving",
            metavar="FILE",
            show_default=False,
            help="Your measured GPUs and throughputs for --self-host (YAML).",
        ),
    ] = None,
    autoscale: Annotated[
        bool, typer.Option("--autoscale", help="--self-host pays each hour's GPUs, not the peak.")
    ] = False,
    by: ByOption = "feature",
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
    """The levers stacked, each on what the previous left: a savings waterfall."""
    from costops.analysis.simulate.selfhost import SelfHostOptions, validate
    from costops.analysis.simulate.semantic import settings

    steps = [s.strip() for s in order.split(",")] if order else None
    # a bad option is an error even when no request is in scope
    settings(dict(threshold=threshold, semantic_ttl=semantic_ttl, scope=scope,
                  max_entries=max_entries, embeddings=embeddings,
                  embed_model=embed_model))  # fmt: skip
    if self_host:
        validate(SelfHostOptions(model=self_host, serving=serving, autoscale=autoscale))
    _execute(
        "plan",
        locals(),
        order=steps,
        ttl=ttl.value,
        features=_features(features),
        from_model=from_model,
        to_model=to_model,
        mode=mode.value,
        escalation_rate=escalation_rate,
        output_ratio=output_ratio,
        trim=trim,
        cap=cap,
        embeddings=embeddings,
        embed_model=embed_model,
        threshold=threshold,
        semantic_ttl=semantic_ttl,
        scope=scope,
        embedding_model=embedding_model,
        max_entries=max_entries,
        self_host_model=self_host,
        serving=serving,
        autoscale=autoscale,
    )
