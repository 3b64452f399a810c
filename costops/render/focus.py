"""Exports: FinOps FOCUS 1.2 cost rows and the priced requests, to CSV or Parquet (DuckDB COPY)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from costops.analysis.filters import Filters, where_clause
from costops.errors import UsageError
from costops.render.safe import csv_sql

# Daily rows per provider, model, feature and token class. List prices only so far, so billed,
# effective, list and contracted cost are the same number.
FOCUS_SQL = """
WITH classes AS (
    SELECT p.*, c.token_class,
        CASE c.token_class WHEN 'input' THEN p.cost_input WHEN 'cache_read' THEN p.cost_cache_read
             WHEN 'cache_write' THEN p.cost_cache_write ELSE p.cost_output END AS class_cost,
        CASE c.token_class WHEN 'input' THEN p.uncached_input_tokens
             WHEN 'cache_read' THEN p.cache_read_tokens
             WHEN 'cache_write' THEN p.cache_write_5m_tokens + p.cache_write_1h_tokens
             ELSE p.output_tokens END AS class_tokens
    FROM priced_requests p
    CROSS JOIN (VALUES ('input'), ('cache_read'), ('cache_write'), ('output')) c(token_class)
    WHERE p.cost IS NOT NULL AND {where}
),
daily AS (
    SELECT CAST(date_trunc('day', ts) AS TIMESTAMP) AS day,
        upper(left(COALESCE(provider, 'unknown'), 1)) || substr(COALESCE(provider, 'unknown'), 2)
            AS provider_name,
        COALESCE(model_key, model) AS sku_model, model,
        feature, COALESCE(workspace, 'default') AS account, token_class,
        sum(class_cost) AS cost, sum(class_tokens) AS tokens,
        sum(cache_read_tokens) AS cache_read,
        sum(cache_write_5m_tokens + cache_write_1h_tokens) AS cache_write, count(*) AS requests
    FROM classes GROUP BY ALL HAVING sum(class_tokens) > 0 OR sum(class_cost) <> 0
)
SELECT
    cost AS BilledCost, cost AS EffectiveCost, cost AS ListCost, cost AS ContractedCost,
    account AS BillingAccountId, account AS BillingAccountName, 'USD' AS BillingCurrency,
    strftime(date_trunc('month', day), '%Y-%m-%dT%H:%M:%SZ') AS BillingPeriodStart,
    strftime(date_trunc('month', day) + INTERVAL 1 MONTH, '%Y-%m-%dT%H:%M:%SZ') AS BillingPeriodEnd,
    'Usage' AS ChargeCategory, NULL AS ChargeClass,
    model || ' ' || replace(token_class, '_', ' ') || ' tokens' AS ChargeDescription,
    'Usage-Based' AS ChargeFrequency,
    strftime(day, '%Y-%m-%dT%H:%M:%SZ') AS ChargePeriodStart,
    strftime(day + INTERVAL 1 DAY, '%Y-%m-%dT%H:%M:%SZ') AS ChargePeriodEnd,
    provider_name AS InvoiceIssuerName, provider_name AS ProviderName,
    provider_name AS PublisherName,
    tokens / 1e6 AS PricingQuantity, 'Million Tokens' AS PricingUnit,
    tokens AS ConsumedQuantity, 'Tokens' AS ConsumedUnit,
    'AI and Machine Learning' AS ServiceCategory, 'Generative AI' AS ServiceSubcategory,
    provider_name || ' API' AS ServiceName,
    sku_model || ':' || token_class AS SkuId,
    feature AS x_Feature, token_class AS x_TokenClass, requests AS x_Requests,
    cache_read AS x_CacheReadTokens, cache_write AS x_CacheWriteTokens
FROM daily
ORDER BY ChargePeriodStart, ProviderName, SkuId, x_Feature
"""

REQUESTS_SQL = """
SELECT request_id, strftime(ts, '%Y-%m-%dT%H:%M:%S.%gZ') AS timestamp, provider, model,
    model_key AS priced_as, feature, task_id, trace_id, session_id, customer, prompt_template,
    environment, workspace, input_tokens, cache_read_tokens, cache_write_5m_tokens,
    cache_write_1h_tokens, output_tokens, reasoning_tokens, prefix_hash, prefix_tokens,
    max_tokens, finish_reason, status, latency_ms, batch, service_tier, region, long_context,
    cost_input, cost_cache_read, cost_cache_write, cost_output, cost, logged_cost,
    unit_id, unit_evaluated, unit_success, attributes
FROM evaluated_requests p WHERE {where}
ORDER BY ts, request_id
"""


def export(con: duckdb.DuckDBPyConnection, what: str, filters: Filters, target: Path) -> int:
    """Write `what` (focus | requests) to target (.csv or .parquet); returns the rows written."""
    suffix = target.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise UsageError(f"{target}: write .csv or .parquet")
    where, params = where_clause(filters)
    sql = (FOCUS_SQL if what == "focus" else REQUESTS_SQL).format(where=where)
    path = str(target).replace("'", "''")
    options = "FORMAT parquet" if suffix == ".parquet" else "FORMAT csv, HEADER"
    copied = sql if suffix == ".parquet" else _csv_guarded(con, sql, params)
    row = con.execute(f"COPY ({copied}) TO '{path}' ({options})", params).fetchone()
    return int(row[0]) if row else 0  # COPY answers the number of rows written


def _csv_guarded(con: duckdb.DuckDBPyConnection, sql: str, params: list[object]) -> str:
    """`sql` with every text column through the CSV guard (formula starts, control characters);
    numbers stay numbers. Parquet keeps the values as they are: it is typed, not parsed."""
    described = con.execute(f"SELECT * FROM ({sql}) LIMIT 0", params).description
    text = [str(name) for name, kind, *_ in described if str(kind) == "VARCHAR"]
    if not text:
        return sql
    quoted = [f'"{name}"' for name in text]
    guarded = ", ".join(f"{csv_sql(column)} AS {column}" for column in quoted)
    return f"SELECT * REPLACE ({guarded}) FROM ({sql})"
