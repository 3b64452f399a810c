"""Self-hosting an open model instead of the API (SPEC §8, self-host): an alternative, not a
lever a plan stacks.

Per group (its own deployment) and per hour of the period, the tokens the API served become
GPU load on the serving table's throughput: load = input/3600 ÷ prefill_tps + output/3600 ÷
decode_tps (GPUs busy at full throughput), and the hour needs gpus = max(min_replicas,
ceil(load / target_utilization)) (in whole replicas when a replica spans several GPUs). The SQL
sums tokens per group and hour (a few hundred rows); the GPU arithmetic runs on those, in exact
fractions so a load on a boundary needs exactly the GPUs it fills.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import duckdb

from costops.analysis.filters import TIME_DIMENSIONS, Dimension, grouping
from costops.analysis.session import fetch_dicts
from costops.analysis.simulate.engine import WEIGHT, Source
from costops.analysis.simulate.serving import PRECISIONS, ServingTable, Throughput, load_serving
from costops.errors import UsageError

HOURS_PER_MONTH = 730  # 365 x 24 / 12
# A pass rate this much under the API's is "clearly worse" (5 points).
QUALITY_MARGIN = 0.05
# Under this share of the target utilisation the GPUs are "mostly idle".
IDLE_SHARE = 0.5
# What a row carries for the totals to add up, dropped before it is shown.
INTERNAL = ("_load", "_gpu_hours", "_cost_per_day")

# Tokens per group and hour (UTC) of the stored requests (weight 1: an alternative reads the
# stored requests, never a plan step's scenario).
HOURLY_SQL = """
SELECT {keys}date_trunc('hour', p.ts) AS sim_hour, sum(p.input_tokens) AS input_tokens,
    sum(p.output_tokens) AS output_tokens
FROM {source} p
GROUP BY {group}
"""

# Requests and API cost per group, the costliest first (as compare orders its rows).
GROUPS_SQL = """
SELECT {keys}count(*) AS requests, count(p.sim_cost) AS priced_requests,
    CAST(decimal_sum(p.sim_cost * p.{weight}) AS DOUBLE) AS api_cost
FROM {source} p
{group_by}
ORDER BY api_cost DESC NULLS LAST{order}
"""

# Per group: the units with a shadow eval of the candidate model (each evaluator's latest
# verdict; a unit passes when all of them passed), and the units the API's answers were
# evaluated on.
PASS_SQL = """
WITH latest AS (
    SELECT e.unit_id, e.passed, row_number() OVER (
        PARTITION BY e.unit_id, e.evaluator ORDER BY e.ts DESC NULLS LAST, e.run_id DESC,
        e.line_no DESC) AS pick
    FROM eval_targets e
    WHERE e.shadow AND lower(e.model) = lower(?)
),
shadow AS (SELECT unit_id, bool_and(passed) AS passed FROM latest WHERE pick = 1 GROUP BY unit_id),
units AS (SELECT DISTINCT {keys}COALESCE(p.task_id, p.request_id) AS unit_id FROM {source} p)
SELECT {unit_keys}sum(CASE WHEN s.unit_id IS NOT NULL THEN 1 ELSE 0 END) AS measured_units,
    sum(CASE WHEN s.passed THEN 1 ELSE 0 END) AS passed_units,
    sum(CASE WHEN st.unit_id IS NOT NULL THEN 1 ELSE 0 END) AS evaluated_units,
    sum(CASE WHEN st.success THEN 1 ELSE 0 END) AS successful_units
