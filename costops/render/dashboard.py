"""One self-contained HTML dashboard (plotly inlined, works offline) for a cost owner to share."""

from __future__ import annotations

import html
from typing import Any

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from costops.analysis.overview import Overview
from costops.analysis.report import Report
from costops.analysis.simulate.engine import Simulation
from costops.analysis.tasks import TaskReport
from costops.render.columns import money
from costops.render.safe import html_label

PALETTE = [
    "#2f6fbd",
    "#e07b39",
    "#3a9e6f",
    "#c4475c",
    "#8a63b8",
    "#b59a2b",
    "#3fa7b5",
    "#d06fa8",
    "#6b7a8f",
    "#7fb24a",
    "#a0522d",
    "#5f9ea0",
]
LAYOUT = {
    "template": "plotly_white",
    "height": 420,
    "margin": {"l": 70, "r": 30, "t": 60, "b": 60},
    "font": {"family": "Inter, Segoe UI, Helvetica, Arial, sans-serif", "size": 13},
}


def build_dashboard(overview: Overview, title: str) -> str:
    by_feature = overview.by_feature
    colors = {row["feature"]: PALETTE[i % len(PALETTE)] for i, row in enumerate(by_feature.rows)}
    charts = [
        ("pareto", _pareto(by_feature, colors)),
        ("daily", _daily(overview.by_day_feature, colors)),
        ("models", _models(overview.by_model)),
        ("success", _cost_per_success(by_feature, colors)),
        ("caching", _caching(overview.caching, colors)),
        ("waterfall", _waterfall(overview.plan)),
        ("tasks", _tasks(overview.tasks)),
    ]
    blocks = "\n".join(
        f'<section class="chart" id="chart-{name}">'
        + fig.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=f"plot-{name}",
            config={"displayModeBar": False, "responsive": True},
            default_width="100%",
        )
        + "</section>"
        for name, fig in charts
    )
    return PAGE.format(
        title=html.escape(title),
        plotly=get_plotlyjs(),
        note=EMPTY_NOTE if overview.empty else "",
        cards=_cards(by_feature),
        blocks=blocks,
    )


def _money(value: float | None) -> str:
    return "—" if value is None else money(value)


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _cards(report: Report) -> str:
    totals = report.totals
    requests = totals.get("requests") or 0
    unpriced = (totals.get("unpriced_requests") or 0) / requests if requests else 0.0
    # "—" means unpriced (or no evals); with no request in scope the spend is a true zero
    spend = totals.get("cost") if requests else 0.0
    no_evals = "no evals in scope" if totals.get("pass_rate") is None else ""
    cards = [
        ("Spend", _money(spend), ""),
        ("Requests", f"{requests:,}", ""),
        ("Cost per successful output", _money(totals.get("cost_per_success")), no_evals),
        ("Pass rate", _share(totals.get("pass_rate")), no_evals),
        ("Unpriced requests", f"{unpriced:.1%}", ""),
    ]
    return "".join(
        f'<div class="card"><div class="label">{html.escape(k)}</div>'
        f'<div class="value">{html.escape(v)}</div>'
        + (f'<div class="hint">{html.escape(hint)}</div>' if hint else "")
        + "</div>"
        for k, v, hint in cards
    )


def _layout(fig: go.Figure, title: str, **extra: Any) -> go.Figure:
    fig.update_layout(title={"text": title, "x": 0.01}, **LAYOUT, **extra)
    return fig


def _no_data(title: str, why: str) -> go.Figure:
    """An empty state: the chart's title and "no data" where the plot would be, no axes."""
    fig = go.Figure()
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.add_annotation(
        text=f"no data<br><span style='font-size:13px'>{html.escape(why)}</span>",
        xref="paper",
        yref="paper",
        x=0.5,
        y=0.5,
        showarrow=False,
        font={"size": 18, "color": "#888"},
    )
    return _layout(fig, title)


