"""One entry point for every simulation, and the plan that stacks them."""

from __future__ import annotations

from typing import Any

import duckdb

from costops.analysis.filters import Dimension, Filters
from costops.analysis.simulate.batch import simulate_batch
from costops.analysis.simulate.caching import simulate_caching
from costops.analysis.simulate.cascade import simulate_cascade
from costops.analysis.simulate.engine import (
    AFTER,
    BEFORE,
    Simulation,
    compare,
    load_input,
    price,
    select_requests,
)
from costops.analysis.simulate.output import simulate_output
from costops.errors import UsageError

LEVERS = ("cascade", "caching", "output", "batch")


def run(
    con: duckdb.DuckDBPyConnection,
    name: str,
    dims: list[Dimension],
    filters: Filters,
    **options: Any,
) -> Simulation:
    source = load_input(con, filters)
    if name == "plan":
        return _plan(con, source, dims, filters, options)
    totals, rows, assumptions, warnings = _lever(con, name, source, dims, options)
    return Simulation(name, [d.name for d in dims], filters, assumptions, totals, rows, warnings)


def _lever(
    con: duckdb.DuckDBPyConnection,
    name: str,
    source: str,
    dims: list[Dimension],
    options: dict[str, Any],
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any], list[str]]:
    if name == "caching":
        return (*simulate_caching(con, source, dims, options.get("ttl", "5m")), [])
    if name == "batch":
        features = options.get("features") or []
        if not features:
            raise UsageError(
                "batch: name the features that can wait up to 24 h: --features A,B "
                "(or `batchable: true` under features: in costops.yaml)"
            )
        return (*simulate_batch(con, source, dims, features), [])
    if name == "output":
        return (*simulate_output(con, source, dims, options.get("trim") or 0.0,
                                 options.get("cap")), [])  # fmt: skip
    if name == "cascade":
        if not options.get("from_model") or not options.get("to_model"):
            raise UsageError("cascade: --from MODEL and --to MODEL are required")
        return simulate_cascade(
            con, source, dims, options["from_model"], options["to_model"],
            options.get("mode") or "cascade", options.get("escalation_rate"),
            options.get("output_ratio") or 1.0,
        )  # fmt: skip
    raise UsageError(f"unknown simulation {name!r} (choose from {', '.join(LEVERS)}, plan)")


def _configured(name: str, options: dict[str, Any]) -> str | None:
    """Why a lever cannot run in a plan with these options, or None when it can."""
    if name == "cascade" and not (options.get("from_model") and options.get("to_model")):
        return "no --from/--to pair"
    if name == "batch" and not options.get("features"):
        return "no batchable features (--features or costops.yaml)"
    if name == "output" and not (options.get("trim") or options.get("cap")):
        return "no --trim or --cap"
    return None


def _plan(
    con: duckdb.DuckDBPyConnection,
    source: str,
    dims: list[Dimension],
    filters: Filters,
    options: dict[str, Any],
) -> Simulation:
    """Each lever on what the previous one left, so savings never count twice."""
    order = options.get("order") or list(LEVERS)
    unknown = [step for step in order if step not in LEVERS]
    if unknown or len(set(order)) != len(order):
        raise UsageError(f"--order: expected each of {', '.join(LEVERS)} at most once")
    current, steps, warnings = source, [], []
    assumptions: dict[str, Any] = {"order": " → ".join(order)}
    for index, step in enumerate(order):
        reason = _configured(step, options)
        if reason:
            steps.append({"step": step, "skipped": reason})
            continue
        totals, _, step_assumptions, step_warnings = _lever(con, step, current, [], options)
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
        con.execute(f"CREATE OR REPLACE TEMP TABLE {nxt} AS {select_requests(AFTER)}")
        if current != source:  # the previous step's requests are no longer needed
            con.execute(f"DROP TABLE {current}")
        current = nxt
    price(con, source, BEFORE)
    price(con, current, AFTER)
    totals, rows = compare(con, dims)
    baseline = totals["baseline_cost"] or 0.0
    for step in steps:
        if "savings" in step:
            step["share_of_baseline"] = step["savings"] / baseline if baseline else None
    return Simulation("plan", [d.name for d in dims], filters, assumptions, totals, rows,
                      warnings, steps)  # fmt: skip
