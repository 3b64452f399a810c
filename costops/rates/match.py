"""The one place a logged (provider, model) name meets a pricing table entry.

A name is looked up as logged and, when it carries a `prefix/`, without it (`openai/gpt-4o`,
`models/gemini-2.5-pro`), under the prefix's provider when the request names none a table knows
(`litellm`). Candidates are ranked, best first:
1. the provider: the request's own provider's table (logged provider names are mapped onto the
   tables' ids: `bedrock` → `aws`, `vertex_ai` → `google`, …), then the providers its file names
   as `fallback_providers` in order; only when the request names no provider that has a table
   (none, or one no table knows), a provider whose `model_match` claims the name (`claude*` →
   anthropic), then any provider (both guesses, shown by `pricing coverage`);
2. an alias, then an exact name before a pattern;
3. the name as logged before the name without its prefix; a longer literal pattern before a
   shorter one;
4. a user's table before the packaged one (a later --pricing directory before an earlier one),
   then the order of the entries in their file.
Two entries of one provider that tie are an error naming both; a tie between providers (a
guess) goes to the first provider by name. Over time, among the candidates as specific as the
best (same provider rank, exactness, form and literal length: a user's entry and the packaged
one for the same name), the best one with a price version in force at the request's time prices
it: a user's table dated from D leaves the packaged price in force before D, and a broader
pattern never fills in after a specific entry's last version ends.
"""

from __future__ import annotations

from typing import Any

import duckdb

from costops.errors import PricingError
from costops.rates.tables import MatchPattern, PricingTables

# Provider names as logs write them (LiteLLM's custom_llm_provider, OTel gen_ai.provider.name,
# gateways) → the provider ids of the tables (genai-prices' ids).
PROVIDER_ALIASES = {
    "bedrock": "aws", "bedrock_converse": "aws", "aws.bedrock": "aws", "amazon-bedrock": "aws",
    "amazon_bedrock": "aws", "amazon": "aws",
    "vertex_ai": "google", "vertex": "google", "vertexai": "google", "vertex_ai_beta": "google",
    "vertex_ai-language-models": "google", "gemini": "google", "google_genai": "google",
    "google-genai": "google", "google_vertexai": "google", "gcp.gemini": "google",
    "gcp.vertex_ai": "google", "gcp.gen_ai": "google", "google-vertex": "google",
    "xai": "x-ai", "x_ai": "x-ai",
    "azure_openai": "azure", "azure.ai.openai": "azure", "azure_ai": "azure",
    "azure.ai.inference": "azure", "az.ai.openai": "azure",
    "mistral_ai": "mistral", "mistralai": "mistral",
    "together_ai": "together", "togetherai": "together",
    "fireworks_ai": "fireworks", "fireworks-ai": "fireworks",
    "moonshot": "moonshotai", "cohere_chat": "cohere", "zhipu": "zhipuai",
}  # fmt: skip

GUESS_RANK = 100  # provider ranks from here on are another provider's table

