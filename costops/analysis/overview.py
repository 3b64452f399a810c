"""Everything the dashboard shows, computed in one session."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from costops.analysis.filters import Dimension, Filters, parse_dimensions
from costops.analysis.report import Report, build_report
from costops.analysis.simulate.engine import Simulation, empty_simulation
from costops.analysis.simulate.runner import run
from costops.analysis.tasks import TaskReport, build_tasks


@dataclass
class Overview:
    by_feature: Report
    by_day_feature: Report
    by_model: Report
    caching: Simulation
    plan: Simulation
    tasks: TaskReport

    @property
    def empty(self) -> bool:
        """No request in scope: every chart is an empty state."""
        return not self.by_feature.totals["requests"]


def build_overview(
    con: duckdb.DuckDBPyConnection,
    filters: Filters,
    config: str | None = None,
    embeddings: str | None = None,
    self_host: str | None = None,
) -> Overview:
    """Everything the dashboard shows; `config` is costops.yaml's path (None: ./costops.yaml
    when present): the plan reads its batchable features, latency SLOs and cascade pairs;
    `embeddings` (a file of query embeddings) gives it its semantic cache step, `self_host`
    (an open model) the alternative shown beside it."""

    def dims(spec: str) -> list[Dimension]:
        return parse_dimensions(spec, filters.tz)

    by_feature = build_report(con, dims("feature"), filters)
    if by_feature.totals["requests"]:
        caching = run(con, "caching", dims("feature"), filters, ttl="best")
        plan = run(con, "plan", dims("feature"), filters, config=config, ttl="best",
                   embeddings=embeddings, self_host_model=self_host)  # fmt: skip
    else:  # nothing to replay: the simulations would only price an empty set
        caching = empty_simulation("caching", ["feature"], filters, {"ttl": "best"})
        plan = empty_simulation("plan", ["feature"], filters)
    return Overview(
        by_feature=by_feature,
        by_day_feature=build_report(con, dims("day,feature"), filters),
        by_model=build_report(con, dims("model"), filters),
        caching=caching,
        plan=plan,
        tasks=build_tasks(con, dims("feature"), filters, 10),
    )
