"""Prompt caching on the team's own traffic (SPEC §8, caching).

Requests are grouped by (provider, model, workspace, prefix_hash) in time order. A request is a
hit when the previous request of its group came within the TTL (a gap equal to the TTL is still a
hit; every request refreshes the TTL), else a write. Prefixes shorter than the model's
min_cacheable_tokens, and requests with no prefix identity, are not cacheable. The prefix part of
the input is re-priced at read/write rates; the rest is unchanged. Requests that already cached
more than their prefix (conversation caching) keep their logged behaviour.

One pass: a single lag() window gives each request the gap to the previous request of its group,
and its cost as a hit, a 5-minute write and a 1-hour write (cost.py's costed stages on its unit
prices: caching moves tokens between input classes, which changes no rate). Every TTL, `best`
and the ceiling are then choices among those costs, aggregated from one narrow table.
"""

from __future__ import annotations

from typing import Any

import duckdb

from costops.analysis.exact import money_difference
from costops.analysis.filters import Dimension
from costops.analysis.simulate.engine import (
    PRICE_COLUMNS,
    WEIGHT,
    Source,
    compare,
    keyed,
    views,
    with_cost,
)
from costops.engine import select_list
from costops.errors import UsageError
from costops.render.words import count
from costops.store.migrations import REQUEST_COLUMNS

TTL_SECONDS = {"5m": 300, "1h": 3600}
DEFAULT_MIN_CACHEABLE = 1024
GROUP = "provider, model, workspace, prefix_hash"
GROUP_KEY = "concat_ws('|', provider, model, workspace, prefix_hash)"
TABLE = "_sim_caching"
CHOICE = "_sim_caching_choice"

# Flags per request: identity, minimum length, whether its model bills cache storage.
FLAGGED_SQL = f"""
WITH minimums AS (
    SELECT mm.model, mm.provider, pm.min_cacheable_tokens
    FROM model_map mm LEFT JOIN price_models pm ON pm.model_key = mm.model_key
),
keyed AS (
    SELECT p.*, m.min_cacheable_tokens AS sim_min_cacheable
    FROM {{source}} p
    LEFT JOIN minimums m ON m.model = p.model AND m.provider IS NOT DISTINCT FROM p.provider
),
flagged AS (
    SELECT *,
        prefix_hash IS NOT NULL AND COALESCE(prefix_tokens, 0) > 0 AS sim_has_prefix,
        COALESCE(prefix_tokens, 0) >= COALESCE(sim_min_cacheable, {DEFAULT_MIN_CACHEABLE})
            AS sim_long_enough,
        cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens
            <= COALESCE(prefix_tokens, 0) AS sim_prefix_only
    FROM keyed
)
SELECT *,
    sim_has_prefix AND sim_long_enough AND sim_prefix_only AND prefix_tokens <= input_tokens
        AS sim_cacheable,
    cache_read_tokens > 0 AS sim_logged_read,
    cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens > 0 AS sim_logged_cache,
    COALESCE(model_key IN (SELECT model_key FROM price_versions
                           WHERE cache_storage_per_mtok_hour IS NOT NULL), false) AS sim_stored,
    (r_cache_write_5m - r_input) / NULLIF(r_input - r_cache_read, 0) AS sim_break_even_5m,
    (r_cache_write_1h - r_input) / NULLIF(r_input - r_cache_read, 0) AS sim_break_even_1h
FROM flagged
"""

# A cacheable request's prefix as a hit (read), a 5-minute write or a 1-hour write.
VARIANTS = {
    "sim_hit_cost": ("prefix_tokens", "0", "0"),
    "sim_write_5m_cost": ("0", "prefix_tokens", "0"),
    "sim_write_1h_cost": ("0", "0", "prefix_tokens"),
}
CACHE_TOKENS = ("cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens")

