"""Semantic caching (SPEC §8, semantic-cache): reuse a stored answer for a query that means the
same thing, replayed on the team's own traffic.

costops keeps no prompt text by default, so meaning comes from the user: an embedding per
request (`--embeddings FILE`: Parquet or JSONL with request_id and embedding, from their own
pipeline), or an exact key (a `semantic_key` attribute: their cache key or cluster id). The
replay (replay.py) runs in time order within each scope; a hit costs the query's embedding only,
a miss costs the request and its embedding. The embedding is priced like any request, by the
pricing SQL, at the embedding model's price on the request's date, on the query's tokens: the
input minus the logged prefix (the stable system prompt), or the whole input when no prefix is
logged.

The scenario's rows are the source's requests (a hit weighs 0 on the scenario's side) and one
embedding call per replayed request: what a plan's next lever reads (the calls avoided are not
trimmed or batched again, the embedding calls are never batched: they answer a live query).

Local engine only: the replay walks a vector index in this process.
"""

from __future__ import annotations

import gzip
import os
import re
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl

from costops.analysis.filters import Dimension, dimension
from costops.analysis.simulate.engine import (
    SOURCE_COLUMNS,
    WEIGHT,
    Source,
    compare,
    keyed,
    repriced,
    views,
)
from costops.analysis.simulate.replay import TOLERANCE, replay
from costops.engine import is_spark
from costops.errors import InputDataError, UsageError
from costops.rates.cost import add_model_names

ROWS = "_sim_semantic_rows"
HITS = "_sim_semantic_hits"
REPLAYED = "_sim_semantic_replayed"
DEFAULT_THRESHOLD = 0.95
DEFAULT_SCOPE = ("provider", "model", "feature")
DEFAULT_MODEL = "text-embedding-3-small"
KEY_ATTRIBUTE = "semantic_key"
MAX_SWEEP = 200
# A cascade's cheaper attempt (a plan's earlier step) asks its original's question: a question
# is replayed once, by its original's row, and a hit spares both rows.
QUESTION_ID = "regexp_replace(request_id, '#cascade$', '')"
ASKS = "request_id NOT LIKE '%#cascade'"
QUERY_TOKENS = (
    "CASE WHEN prefix_tokens > 0 AND prefix_tokens < input_tokens "
    "THEN input_tokens - prefix_tokens ELSE input_tokens END"
)
NO_TOKENS = ("cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
             "output_tokens", "reasoning_tokens")  # fmt: skip

# Counts are of questions (sim_asks: a request, not a cascade's second attempt at it).
EXTRAS = """
    sum(CASE WHEN p.sim_asks THEN 1 ELSE 0 END) AS requests,
    sum(CASE WHEN p.sim_asks AND p.sim_hit THEN 1 ELSE 0 END) AS hits,
    sum(CASE WHEN p.sim_asks AND p.sim_hit THEN 1.0 ELSE 0.0 END)
        / NULLIF(sum(CASE WHEN p.sim_asks AND p.sim_replayed THEN 1 ELSE 0 END), 0) AS hit_rate,
    CAST(money_sum(CASE WHEN p.sim_side = 'after' THEN p.cost * p.sim_weight ELSE 0 END)
        AS DOUBLE) AS embedding_cost,
    sum(CASE WHEN p.sim_asks AND p.sim_hit AND p.sim_served_failed THEN 1.0 ELSE 0.0 END)
        / NULLIF(sum(CASE WHEN p.sim_asks AND p.sim_hit THEN 1 ELSE 0 END), 0) AS risk,
    sum(CASE WHEN p.sim_asks AND p.sim_hit AND p.sim_served_evaluated THEN 1 ELSE 0 END)
        AS evaluated_hits,
    sum(CASE WHEN p.sim_asks AND NOT p.sim_replayed THEN 1 ELSE 0 END) AS not_replayed
"""


