"""Exports: FinOps FOCUS 1.3 cost rows and the priced requests, to CSV or Parquet (DuckDB COPY)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from costops.analysis.filters import Filters, where_clause
from costops.engine import fetched, is_spark
from costops.errors import UsageError
from costops.render.safe import csv_sql

# Each request is billed in up to seven classes, each a SKU of its model: (class, the SKU it
# prices, the SKU meter, the FOCUS 1.5 draft's AI properties TokenDirection and CacheAction, the
# cache lifetime, whether it is priced per token). Reasoning tokens are a class of their own only
# where their price differs from output's. A per-request fee is priced per request, the same
# whatever the tier, input size, region or time of day.
SKU_CLASSES_SQL = """
(VALUES ('input', 'input', 'Input Tokens', 'Input', 'None', NULL, true),
        ('cache_read', 'cache_read', 'Cache Read Tokens', 'Input', 'Read', NULL, true),
        ('cache_write_5m', 'cache_write', 'Cache Write Tokens', 'Input', 'Write', '5m', true),
        ('cache_write_1h', 'cache_write', 'Cache Write Tokens', 'Input', 'Write', '1h', true),
        ('output', 'output', 'Output Tokens', 'Output', 'None', NULL, true),
        ('reasoning', 'reasoning', 'Reasoning Tokens', 'Output', 'None', NULL, true),
        ('request', 'request', 'Requests', NULL, NULL, NULL, false))
    c(token_class, sku_class, meter, direction, cache_action, cache_ttl, per_token)
