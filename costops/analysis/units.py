"""Units, verdicts and shadow evals (SPEC §6): the queries the priced cache keeps the answers of.

A unit is a task when the request has a task_id, else the request. An eval keyed by a request
inside a task is a verdict on the task. A unit succeeds when every evaluator's latest verdict
passed. An eval naming a model the unit did not use is a shadow eval of a candidate model: set
aside for the cascade simulation, never a verdict on the original.

Each query gives the columns a stored row adds to the evals or requests it stands for, with that
row's position (rowid): costops.analysis.cache stores them in that order, beside the table they
extend, and names the two side by side as the view (eval_targets, evaluated_requests). Each
query reads the one before it by its view name, and the rows it answers for from a scope view
(every row for a full build, the new and touched ones for an incremental one).
"""

from costops.rates.cost import priced_select

# Only an eval that names a model can be a shadow eval: the requests of its unit are looked at
# for those evals alone, the others are verdicts as they stand.
EVAL_TARGETS_SQL = """
WITH keyed AS (
    SELECT e.eval_row, e.model, COALESCE(e.task_id, r.task_id, r.request_id) AS unit_id
    FROM scoped_evals e
    LEFT JOIN requests r ON e.task_id IS NULL AND r.request_id = e.request_id
),
named AS (
    SELECT k.*, mm.model_key AS eval_model_key
    FROM keyed k
    LEFT JOIN model_map mm ON mm.provider IS NULL AND mm.model = k.model
    WHERE k.model IS NOT NULL
),
unit_models AS (
    SELECT DISTINCT n.unit_id, lower(r.model) AS model_name, mm.model_key
    FROM requests r
    JOIN (SELECT DISTINCT unit_id FROM named) n ON n.unit_id = COALESCE(r.task_id, r.request_id)
    LEFT JOIN model_map mm ON mm.model = r.model AND mm.provider IS NOT DISTINCT FROM r.provider
)
SELECT eval_row, unit_id, CAST(NULL AS VARCHAR) AS eval_model_key, false AS shadow
FROM keyed WHERE model IS NULL
UNION ALL
SELECT eval_row, unit_id, eval_model_key, NOT EXISTS (
    SELECT 1 FROM unit_models um
    WHERE um.unit_id = n.unit_id
      AND (um.model_name = lower(n.model) OR um.model_key = n.eval_model_key)
) AS shadow
FROM named n
"""

# Each evaluator's latest verdict on a unit: the latest time (a verdict without one counts as
# older than any with one), then the latest run and line.
UNIT_STATUS_SQL = """
SELECT unit_id, bool_and(passed) AS success
FROM (
    SELECT unit_id, arg_max(passed, (ts IS NOT NULL, ts, run_id, line_no)) AS passed
    FROM scoped_targets
    WHERE NOT shadow AND unit_id IS NOT NULL
    GROUP BY unit_id, evaluator
)
GROUP BY unit_id
"""

# Every analysis reads this: priced requests with their unit's verdict (NULL: not evaluated).
EVALUATED_REQUESTS_SQL = """
SELECT p.*, u.unit_id IS NOT NULL AS unit_evaluated, COALESCE(u.success, false) AS unit_success
FROM ({priced}) p LEFT JOIN unit_status u ON u.unit_id = p.unit_id
""".replace("{priced}", priced_select("scoped_requests"))

# The scopes of a full build: every eval and request with its position, every eval's target.
FULL_SCOPES = {
    "scoped_evals": "SELECT rowid AS eval_row, * FROM evals",
    "scoped_targets": "SELECT * FROM eval_targets",
    "scoped_requests": "SELECT rowid AS request_row, * FROM requests",
}

# (view, the query of what its stored rows add, the column holding their position) in build order
UNIT_VIEWS = (
    ("eval_targets", EVAL_TARGETS_SQL, "eval_row"),
    ("unit_status", UNIT_STATUS_SQL, None),
    ("evaluated_requests", EVALUATED_REQUESTS_SQL, "request_row"),
)