MODEL_MAP_SQL = """
CREATE OR REPLACE TEMP TABLE model_candidates AS
WITH names AS ({names}),
lookups AS (
    SELECT n.provider, n.model, COALESCE(pa.provider, lower(n.provider)) AS lookup_provider,
           lower(n.model) AS lookup_name, 0 AS name_rank
    FROM names n LEFT JOIN provider_aliases pa ON pa.logged = lower(n.provider)
    UNION ALL
    -- the prefix names the provider unless the request names one a table knows (a gateway
    -- such as `litellm` does not: `openai/gpt-4o` logged by it is OpenAI's)
    SELECT n.provider, n.model,
           COALESCE(own.provider, pb.provider, lower(split_part(n.model, '/', 1)))
               AS lookup_provider,
           lower(substr(n.model, strpos(n.model, '/') + 1)) AS lookup_name, 1 AS name_rank
    FROM names n
    LEFT JOIN provider_aliases pa ON pa.logged = lower(n.provider)
    LEFT JOIN (SELECT DISTINCT provider FROM price_models) own
      ON own.provider = COALESCE(pa.provider, lower(n.provider))
    LEFT JOIN provider_aliases pb ON pb.logged = lower(split_part(n.model, '/', 1))
    WHERE strpos(n.model, '/') > 0
),
distinct_names AS (SELECT DISTINCT lookup_name FROM lookups),
-- which pattern fits which name: globs in one LIKE join, each regular expression on its own
-- (a pattern that is a constant is compiled once, one per row costs seconds on many names)
fits AS (
    SELECT n.lookup_name, p.pattern, p.unless, false AS regex
    FROM distinct_names n
    JOIN (SELECT DISTINCT pattern, unless FROM price_patterns WHERE NOT regex
          UNION SELECT DISTINCT pattern, unless FROM provider_claims WHERE NOT regex) p
      ON n.lookup_name LIKE p.pattern ESCAPE '\\'
    {regex_fits}
),
hits AS (
    SELECT l.*, p.model_key, p.exact, p.literal_len, p.alias
    FROM lookups l
    JOIN fits f ON f.lookup_name = l.lookup_name
    JOIN price_patterns p
      ON p.pattern = f.pattern AND p.regex = f.regex
     AND p.unless IS NOT DISTINCT FROM f.unless
    WHERE f.unless IS NULL OR NOT regexp_matches(l.lookup_name, f.unless)
),
claims AS (
    SELECT DISTINCT f.lookup_name, c.provider
    FROM fits f
    JOIN provider_claims c
      ON c.pattern = f.pattern AND c.regex = f.regex AND c.unless IS NOT DISTINCT FROM f.unless
    WHERE f.unless IS NULL OR NOT regexp_matches(f.lookup_name, f.unless)
),
ranked AS (
    SELECT h.provider, h.model, h.model_key, h.name_rank, h.exact, h.literal_len, h.alias,
           pm.user_rank, pm.position, pm.provider AS table_provider,
           CASE WHEN h.alias OR pm.provider = h.lookup_provider THEN 0
                WHEN f.position IS NOT NULL THEN 1 + f.position
                WHEN own.provider IS NOT NULL THEN NULL
                WHEN c.provider IS NOT NULL THEN {guess}
                ELSE {guess} + 1 END AS provider_rank
    FROM hits h
    JOIN price_models pm ON pm.model_key = h.model_key
    LEFT JOIN price_fallbacks f ON f.provider = h.lookup_provider AND f.fallback = pm.provider
    LEFT JOIN claims c ON c.lookup_name = h.lookup_name AND c.provider = pm.provider
    LEFT JOIN (SELECT DISTINCT provider FROM price_models) own ON own.provider = h.lookup_provider
)
SELECT *,
       rank() OVER (
           PARTITION BY provider, model
           ORDER BY provider_rank, alias DESC, exact DESC, name_rank, literal_len DESC,
                    user_rank, position
       ) AS pick,
       row_number() OVER (
           PARTITION BY provider, model
           ORDER BY provider_rank, alias DESC, exact DESC, name_rank, literal_len DESC,
                    user_rank, position, table_provider, model_key
       ) AS preference,
       -- 1 for the candidates as specific as the best: only they share a name over time
       dense_rank() OVER (
           PARTITION BY provider, model
           ORDER BY provider_rank, alias DESC, exact DESC, name_rank, literal_len DESC
       ) AS specificity
FROM ranked WHERE provider_rank IS NOT NULL;

CREATE OR REPLACE TEMP TABLE model_map AS
SELECT provider, model, model_key, exact AND name_rank = 0 AS exact,
       provider_rank >= {guess} AS guess
FROM model_candidates WHERE preference = 1;

CREATE OR REPLACE TEMP TABLE name_versions AS
WITH spans AS (
    SELECT c.provider, c.model, c.model_key, c.preference, v.effective_from, v.effective_to
    FROM model_candidates c JOIN price_versions v ON v.model_key = c.model_key
    WHERE c.specificity = 1
),
bounds AS (
    SELECT provider, model, effective_from AS bound FROM spans
    UNION
    SELECT provider, model, effective_to AS bound FROM spans WHERE effective_to IS NOT NULL
),
pieces AS (
    SELECT provider, model, bound AS valid_from,
           lead(bound) OVER (PARTITION BY provider, model ORDER BY bound) AS valid_to
    FROM bounds
),
winners AS (
    SELECT p.provider, p.model, p.valid_from, p.valid_to, s.model_key, s.effective_from,
           row_number() OVER (
               PARTITION BY p.provider, p.model, p.valid_from ORDER BY s.preference
           ) AS r
    FROM pieces p
    JOIN spans s
      ON s.provider IS NOT DISTINCT FROM p.provider AND s.model = p.model
     AND s.effective_from <= p.valid_from
     AND (s.effective_to IS NULL OR s.effective_to > p.valid_from)
)
SELECT provider, model, valid_from, valid_to, model_key, effective_from
FROM winners WHERE r = 1
""".replace("{guess}", str(GUESS_RANK))
# The names an analysis prices: every logged one, eval models, and extra names (a cascade's).
STORE_NAMES_SQL = """
    SELECT DISTINCT provider, model FROM requests
    UNION
    SELECT DISTINCT NULL AS provider, model FROM evals WHERE model IS NOT NULL
    UNION
    SELECT DISTINCT provider, model FROM extra_models
"""
EXTRA_NAMES_SQL = "SELECT DISTINCT provider, model FROM extra_models"

AMBIGUOUS_SQL = f"""
SELECT provider, model, list(DISTINCT model_key ORDER BY model_key)
FROM model_candidates WHERE pick = 1 AND provider_rank < {GUESS_RANK}
GROUP BY provider, model HAVING count(DISTINCT model_key) > 1
ORDER BY model LIMIT 1
"""