"""

# Daily rows per billing account, provider, SKU price (a model's class at one price: cache
# lifetime, batch or service tier, input-size threshold, region, time-of-day window), feature and
# customer. ContractedUnitPrice is what the request paid after the contract discount, ListUnitPrice
# the same before it; both per million tokens (per request for a fee), so each cost is its unit
# price times PricingQuantity, and the rows sum to the report in either basis.
FOCUS_SQL = """
WITH priced AS (
    SELECT p.*,
        p.unit_reasoning IS DISTINCT FROM p.unit_output AS reasoning_priced,
        COALESCE(p.tier_name, CASE WHEN p.is_batch AND p.batch_multiplier IS NOT NULL
                                   THEN 'batch' END) AS price_tier,
        CASE WHEN p.window_from_minute IS NOT NULL
             THEN {from_clock} || '-' || {to_clock} || ' ' || p.window_timezone END
            AS price_window
    FROM priced_requests p
    WHERE p.cost IS NOT NULL AND {where}
),
classes AS (
    SELECT p.*, c.*,
        CASE c.token_class
            WHEN 'input' THEN p.uncached_input_tokens
            WHEN 'cache_read' THEN p.cache_read_tokens
            WHEN 'cache_write_5m' THEN p.cache_write_5m_tokens
            WHEN 'cache_write_1h' THEN p.cache_write_1h_tokens
            WHEN 'output' THEN p.output_tokens
                               - CASE WHEN p.reasoning_priced THEN p.reasoning_tokens ELSE 0 END
            WHEN 'reasoning' THEN CASE WHEN p.reasoning_priced THEN p.reasoning_tokens ELSE 0 END
            -- a call that used no tokens pays no fee, as in priced_requests' cost
            ELSE CASE WHEN p.unit_request > 0 AND (p.input_tokens > 0 OR p.output_tokens > 0)
                      THEN 1 ELSE 0 END
        END AS consumed,
        CASE c.token_class
            WHEN 'input' THEN p.unit_input
            WHEN 'cache_read' THEN p.unit_cache_read
            WHEN 'cache_write_5m' THEN p.unit_cache_write_5m
            WHEN 'cache_write_1h' THEN p.unit_cache_write_1h
            WHEN 'output' THEN p.unit_output
            WHEN 'reasoning' THEN p.unit_reasoning
            ELSE p.unit_request
        END AS contracted_price,
        CASE WHEN c.per_token THEN p.price_tier END AS sku_tier,
        CAST(CASE WHEN c.per_token THEN p.price_above_input_tokens END AS VARCHAR) AS sku_above,
        CASE WHEN c.per_token THEN p.price_region END AS sku_region,
        CASE WHEN c.per_token THEN p.price_window END AS sku_window
    FROM priced p CROSS JOIN {sku_classes}
),
daily AS (
    SELECT CAST(date_trunc('day', ts) AS TIMESTAMP) AS day,
        upper(left(COALESCE(provider, 'unknown'), 1)) || substr(COALESCE(provider, 'unknown'), 2)
            AS provider_name,
        model_key, substr(model_key, strpos(model_key, '/') + 1) AS model_id,
        COALESCE(workspace, 'default') AS account, feature, customer, region, contract,
        token_class, sku_class, meter, direction, cache_action, cache_ttl, per_token,
        sku_tier, sku_above, sku_region, sku_window,
        contracted_price, contracted_price / (1.0 - contract_discount) AS list_price,
        CASE WHEN per_token THEN 1e6 ELSE 1.0 END AS pricing_block,
        CAST(sum(consumed) AS BIGINT) AS consumed, count(*) AS requests
    FROM classes WHERE consumed > 0
    GROUP BY ALL
),
skus AS (
    SELECT *,
        consumed / pricing_block AS pricing_quantity,
        contracted_price * consumed / pricing_block AS contracted_cost,
        list_price * consumed / pricing_block AS list_cost,
        model_key || ':' || sku_class AS sku_id,
        concat_ws(';', model_key || ':' || sku_class, 'ttl=' || cache_ttl, 'tier=' || sku_tier,
                  'input_above=' || sku_above, 'region=' || sku_region, 'window=' || sku_window)
            AS sku_price_id,
        '{{' || concat_ws(',', '"x_ModelId":' || to_json(model_id),
                          '"x_TokenDirection":' || to_json(direction),
                          '"x_CacheAction":' || to_json(cache_action),
                          CASE WHEN token_class = 'reasoning' THEN '"x_Reasoning":true' END,
                          '"x_CacheTtl":' || to_json(cache_ttl),
                          '"x_ServiceTier":' || to_json(sku_tier),
                          '"x_InputTokensAbove":' || to_json(sku_above),
                          '"x_Region":' || to_json(sku_region),
                          '"x_TimeOfDay":' || to_json(sku_window)) || '}}' AS price_details,
        NULLIF('{{' || concat_ws(',', '"feature":' || to_json(feature),
                                 '"customer":' || to_json(customer)) || '}}', '{{}}') AS tags
    FROM daily
)
SELECT
    contracted_cost AS BilledCost,
    account AS BillingAccountId, account AS BillingAccountName, 'USD' AS BillingCurrency,
    strftime(date_trunc('month', day) + INTERVAL 1 MONTH, '%Y-%m-%dT%H:%M:%SZ') AS BillingPeriodEnd,
    strftime(date_trunc('month', day), '%Y-%m-%dT%H:%M:%SZ') AS BillingPeriodStart,
    'Usage' AS ChargeCategory, CAST(NULL AS VARCHAR) AS ChargeClass,
    model_id || ' ' || lower(meter)
        || CASE WHEN cache_ttl IS NOT NULL THEN ' (' || cache_ttl || ')' ELSE '' END
        AS ChargeDescription,
    'Usage-Based' AS ChargeFrequency,
    strftime(day + INTERVAL 1 DAY, '%Y-%m-%dT%H:%M:%SZ') AS ChargePeriodEnd,
    strftime(day, '%Y-%m-%dT%H:%M:%SZ') AS ChargePeriodStart,
    consumed AS ConsumedQuantity,
    CASE WHEN per_token THEN 'Tokens' ELSE 'Requests' END AS ConsumedUnit,
    contracted_cost AS ContractedCost, contracted_price AS ContractedUnitPrice,
    contracted_cost AS EffectiveCost,
    provider_name AS HostProviderName, provider_name AS InvoiceIssuerName,
    list_cost AS ListCost, list_price AS ListUnitPrice,
    'Standard' AS PricingCategory, pricing_quantity AS PricingQuantity,
    CASE WHEN per_token THEN '1000000 Tokens' ELSE 'Requests' END AS PricingUnit,
    region AS RegionId, region AS RegionName,
    'AI and Machine Learning' AS ServiceCategory, provider_name || ' API' AS ServiceName,
    provider_name AS ServiceProviderName, 'Generative AI' AS ServiceSubcategory,
    sku_id AS SkuId, meter AS SkuMeter, price_details AS SkuPriceDetails,
    sku_price_id AS SkuPriceId, tags AS Tags,
    feature AS x_Feature, customer AS x_Customer, token_class AS x_TokenClass,
    requests AS x_Requests, contract AS x_Contract
FROM skus
ORDER BY ChargePeriodStart, ServiceProviderName, BillingAccountId, SkuPriceId, x_Feature,
    x_Customer, RegionId, x_Contract, ContractedUnitPrice, ListUnitPrice
"""


def _clock(minutes: str) -> str:
    """A minute of the day as HH:MM, in SQL."""
    hours = f"CAST(floor({minutes} / 60) AS INTEGER)"
    return (
        f"lpad(CAST({hours} AS VARCHAR), 2, '0') || ':' "
        f"|| lpad(CAST({minutes} % 60 AS VARCHAR), 2, '0')"
    )


FOCUS_SQL = (
    FOCUS_SQL.replace("{from_clock}", _clock("p.window_from_minute"))
    .replace("{to_clock}", _clock("p.window_to_minute"))
    .replace("{sku_classes}", SKU_CLASSES_SQL.strip())
)

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
    if is_spark(con):
        if what != "focus":
            raise UsageError(
                "export requests --engine spark: every priced request would come to this "
                "machine; on Spark, read the lake there (or export from a DuckDB store)"
            )
        with fetched(con, sql, params) as local:
            return export_rows(local, "SELECT * FROM _fetched", [], target)
    return export_rows(con, sql, params, target)


def export_rows(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[object], target: Path
) -> int:
    """Write the rows of `sql` to target (.csv, guarded, or .parquet) with DuckDB's COPY."""
    suffix = target.suffix.lower()
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