FROM units u
LEFT JOIN shadow s ON s.unit_id = u.unit_id
LEFT JOIN unit_status st ON st.unit_id = u.unit_id
{group_by}
"""


@dataclass(frozen=True)
class SelfHostOptions:
    model: str
    serving: str | None = None
    gpu: str | None = None
    gpu_price: float | None = None
    precision: str = "fp8"
    target_utilization: float = 0.6
    min_replicas: int = 1
    autoscale: bool = False
    fine_tune_cost: float = 0.0
    amortize_months: float = 12.0
    assumed_pass_rate: float | None = None

    def check(self) -> None:
        """Refuse values no deployment can have (the CLI checks the amounts)."""
        if not 0 < self.target_utilization <= 1:
            raise UsageError(
                f"--target-utilization {self.target_utilization:g}: expected a fraction above 0 "
                "and at most 1"
            )
        if self.min_replicas < 0:
            raise UsageError(f"--min-replicas {self.min_replicas}: expected 0 or more")
        if self.precision not in PRECISIONS:
            raise UsageError(f"--precision {self.precision}: expected {', '.join(PRECISIONS)}")
        if not (math.isfinite(self.amortize_months) and self.amortize_months > 0):
            raise UsageError(f"--amortize-months {self.amortize_months:g}: expected months > 0")
        if self.assumed_pass_rate is not None and not 0 <= self.assumed_pass_rate <= 1:
            raise UsageError(
                f"--assumed-pass-rate {self.assumed_pass_rate:g}: expected a fraction from 0 to 1"
            )


@dataclass(frozen=True)
class Deployment:
    """What serving the model costs and needs, from what the GPU arithmetic gives."""

    throughput: Throughput
    price: float  # USD per GPU-hour
    options: SelfHostOptions
    hours: int  # in the period
    fine_tune_period: float  # the fine-tune's share that falls in the period, USD
    fine_tune_day: float  # the fine-tune amortised per day, USD

    def hourly_gpus(self, load: Fraction) -> int:
        """GPUs an hour with `load` (GPUs busy at full throughput) needs, in whole replicas."""
        per = self.throughput.gpus_per_replica
        wanted = load / Fraction(str(self.options.target_utilization)) / per
        return per * max(self.options.min_replicas, math.ceil(wanted))

    def load(self, input_tokens: int, output_tokens: int) -> Fraction:
        t = self.throughput
        return Fraction(input_tokens, 3600) / Fraction(str(t.prefill_tokens_per_s)) + Fraction(
            output_tokens, 3600
        ) / Fraction(str(t.decode_tokens_per_s))


def simulate_self_host(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    dims: list[Dimension],
    options: SelfHostOptions,
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any], list[str]]:
    """Compare the API's cost of `source` with serving options.model on rented GPUs, per
    group and in total."""
    table, throughput, price = validate(options)
    timed = [d.name for d in dims if d.name in TIME_DIMENSIONS]
    if timed:
        raise UsageError(
            f"self-host --by {','.join(timed)}: a deployment runs the whole period; group by "
            "what would be served apart (feature, model, customer, ...), not by time"
        )
    hourly = _hourly(con, source, dims)
    first, last = min(h["sim_hour"] for h in hourly), max(h["sim_hour"] for h in hourly)
    hours = int((last - first) / dt.timedelta(hours=1)) + 1
    share = min(1.0, hours / (options.amortize_months * HOURS_PER_MONTH))
    deployment = Deployment(
        throughput, price, options, hours, options.fine_tune_cost * share,
        options.fine_tune_cost * 24 / (options.amortize_months * HOURS_PER_MONTH),
    )  # fmt: skip
    names = [d.name for d in dims]
    groups = _by_key(names, fetch_dicts(con, _groups_sql(source, dims), source.params))
    quality = _by_key(names, fetch_dicts(con, _pass_sql(source, dims),
                                         [options.model, *source.params]))  # fmt: skip
    loads: dict[tuple[Any, ...], list[Fraction]] = {}
    for h in hourly:
        load = deployment.load(h["input_tokens"] or 0, h["output_tokens"] or 0)
        loads.setdefault(_key(names, h), []).append(load)
    total_requests = sum(g["requests"] for g in groups.values())
    rows = []
    try:
        for key, group in groups.items():
            row = _row(deployment, loads[key], group, group["requests"] / total_requests)
            rows.append({**_quality(quality.get(key), options.assumed_pass_rate), **row})
        totals = _totals(con, source, deployment, rows) if dims else rows[0]
    except OverflowError:
        totals = {"self_host_cost": math.inf}
    if not math.isfinite(totals["self_host_cost"]):
        raise UsageError(
            "self-host: the GPUs or their cost are too large to compute: check "
            "--target-utilization, --min-replicas, --gpu-price and the serving table's figures"
        )
    for row in [*rows, totals] if dims else [totals]:
        for internal in INTERNAL:
            del row[internal]
        row["verdict"] = _verdict(row, options.target_utilization)
    warnings = []
    unpriced = totals["requests"] - totals.pop("priced_requests", totals["requests"])
    for row in rows:
        row.pop("priced_requests", None)
    if unpriced:
        warnings.append(
            f"{unpriced} requests in scope are unpriced: their tokens load the GPUs, but the API "
            "cost and the cost per request (break-even) count the priced ones only"
        )
    if totals["pass_rate"] is None:
        warnings.append(
            f"quality unmeasured: no shadow eval names {options.model}; pass "
            "--assumed-pass-rate R or run shadow evals before moving work to it"
        )
    assumptions = _assumptions(table, deployment, first, last, totals["measured_units"])
    return totals, rows if dims else [], assumptions, warnings


def validate(options: SelfHostOptions) -> tuple[ServingTable, Throughput, float]:
    """The serving table, the model's row and the GPU price, each option checked (also when no
    request is in scope: a bad option is an error either way)."""
    options.check()
    table = load_serving(options.serving)
    throughput = table.pick(options.model, options.gpu, options.precision)
    return table, throughput, _price(table, throughput, options)


def _price(table: ServingTable, throughput: Throughput, options: SelfHostOptions) -> float:
    if options.gpu_price is not None:
        return options.gpu_price
    gpu = table.gpu(throughput.gpu)
    if gpu is None:
        raise UsageError(
            f"--gpu {throughput.gpu}: no price in the serving table; pass --gpu-price USD or add "
            "it under gpus: in --serving FILE"
        )
    return gpu.price_per_hour


def _hourly(
    con: duckdb.DuckDBPyConnection, source: Source, dims: list[Dimension]
) -> list[dict[str, Any]]:
    g = grouping(dims)
    group = ", ".join([*(f'"{d.name}"' for d in dims), "sim_hour"])
    sql = HOURLY_SQL.format(keys=g.keys, source=source.sql, group=group)
    return fetch_dicts(con, sql, source.params)


def _groups_sql(source: Source, dims: list[Dimension]) -> str:
    g = grouping(dims)
    return GROUPS_SQL.format(keys=g.keys, weight=WEIGHT, source=source.sql,
                             group_by=g.group_by, order=g.order)  # fmt: skip


def _pass_sql(source: Source, dims: list[Dimension]) -> str:
    units = grouping([Dimension(d.name, f'u."{d.name}"') for d in dims])
    return PASS_SQL.format(keys=grouping(dims).keys, source=source.sql, unit_keys=units.keys,
                           group_by=units.group_by)  # fmt: skip


def _key(names: list[str], row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[n] for n in names)


def _by_key(names: list[str], rows: list[dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {_key(names, row): row for row in rows}


def _row(
    deployment: Deployment, loads: list[Fraction], group: dict[str, Any], share: float
) -> dict[str, Any]:
    """One deployment's GPUs and cost over the period (the hours without requests at
    min_replicas, load 0), against its API cost."""
    options = deployment.options
    busy = [deployment.hourly_gpus(load) for load in loads]
    idle_hours = deployment.hours - len(loads)
    idle = deployment.hourly_gpus(Fraction(0))
    peak = max([*busy, idle] if idle_hours else busy)
    gpu_hours = sum(busy) + idle_hours * idle if options.autoscale else peak * deployment.hours
    fine_tune = deployment.fine_tune_period * share
    self_host = gpu_hours * deployment.price + fine_tune
    # a day of GPUs: the peak all day when always on; autoscaled, the GPU-hours paid per day
    day_gpus = gpu_hours * 24 / deployment.hours if options.autoscale else peak * 24
    return _compared(group, {
        "self_host_cost": self_host,
        "gpus": peak,
        "gpu_hours": gpu_hours,
        "load": sum(loads, Fraction(0)),
        "cost_per_day": day_gpus * deployment.price + deployment.fine_tune_day * share,
        "hours": deployment.hours,
    })  # fmt: skip


def _compared(group: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    """The simulation envelope and the self-host keys, from the group's API side and `own`."""
    api, requests = group["api_cost"], group["requests"]
    priced = group.get("priced_requests", requests)
    self_host = own["self_host_cost"]
    savings = None if api is None else api - self_host
    per_request = api / priced if api and priced else None
    return {
        **{k: v for k, v in group.items() if k not in ("api_cost", "requests")},
        "priced_requests": priced,
        "baseline_cost": api,
        "simulated_cost": self_host,
        "savings": savings,
        "savings_pct": savings / api if savings is not None and api else None,
        "api_cost": api,
        "self_host_cost": self_host,
        "requests": requests,
        "requests_per_day": requests * 24 / own["hours"],
        "gpus": own["gpus"],
        "mean_utilization": float(own["load"] / own["gpu_hours"]) if own["gpu_hours"] else None,
        "break_even_requests_per_day": own["cost_per_day"] / per_request if per_request else None,
        "_load": own["load"],
        "_gpu_hours": own["gpu_hours"],
        "_cost_per_day": own["cost_per_day"],
    }


