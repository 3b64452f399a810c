"""`costops simulate semantic-cache`: the replay against a request-by-request reference, and a
fixture worked out by hand.

tests/data/semantic.jsonl, prices from tests/data/pricing/acme.yaml: every request is acme-pro
($5/M in and out) with 1,000 input and 200 output tokens: 1,200 x $5/M = $0.006. The embedding
model is acme-tiny ($0.10/M input). Vectors (tests/data/semantic_embeddings.jsonl), feature faq:

    r1 03-03 10:00 [1, 0]        prefix 600: query 400 tokens, embedding $0.00004
    r2 03-03 10:10 [.96, .28]    cos(r1) = .96                 prefix 600
    r3 03-03 10:20 [0, 1]        cos(r1) = 0                   prefix 600
    r4 03-03 10:30 [.28, .96]    cos(r3) = .96, cos(r1) = .28  prefix 600
    r5 03-04 11:00 [1, 0]        25 h after r1: r1 has expired (TTL 24 h); no prefix: 1,000
                                 tokens, embedding $0.0001
    r6 03-04 11:01 [.8, .6]      cos(r5) = .8                  no prefix

At 0.95: r1 miss, r2 hit (from r1), r3 miss, r4 hit (from r3), r5 miss, r6 miss: 2 hits of 6.
faq baseline 6 x .006 = .036; scenario 4 misses x .006 = .024 plus embeddings 4 x .00004 +
2 x .0001 = .00036: .02436; savings .01164 (32.33 %). r1's eval failed, r3's passed: risk =
1 of 2 hits served from a failed answer = 50 %.
At 0.80: r6 is a hit too (cos .8 with r5): 3 hits, scenario 3 x .006 + .00036 = .01836.
Feature other (o1, o2) has no embedding: $0.012 on both sides, never replayed.

Labels: (r2, r1) same .96, (r6, r5) different .8, (r4, r1) different .28, (r4, r3) same .96.
At 0.80 three pairs are called the same, two rightly: precision 2/3, recall 2/2. At 0.95 two,
both right: precision 1, recall 1. The verdict (min precision .97) is 0.95.

Exact keys (feature keyed, no --embeddings): k1 09:00 refund-policy miss, k2 09:30 refund-policy
hit, k3 10:00 opening-hours miss, k4 next day 09:00:01 refund-policy: 24 h 0 m 1 s after k1,
expired, a miss. 1 hit of 4, no embedding cost: baseline .024, scenario .018.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from costops.analysis.simulate import replay as replay_module
from costops.analysis.simulate.replay import replay
from tests.conftest import DATA, FIXTURE_PRICING

EMBEDDINGS = str(DATA / "semantic_embeddings.jsonl")
LABELS = str(DATA / "semantic_labels.jsonl")


@pytest.fixture
def semantic_db(run, db: str) -> str:
    result = run("ingest", str(DATA / "semantic.jsonl"), str(DATA / "semantic_evals.jsonl"),
                 "--db", db)  # fmt: skip
    assert result.code == 0, result.stderr
    return db


def _simulate(run, db: str, *args: str):
    result = run("simulate", "semantic-cache", "--db", db, "--pricing", FIXTURE_PRICING,
                 "--embedding-model", "acme-tiny", "--format", "json", *args)  # fmt: skip
    assert result.code == 0, result.stderr
    return result.json(), result.stderr


def test_hand_computed_hits_costs_and_risk(run, semantic_db: str) -> None:
    out, err = _simulate(run, semantic_db, "--embeddings", EMBEDDINGS)
    rows = {r["feature"]: r for r in out["rows"]}
    faq = rows["faq"]
    assert (faq["requests"], faq["hits"]) == (6, 2)
    assert faq["hit_rate"] == pytest.approx(2 / 6)
    assert faq["baseline_cost"] == pytest.approx(0.036, abs=1e-12)
    assert faq["embedding_cost"] == pytest.approx(0.00036, abs=1e-12)
    assert faq["simulated_cost"] == pytest.approx(0.02436, abs=1e-12)
    assert faq["savings"] == pytest.approx(0.01164, abs=1e-12)
    assert faq["savings_pct"] == pytest.approx(0.01164 / 0.036)
    assert faq["risk"] == pytest.approx(0.5)
    assert faq["verdict"] == "cache"
    other = rows["other"]
    assert other["hits"] == 0 and other["embedding_cost"] == 0
    assert other["baseline_cost"] == other["simulated_cost"] == pytest.approx(0.012, abs=1e-12)
    assert out["totals"]["hits"] == 2
    assert out["totals"]["simulated_cost"] == pytest.approx(0.02436 + 0.012 + 0.024, abs=1e-12)
    assert "6 of 12 requests in scope have no embedding" in err
    assert "precision unmeasured" in out["assumptions"]["verdict"]


def test_sweep_with_labels_picks_the_lowest_precise_threshold(run, semantic_db: str) -> None:
    out, _ = _simulate(run, semantic_db, "--embeddings", EMBEDDINGS, "--sweep", "0.80:0.95:0.15",
                       "--labels", LABELS, "--where", "feature=faq")  # fmt: skip
    assert out["group_by"] == ["threshold"]
    low, high = out["rows"]
    assert (low["threshold"], low["hits"], high["threshold"], high["hits"]) == (0.8, 3, 0.95, 2)
    assert low["simulated_cost"] == pytest.approx(0.01836, abs=1e-12)
    assert (low["precision"], low["recall"]) == (pytest.approx(2 / 3), 1.0)
    assert (high["precision"], high["recall"]) == (1.0, 1.0)
    assert (low["verdict"], high["verdict"]) == ("", "verdict")
    assert out["totals"]["threshold"] == 0.95
    assert out["totals"]["savings"] == pytest.approx(0.01164, abs=1e-12)
    assert "the lowest with precision >= 0.97" in out["assumptions"]["verdict"]


def test_no_precise_threshold_says_so(run, semantic_db: str) -> None:
    out, _ = _simulate(run, semantic_db, "--embeddings", EMBEDDINGS, "--threshold", "0.8",
                       "--labels", LABELS, "--where", "feature=faq")  # fmt: skip
    assert "no threshold reaches precision 0.97" in out["assumptions"]["verdict"]
    assert out["totals"]["precision"] == pytest.approx(2 / 3)


def test_exact_keys_and_ttl(run, semantic_db: str) -> None:
    out, _ = _simulate(run, semantic_db, "--where", "feature=keyed")
    totals = out["totals"]
    assert (totals["requests"], totals["hits"], totals["embedding_cost"]) == (4, 1, 0)
    assert totals["baseline_cost"] == pytest.approx(0.024, abs=1e-12)
    assert totals["simulated_cost"] == pytest.approx(0.018, abs=1e-12)
    assert "without an embedding call" in out["assumptions"]["embedding"]
    longer, _ = _simulate(run, semantic_db, "--where", "feature=keyed", "--ttl", "25h")
    assert longer["totals"]["hits"] == 2  # k4 is 24 h 0 m 1 s after k1


def test_plan_stacks_semantic_cache_after_caching(run, semantic_db: str) -> None:
    result = run("simulate", "plan", "--db", semantic_db, "--pricing", FIXTURE_PRICING,
                 "--embeddings", EMBEDDINGS, "--embedding-model", "acme-tiny",
                 "--where", "feature=faq", "--format", "json")  # fmt: skip
    assert result.code == 0, result.stderr
    steps = {s["step"]: s for s in result.json()["steps"]}
    assert steps["semantic-cache"]["savings"] == pytest.approx(0.01164, abs=1e-12)
    assert result.json()["totals"]["simulated_cost"] == pytest.approx(0.02436, abs=1e-12)
    assert "no --embeddings" in run("simulate", "plan", "--db", semantic_db, "--where",
                                    "feature=faq", "--format", "json").stdout  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--threshold", "1.5"], "expected a cosine similarity"),
        (["--sweep", "0.9:0.8:0.01"], "expected START:STOP:STEP"),
        (["--sweep", "0.5:0.9:0.01", "--threshold", "0.9"], "not both"),
        (["--sweep", "0.5:0.9:0.01", "--by", "feature"], "drop --by"),
        (["--ttl", "soon"], "expected a duration"),
        (["--max-entries", "0"], "positive number"),
        (["--embeddings", "missing.jsonl"], "no such file"),
        (["--scope", "colour"], "unknown dimension"),
        (["--embedding-model", "no-such-embedder"], "no price in the pricing tables"),
    ],
)
def test_bad_options_are_one_line(run, semantic_db: str, args: list[str], message: str) -> None:
    base = ["simulate", "semantic-cache", "--db", semantic_db, "--pricing", FIXTURE_PRICING]
    if "--embeddings" not in args:
        base += ["--embeddings", EMBEDDINGS]
    result = run(*base, *args)
    assert result.code != 0
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            ['{"request_id": "r1", "embedding": [1, 0]}', '{"request_id": "r2", "embedding": [1]}'],
            "different lengths",
        ),
        (['{"request_id": "r1", "embedding": [0, 0]}'], "zero or non-finite"),
        (['{"request_id": "r1", "embedding": [1, 0]}'] * 2, "appears more than once"),
        (['{"request_id": "r1", "embedding": "not a list"}'], "not a table of"),
        (["{not json"], "not a table of"),
    ],
)
def test_bad_embeddings_are_one_line(run, semantic_db: str, tmp_path: Path, lines: list[str],
                                     message: str) -> None:  # fmt: skip
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = run("simulate", "semantic-cache", "--db", semantic_db, "--embeddings", str(path))
    assert result.code != 0
    assert message in result.stderr and "Traceback" not in result.stderr


def test_parquet_embeddings_match_jsonl(run, semantic_db: str, tmp_path: Path) -> None:
    import polars as pl

    rows = [json.loads(line) for line in Path(EMBEDDINGS).read_text().splitlines()]
    path = tmp_path / "e.parquet"
    pl.DataFrame(rows).write_parquet(path)
    jsonl, _ = _simulate(run, semantic_db, "--embeddings", EMBEDDINGS)
    parquet, _ = _simulate(run, semantic_db, "--embeddings", str(path))
    assert jsonl["totals"] == parquet["totals"]


def test_spark_engine_is_refused() -> None:
    from costops.analysis.simulate.engine import Source
    from costops.analysis.simulate.semantic import simulate_semantic
    from costops.errors import UsageError

    class SparkShaped:  # what costops.engine.is_spark looks at
        engine_name = "spark"

    with pytest.raises(UsageError, match="local engine"):
        simulate_semantic(SparkShaped(), Source("requests"), [], {"embeddings": EMBEDDINGS})  # type: ignore[arg-type]


def test_options_are_checked_with_nothing_in_scope(run, semantic_db: str) -> None:
    result = run("simulate", "semantic-cache", "--db", semantic_db, "--threshold", "5",
                 "--where", "feature=nothing")  # fmt: skip
    assert result.code == 2 and "expected a cosine similarity" in result.stderr


def test_labels_naming_no_embedded_request(run, semantic_db: str, tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("request_id_a,request_id_b,same\nx1,x2,true\n")
    out, err = _simulate(run, semantic_db, "--embeddings", EMBEDDINGS, "--labels", str(labels))
    assert "precision unmeasured" in out["assumptions"]["verdict"]
    assert out["totals"]["precision"] is None
    assert "1 labelled pairs name a request with no embedding" in err


# --- the replay against the definition, request by request --------------------------------


def _reference(ts, scopes, threshold, ttl, vectors=None, keys=None, cap=None):
    """SPEC §8 as written: for each request in order, the most similar live entry of its scope
    (made strictly earlier, TTL from creation, capacity by least recent hit) serves it at or
    above the threshold."""
    hit = np.zeros(len(ts), bool)
    served = np.full(len(ts), -1)
    entries: dict[int, list[list[int]]] = {}  # scope -> [index, created, last hit, alive]
    for i in range(len(ts)):
        mine = entries.setdefault(int(scopes[i]), [])
        best, source = -np.inf, -1
        for index, created, _, alive in mine:
            if alive and ts[i] > created and (ttl is None or ts[i] - created <= ttl):
                sim = float(keys[i] == keys[index]) if keys is not None else float(
                    vectors[i] @ vectors[index])  # fmt: skip
                if sim > best:
                    best, source = sim, index
        if best >= threshold - 1e-6:
            hit[i], served[i] = True, source
            for entry in mine:
                if entry[0] == source:
                    entry[2] = max(entry[2], int(ts[i]))
        else:
            mine.append([i, int(ts[i]), int(ts[i]), True])
        if cap is not None:
            live = [e for e in mine if e[3] and (ttl is None or ts[i] - e[1] <= ttl)]
            for entry in sorted(live, key=lambda e: (e[2], e[0]))[: max(0, len(live) - cap)]:
                entry[3] = False
    return hit, served


@pytest.mark.parametrize(
    "mode", ["vectors", "keys", "capacity", "hnsw", "capacity-hnsw", "capacity-keys"]
)
def test_replay_matches_the_definition(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    rng = np.random.default_rng(7)
    for trial in range(60):
        n = int(rng.integers(1, 90))
        ts = np.sort(rng.integers(0, 300, n)).astype(np.int64)  # ties: strictly earlier counts
        scopes = np.sort(rng.integers(0, 3, n))
        order = np.lexsort((ts, scopes))
        ts, scopes = ts[order], scopes[order]
        centres = rng.standard_normal((5, 8))
        vectors = centres[rng.integers(0, 5, n)] + 0.3 * rng.standard_normal((n, 8))
        vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
        keys = rng.integers(0, 6, n) if mode in ("keys", "capacity-keys") else None
        ttl = None if trial % 4 == 0 else int(rng.integers(1, 300))
        threshold = float(rng.uniform(0.7, 0.99))
        cap = int(rng.integers(1, 4)) if mode.startswith("capacity") else None
        monkeypatch.setattr(replay_module, "BATCH", 1 if cap else int(rng.integers(1, 20)))
        if mode.endswith("hnsw"):
            monkeypatch.setattr(replay_module, "EXACT_LIMIT", int(rng.integers(1, 10)))
        given = None if keys is not None else vectors
        result = replay(ts, scopes, threshold, ttl, given, keys, cap)
        hit, served = _reference(ts, scopes, threshold, ttl, vectors, keys, cap)
        assert np.array_equal(result.hit, hit), (mode, trial)
        for i in np.flatnonzero(result.served_from != served):  # ties: an equally similar entry
            a, b = result.served_from[i], served[i]
            same = keys[a] == keys[b] if keys is not None else np.isclose(
                vectors[i] @ vectors[a], vectors[i] @ vectors[b])  # fmt: skip
            assert same, (mode, trial, i)


def test_capacity_evicts_the_least_recently_hit() -> None:
    """[1,0], [0,1], [1,0] at 0.95: unlimited, the third is served by the first; with one
    entry, the second evicts the first, and the third misses."""
    ts = np.array([0, 1, 2], np.int64)
    vectors = np.array([[1, 0], [0, 1], [1, 0]], np.float32)
    scopes = np.zeros(3, np.int64)
    assert replay(ts, scopes, 0.95, None, vectors).hit.tolist() == [False, False, True]
    capped = replay(ts, scopes, 0.95, None, vectors, max_entries=1)
    assert capped.hit.tolist() == [False, False, False] and capped.evictions == 2


# --- costops embeds the kept text (extra costops[embed]) ----------------------------------


@pytest.fixture
def tiny_model(tmp_path: Path) -> str:
    """A model2vec static model built here (no hub): one-hot word vectors, so a text's vector
    is the mean of its words' axes and a cosine is worked out by hand."""
    pytest.importorskip("model2vec")
    from model2vec import StaticModel
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    words = ["[UNK]", "[PAD]", "where", "is", "my", "refund", "open", "hours", "policy"]
    tokenizer = Tokenizer(WordLevel(vocab={w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = Whitespace()
    folder = tmp_path / "tiny-model"
    StaticModel(np.eye(len(words), dtype=np.float32), tokenizer).save_pretrained(folder)
    return str(folder)


def test_embedding_kept_text_with_a_local_model(run, db: str, tiny_model: str) -> None:
    """tests/data/semantic_text.jsonl: t1 and t2 ask "where is my refund", t3 and t4 "open
    hours", t5 "refund policy" (cosine with t1: (1/4 x 1/2) / (1/2 x 1/sqrt 2) = 0.354). At
    0.95, t2 and t4 are hits: 2 of 5. No prefix: each embedding is 1,000 tokens x $0.10/M =
    $0.0001. Baseline 5 x $0.006 = $0.03; scenario 3 x $0.006 + 5 x $0.0001 = $0.0185."""
    text = str(DATA / "semantic_text.jsonl")
    assert run("ingest", text, "--keep-text", "--db", db).code == 0
    out, _ = _simulate(run, db, "--embed-model", tiny_model)
    totals = out["totals"]
    assert (totals["requests"], totals["hits"]) == (5, 2)
    assert totals["baseline_cost"] == pytest.approx(0.03, abs=1e-12)
    assert totals["simulated_cost"] == pytest.approx(0.0185, abs=1e-12)
    assert "model2vec" in out["assumptions"]["meaning"]


def test_embed_model_errors(run, db: str, tiny_model: str, tmp_path: Path) -> None:
    assert run("ingest", str(DATA / "semantic_text.jsonl"), "--db", db).code == 0  # no text kept
    for args, message in (
        (["--embed-model", tiny_model], "ingest with --keep-text"),
        (["--embed-model", str(tmp_path)], "not a model2vec model folder"),
        (["--embed-model", tiny_model, "--embeddings", EMBEDDINGS], "not both"),
    ):
        result = run("simulate", "semantic-cache", "--db", db, *args)
        assert result.code != 0 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_sweep_thresholds_stop_at_stop() -> None:
    from costops.analysis.simulate.semantic import parse_sweep

    assert parse_sweep("0.8:0.99:0.05") == (0.8, 0.85, 0.9, 0.95)  # 1.0 would pass STOP
    assert parse_sweep("0.80:0.99:0.01")[-1] == 0.99 and len(parse_sweep("0.80:0.99:0.01")) == 20
    assert parse_sweep("0.9:0.9:0.01") == (0.9,)


def test_ttl_boundary_and_same_instant() -> None:
    """An entry made at 0 with a TTL of 10 serves a request at 10 (a gap equal to the TTL is
    live) but not one at 11; a request at the same instant as the miss cannot see its answer."""
    vectors = np.array([[1, 0]] * 2, np.float32)
    scopes = np.zeros(2, np.int64)
    for later, hit in ((10, True), (11, False), (0, False)):
        ts = np.array([0, later], np.int64)
        assert replay(ts, scopes, 0.95, 10, vectors).hit.tolist() == [False, hit], later
        keys = np.zeros(2, np.int64)
        assert replay(ts, scopes, 0.95, 10, keys=keys).hit.tolist() == [False, hit], later


def test_plan_after_a_cascade_replays_each_question_once(run, semantic_db: str) -> None:
    """After the cascade every faq question costs the same c (its acme-lite attempt plus 0.3 x
    the original's $0.006), spread over two rows. The semantic cache replays the six questions
    once: r2 and r4 hit and spare both of their rows, and each question pays one embedding:
    4 c + $0.00036. Output and batch after it change nothing here (no --trim, no batchable
    feature), and the embedding calls are never batched."""
    result = run("simulate", "plan", "--db", semantic_db, "--pricing", FIXTURE_PRICING,
                 "--from", "acme-pro", "--to", "acme-lite", "--escalation-rate", "0.3",
                 "--embeddings", EMBEDDINGS, "--embedding-model", "acme-tiny",
                 "--features", "faq", "--where", "feature=faq", "--format", "json")  # fmt: skip
    assert result.code == 0, result.stderr
    steps = {s["step"]: s for s in result.json()["steps"]}
    after_cascade = steps["cascade"]["cost_after"]
    semantic = steps["semantic-cache"]
    assert semantic["cost_before"] == pytest.approx(after_cascade, abs=1e-12)
    assert semantic["cost_after"] == pytest.approx(after_cascade * 4 / 6 + 0.00036, abs=1e-12)
    assert "no embedding" not in result.stderr  # the questions all have one
    batch = steps["batch"]  # faq's remaining requests move to batch; the embeddings do not
    assert batch["cost_before"] == pytest.approx(semantic["cost_after"], abs=1e-12)
    assert batch["savings"] == pytest.approx((semantic["cost_after"] - 0.00036) / 2, abs=1e-12)


def test_plan_checks_the_new_options_with_nothing_in_scope(run, semantic_db: str) -> None:
    cases = [(["--threshold", "3"], "cosine similarity"),
             (["--self-host", "no-such-model"], "not in the serving table")]  # fmt: skip
    for args, message in cases:
        result = run("simulate", "plan", "--db", semantic_db, "--since", "2030-01-01", *args)
        assert result.code == 2 and message in result.stderr, result.stderr
