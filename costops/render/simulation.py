"""A Simulation as a Result: savings per group, the assumptions beside the numbers, warnings."""

from __future__ import annotations

from typing import Any

from costops.analysis.simulate.engine import Simulation
from costops.render.columns import Column
from costops.render.result import Result, Section, scope_meta

SAVINGS_COLUMNS = [
    Column("baseline_cost", "baseline", "money", priority=1),
    Column("simulated_cost", "simulated", "money", priority=1),
    Column("savings", "savings", "money"),
    Column("savings_pct", "savings %", "pct", priority=1),
]
SAVINGS_KEYS = [c.key for c in SAVINGS_COLUMNS]

OWN_COLUMNS = {
    "caching": [
        Column("hit_rate", "hit rate", "pct", priority=2),
        Column("actual_hit_rate", "logged", "pct", priority=4),
        Column("reads", "reads", "int", priority=4),
        Column("writes", "writes", "int", priority=4),
        Column("reads_per_write", "r/w", "ratio", priority=5),
        Column("break_even_reads", "break-even", "ratio", priority=5),
        Column("ceiling_savings", "ceiling", "money", priority=3),
        Column("verdict", "verdict"),
    ],
    "batch": [
        Column("eligible_requests", "eligible", "int", priority=2),
        Column("eligible_share", "spend that moves", "pct", priority=1),
    ],
    "cascade": [
        Column("in_scope_units", "units", "int", priority=3),
        Column("escalation_rate", "escalation", "pct", priority=1),
        Column("pass_rate_before", "pass before", "pct", priority=2),
        Column("pass_rate_after", "pass after", "pct", priority=2),
        Column("cost_per_success_before", "cost/success before", "money", priority=3),
        Column("cost_per_success_after", "cost/success after", "money", priority=3),
    ],
    "output": [
        Column("p50_output_tokens", "p50 out", "int", priority=3),
        Column("p95_output_tokens", "p95 out", "int", priority=3),
        Column("max_output_tokens", "max out", "int", priority=4),
        Column("typical_max_tokens", "max_tokens", "int", priority=4),
        Column("truncation_rate", "truncated", "pct", priority=2),
        Column("output_share", "output share", "pct", priority=2),
        Column("outputs_cut", "cut by cap", "int", priority=3),
    ],
    "semantic-cache": [
        Column("requests", "requests", "int", priority=4),
        Column("hits", "hits", "int", priority=3),
        Column("hit_rate", "hit rate", "pct", priority=1),
        Column("embedding_cost", "embeddings", "money", priority=2),
        Column("risk", "hits from failed answers", "pct", priority=2),
        Column("precision", "precision", "pct", priority=2),
        Column("recall", "recall", "pct", priority=3),
        Column("verdict", "verdict"),
    ],
    "self-host": [
        Column("requests", "requests", "int", priority=4),
        Column("gpus", "GPUs", "int", priority=1),
        Column("mean_utilization", "utilization", "pct", priority=2),
        Column("break_even_requests_per_day", "break-even req/day", "num", priority=3),
        Column("pass_rate", "pass rate", "pct", priority=2),
        Column("api_pass_rate", "API pass rate", "pct", priority=3),
        Column("verdict", "verdict"),
        Column("api_cost", "API cost", "money", priority=5),
        Column("self_host_cost", "self-host cost", "money", priority=5),
    ],
    "plan": [],
}
ALTERNATIVE_COLUMNS = [
    Column("alternative", "alternative"),
    Column("api_cost", "API today", "money", priority=1),
    Column("self_host_cost", "instead", "money", priority=1),
    Column("savings", "savings", "money"),
    Column("savings_pct", "savings %", "pct", priority=2),
    Column("after_levers", "after all levers", "money", priority=2),
    Column("against_levers", "saves beyond the levers", "money", priority=2),
    Column("gpus", "GPUs", "int", priority=3),
    Column("verdict", "verdict"),
]
STEP_COLUMNS = [
    Column("step", "step"),
    Column("cost_before", "cost before", "money", priority=1),
    Column("savings", "savings", "money"),
    Column("cost_after", "cost after", "money", priority=1),
    Column("share_of_baseline", "of baseline", "pct", priority=2),
    Column("skipped", "skipped because", "rate", priority=3),
]


def simulation_result(sim: Simulation) -> Result:
    own = OWN_COLUMNS[sim.name]
    columns = [Column(d, d) for d in sim.group_by] + SAVINGS_COLUMNS + own
    notes = _notes(sim.assumptions) if sim.assumptions else ["No request in scope."]
    sections = [Section("rows", f"What if: {sim.name}", columns, sim.rows, sim.totals)]
    if sim.steps:
        title = "Savings waterfall (each lever on what the previous left)"
        sections.insert(0, Section("steps", title, STEP_COLUMNS, sim.steps))
    if sim.alternatives:
        title = "Beside the waterfall: the API replaced, not stacked on the levers"
        sections.insert(1, Section("alternatives", title, ALTERNATIVE_COLUMNS, sim.alternatives))
    meta = {**scope_meta(sim.group_by, sim.filters), "simulation": sim.name,
            "assumptions": sim.assumptions, "warnings": sim.warnings}  # fmt: skip
    keys = [*sim.group_by, *SAVINGS_KEYS, *(c.key for c in own)]
    return Result(meta, sections, notes, csv_keys=keys)


def _notes(assumptions: dict[str, Any], prefix: str = "") -> list[str]:
    lines = []
    for key, value in assumptions.items():
        if isinstance(value, dict):
            lines += _notes(value, f"{prefix}{key}.")
        else:
            lines.append(f"{prefix}{key}: {value}")
    return lines