@dataclass(frozen=True)
class Settings:
    """What the command line asks: the meaning of requests (embeddings file, else exact keys),
    the thresholds, the cache's lifetime and capacity, the scope, the embedding model."""

    embeddings: str | None = None
    thresholds: tuple[float, ...] = (DEFAULT_THRESHOLD,)
    sweep: bool = False
    ttl: str = "24h"
    scope: tuple[str, ...] = DEFAULT_SCOPE
    embedding_model: str = DEFAULT_MODEL
    labels: str | None = None
    min_precision: float = 0.97
    max_entries: int | None = None
    embed_model: str | None = None  # a model2vec folder: costops embeds the kept text itself


def settings(options: dict[str, Any]) -> Settings:
    """Settings from a command's options, each checked (one line on a bad value)."""
    sweep = options.get("sweep")
    threshold = options.get("threshold")
    if sweep and threshold is not None:
        raise UsageError("semantic-cache: --threshold or --sweep, not both")
    thresholds = (
        parse_sweep(sweep) if sweep else (DEFAULT_THRESHOLD if threshold is None else threshold,)
    )
    for value in thresholds:
        if not 0 < value <= 1:
            raise UsageError(f"--threshold {value}: expected a cosine similarity in (0, 1]")
    min_precision = options.get("min_precision")
    if min_precision is not None and not 0 < min_precision <= 1:
        raise UsageError(f"--min-precision {min_precision}: expected a fraction in (0, 1]")
    max_entries = options.get("max_entries")
    if max_entries is not None and max_entries < 1:
        raise UsageError(f"--max-entries {max_entries}: expected a positive number of entries")
    scope = tuple(s.strip() for s in (options.get("scope") or ",".join(DEFAULT_SCOPE)).split(","))
    for name in scope:
        if name:
            dimension(name, "UTC")  # an unknown dimension is refused here
    ttl = options.get("semantic_ttl") or "24h"
    parse_ttl(ttl)
    if options.get("embeddings") and options.get("embed_model"):
        raise UsageError("semantic-cache: --embeddings or --embed-model, not both")
    return Settings(
        options.get("embeddings"), thresholds, bool(sweep), ttl,
        tuple(s for s in scope if s), options.get("embedding_model") or DEFAULT_MODEL,
        options.get("labels"), min_precision or 0.97, max_entries, options.get("embed_model"),
    )  # fmt: skip


def parse_ttl(text: str) -> int | None:
    """--ttl 24h / 30m / 7d / 90s, or none: microseconds (None: entries never expire)."""
    if text.strip().lower() == "none":
        return None
    match = re.fullmatch(r"\s*(\d{1,6})\s*([smhd])\s*", text)
    if not match or int(match.group(1)) == 0:
        raise UsageError(f"--ttl {text!r}: expected a duration like 24h, 30m, 7d or none")
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return int(match.group(1)) * unit * 1_000_000


def parse_sweep(text: str) -> tuple[float, ...]:
    """--sweep A:B:STEP: thresholds from A to B inclusive, rounded to the step's decimals."""
    parts = text.split(":")
    try:
        start, stop, step = (float(p) for p in parts) if len(parts) == 3 else (0, 0, 0)
    except ValueError:
        start = stop = step = 0
    if not (0 < start <= stop <= 1 and step > 0):
        raise UsageError(f"--sweep {text!r}: expected START:STOP:STEP with 0 < START <= STOP <= 1")
    span = (stop - start) / step
    if span + 1 > MAX_SWEEP:
        raise UsageError(f"--sweep {text!r}: more than {MAX_SWEEP} thresholds")
    count = int(span + 1e-9) + 1  # never past STOP
    # rounded to the places START and STEP are written with (0.815:0.9:0.01 starts at 0.815)
    decimals = max(2, *(-min(0, int(Decimal(p.strip()).as_tuple().exponent)) for p in parts))
    return tuple(sorted({round(start + i * step, decimals) for i in range(count)}))