def _pareto(report: Report, colors: dict[str, str]) -> go.Figure:
    title = "Where the money goes: spend by feature (Pareto)"
    if not report.rows:
        return _no_data(title, NO_REQUESTS)
    names = [html_label(r["feature"] or "(none)") for r in report.rows]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_bar(
        x=names,
        y=[r["cost"] or 0 for r in report.rows],
        name="Spend",
        marker_color=[colors.get(r["feature"], "#999") for r in report.rows],
        hovertemplate="%{x}: $%{y:,.2f}<extra></extra>",
    )
    fig.add_scatter(
        x=names,
        y=[(r["cumulative_share"] or 0) * 100 for r in report.rows],
        name="Cumulative share",
        mode="lines+markers",
        line={"color": "#222"},
        hovertemplate="%{x}: %{y:.1f}% of spend<extra></extra>",
        secondary_y=True,
    )
    fig.add_hline(
        y=80,
        line_dash="dash",
        line_color="#c4475c",
        secondary_y=True,
        annotation_text="80 % of spend",
        annotation_position="top right",
    )
    fig.update_yaxes(title_text="Spend (USD)", tickprefix="$", secondary_y=False)
    fig.update_yaxes(
        title_text="Cumulative share of spend (%)", range=[0, 105], dtick=20, secondary_y=True
    )
    _layout(fig, title, showlegend=False)
    fig.update_layout(margin={"l": 70, "r": 80, "t": 60, "b": 90})
    return fig


def _daily(report: Report, colors: dict[str, str]) -> go.Figure:
    title = "Daily spend by feature"
    if not report.rows:
        return _no_data(title, NO_REQUESTS)
    fig = go.Figure()
    features = sorted(
        {r["feature"] for r in report.rows},
        key=lambda f: list(colors).index(f) if f in colors else len(colors),
    )
    for feature in features:
        rows = sorted((r for r in report.rows if r["feature"] == feature), key=lambda r: r["day"])
        fig.add_bar(
            x=[r["day"] for r in rows],
            y=[r["cost"] or 0 for r in rows],
            name=html_label(feature or "(none)"),
            marker_color=colors.get(feature, "#999"),
            hovertemplate="%{x}: $%{y:,.2f}<extra>%{fullData.name}</extra>",
        )
    fig.update_yaxes(title_text="Spend per day (USD)", tickprefix="$")
    return _layout(fig, title, barmode="stack")


