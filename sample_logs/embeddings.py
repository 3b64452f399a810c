"""Made-up query embeddings for the demo month, the way a team's own pipeline would export them:
sample_logs/embeddings.parquet (request_id, embedding) and sample_logs/embedding_labels.jsonl
(pairs a human marked the same question or not), for `costops simulate semantic-cache`.

Three features get embeddings. Their questions come from a pool of intents; each intent has a
sibling that reads almost the same but needs another answer ("where is my refund" against "how
do I get a refund"), so a threshold set too low serves wrong answers. A request is its intent's
direction plus paraphrase noise of its own strength. Deterministic: the same seed gives the same
bytes. `make sample` does not run this; run it after regenerating requests.jsonl.gz.

    .venv/bin/python sample_logs/embeddings.py --seed 7 --out sample_logs
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

import numpy as np
import polars as pl

DIM = 32
# feature -> (intents, share of traffic from the 20 % most common intents): FAQ-like work repeats
FEATURES = {"classify-ticket": (150, 0.8), "search-rerank": (600, 0.5), "email-draft": (2000, 0.2)}
SIBLING_COSINE = 0.9  # an intent and its sibling: close, but not the same question
LABELLED_PAIRS = 400


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


def _intents(rng: np.random.Generator, count: int) -> np.ndarray:
    """`count` intents in sibling pairs: each pair's cosine is SIBLING_COSINE."""
    base = _unit(rng.standard_normal((count // 2, DIM)))
    away = rng.standard_normal((count // 2, DIM))
    away = _unit(away - (away * base).sum(axis=1, keepdims=True) * base)  # orthogonal to base
    sibling = SIBLING_COSINE * base + np.sqrt(1 - SIBLING_COSINE**2) * away
    return np.concatenate([base, sibling])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default="sample_logs")
    args = parser.parse_args(argv)
    out = Path(args.out)
    rng = np.random.default_rng(args.seed)
    with gzip.open(out / "requests.jsonl.gz", "rt", encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines]
    ids, vectors, intents = [], [], []
    for feature, (count, head_share) in FEATURES.items():
        mine = sorted(r["request_id"] for r in records if r.get("feature") == feature)
        pool = _intents(rng, count)
        head = max(1, count // 5)
        common = rng.random(len(mine)) < head_share
        which = np.where(common, rng.integers(0, head, len(mine)),
                         rng.integers(head, count, len(mine)))  # fmt: skip
        # paraphrase noise: cosine to the intent from about 0.99 down to about 0.9
        noise = rng.uniform(0.05, 0.3, len(mine))[:, None] * _unit(
            rng.standard_normal((len(mine), DIM))
        )
        ids += mine
        vectors.append(_unit(pool[which] + noise))
        intents += [f"{feature}:{i}" for i in which]
    matrix = np.concatenate(vectors).astype(np.float32)
    schema = {"request_id": pl.String(), "embedding": pl.List(pl.Float32())}
    frame = pl.DataFrame({"request_id": ids, "embedding": matrix.tolist()}, schema=schema)
    frame.write_parquet(out / "embeddings.parquet", compression="zstd", statistics=False)
    # labelled pairs: half the same intent, half an intent and its sibling
    by_intent: dict[str, list[int]] = {}
    for index, intent in enumerate(intents):
        by_intent.setdefault(intent, []).append(index)
    repeated = sorted(k for k, v in by_intent.items() if len(v) > 1)
    pairs = []
    for n in range(LABELLED_PAIRS):
        intent = repeated[int(rng.integers(0, len(repeated)))]
        a = by_intent[intent][int(rng.integers(0, len(by_intent[intent])))]
        feature, number = intent.split(":")
        count = FEATURES[feature][0]
        other = intent if n % 2 == 0 else f"{feature}:{(int(number) + count // 2) % count}"
        choices = [i for i in by_intent.get(other, []) if i != a]
        if choices:
            b = choices[int(rng.integers(0, len(choices)))]
            pairs.append({"request_id_a": ids[a], "request_id_b": ids[b], "same": other == intent})
    # CSV, not JSON lines: `costops ingest sample_logs` reads *.jsonl as logs
    pl.DataFrame(pairs).write_csv(out / "embedding_labels.csv")
    print(f"{len(ids)} embeddings, {len(pairs)} labelled pairs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