def _totals(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    deployment: Deployment,
    rows: list[dict[str, Any]],
) -> dict[str, Any]:
    """Every group's deployment together: their GPUs and costs added, the API cost summed
    exactly over the requests."""
    group = fetch_dicts(con, _groups_sql(source, []), source.params)[0]
    quality = fetch_dicts(con, _pass_sql(source, []), [deployment.options.model, *source.params])
    own = {
        "self_host_cost": sum(r["self_host_cost"] for r in rows),
        "gpus": sum(r["gpus"] for r in rows),
        "gpu_hours": sum(r["_gpu_hours"] for r in rows),
        "load": sum((r["_load"] for r in rows), Fraction(0)),
        "cost_per_day": sum(r["_cost_per_day"] for r in rows),
        "hours": deployment.hours,
    }
    return {**_quality(quality[0], deployment.options.assumed_pass_rate), **_compared(group, own)}


def _quality(counts: dict[str, Any] | None, assumed: float | None) -> dict[str, Any]:
    """The candidate's pass rate (measured where shadow evals name it, else the assumed one)
    and the API's, over the group's units."""
    counts = counts or {}
    measured, evaluated = counts.get("measured_units") or 0, counts.get("evaluated_units") or 0
    return {
        "pass_rate": counts["passed_units"] / measured if measured else assumed,
        "api_pass_rate": counts["successful_units"] / evaluated if evaluated else None,
        "measured_units": measured,
    }