def _models(report: Report) -> go.Figure:
    title = "Model mix: spend by model"
    if not report.rows:
        return _no_data(title, NO_REQUESTS)
    fig = go.Figure(
        go.Bar(
            y=[html_label(r["model"]) for r in report.rows][::-1],
            x=[r["cost"] or 0 for r in report.rows][::-1],
            orientation="h",
            marker_color="#2f6fbd",
            hovertemplate="%{y}: $%{x:,.2f}<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="Spend (USD)", tickprefix="$")
    return _layout(fig, title)


def _cost_per_success(report: Report, colors: dict[str, str]) -> go.Figure:
    rows = [r for r in report.rows if r["cost_per_success"] is not None]
    title = "What a successful output costs, by feature"
    if not rows:
        return _no_data(title, "no evals in scope" if report.rows else NO_REQUESTS)
    fig = go.Figure(
        go.Bar(
            x=[html_label(r["feature"]) for r in rows],
            y=[r["cost_per_success"] for r in rows],
            marker_color=[colors.get(r["feature"], "#999") for r in rows],
            text=[f"pass {r['pass_rate']:.0%}" for r in rows],
            textposition="outside",
            hovertemplate="%{x}: $%{y:,.4f} per successful output<extra></extra>",
        )
    )
    fig.update_yaxes(
        title_text="Cost per successful output (USD, log scale)",
        type="log",
        tickprefix="$",
        dtick=1,
    )
    return _layout(fig, title)


def _caching(sim: Simulation, colors: dict[str, str]) -> go.Figure:
    rows = [r for r in sim.rows if r.get("cacheable_requests")]
    ttl = sim.assumptions.get("ttl", "")
    title = f"Prompt caching: simulated savings and hit rate by feature (TTL {html_label(ttl)})"
    if not rows:
        return _no_data(title, "no request with a cacheable prefix" if sim.rows else NO_REQUESTS)
    fig = go.Figure(
        go.Bar(
            x=[html_label(r["feature"]) for r in rows],
            y=[r["savings"] or 0 for r in rows],
            marker_color=[colors.get(r["feature"], "#999") for r in rows],
            text=[
                f"hit rate {r['hit_rate']:.0%}" if r["hit_rate"] is not None else "" for r in rows
            ],
            textposition="outside",
            hovertemplate="%{x}: saves $%{y:,.2f}<extra></extra>",
        )
    )
    fig.update_yaxes(title_text="Simulated savings (USD)", tickprefix="$")
    return _layout(fig, title)


def _waterfall(plan: Simulation) -> go.Figure:
    steps = [s for s in plan.steps if "savings" in s]
    baseline = plan.totals.get("baseline_cost") or 0.0
    title = "Savings waterfall: each lever on what the previous one left"
    if not baseline:
        return _no_data(title, "no priced spend in scope" if plan.steps else NO_REQUESTS)
    fig = go.Figure(
        go.Waterfall(
            x=[
                "Spend today",
                *[html_label(s["step"].capitalize()) for s in steps],
                "After all levers",
            ],
            measure=["absolute", *["relative"] * len(steps), "total"],
            y=[baseline, *[-(s["savings"] or 0) for s in steps], 0],
            connector={"line": {"color": "#888"}},
            decreasing={"marker": {"color": "#3a9e6f"}},
            totals={"marker": {"color": "#2f6fbd"}},
            increasing={"marker": {"color": "#c4475c"}},
            hovertemplate="%{x}: $%{y:,.2f}<extra></extra>",
            showlegend=False,
        )
    )
    for alternative in plan.alternatives:  # beside the levers, not stacked on them
        fig.add_trace(
            go.Bar(
                x=[html_label(f"{alternative['alternative']} instead (not stacked)")],
                y=[alternative["self_host_cost"] or 0],
                marker={"color": "#8a6fb0"},
                hovertemplate="%{x}: $%{y:,.2f}<extra></extra>",
                showlegend=False,
            )
        )
    fig.update_yaxes(title_text="Spend (USD)", tickprefix="$")
    return _layout(fig, title)


def _tasks(report: TaskReport) -> go.Figure:
    rows = report.costliest
    title = "The costliest agent tasks"
    if not rows:
        return _no_data(title, "no agent tasks (requests with a task_id) in scope")
    fig = go.Figure(
        go.Table(
            header={
                "values": ["Task", "Feature", "Calls", "Cost", "Duration", "Eval"],
                "fill_color": "#2f6fbd",
                "font": {"color": "white"},
                "align": "left",
            },
            cells={
                "values": [
                    [html_label(r["task_id"]) for r in rows],
                    [html_label(r.get("feature") or "") for r in rows],
                    [r["calls"] for r in rows],
                    [_money(r["cost"]) for r in rows],
                    [f"{r['duration_s']:,.0f} s" for r in rows],
                    [html_label(r["verdict"] or "—") for r in rows],
                ],
                "align": "left",
            },
        )
    )
    return _layout(fig, title)


NO_REQUESTS = "no requests in scope"
EMPTY_NOTE = '<div class="note">No requests in scope: nothing to chart.</div>'

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<script type="text/javascript">{plotly}</script>
<style>
body {{ font-family: Inter, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0;
       background: #f5f6f8; color: #222; }}
header {{ padding: 24px 32px 8px; }}
h1 {{ font-size: 22px; margin: 0 0 4px; }}
.sub {{ color: #666; font-size: 13px; }}
.note {{ padding: 4px 32px 0; color: #8a5a00; font-size: 14px; }}
.cards {{ display: flex; gap: 16px; padding: 12px 32px; flex-wrap: wrap; }}
.card {{ background: white; border-radius: 8px; padding: 14px 18px; min-width: 170px;
        box-shadow: 0 1px 3px rgba(0,0,0,.08); }}
.card .label {{ color: #666; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }}
.card .value {{ font-size: 24px; font-weight: 600; margin-top: 4px; }}
.card .hint {{ color: #888; font-size: 12px; margin-top: 2px; }}
/* fixed columns: each chart is sized when its script runs, before later charts exist */
.grid {{ display: grid; grid-template-columns: 1fr 1fr; gap: 16px; padding: 12px 32px 32px; }}
@media (max-width: 1100px) {{ .grid {{ grid-template-columns: 1fr; }} }}
.chart {{ background: white; border-radius: 8px; box-shadow: 0 1px 3px rgba(0,0,0,.08);
         padding: 4px; min-width: 0; }}
</style></head>
<body>
<header><h1>{title}</h1>
<div class="sub">Costs after contract discounts; cost per successful output = cost of evaluated
work ÷ outputs that passed their evals. Generated by costops.</div></header>
{note}<div class="cards">{cards}</div>
<main class="grid">
{blocks}
</main>
</body></html>
"""