def glob_to_like(pattern: str) -> tuple[str, int]:
    """A case-insensitive glob (`*`, `?`) as a LIKE pattern, and its literal length."""
    out = []
    literal = 0
    for char in pattern.lower():
        if char == "*":
            out.append("%")
        elif char == "?":
            out.append("_")
        elif char in "%_\\":
            out.append("\\" + char)
            literal += 1
        else:
            out.append(char)
            literal += 1
    return "".join(out), literal


def pattern_row(pattern: MatchPattern) -> tuple[str, bool, str | None, bool, int]:
    """(LIKE or regex pattern, is regex, unless, exact, literal length) of one match pattern.
    A regex counts as long as its letters and digits: specific, never exact."""
    if pattern.kind == "regex":
        literal = sum(c.isalnum() for c in pattern.pattern)
        return pattern.pattern, True, pattern.unless, False, literal
    like, literal = glob_to_like(pattern.pattern)
    return like, False, pattern.unless, pattern.exact, literal


def matching_rows(tables: PricingTables) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of the temp tables MODEL_MAP_SQL reads, from the loaded tables."""
    patterns: list[tuple[Any, ...]] = []
    for model in tables.models:
        for pattern in model.match:
            patterns.append((model.key, *pattern_row(pattern), False))
    for name, key in sorted(tables.aliases.items()):
        like, literal = glob_to_like(name.replace("*", "").replace("?", ""))
        patterns.append((key, like, False, None, True, literal, True))  # ranked first: alias
    fallbacks = [
        (provider, fallback, position)
        for provider, info in sorted(tables.providers.items())
        for position, fallback in enumerate(info.fallback_providers)
    ]
    claims = [
        (provider, *pattern_row(pattern)[:3])
        for provider, info in sorted(tables.providers.items())
        for pattern in info.model_match
    ]
    aliases = sorted(PROVIDER_ALIASES.items())
    return {
        "price_patterns": patterns,
        "price_fallbacks": fallbacks,
        "provider_claims": claims,
        "provider_aliases": aliases,
    }


MATCH_TABLES_SQL = """
CREATE OR REPLACE TEMP TABLE price_patterns (model_key VARCHAR, pattern VARCHAR, regex BOOLEAN,
    unless VARCHAR, exact BOOLEAN, literal_len INTEGER, alias BOOLEAN);
CREATE OR REPLACE TEMP TABLE price_fallbacks (provider VARCHAR, fallback VARCHAR,
    position INTEGER);
CREATE OR REPLACE TEMP TABLE provider_claims (provider VARCHAR, pattern VARCHAR, regex BOOLEAN,
    unless VARCHAR);
CREATE OR REPLACE TEMP TABLE provider_aliases (logged VARCHAR, provider VARCHAR);
"""
# Names no stored request uses that an analysis prices (a cascade's candidate model).
EXTRA_MODELS_SQL = (
    "CREATE OR REPLACE TEMP TABLE extra_models (provider VARCHAR, model VARCHAR NOT NULL)"
)
MATCH_TABLES_SQL += EXTRA_MODELS_SQL


REGEX_FIT_SQL = """
    UNION ALL SELECT lookup_name, ?, ?, true FROM distinct_names
    WHERE regexp_matches(lookup_name, ?)"""


def map_models(con: duckdb.DuckDBPyConnection, names_sql: str = STORE_NAMES_SQL) -> None:
    """(Re)build model_candidates, model_map and name_versions; a tie within one provider is
    a pricing error (exit 4) naming both entries."""
    regexes = con.execute(
        "SELECT DISTINCT pattern, unless FROM price_patterns WHERE regex UNION "
        "SELECT DISTINCT pattern, unless FROM provider_claims WHERE regex ORDER BY 1, 2"
    ).fetchall()
    sql = MODEL_MAP_SQL.replace("{names}", names_sql)
    sql = sql.replace("{regex_fits}", REGEX_FIT_SQL * len(regexes))
    statements = [statement for statement in sql.split(";") if statement.strip()]
    params = [value for pattern, unless in regexes for value in (pattern, unless, pattern)]
    con.execute(statements[0], params)
    for statement in statements[1:]:
        con.execute(statement)
    tie = con.execute(AMBIGUOUS_SQL).fetchone()
    if tie:
        provider, model, keys = tie
        raise PricingError(
            f"model {model!r}"
            + (f" (provider {provider})" if provider else "")
            + f" matches {' and '.join(keys)} equally; add an alias (aliases: in a --pricing "
            "table) or a more specific match pattern"
        )


def resolve(con: duckdb.DuckDBPyConnection, name: str, provider: str | None = None) -> str | None:
    """The entry (provider/id) a logged name is priced with, by the rules above, on a
    connection with the price tables loaded (costops.rates.cost.load_price_tables)."""
    con.execute("INSERT INTO extra_models VALUES (?, ?)", [provider, name])
    map_models(con, EXTRA_NAMES_SQL)
    row = con.execute(
        "SELECT model_key FROM model_map WHERE provider IS NOT DISTINCT FROM ? AND model = ?",
        [provider, name],
    ).fetchone()
    return row[0] if row else None
