"""One entry point for every simulation, and the plan that stacks them.

The levers that costops.yaml informs read it here: `batchable: true` features are batch's
default, a feature's `latency_slo_ms` under the batch window keeps it out of batch, and the
`cascade:` pairs are cascade's default --from/--to.
"""

from __future__ import annotations

from typing import Any

import duckdb

from costops.analysis.filters import Dimension, Filters
from costops.analysis.simulate import batch, caching, cascade, output, semantic
from costops.analysis.simulate.batch import simulate_batch
from costops.analysis.simulate.caching import simulate_caching
from costops.analysis.simulate.cascade import pick_pair, simulate_cascade
from costops.analysis.simulate.engine import (
    WEIGHT,
    Simulation,
    Source,
    compare,
    joins_as_written,
    keyed,
    load_input,
    views,
)
from costops.analysis.simulate.output import simulate_output
from costops.analysis.simulate.selfhost import SelfHostOptions, simulate_self_host
from costops.config import Config, load_config
from costops.errors import UsageError

LEVERS = ("cascade", "caching", "semantic-cache", "output", "batch")
# Simulations that replace the API rather than stack on it: never a step of a plan.
ALTERNATIVES = ("self-host",)
CONFIGURED = ("batch", "cascade", "plan")


def run(
    con: duckdb.DuckDBPyConnection,
    name: str,
    dims: list[Dimension],
    filters: Filters,
    config: str | None = None,
    **options: Any,
) -> Simulation:
    """The simulation `name` over the filtered requests; `config` is costops.yaml's path
    (None: ./costops.yaml when present), read only by the levers it informs."""
    settings = load_config(config) if name in CONFIGURED else Config()
    source = load_input(filters)
    with joins_as_written(con):
        if name == "plan":
            return _plan(con, source, dims, filters, options, settings)
        totals, rows, assumptions, warnings = _lever(con, name, source, dims, options, settings)
    # a sweep's rows are its thresholds
    group = ["threshold"] if options.get("sweep") else [d.name for d in dims]
    return Simulation(name, group, filters, assumptions, totals, rows, warnings)


def _lever(
    con: duckdb.DuckDBPyConnection,
    name: str,
    source: Source,
    dims: list[Dimension],
    options: dict[str, Any],
    settings: Config,
    keep: bool = False,
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any], list[str]]:
    """The lever `name` over `source`; with `keep`, its scenario keeps every column, for the
    next lever of a plan (_next_source)."""
    if name == "caching":
        return (*simulate_caching(con, source, dims, options.get("ttl", "5m"), keep), [])
    if name == "batch":
        features = options.get("features") or settings.batchable()
        if not features:
            raise UsageError(
                "batch: name the features that can wait up to 24 h: --features A,B "
                "(or `batchable: true` under features: in costops.yaml)"
            )
        return simulate_batch(con, source, dims, features, settings.latency_slos(), keep)
    if name == "output":
        return (*simulate_output(con, source, dims, options.get("trim") or 0.0,
                                 options.get("cap"), keep), [])  # fmt: skip
    if name == "cascade":
        pair = pick_pair(options.get("from_model"), options.get("to_model"), settings)
        if pair is None:
            raise UsageError(
                "cascade: --from MODEL and --to MODEL are required "
                "(or a `cascade:` pair in costops.yaml)"
            )
        if isinstance(pair, str):
            raise UsageError(f"cascade: {pair}")
        return simulate_cascade(
            con, source, dims, pair, options.get("mode") or "cascade",
            options.get("escalation_rate"), options.get("output_ratio") or 1.0, keep,
        )  # fmt: skip
    if name == "semantic-cache":
        return semantic.simulate_semantic(con, source, dims, options, keep)
    if name == "self-host":
        return simulate_self_host(con, source, dims, SelfHostOptions(**options))
    choices = ", ".join((*LEVERS, *ALTERNATIVES))
    raise UsageError(f"unknown simulation {name!r} (choose from {choices}, plan)")


def _configured(name: str, options: dict[str, Any], settings: Config) -> str | None:
    """Why a lever cannot run in a plan with these options, or None when it can."""
    if name == "cascade":
        pair = pick_pair(options.get("from_model"), options.get("to_model"), settings)
        return "no --from/--to pair" if pair is None else pair if isinstance(pair, str) else None
    if name == "batch" and not (options.get("features") or settings.batchable()):
        return "no batchable features (--features or costops.yaml)"
    if name == "output" and not (options.get("trim") or options.get("cap")):
        return "no --trim or --cap"
    return None


def _unmeant(con: duckdb.DuckDBPyConnection, step: str, options: dict[str, Any],
             source: Source) -> str | None:  # fmt: skip
    """Why the semantic cache cannot run on `source`: no embeddings and no semantic_key."""
    if step != "semantic-cache" or options.get("embeddings") or options.get("embed_model"):
        return None
    if semantic.has_keys(con, source):
        return None
    return f"no --embeddings and no {semantic.KEY_ATTRIBUTE} attribute"


def _next_source(name: str, options: dict[str, Any]) -> str:
    """The scenario the lever `name` (run with keep) leaves, as a query of Source columns."""
    if name == "caching":
        return caching.next_source(options.get("ttl", "5m"))
    if name == "output":
        return output.next_source(options.get("trim") or 0.0, options.get("cap"))
    if name == "semantic-cache":
        return semantic.next_source()
    return batch.next_source() if name == "batch" else cascade.next_source()


