"""Units, verdicts and shadow evals (SPEC §6); computed once per command (temp tables).

A unit is a task when the request has a task_id, else the request. An eval keyed by a request
inside a task is a verdict on the task. A unit succeeds when every evaluator's latest verdict
passed. An eval naming a model the unit did not use is a shadow eval of a candidate model: set
aside for the cascade simulation, never a verdict on the original.
"""

EVAL_TARGETS_SQL = """
CREATE OR REPLACE TEMP TABLE eval_targets AS
WITH targeted AS (
    SELECT e.*, COALESCE(e.task_id, r.task_id, r.request_id) AS unit_id,
           mm.model_key AS eval_model_key
    FROM evals e
    LEFT JOIN requests r ON e.task_id IS NULL AND r.request_id = e.request_id
    LEFT JOIN model_map mm ON mm.provider IS NULL AND mm.model = e.model
),
-- only units with an eval naming a model can have a shadow eval: look at their models alone
named AS (SELECT DISTINCT unit_id FROM targeted WHERE model IS NOT NULL),
unit_models AS (
    SELECT DISTINCT n.unit_id, lower(r.model) AS model_name, mm.model_key
    FROM requests r
    JOIN named n ON n.unit_id = COALESCE(r.task_id, r.request_id)
    LEFT JOIN model_map mm ON mm.model = r.model AND mm.provider IS NOT DISTINCT FROM r.provider
)
SELECT t.*,
       t.model IS NOT NULL AND NOT EXISTS (
           SELECT 1 FROM unit_models um
           WHERE um.unit_id = t.unit_id
             AND (um.model_name = lower(t.model) OR um.model_key = t.eval_model_key)
       ) AS shadow
FROM targeted t
"""

UNIT_STATUS_SQL = """
CREATE OR REPLACE TEMP TABLE unit_status AS
WITH latest AS (
    SELECT unit_id, evaluator, passed,
           row_number() OVER (
               PARTITION BY unit_id, evaluator
               ORDER BY ts DESC NULLS LAST, run_id DESC, line_no DESC
           ) AS pick
    FROM eval_targets
    WHERE NOT shadow AND unit_id IS NOT NULL
)
SELECT unit_id, bool_and(passed) AS success FROM latest WHERE pick = 1 GROUP BY unit_id
"""

# Every analysis reads this: priced requests with their unit's verdict (NULL: not evaluated).
EVALUATED_REQUESTS_SQL = """
CREATE OR REPLACE TEMP VIEW evaluated_requests AS
SELECT p.*, u.unit_id IS NOT NULL AS unit_evaluated, COALESCE(u.success, false) AS unit_success
FROM priced_requests p LEFT JOIN unit_status u ON u.unit_id = p.unit_id
"""

UNIT_VIEWS = (EVAL_TARGETS_SQL, UNIT_STATUS_SQL, EVALUATED_REQUESTS_SQL)