# What the aggregates read, computed before the window and carried through it: these columns,
# and (see _extra) a TTL's own costs and ratios, storage's where a model bills it and the
# prefix group for `best` and storage; every other column is NULL after the window.
NARROW = (
    "sim_weight, sim_cost, sim_hit_cost, sim_write_5m_cost, sim_cacheable, sim_has_prefix, "
    "sim_long_enough, sim_logged_read, sim_logged_cache"
)
BY_TTL = {
    "5m": ("sim_break_even_5m",),
    "1h": ("sim_write_1h_cost", "sim_break_even_1h"),
    "best": ("sim_write_1h_cost", "sim_break_even_5m", "sim_break_even_1h"),
}
STORED = {
    "sim_stored_id": ("request_id", "VARCHAR"),
    "sim_stored_ts": ("ts", "TIMESTAMP"),
    "sim_stored_prefix": ("prefix_tokens", "BIGINT"),
    "sim_stored_key": ("model_key", "VARCHAR"),
    "sim_stored_from": ("price_effective_from", "TIMESTAMP"),
}
GAP_SQL = f"""(epoch_ms(ts) - lag(epoch_ms(ts)) OVER (
    PARTITION BY {GROUP} ORDER BY ts, request_id)) / 1000.0 AS sim_gap_s"""
STORAGE_COLUMNS = (
    "CAST(NULL AS DOUBLE) AS sim_storage_5m",
    "CAST(NULL AS DOUBLE) AS sim_storage_1h",
)
# Whether any model the requests are priced with bills cache storage.
STORAGE_BILLED_SQL = """
SELECT count(*) > 0 FROM price_versions
WHERE cache_storage_per_mtok_hour IS NOT NULL
  AND model_key IN (SELECT model_key FROM model_map UNION SELECT model_key FROM name_versions)
"""


def build(
    con: duckdb.DuckDBPyConnection, source: Source, dims: list[Dimension], ttl: str, keep: bool
) -> bool:
    """The one pass: every request of `source` with its flags, its cache costs and the gap to
    the previous request of its prefix group (one window over the narrow columns, or with
    `keep` every column of the source too). Returns whether any model bills cache storage."""
    row = con.execute(STORAGE_BILLED_SQL).fetchone()
    stores = bool(row and row[0])
    costed = f"({FLAGGED_SQL.replace('{source}', source.sql)})"
    for name, tokens in VARIANTS.items():
        costed = with_cost(
            con, costed, source.params, dict(zip(CACHE_TOKENS, tokens, strict=True)), name
        )
    carried, absent = _extra(ttl, stores, keep)
    select, _ = keyed(dims)
    if keep:
        inner, outer = "*", "*"
    else:
        inner = f"{GROUP}, ts, request_id, {select}{NARROW}"
        outer = ", ".join([*(f"_sim_d{i}" for i in range(len(dims))), NARROW, *carried])
    extra = "".join(f", {sql} AS {name}" for name, sql in carried.items())
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {TABLE} AS
        SELECT {outer}, {GAP_SQL}, {", ".join([*absent, *STORAGE_COLUMNS])}
        FROM (SELECT {inner}{extra} FROM {costed} p)
        """,
        source.params,
    )
    return stores


def _extra(ttl: str, stores: bool, keep: bool) -> tuple[dict[str, str], list[str]]:
    """The columns beyond NARROW: those carried through the window (name -> SQL before it) and
    those NULL after it (SELECT items)."""
    grouped = "TRUE" if ttl == "best" else "sim_stored"
    wanted = {
        **{name: (f"CASE WHEN sim_stored THEN {column} END", kind, stores)
           for name, (column, kind) in STORED.items()},
        "sim_group": (f"CASE WHEN {grouped} THEN {GROUP_KEY} END", "VARCHAR",
                      stores or ttl == "best"),
    }  # fmt: skip
    if not keep:  # a plan's step keeps every column
        for column in dict.fromkeys(c for columns in BY_TTL.values() for c in columns):
            wanted[column] = (column, "DOUBLE", column in BY_TTL[ttl])
    carried = {name: sql for name, (sql, _, needed) in wanted.items() if needed}
    absent = [f"CAST(NULL AS {kind}) AS {name}" for name, (_, kind, needed) in wanted.items()
              if not needed]  # fmt: skip
    return carried, absent


def _hit(ttl: str | None) -> str:
    """Whether a request hits the cache under `ttl` (an SQL expression of '5m' or '1h'; None:
    the ceiling, where every repeat hits)."""
    if ttl is None:
        return "(sim_cacheable AND sim_gap_s IS NOT NULL)"
    limit = f"CASE WHEN {ttl} = '5m' THEN {TTL_SECONDS['5m']} ELSE {TTL_SECONDS['1h']} END"
    return f"(sim_cacheable AND sim_gap_s IS NOT NULL AND sim_gap_s <= {limit})"


def _cost(ttl: str | None, storage: bool = True) -> str:
    """A request's cost under `ttl` (see _hit): the hit or write cost when it is cacheable, the
    logged cost when not; a write's cache storage added where billed."""
    if ttl is None:
        write = "sim_write_5m_cost"
    else:
        write = f"CASE WHEN {ttl} = '5m' THEN sim_write_5m_cost ELSE sim_write_1h_cost END"
    cached = f"CASE WHEN {_hit(ttl)} THEN sim_hit_cost ELSE {write} END"
    if storage:
        held = f"CASE WHEN {ttl} = '5m' THEN sim_storage_5m ELSE sim_storage_1h END"
        cached = f"CASE WHEN {held} IS NULL THEN {cached} ELSE {cached} + {held} END"
    return f"CASE WHEN sim_cacheable THEN {cached} ELSE sim_cost END"


