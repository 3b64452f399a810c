"""Everything the dashboard shows, computed in one session."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from costops.analysis.filters import Dimension, Filters, parse_dimensions
from costops.analysis.report import Report, build_report
from costops.analysis.simulate.engine import Simulation
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


def build_overview(
    con: duckdb.DuckDBPyConnection, filters: Filters, batchable: list[str]
) -> Overview:
    def dims(spec: str) -> list[Dimension]:
        return parse_dimensions(spec, filters.tz)

    return Overview(
        by_feature=build_report(con, dims("feature"), filters),
        by_day_feature=build_report(con, dims("day,feature"), filters),
        by_model=build_report(con, dims("model"), filters),
        caching=run(con, "caching", dims("feature"), filters, ttl="best"),
        plan=run(con, "plan", dims("feature"), filters, ttl="best", features=batchable),
        tasks=build_tasks(con, dims("feature"), filters, 10),
    )
