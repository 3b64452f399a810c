"""Render a Simulation: savings per group, the assumptions beside the numbers, warnings."""

from __future__ import annotations

from typing import Any

from rich.console import Group

from costops.analysis.simulate.engine import Simulation
from costops.render.columns import Column
from costops.render.formats import ParquetRows, to_csv, to_json, to_markdown
from costops.render.safe import markdown_cell
from costops.render.table import rich_table

SAVINGS_COLUMNS = [
    Column("baseline_cost", "baseline", "money"),
    Column("simulated_cost", "simulated", "money"),
    Column("savings", "savings", "money"),
    Column("savings_pct", "savings %", "pct"),
]
SAVINGS_KEYS = [c.key for c in SAVINGS_COLUMNS]

OWN_COLUMNS = {
    "caching": [
        Column("hit_rate", "hit rate", "pct"),
        Column("actual_hit_rate", "logged", "pct"),
        Column("reads", "reads", "int"),
        Column("writes", "writes", "int"),
        Column("reads_per_write", "r/w", "ratio"),
        Column("break_even_reads", "break-even", "ratio"),
        Column("ceiling_savings", "ceiling", "money"),
        Column("verdict", "verdict"),
    ],
    "batch": [
        Column("eligible_requests", "eligible", "int"),
        Column("eligible_share", "spend that moves", "pct"),
    ],
    "cascade": [
        Column("in_scope_units", "units", "int"),
        Column("escalation_rate", "escalation", "pct"),
        Column("pass_rate_before", "pass before", "pct"),
        Column("pass_rate_after", "pass after", "pct"),
        Column("cost_per_success_before", "cost/success before", "money"),
        Column("cost_per_success_after", "cost/success after", "money"),
    ],
    "output": [
        Column("p50_output_tokens", "p50 out", "int"),
        Column("p95_output_tokens", "p95 out", "int"),
        Column("max_output_tokens", "max out", "int"),
        Column("typical_max_tokens", "max_tokens", "int"),
        Column("truncation_rate", "truncated", "pct"),
        Column("output_share", "output share", "pct"),
        Column("outputs_cut", "cut by cap", "int"),
    ],
    "plan": [],
}
STEP_COLUMNS = [
    Column("step", "step"),
    Column("cost_before", "cost before", "money"),
    Column("savings", "savings", "money"),
    Column("cost_after", "cost after", "money"),
    Column("share_of_baseline", "of baseline", "pct"),
    Column("skipped", "skipped because", "rate"),
]


def envelope(sim: Simulation) -> dict[str, Any]:
    out: dict[str, Any] = {
        "group_by": sim.group_by,
        "currency": "USD",
        "since": sim.filters.since,
        "until": sim.filters.until,
        "simulation": sim.name,
        "assumptions": sim.assumptions,
        "totals": sim.totals,
        "rows": sim.rows,
    }
    if sim.steps:
        out["steps"] = sim.steps
    if sim.warnings:
        out["warnings"] = sim.warnings
    return out


def render(sim: Simulation, fmt: str) -> Any:
    """A string for json/csv/markdown, a rich renderable for table."""
    own = OWN_COLUMNS[sim.name]
    columns = [Column(d, d) for d in sim.group_by] + SAVINGS_COLUMNS + own
    if fmt == "json":
        return to_json(envelope(sim))
    if fmt == "parquet":
        return ParquetRows(sim.rows or [sim.totals])
    if fmt == "csv":
        return to_csv(sim.rows, [*sim.group_by, *SAVINGS_KEYS, *(c.key for c in own)])
    labels = dict.fromkeys(sim.group_by, "")
    totals = {**sim.totals, **labels, **{d: "total" for d in sim.group_by[:1]}}
    notes = _notes(sim.assumptions)
    if fmt == "markdown":
        steps = to_markdown(sim.steps, STEP_COLUMNS) + "\n" if sim.steps else ""
        text = to_markdown(sim.rows, columns, totals)
        return steps + text + "\n" + "\n".join(f"- {markdown_cell(line)}" for line in notes) + "\n"
    table = rich_table(f"What if: {sim.name}", columns, sim.rows, totals, caption="\n".join(notes))
    if not sim.steps:
        return table
    waterfall = rich_table("Savings waterfall (each lever on what the previous left)",
                           STEP_COLUMNS, sim.steps)  # fmt: skip
    return Group(waterfall, table)


def _notes(assumptions: dict[str, Any], prefix: str = "") -> list[str]:
    lines = []
    for key, value in assumptions.items():
        if isinstance(value, dict):
            lines += _notes(value, f"{prefix}{key}.")
        else:
            lines.append(f"{prefix}{key}: {value}")
    return lines