def _tokens(ttl: str) -> dict[str, str]:
    """The cache token columns of the scenario under `ttl` (see _hit)."""
    hit, write = _hit(ttl), f"(sim_cacheable AND NOT {_hit(ttl)})"
    return {
        "cache_read_tokens": f"CASE WHEN {hit} THEN prefix_tokens "
        "WHEN sim_cacheable THEN 0 ELSE cache_read_tokens END",
        "cache_write_5m_tokens": f"CASE WHEN {write} AND {ttl} = '5m' THEN prefix_tokens "
        "WHEN sim_cacheable THEN 0 ELSE cache_write_5m_tokens END",
        "cache_write_1h_tokens": f"CASE WHEN {write} AND {ttl} = '1h' THEN prefix_tokens "
        "WHEN sim_cacheable THEN 0 ELSE cache_write_1h_tokens END",
    }


def _scenario(ttl: str) -> str:
    """The requests under the TTL `ttl` ('5m', '1h' or 'best': the cheaper per prefix group,
    by the sums in CHOICE; a group whose sums are unknown is left out, as it always was)."""
    if ttl == "best":
        chosen = "CASE WHEN c.short_wins THEN '5m' ELSE '1h' END"
        source = (
            f"{TABLE} s JOIN {CHOICE} c ON c.sim_group = s.sim_group WHERE c.short_wins IS NOT NULL"
        )
    else:
        chosen, source = f"'{ttl}'", f"{TABLE} s"
    return f"(SELECT s.*, {chosen} AS sim_ttl FROM {source})"


def after_sql(ttl: str) -> str:
    """The scenario's requests with their cost, hit flag and storage."""
    held = "CASE WHEN sim_ttl = '5m' THEN sim_storage_5m ELSE sim_storage_1h END"
    return (
        f"SELECT *, {_cost('sim_ttl')} AS cost, {_hit('sim_ttl')} AS sim_hit, "
        f"COALESCE({held}, CAST(0 AS DOUBLE)) AS sim_storage_cost FROM {_scenario(ttl)}"
    )


def next_source(ttl: str) -> str:
    """The scenario as a plan's next Source: the simulated cache tokens and their cost (the
    storage stays with this step: the next lever prices tokens)."""
    tokens = _tokens("sim_ttl")
    columns = [f"{tokens[c]} AS {c}" if c in tokens else c for c in REQUEST_COLUMNS]
    price = {**{c: c for c in PRICE_COLUMNS}, "sim_cost": f"{_cost('sim_ttl', storage=False)}"}
    prices = [f"{expression} AS {c}" for c, expression in price.items()]
    return f"SELECT {', '.join([*columns, WEIGHT, *prices])} FROM {_scenario(ttl)}"