# The tables each lever keeps its scenario in (a plan's next step reads them through a view).
TABLES = {
    "caching": (caching.TABLE, caching.CHOICE),
    "batch": (batch.TABLE,),
    "cascade": (cascade.TABLE,),
    "output": (output.TABLE,),
    "semantic-cache": (semantic.ROWS, semantic.HITS, semantic.REPLAYED),
}


def _drop(con: duckdb.DuckDBPyConnection, names: tuple[str, ...]) -> None:
    """Free a plan step's scenario once the next step has read it."""
    if names:
        con.execute(f"DROP VIEW IF EXISTS {names[0]}")
    for table in names[1:]:
        con.execute(f"DROP TABLE IF EXISTS {table}")


def _from_config(step: str, options: dict[str, Any]) -> bool:
    """The step's models come (at least partly) from costops.yaml, not the command line."""
    return step == "cascade" and not (options.get("from_model") and options.get("to_model"))


def _plan(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    dims: list[Dimension],
    filters: Filters,
    options: dict[str, Any],
    settings: Config,
) -> Simulation:
    """Each lever on what the previous one left, so savings never count twice."""
    order = options.get("order") or list(LEVERS)
    unknown = [step for step in order if step not in LEVERS]
    if unknown or len(set(order)) != len(order):
        raise UsageError(f"--order: expected each of {', '.join(LEVERS)} at most once")
    current, steps, warnings = source, [], []
    spent: tuple[str, ...] = ()  # what `current` reads, dropped once the next lever has read it
    assumptions: dict[str, Any] = {"order": " → ".join(order)}
    for index, step in enumerate(order):
        reason = _configured(step, options, settings) or _unmeant(con, step, options, current)
        if reason:
            steps.append({"step": step, "skipped": reason})
            continue
        try:
            totals, _, step_assumptions, step_warnings = _lever(
                con, step, current, [], options, settings, keep=True
            )
        except UsageError as exc:
            if not _from_config(step, options):
                raise
            # a pair nobody named on this command line must not stop the plan (or the dashboard)
            steps.append({"step": step, "skipped": f"{exc} (pair from costops.yaml)"})
            continue
        _drop(con, spent)
        warnings += step_warnings
        if totals.get("storage_cost"):
            warnings.append(
                f"caching adds ${totals['storage_cost']:,.2f} of cache storage: counted in the "
                "caching step, not carried into the later steps or the plan's total"
            )
        assumptions[step] = step_assumptions
        steps.append({
            "step": step, "cost_before": totals["baseline_cost"],
            "cost_after": totals["simulated_cost"], "savings": totals["savings"],
            "savings_pct": totals["savings_pct"],
        })  # fmt: skip
        nxt = f"_sim_plan_{index}"
        con.execute(f"CREATE OR REPLACE TEMP VIEW {nxt} AS {_next_source(step, options)}")
        current, spent = Source(nxt), (nxt, *TABLES[step])
    select, narrow = keyed(dims)
    for side, start in (("_sim_plan_before", source), ("_sim_plan_after", current)):
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {side} AS "
            f"SELECT {select}sim_cost AS cost, {WEIGHT} FROM {start.sql} p",
            start.params,
        )
    _drop(con, spent)
    views(con, "SELECT * FROM _sim_plan_before", "SELECT * FROM _sim_plan_after")
    totals, rows = compare(con, narrow)
    baseline = totals["baseline_cost"] or 0.0
    for step in steps:
        if "savings" in step:
            step["share_of_baseline"] = step["savings"] / baseline if baseline else None
    alternatives = []
    if options.get("self_host_model"):
        alternative, host_assumptions, host_warnings = _self_host_beside(
            con, source, dims, options, totals
        )
        alternatives.append(alternative)
        assumptions["self-host"] = host_assumptions
        warnings += host_warnings
    return Simulation("plan", [d.name for d in dims], filters, assumptions, totals, rows,
                      warnings, steps, alternatives)  # fmt: skip


def _self_host_beside(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    dims: list[Dimension],
    options: dict[str, Any],
    plan_totals: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Self-hosting the plan's traffic (its input, not what the levers left: it replaces the
    API), one deployment per group, beside the plan's own result."""
    host = SelfHostOptions(
        model=options["self_host_model"], serving=options.get("serving"),
        autoscale=bool(options.get("autoscale")),
    )  # fmt: skip
    totals, _, assumptions, warnings = simulate_self_host(con, source, dims, host)
    after_levers = plan_totals.get("simulated_cost")
    self_host = totals.get("self_host_cost")
    beside = {
        "alternative": f"self-host {host.model}",
        "api_cost": totals.get("api_cost"),
        "self_host_cost": self_host,
        "savings": totals.get("savings"),
        "savings_pct": totals.get("savings_pct"),
        "after_levers": after_levers,
        "against_levers": None if after_levers is None or self_host is None
        else after_levers - self_host,
        "gpus": totals.get("gpus"),
        "verdict": totals.get("verdict"),
    }  # fmt: skip
    return beside, assumptions, [f"self-host: {w}" for w in warnings]