def _read_table(path: str, what: str, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """A Parquet, JSONL (optionally .gz) or CSV file's columns named in `schema`."""
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"{what} {path}: no such file")
    name = file.name.lower()
    try:
        if name.endswith(".parquet"):
            frame = pl.read_parquet(file, columns=list(schema))
        elif name.endswith(".csv"):
            frame = pl.read_csv(file, columns=list(schema))
        elif name.endswith(".gz"):
            raw = gzip.decompress(file.read_bytes())
            frame = (
                pl.read_ndjson(raw, schema=schema) if raw.strip() else pl.DataFrame(schema=schema)
            )
        else:  # read from the file, not a copy of it in memory
            frame = (
                pl.read_ndjson(file, schema=schema)
                if file.stat().st_size
                else pl.DataFrame(schema=schema)
            )
        return frame.select([pl.col(c).cast(t, strict=True) for c, t in schema.items()])
    except (pl.exceptions.PolarsError, OSError, EOFError, ValueError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputDataError(
            f"{what} {path}: not a table of {', '.join(schema)} ({detail[:200]})"
        ) from None


def read_embeddings(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Request ids and their unit vectors (float32) from an embeddings file; every vector the
    same length, finite and not zero, every id once."""
    frame = _read_table(path, "--embeddings", {"request_id": pl.String(),
                                               "embedding": pl.List(pl.Float32())})  # fmt: skip
    if frame.is_empty():
        raise InputDataError(f"--embeddings {path}: no embeddings")
    nulls = frame.filter(pl.col("request_id").is_null() | pl.col("embedding").is_null())
    if len(nulls):
        raise InputDataError(
            f"--embeddings {path}: {len(nulls)} rows without request_id or embedding"
        )
    duplicated = frame.filter(pl.col("request_id").is_duplicated())
    if len(duplicated):
        first = duplicated["request_id"][0]
        raise InputDataError(f"--embeddings {path}: request_id {first!r} appears more than once")
    lengths = frame["embedding"].list.len().unique().sort()
    if len(lengths) != 1 or lengths[0] == 0:
        raise InputDataError(
            f"--embeddings {path}: vectors of different lengths ({lengths.to_list()[:5]})"
        )
    ids = frame["request_id"].to_numpy()
    # float32 throughout, normalised in place: a million 256-dimension vectors are 1 GB once
    vectors = np.array(frame["embedding"].list.to_array(int(lengths[0])).to_numpy(), np.float32)
    del frame
    norms = np.linalg.norm(vectors, axis=1)
    bad = ~np.isfinite(norms) | (norms == 0)
    if bad.any():
        first = ids[int(np.flatnonzero(bad)[0])]
        raise InputDataError(
            f"--embeddings {path}: request_id {first!r} has a zero or non-finite vector"
        )
    vectors /= norms[:, None]
    return ids, vectors


# The question a kept log line asks: its last user message (text, or its text parts), else a
# string `input` or `prompt`. A line with none of these is not replayed.
QUERY_TEXT_SQL = """
WITH kept AS (
    SELECT t.request_id, arg_max(t.raw, t.run_id) AS raw
    FROM request_text t
    WHERE t.request_id IN (SELECT p.request_id FROM {source} p)
    GROUP BY t.request_id
),
parsed AS (
    SELECT request_id, CASE WHEN json_valid(raw) THEN CAST(raw AS JSON) END AS j FROM kept
),
turns AS (
    SELECT request_id, j, list_last(list_filter(
        CAST(json_extract(j, '$.messages[*]') AS JSON[]), lambda m: m->>'role' = 'user'
    )) AS turn
    FROM parsed
)
SELECT request_id, NULLIF(trim(COALESCE(
    CASE WHEN json_type(turn->'content') = 'VARCHAR' THEN turn->>'content'
         ELSE array_to_string(
             CAST(json_extract_string(turn, '$.content[*].text') AS VARCHAR[]), ' ') END,
    CASE WHEN json_type(j->'input') = 'VARCHAR' THEN j->>'input' END,
    CASE WHEN json_type(j->'prompt') = 'VARCHAR' THEN j->>'prompt' END
)), '') AS query
FROM turns
"""
MODEL_FILES = ("config.json", "tokenizer.json", "model.safetensors")


def embed_kept_text(
    con: duckdb.DuckDBPyConnection, source: Source, folder: str
) -> tuple[np.ndarray, np.ndarray]:
    """Vectors for the requests in scope whose log line was kept (`ingest --keep-text`): their
    question embedded by a model2vec static model from a local folder (never downloaded)."""
    missing = [f for f in MODEL_FILES if not (Path(folder) / f).is_file()]
    if missing:
        raise UsageError(
            f"--embed-model {folder}: not a model2vec model folder (no {', '.join(missing)}); "
            "save one with StaticModel.save_pretrained, costops downloads nothing"
        )
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder only, never the hub
    try:
        from model2vec import StaticModel
    except ImportError:
        raise UsageError("--embed-model needs model2vec: pip install 'costops[embed]'") from None
    questions = QUERY_TEXT_SQL.replace("{source}", source.sql)
    asked = con.execute(
        f"SELECT * FROM ({questions}) WHERE query IS NOT NULL ORDER BY request_id", source.params
    ).fetchnumpy()
    if not len(asked["request_id"]):
        raise UsageError(
            "--embed-model: no request in scope has its text kept: ingest with --keep-text "
            "(the log lines must hold the messages, an input or a prompt)"
        )
    try:
        model = StaticModel.from_pretrained(folder)
        vectors = np.asarray(model.encode(list(asked["query"])), dtype=np.float64)
    except Exception as exc:  # a damaged model folder: whatever the loader raises
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise UsageError(f"--embed-model {folder}: cannot load or run it ({detail})") from None
    norms = np.linalg.norm(vectors, axis=1)
    usable = np.isfinite(norms) & (norms > 0)  # text of unknown tokens only: no direction
    ids = np.asarray(asked["request_id"], dtype=object)[usable]
    return ids, (vectors[usable] / norms[usable, None]).astype(np.float32)


@dataclass(frozen=True)
class Requests:
    """The replayed requests in replay order (scope, time, id) and what a hit needs of them."""

    ids: np.ndarray
    ts: np.ndarray
    scopes: np.ndarray
    failed: np.ndarray  # its unit's eval failed
    evaluated: np.ndarray
    vectors: np.ndarray | None
    keys: np.ndarray | None
    unmatched: int  # embeddings of no request in scope
    catalog_ids: np.ndarray  # every id a labelled pair may name, and its vector (or key)
    catalog: np.ndarray


def has_keys(con: duckdb.DuckDBPyConnection, source: Source) -> bool:
    """Some request of `source` carries a semantic_key attribute (the exact-key replay)."""
    row = con.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM {source.sql} p WHERE "
        f"json_extract_string(p.attributes, '$.{KEY_ATTRIBUTE}') IS NOT NULL LIMIT 1)",
        source.params,
    ).fetchone()
    return bool(row and row[0])


def load_requests(con: duckdb.DuckDBPyConnection, source: Source, config: Settings) -> Requests:
    """The source's requests that can be replayed (an embedding, or a semantic_key), in order."""
    scope = [dimension(name, "UTC") for name in config.scope]
    key = f"json_extract_string(p.attributes, '$.{KEY_ATTRIBUTE}')"
    scope_sql = ", ".join(d.sql for d in scope) or "NULL"
    fetched = con.execute(
        f"""
        SELECT p.request_id, epoch_us(p.ts) AS t,
            dense_rank() OVER (ORDER BY {scope_sql}) AS scope_id,
            u.unit_id IS NOT NULL AS evaluated, COALESCE(NOT u.success, false) AS failed,
            {key} AS semantic_key
        FROM {source.sql} p
        LEFT JOIN unit_status u ON u.unit_id = COALESCE(p.task_id, p.request_id)
        WHERE p.{ASKS}
        ORDER BY scope_id, p.ts, p.request_id
        """,
        source.params,
    ).fetchnumpy()
    ids = np.asarray(fetched["request_id"], dtype=object)
    if config.embeddings or config.embed_model:
        emb_ids, emb_vectors = (
            read_embeddings(config.embeddings)
            if config.embeddings
            else embed_kept_text(con, source, str(config.embed_model))
        )
        lookup = pl.DataFrame({"base_id": emb_ids, "row": np.arange(len(emb_ids))})
        asked = pl.DataFrame({"base_id": pl.Series(ids, dtype=pl.String())})
        joined = asked.join(lookup, on="base_id", how="left", maintain_order="left")
        rows = joined["row"].fill_null(-1).to_numpy().astype(np.int64)
        keep = rows >= 0
        used = np.unique(rows[keep])
        vectors, keys = emb_vectors[rows[keep]], None
        unmatched = len(emb_ids) - len(used)
        # the whole file's vectors stay only for labelled pairs (which may name any request)
        catalog_ids, catalog = (
            (emb_ids, emb_vectors)
            if config.labels
            else (np.empty(0, object), np.empty((0, emb_vectors.shape[1]), np.float32))
        )
    else:
        semantic = pl.Series(fetched["semantic_key"], dtype=pl.String())
        keep = semantic.is_not_null().to_numpy()
        if len(ids) and not keep.any():
            raise UsageError(
                "semantic-cache: give --embeddings FILE (request_id, embedding per line) or log "
                f"a {KEY_ATTRIBUTE} attribute (your cache key or cluster id) with the requests"
            )
        codes = semantic.filter(pl.Series(keep)).cast(pl.Categorical()).to_physical().to_numpy()
        vectors, keys, unmatched = None, codes.astype(np.int64), 0
        catalog_ids, catalog = ids[keep], keys
    return Requests(
        ids[keep], np.asarray(fetched["t"], dtype=np.int64)[keep],
        np.asarray(fetched["scope_id"], dtype=np.int64)[keep],
        np.asarray(fetched["failed"], dtype=bool)[keep],
        np.asarray(fetched["evaluated"], dtype=bool)[keep], vectors, keys, unmatched,
        catalog_ids, catalog,
    )  # fmt: skip


def build(con: duckdb.DuckDBPyConnection, source: Source, dims: list[Dimension],
          requests: Requests, model: str | None, keep: bool) -> None:  # fmt: skip
    """The scenario's rows, once for every threshold: each request of the source (side 'both')
    and, with an embedding `model`, one embedding call per replayed request (side 'after'),
    priced from scratch."""
    _upload(con, REPLAYED, pl.DataFrame({"request_id": requests.ids.astype(str)}))
    select, _ = keyed(dims)
    kept = ", ".join(SOURCE_COLUMNS) if keep else "sim_weight, sim_cost, request_id, ts"
    sql = f"""
        CREATE OR REPLACE TEMP TABLE {ROWS} AS
        SELECT {select}{kept}, 'both' AS sim_side, {QUESTION_ID} AS sim_question_id,
            {ASKS} AS sim_asks,
            {QUESTION_ID} IN (SELECT request_id FROM {REPLAYED}) AS sim_replayed
        FROM {source.sql} p
        """
    if model is None:  # exact keys: the user's own key, no embedding call
        con.execute(sql, source.params)
        return
    add_model_names(con, [(None, model)])
    con.execute("CREATE OR REPLACE TEMP TABLE _sim_semantic_model AS SELECT ? AS model", [model])
    overrides = {
        "request_id": "request_id || '#embedding'", "provider": "NULL", "model": "sim_model",
        "input_tokens": QUERY_TOKENS, **{c: "0" for c in NO_TOKENS},
        **{c: "NULL" for c in ("prefix_hash", "prefix_tokens", "max_tokens", "finish_reason",
                               "service_tier", "region", "logged_cost")},
        "batch": "false",
    }  # fmt: skip
    replayed = (
        f"(SELECT s.*, k.model AS sim_model FROM {source.sql} s CROSS JOIN _sim_semantic_model k "
        f"WHERE s.request_id IN (SELECT request_id FROM {REPLAYED}))"
    )
    embeddings = repriced(replayed, overrides, weight="1.0")  # once per question
    sql += f"""
        UNION ALL
        SELECT {select}{kept}, 'after' AS sim_side, CAST(NULL AS VARCHAR) AS sim_question_id,
            false AS sim_asks, false AS sim_replayed
        FROM {embeddings} p
        """
    con.execute(sql, source.params + source.params)
    unpriced = con.execute(
        f"SELECT count(*), min(ts) FROM {ROWS} WHERE sim_side = 'after' AND sim_cost IS NULL"
    ).fetchone()
    if unpriced and unpriced[0]:
        raise UsageError(
            f"--embedding-model {model}: no price in the pricing tables for {unpriced[0]} "
            f"queries (the first on {str(unpriced[1])[:10]}); name a priced embedding model"
        )


def _upload(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    """A polars frame as a temp table (through a Parquet file: no pyarrow needed)."""
    with tempfile.TemporaryDirectory(prefix="costops-semantic-") as folder:
        path = str(Path(folder) / "frame.parquet")
        frame.write_parquet(path)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM read_parquet(?)", [path]
        )


def _hits(con: duckdb.DuckDBPyConnection, requests: Requests, threshold: float,
          config: Settings) -> int:  # fmt: skip
    """Replay at `threshold`; the hits (and what served them) into HITS; the evictions."""
    result = replay(requests.ts, requests.scopes, threshold, parse_ttl(config.ttl),
                    requests.vectors, requests.keys, config.max_entries)  # fmt: skip
    hit = result.hit
    source = np.where(hit, result.served_from, 0)
    _upload(con, HITS, pl.DataFrame({
        "request_id": requests.ids[hit].astype(str),
        "sim_served_failed": requests.failed[source][hit],
        "sim_served_evaluated": requests.evaluated[source][hit],
    }))  # fmt: skip
    return result.evictions


AFTER_SQL = f"""
SELECT r.*, r.sim_cost AS cost, h.request_id IS NOT NULL AS sim_hit,
    COALESCE(h.sim_served_failed, false) AS sim_served_failed,
    COALESCE(h.sim_served_evaluated, false) AS sim_served_evaluated
FROM {ROWS} r LEFT JOIN {HITS} h ON h.request_id = r.sim_question_id
"""


def next_source() -> str:
    """The scenario as a plan's next Source: a hit weighs 0, an embedding call is a request."""
    columns = [
        f"CASE WHEN sim_hit THEN 0.0 ELSE {WEIGHT} END AS {WEIGHT}" if c == WEIGHT else c
        for c in SOURCE_COLUMNS
    ]
    return f"SELECT {', '.join(columns)} FROM ({AFTER_SQL}) s"


def _scenario(
    con: duckdb.DuckDBPyConnection, dims: list[Dimension]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    views(
        con,
        f"SELECT *, sim_cost AS cost FROM {ROWS} WHERE sim_side = 'both'",
        f"SELECT * REPLACE (CASE WHEN sim_hit THEN 0.0 ELSE {WEIGHT} END AS {WEIGHT}) "
        f"FROM ({AFTER_SQL}) s",
    )
    _, narrow = keyed(dims)
    return compare(con, narrow, EXTRAS)


def read_labels(path: str, requests: Requests) -> tuple[np.ndarray, np.ndarray, int]:
    """Labelled pairs (request_id_a, request_id_b, same): each pair's similarity, whether a
    human marked it the same, and how many pairs name a request with no vector or key."""
    frame = _read_table(path, "--labels", {"request_id_a": pl.String(),
                                           "request_id_b": pl.String(),
                                           "same": pl.Boolean()})  # fmt: skip
    frame = frame.drop_nulls()
    ids = requests.catalog_ids
    lookup = pl.DataFrame({"id": ids, "row": np.arange(len(ids))})
    for side in ("a", "b"):
        frame = frame.join(lookup.rename({"id": f"request_id_{side}", "row": f"row_{side}"}),
                           on=f"request_id_{side}", how="left", maintain_order="left")  # fmt: skip
    known = frame.filter(pl.col("row_a").is_not_null() & pl.col("row_b").is_not_null())
    a, b = known["row_a"].to_numpy(), known["row_b"].to_numpy()
    rows = requests.catalog
    if rows.ndim == 1:  # exact keys: the same key is similarity 1
        sims = (rows[a] == rows[b]).astype(np.float64)
    else:
        sims = np.einsum("ij,ij->i", rows[a], rows[b]).astype(np.float64)
    return sims, known["same"].to_numpy().astype(bool), len(frame) - len(known)


def precision_recall(
    sims: np.ndarray, same: np.ndarray, threshold: float
) -> tuple[float | None, float | None]:
    """Pairs at or above the threshold are called the same: precision = right calls ÷ calls,
    recall = right calls ÷ pairs marked the same (None where a denominator is 0)."""
    called = sims >= threshold - TOLERANCE  # as the replay counts a hit
    right = int((called & same).sum())
    calls, positives = int(called.sum()), int(same.sum())
    return (right / calls if calls else None), (right / positives if positives else None)


def simulate_semantic(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    dims: list[Dimension],
    options: dict[str, Any],
    keep: bool = False,
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any], list[str]]:
    """Replay `source` through a semantic cache at each threshold; rows per group (or, with a
    sweep, per threshold, the verdict's threshold in the totals)."""
    if is_spark(con):
        raise UsageError(
            "semantic-cache replays through a vector index in this process: run it on the "
            "local engine (without --engine)"
        )
    config = settings(options)
    requests = load_requests(con, source, config)
    grouped = [] if config.sweep else dims
    model = config.embedding_model if requests.vectors is not None else None
    build(con, source, grouped, requests, model, keep)
    scored = read_labels(config.labels, requests) if config.labels else None
    outcomes = []
    for threshold in config.thresholds:
        evictions = _hits(con, requests, threshold, config)
        totals, rows = _scenario(con, grouped)
        measured = precision_recall(scored[0], scored[1], threshold) if scored else (None, None)
        outcomes.append((threshold, totals, rows, evictions, measured))
    chosen, verdict = _verdict(config, outcomes, scored)
    threshold, totals, rows, evictions, (precision, recall) = outcomes[chosen]
    totals.update(threshold=threshold, precision=precision, recall=recall)
    if config.sweep:
        rows = []
        for index, (t, row, _, _, (p, r)) in enumerate(outcomes):
            mark = "verdict" if index == chosen else ""
            rows.append({"threshold": t, **row, "precision": p, "recall": r, "verdict": mark})
    else:
        for row in rows:
            row["verdict"] = _row_verdict(row)
    totals["verdict"] = _row_verdict(totals)
    warnings = _warnings(requests, totals, scored)
    return totals, rows, _assumptions(config, requests, totals, evictions, verdict), warnings


def _verdict(
    config: Settings,
    outcomes: list[tuple[float, dict[str, Any], list[dict[str, Any]], int, tuple[Any, Any]]],
    scored: tuple[np.ndarray, np.ndarray, int] | None,
) -> tuple[int, str]:
    """The threshold the totals show, and why: with labels, the lowest whose precision reaches
    --min-precision; without, 0.95 (or the one threshold asked), precision unmeasured."""
    thresholds = [t for t, *_ in outcomes]
    if scored is None:
        pick = min(range(len(thresholds)), key=lambda i: (abs(thresholds[i] - DEFAULT_THRESHOLD),
                                                          -thresholds[i]))  # fmt: skip
        return pick, (
            f"threshold {thresholds[pick]:g}: precision unmeasured (no --labels); "
            "sample hits by hand and adjust from the false positives and negatives you find"
        )
    floor = config.min_precision
    pairs = len(scored[0])
    if not pairs:
        return _verdict(config, outcomes, None)[0], (
            "precision unmeasured: no labelled pair names two requests with an embedding"
        )
    good = [i for i, (*_, (p, _r)) in enumerate(outcomes) if p is not None and p >= floor]
    if good:
        pick = min(good, key=lambda i: thresholds[i])
        p = outcomes[pick][4][0]
        return pick, (
            f"threshold {thresholds[pick]:g}: the lowest with precision >= {floor:g} "
            f"({p:.3f} on {pairs} labelled pairs)"
        )
    pick = max(range(len(thresholds)), key=lambda i: thresholds[i])
    return pick, (
        f"no threshold reaches precision {floor:g} on {pairs} labelled pairs: do not serve "
        f"cached answers at these thresholds (the totals show {thresholds[pick]:g})"
    )


def _row_verdict(row: dict[str, Any]) -> str:
    if not row.get("hits") and not row.get("embedding_cost"):
        return (
            "no data"
            if not (row.get("requests") or 0) - (row.get("not_replayed") or 0)
            else "don't cache"
        )
    return "cache" if (row.get("savings") or 0) > 0 else "don't cache"


def _warnings(requests: Requests, totals: dict[str, Any],
              scored: tuple[np.ndarray, np.ndarray, int] | None) -> list[str]:  # fmt: skip
    warnings = []
    missing = totals.get("not_replayed") or 0
    if missing:
        what = "embedding" if requests.vectors is not None else f"{KEY_ATTRIBUTE} attribute"
        warnings.append(
            f"{missing} of {totals.get('requests')} requests in scope have no {what}: "
            "they stay misses and pay no embedding"
        )
    if requests.unmatched:
        warnings.append(
            f"{requests.unmatched} embeddings name no request in scope (outside --since/--until/"
            "--where, or not in the database): ignored"
        )
    if scored is not None and scored[2]:
        warnings.append(f"{scored[2]} labelled pairs name a request with no embedding (ignored)")
    return warnings


def _assumptions(config: Settings, requests: Requests, totals: dict[str, Any], evictions: int,
                 verdict: str) -> dict[str, Any]:  # fmt: skip
    ttl = parse_ttl(config.ttl)
    if requests.vectors is not None:
        origin = (
            f"embeddings from {config.embeddings}"
            if config.embeddings
            else f"the kept text's last user message embedded by {config.embed_model} (model2vec)"
        )
        meaning = f"{origin} ({requests.vectors.shape[1]} dimensions), cosine similarity"
    else:
        meaning = f"the {KEY_ATTRIBUTE} attribute: the same key is the same question"
    evaluated = totals.get("evaluated_hits") or 0
    return {
        "meaning": meaning,
        "replay": f"time order within {', '.join(config.scope) or 'all requests'}; a request "
        f"whose most similar live entry reaches the threshold ({totals['threshold']:g}) is a "
        "hit, served from that entry; a miss pays the request and becomes an entry; a hit does "
        "not",
        "ttl": f"an entry lives {config.ttl} from the miss that made it (a hit does not refresh it)"
        if ttl
        else "entries never expire",
        "capacity": f"{config.max_entries} entries per scope, least recently hit evicted "
        f"({evictions} evictions; checked after every min(1024, capacity) requests of a scope)"
        if config.max_entries
        else "unlimited",
        "embedding": f"{config.embedding_model} at its price on each request's date, on the "
        "query's tokens: the input minus the logged prefix (the whole input where none is "
        "logged); every replayed request pays it, hit or miss"
        if requests.vectors is not None
        else "none: the key is your own, computed without an embedding call",
        "risk": "share of hits served from an answer whose eval failed; an answer with no eval "
        f"counts as not failed ({evaluated} of {totals.get('hits') or 0} hits had an evaluated "
        "answer)",
        "index": "exact search while a segment (one TTL of entries) holds up to 32,768 entries, "
        "then a faiss HNSW index asked for the 16 nearest",
        "verdict": verdict,
    }