EXTRAS_SQL = """
    sum(CASE WHEN p.sim_cacheable THEN 1 ELSE 0 END) AS cacheable_requests,
    sum(CASE WHEN p.sim_hit THEN 1 ELSE 0 END) AS reads,
    sum(CASE WHEN p.sim_cacheable AND NOT p.sim_hit THEN 1 ELSE 0 END) AS writes,
    sum(CASE WHEN p.sim_hit THEN 1 ELSE 0 END)
        / NULLIF(sum(CASE WHEN p.sim_cacheable THEN 1 ELSE 0 END), 0) AS hit_rate,
    sum(CASE WHEN p.sim_hit THEN 1 ELSE 0 END)
        / NULLIF(sum(CASE WHEN p.sim_cacheable AND NOT p.sim_hit THEN 1 ELSE 0 END), 0)
        AS reads_per_write,
    CASE WHEN sum(CASE WHEN p.sim_cacheable AND p.sim_logged_cache THEN 1 ELSE 0 END) > 0
         THEN sum(CASE WHEN p.sim_cacheable AND p.sim_logged_read THEN 1 ELSE 0 END)
              / sum(CASE WHEN p.sim_cacheable THEN 1 ELSE 0 END) END AS actual_hit_rate,
    -- marginal: (write - base) / (base - read), at the TTL of the request's group
    avg(CASE WHEN p.sim_cacheable THEN CASE WHEN p.sim_ttl = '1h' THEN p.sim_break_even_1h
                                            ELSE p.sim_break_even_5m END END)
        AS break_even_reads,
    money_sum(p.sim_storage_cost * p.sim_weight) AS storage_cost,
    sum(CASE WHEN NOT p.sim_has_prefix THEN 1 ELSE 0 END) AS no_prefix_requests,
    sum(CASE WHEN p.sim_has_prefix AND NOT p.sim_long_enough THEN 1 ELSE 0 END)
        AS below_minimum_requests
"""
# The ceiling (every repeat a hit, written at the 5m rate, no storage) over every request: on
# the baseline's side, which no TTL choice leaves a request out of.
CEILING_SQL = f"money_sum(({_cost(None, storage=False)}) * p.{WEIGHT}) AS sim_ceiling_cost"