def _verdict(row: dict[str, Any], target: float) -> str | None:
    """self-host: it saves, and its pass rate is not clearly worse than the API's (when both
    are known); stay on API: it costs as much or more although the GPUs are well used, or its
    pass rate is clearly worse; not enough volume: it costs as much or more and the GPUs are
    mostly idle."""
    if row["savings"] is None:
        return None
    model, api = row["pass_rate"], row["api_pass_rate"]
    if model is not None and api is not None and model < api - QUALITY_MARGIN - 1e-9:
        return "stay on API"
    if row["savings"] > 0:
        return "self-host"
    utilization = row["mean_utilization"]
    if utilization is not None and utilization < target * IDLE_SHARE:
        return "not enough volume"
    return "stay on API"


def _assumptions(
    table: ServingTable,
    deployment: Deployment,
    first: dt.datetime,
    last: dt.datetime,
    measured_units: int,
) -> dict[str, Any]:
    options, t = deployment.options, deployment.throughput
    origin = (
        f"the shipped serving table (as of {table.as_of})"
        if t.origin.startswith("costops/")
        else t.origin
    )
    served = f" (served as {t.id})" if t.id.lower() != options.model.lower() else ""
    gpu = table.gpu(t.gpu)
    price_source = (
        "--gpu-price"
        if options.gpu_price is not None
        else f"{gpu.source or gpu.origin}, {gpu.date}"
        if gpu
        else ""
    )
    quality = (
        f"measured from shadow evals of {options.model} on {measured_units} units (each "
        "evaluator's latest verdict; a unit passes when all passed)"
        + (f"; groups without any assume {options.assumed_pass_rate:.0%}"
           if options.assumed_pass_rate is not None else "")
        if measured_units
        else f"assumed {options.assumed_pass_rate:.0%} (--assumed-pass-rate; no shadow eval "
        f"names {options.model})"
        if options.assumed_pass_rate is not None
        else f"unmeasured: no shadow eval names {options.model} (pass_rate null)"
    )  # fmt: skip
    return {
        "model": f"{options.model}{served} on {t.gpu} at {t.precision}: prefill "
        f"{t.prefill_tokens_per_s:,.0f} and decode {t.decode_tokens_per_s:,.0f} tokens/s per "
        f"GPU, {t.gpus_per_replica} GPU(s) per replica; from {origin}"
        + (f" ({t.source}; {t.note})" if t.source or t.note else ""),
        "gpu_price": f"${deployment.price:g} per GPU-hour ({price_source})",
        "period": f"{deployment.hours} hours, {first:%Y-%m-%d %H}:00 to {last:%Y-%m-%d %H}:59 "
        "UTC (first to last hour with a request in scope); hours without requests run "
        f"{options.min_replicas} replica(s) at load 0",
        "load": "per group and hour, load = input tokens/3600 ÷ prefill tokens/s + output "
        "tokens/3600 ÷ decode tokens/s (GPUs busy at full throughput)",
        "gpus": f"per hour, max({options.min_replicas}, ceil(load ÷ {options.target_utilization:g}"
        f" ÷ GPUs per replica)) replicas; `gpus` is the peak hour's",
        "cost": "autoscaled: each hour's GPUs x price, summed"
        if options.autoscale
        else "always on: the peak hour's GPUs x every hour of the period x price",
        "utilization": "mean_utilization = Σ load ÷ GPU-hours paid (always on: peak x hours)",
        "fine_tune": f"${options.fine_tune_cost:g} over {options.amortize_months:g} months "
        f"({HOURS_PER_MONTH} h each): ${deployment.fine_tune_period:,.2f} falls in the period, "
        "shared by the groups in proportion to their requests"
        if options.fine_tune_cost
        else "none",
        "break_even": "requests/day at which the API costs what self-hosting does: (a day of "
        "GPUs x price + the fine-tune per day) ÷ (API cost ÷ priced requests); a day of GPUs is "
        + ("the GPU-hours paid per day (autoscaled)" if options.autoscale else "peak GPUs x 24"),
        "quality": quality,
        "verdict": f"self-host: saves, and pass rate not more than {QUALITY_MARGIN:.0%} points "
        "under the API's (when both are known); stay on API: costs as much or more with "
        f"mean utilisation at least {IDLE_SHARE:.0%} of the target, or a pass rate more than "
        f"{QUALITY_MARGIN:.0%} points under the API's; not enough volume: costs as much or "
        f"more with mean utilisation under {IDLE_SHARE:.0%} of the target (requests/day under "
        "break-even)",
        "deployments": "each group is its own deployment; totals add their GPUs and costs",
        "alternative": "self-host replaces the API for the group's whole traffic: an "
        "alternative, not a lever stacked in `simulate plan`",
        "advice": "serve with continuous batching (vLLM: GPU utilisation ~60-80 % instead of "
        "~15-30 % unbatched); FP8 is effectively lossless and the default; INT4 only with "
        "task evals that pass; a small fine-tuned model can cost 5-20x less on repetitive "
        "work",
    }