def simulate_caching(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    dims: list[Dimension],
    ttl: str,
    keep: bool = False,
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """Compare `source` as logged (BEFORE) with simulated caching (AFTER); add the ceiling and
    a verdict per row. Returns totals, rows, assumptions; with `keep`, AFTER keeps every
    column (see next_source)."""
    if ttl not in ("5m", "1h", "best"):
        raise UsageError(f"--ttl {ttl}: expected 5m, 1h or best")
    if build(con, source, dims, ttl, keep):
        for name in ("5m", "1h") if ttl == "best" else (ttl,):
            add_storage(con, name)
    if ttl == "best":
        _choose(con)
    _, narrow = keyed(dims)
    views(con, f"SELECT *, sim_cost AS cost FROM {TABLE}", after_sql(ttl))
    totals, rows = compare(con, narrow, EXTRAS_SQL, CEILING_SQL)
    for row in [totals, *rows]:
        row["ceiling_cost"] = row.pop("sim_ceiling_cost")
        row["ceiling_savings"] = (
            money_difference(row["baseline_cost"], row["ceiling_cost"])
            if row["baseline_cost"] is not None and row["ceiling_cost"] is not None
            else None
        )
        row["verdict"] = _verdict(row)
    assumptions = {
        "ttl": ttl,
        "rule": "a request is a hit when the previous request with the same provider, model, "
        "workspace and prefix came within the TTL (equal counts); every request refreshes it",
        "prefix": "only the prefix part of the input is re-priced at cache read/write rates",
        "min_cacheable_tokens": f"per model from the pricing tables ({DEFAULT_MIN_CACHEABLE} "
        "when a table has none)",
        "baseline": "the logged behaviour, cache use included",
        "storage": "billed where the pricing table has cache_storage_per_mtok_hour: each "
        "entry from its write to its last hit plus the TTL (the ceiling leaves storage out)",
        "not_modelled": "provider-side evictions before the TTL",
        # `best` leaves unpriced groups out: with nothing priced, the scenario has no request
        "not_simulated": f"{count(totals['no_prefix_requests'] or 0, 'request')} without a "
        f"prefix identity, {totals['below_minimum_requests'] or 0:,} with a prefix below the "
        "model's minimum",
        "hint": "requests without prefix_hash/prefix_tokens cannot be simulated: log a hash and "
        "the token count of the stable prompt prefix (system prompt + tools)",
    }
    return totals, rows, assumptions


# Providers that bill cache storage (cache_storage_per_mtok_hour): each cache entry is held from
# its write until its last hit plus the TTL; the write request carries the storage cost.
STORAGE_SQL = """
WITH chained AS (
    SELECT sim_stored_id, sim_group, sim_stored_ts, sim_stored_prefix, sim_stored_key,
        sim_stored_from,
        sum(CASE WHEN {hit} THEN 0 ELSE 1 END) OVER (
            PARTITION BY sim_group ORDER BY sim_stored_ts, sim_stored_id
            ROWS UNBOUNDED PRECEDING) AS chain
    FROM {table}
    WHERE sim_cacheable AND sim_stored_id IS NOT NULL
),
held AS (
    SELECT arg_min(sim_stored_id, sim_stored_ts) AS request_id,
        any_value(sim_stored_key) AS model_key, any_value(sim_stored_from) AS price_effective_from,
        max(sim_stored_prefix) AS prefix_tokens,
        (epoch(max(sim_stored_ts)) - epoch(min(sim_stored_ts)) + {ttl_s}) / 3600.0 AS hours
    FROM chained GROUP BY sim_group, chain
),
stored AS (
    SELECT h.request_id,
        max(h.hours * h.prefix_tokens / 1e6 * v.cache_storage_per_mtok_hour) AS storage
    FROM held h JOIN price_versions v
      ON v.model_key = h.model_key AND v.effective_from = h.price_effective_from
    WHERE v.cache_storage_per_mtok_hour IS NOT NULL
    GROUP BY h.request_id
)
SELECT {columns} FROM {table} t LEFT JOIN stored s ON t.sim_stored_id = s.request_id
"""


def add_storage(con: duckdb.DuckDBPyConnection, ttl: str) -> None:
    """Cache storage under `ttl` where the pricing table bills it (the table is rebuilt with
    the storage costs in place: a SELECT, not an UPDATE, runs on every engine)."""
    column = f"sim_storage_{ttl}"
    kept = select_list(con, TABLE, replace={column: "s.storage"}, prefix="t.")
    sql = STORAGE_SQL.format(
        table=TABLE, hit=_hit(f"'{ttl}'"), ttl_s=float(TTL_SECONDS[ttl]), columns=kept
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE {TABLE} AS {sql}")


def _choose(con: duckdb.DuckDBPyConnection) -> None:
    """Per prefix group, whichever TTL is cheaper (5 minutes on a tie), by its exact sums."""
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE {CHOICE} AS
    SELECT sim_group, money_sum(({_cost("'5m'")}) * {WEIGHT})
        <= money_sum(({_cost("'1h'")}) * {WEIGHT}) AS short_wins
    FROM {TABLE} GROUP BY sim_group
    """)


def _verdict(row: dict[str, Any]) -> str:
    if not row.get("cacheable_requests"):
        return "no data"
    savings, baseline = row.get("savings") or 0.0, row.get("baseline_cost") or 0.0
    if abs(savings) <= 1e-6 * max(baseline, 1e-9):  # the logs already cache like this
        return "already caching" if row.get("actual_hit_rate") is not None else "no change"
    return "cache" if savings > 0 else "don't cache"
