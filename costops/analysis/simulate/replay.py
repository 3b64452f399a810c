"""The semantic cache's replay (SPEC §8, semantic-cache): which requests a cache of earlier
answers would have served, request by request in time order, within each scope.

A request looks for the most similar live entry of its scope: similarity at or above the
threshold is a hit, served from that entry; else it is a miss, and its answer becomes an entry
(a hit does not). An entry serves only requests strictly later than the miss that made it (two
requests at the same instant cannot see each other's answers) and lives `ttl` after it (a gap
equal to the TTL is still live, as in prompt caching); it is never refreshed. With
`max_entries`, a full cache evicts its least recently hit entries (never hit: counted from
creation); evictions happen after each batch, and a batch is then no longer than the capacity,
so for the length of one batch the cache can hold up to twice its capacity.

The replay is sequential by definition (a miss changes what later requests find), but the work
is not done request by request. Requests go in batches of BATCH per scope:
- every request of a batch searches the entries made before the batch at once (a matrix
  product, or a faiss HNSW index once a segment outgrows EXACT_LIMIT entries);
- within the batch, request i can be served by an earlier miss j of the same batch: the
  similarities of the batch to itself give the candidate pairs, and "miss = no earlier live
  match among the misses" is solved as a fixed point of whole-batch boolean products (each
  round settles at least the next request in order, so it ends; it usually takes a few rounds).
Entries sit in segments of one TTL of creation time each: a request only ever reads the two
newest, and older segments are dropped whole, so the index never carries expired entries
beyond one segment. The HNSW index is approximate (its graph search can miss the nearest entry,
and it is asked for NEIGHBOURS candidates); it is built on one thread, so the same data gives
the same hits. Evicted entries leave an exactly searched segment at once and an indexed one
once they are a quarter of it (masked until then).

Similarity is the cosine of unit vectors, or for exact keys (`keys`) 1 for the same key and 0
otherwise, by the same replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

BATCH = 1024
# Entries per segment below which a matrix product beats the HNSW index, measured here for a
# batch of 1,024 queries of 256 dimensions (2 cores): exact 48 ms at 10k entries, 105 ms at
# 20k, 223 ms at 40k; HNSW search 42 / 49 / 96 ms, but each 1,024 entries added cost 90-180
# ms, so with half the requests becoming entries the index wins only past about 30k.
EXACT_LIMIT = 32_768
# Neighbours asked of the HNSW index per request: the nearest live one is among them unless
# more than this many nearer entries of its segment have expired or been evicted.
NEIGHBOURS = 16
NONE = -np.inf
# Vectors are float32: a cosine the data makes exactly T may come out a rounding error under it.
TOLERANCE = 1e-6


@dataclass(frozen=True)
class Replay:
    """Per request (in the order given): hit, and the index of the request whose answer served
    it (-1 for a miss); entries evicted for capacity."""

    hit: np.ndarray
    served_from: np.ndarray
    evictions: int


class _Segment:
    """The entries created in one TTL of time: their request indices, times and vectors, and,
    past EXACT_LIMIT entries, an HNSW index over the vectors."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.size = 0
        self._index = np.empty(0, np.int64)
        self._ts = np.empty(0, np.int64)
        self._vectors = np.empty((0, dim), np.float32)
        self.hnsw: Any = None  # faiss.IndexHNSWFlat past EXACT_LIMIT entries
        self.dead = 0  # evicted entries the HNSW index still holds (masked when searched)

    @property
    def index(self) -> np.ndarray:
        return self._index[: self.size]

    @property
    def ts(self) -> np.ndarray:
        return self._ts[: self.size]

    @property
    def vectors(self) -> np.ndarray:
        return self._vectors[: self.size]

    def add(self, index: np.ndarray, ts: np.ndarray, vectors: np.ndarray) -> None:
        end = self.size + len(index)
        if end > len(self._index):  # grow by doubling: each entry is copied O(1) times
            capacity = max(end, 2 * len(self._index), 1024)
            self._index = np.resize(self._index, capacity)
            self._ts = np.resize(self._ts, capacity)
            grown = np.empty((capacity, self.dim), np.float32)
            grown[: self.size] = self._vectors[: self.size]
            self._vectors = grown
        self._index[self.size : end] = index
        self._ts[self.size : end] = ts
        self._vectors[self.size : end] = vectors
        self.size = end
        if self.hnsw is None and self.size > EXACT_LIMIT:
            self.hnsw = _hnsw(self.dim)
            _add(self.hnsw, self.vectors)
        elif self.hnsw is not None:
            _add(self.hnsw, vectors)

    def discard(self, gone: np.ndarray) -> None:
        """Forget evicted entries (`gone`, one flag per entry). Searched exactly, they go at
        once; an HNSW index keeps them masked until they are a quarter of it, then is rebuilt
        from the live ones."""
        if self.hnsw is not None:
            self.dead = int(gone.sum())
            if self.dead * 4 < self.size:
                return
        keep = ~gone
        self._index, self._ts = self.index[keep], self.ts[keep]
        self._vectors = self.vectors[keep]
        self.size, self.dead = int(keep.sum()), 0
        self.hnsw = None
        if self.size > EXACT_LIMIT:
            self.hnsw = _hnsw(self.dim)
            _add(self.hnsw, self.vectors)

    def nearest(
        self, q: np.ndarray, tq: np.ndarray, span: int | None, evicted: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each query's most similar entry here that is live for it (made strictly before it,
        within the TTL, not evicted): similarity (NONE: none) and request index. Exact over
        every entry, or over the HNSW index's NEIGHBOURS nearest."""
        m = len(q)
        if self.hnsw is None:
            # entries are in time order: those live for a query are a contiguous run
            first = 0
            starts = np.searchsorted(self.ts, tq - span, side="left") if span is not None else None
            if starts is not None:
                first = int(starts.min())
            ends = np.searchsorted(self.ts, tq, side="left")  # strictly earlier
            last = int(ends.max())
            if first >= last:
                return np.full(m, NONE), np.full(m, -1, np.int64)
            sims = q @ self._vectors[first:last].T
            columns = np.arange(first, last)[None, :]
            if starts is not None:
                sims[columns < starts[:, None]] = NONE
            sims[columns >= ends[:, None]] = NONE
            pick = sims.argmax(axis=1)
            return sims[np.arange(m), pick].astype(np.float64), self._index[first + pick]
        sims, found = self.hnsw.search(q, min(NEIGHBOURS, self.size))
        safe = np.where(found >= 0, found, 0)
        valid = (found >= 0) & (self.ts[safe] < tq[:, None])
        if self.dead:
            valid &= ~evicted[self.index[safe]]
        if span is not None:
            valid &= (tq[:, None] - self.ts[safe]) <= span
        sims = np.where(valid, sims, NONE)
        pick = sims.argmax(axis=1)
        rows = np.arange(m)
        return sims[rows, pick], self.index[safe[rows, pick]]


def _hnsw(dim: int) -> Any:
    import faiss

    index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efSearch = 64
    return index


def _add(index: Any, vectors: np.ndarray) -> None:
    """Add to an HNSW index on one thread: faiss builds the graph in an unspecified order on
    several, and the same data must give the same hits (and the same dollars)."""
    import faiss

    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        index.add(np.ascontiguousarray(vectors, np.float32))
    finally:
        faiss.omp_set_num_threads(threads)


class _Vectors:
    """The live entries of one scope as vectors, in segments of one TTL of creation time."""

    def __init__(self, dim: int, span: int | None) -> None:
        self.dim, self.span = dim, span
        self.segments: dict[int, _Segment] = {}

    def expire(self, now: int) -> None:
        """Drop the segments no request at or after `now` can read."""
        if self.span is not None:
            oldest = (now - self.span) // self.span
            for sid in [s for s in self.segments if s < oldest]:
                del self.segments[sid]

    def nearest(
        self, q: np.ndarray, tq: np.ndarray, evicted: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        best_sim = np.full(len(tq), NONE)
        best_from = np.full(len(tq), -1, np.int64)
        for segment in self.segments.values():
            sim, source = segment.nearest(q, tq, self.span, evicted)
            better = sim > best_sim
            best_sim = np.where(better, sim, best_sim)
            best_from = np.where(better, source, best_from)
        return best_sim, best_from

    def add(self, index: np.ndarray, ts: np.ndarray, q: np.ndarray) -> None:
        sid_of = ts // self.span if self.span is not None else np.zeros(len(ts), np.int64)
        for sid in np.unique(sid_of):
            part = sid_of == sid
            segment = self.segments.setdefault(int(sid), _Segment(self.dim))
            segment.add(index[part], ts[part], q[part])

    def live(self) -> np.ndarray:
        return np.concatenate([s.index for s in self.segments.values()] or [np.empty(0, np.int64)])

    def discard(self, evicted: np.ndarray) -> None:
        for segment in self.segments.values():
            gone = evicted[segment.index]
            if gone.any():
                segment.discard(gone)


class _Keys:
    """The entries of one scope as exact keys: one sorted array of key x STRIDE + request
    index (the index rises with time within a scope), so a request's earliest live entry of
    its key is one binary search."""

    def __init__(self, span: int | None, ts: np.ndarray, start: int, end: int) -> None:
        self.span, self.times, self.start, self.end = span, ts, start, end
        self.stride = len(ts)
        self.sorted = np.empty(0, np.int64)

    def expire(self, now: int) -> None:
        if self.span is not None and len(self.sorted):
            self.sorted = self.sorted[self.times[self.sorted % self.stride] >= now - self.span]

    def nearest(
        self, qk: np.ndarray, tq: np.ndarray, evicted: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per query, the earliest entry of its key made strictly earlier and within the TTL
        (every live entry of a key is equally similar: 1)."""
        scope = self.times[self.start : self.end]
        lo = np.searchsorted(scope, tq - self.span, "left") if self.span is not None else 0
        hi = np.searchsorted(scope, tq, "left")
        base = qk * self.stride + self.start
        at = np.searchsorted(self.sorted, base + lo, "left")
        found = (
            self.sorted[np.minimum(at, max(len(self.sorted) - 1, 0))] if len(self.sorted) else at
        )
        valid = (at < len(self.sorted)) & (found < base + hi)
        return np.where(valid, 1.0, NONE), np.where(valid, found % self.stride, -1)

    def add(self, index: np.ndarray, ts: np.ndarray, qk: np.ndarray) -> None:
        new = np.sort(qk * self.stride + index)
        self.sorted = np.insert(self.sorted, np.searchsorted(self.sorted, new), new)

    def live(self) -> np.ndarray:
        return self.sorted % self.stride

    def discard(self, evicted: np.ndarray) -> None:
        self.sorted = self.sorted[~evicted[self.sorted % self.stride]]


def replay(
    ts: np.ndarray,
    scopes: np.ndarray,
    threshold: float,
    ttl_us: int | None,
    vectors: np.ndarray | None = None,
    keys: np.ndarray | None = None,
    max_entries: int | None = None,
) -> Replay:
    """Replay requests sorted by (scope, ts): `ts` in microseconds, `scopes` a scope number per
    request, and either unit `vectors` (n x dim, float32) or integer `keys`."""
    n = len(ts)
    threshold -= TOLERANCE
    # a full cache is checked after every batch: a batch no longer than the capacity keeps
    # the overshoot within it
    size = min(BATCH, max_entries) if max_entries else BATCH
    state = _State(ts, np.zeros(n, bool), np.full(n, -1, np.int64), np.zeros(n, bool),
                   np.full(n, np.iinfo(np.int64).min, np.int64))  # fmt: skip
    given = keys if keys is not None else vectors
    if given is None:
        raise ValueError("replay: vectors or keys")
    bounds = np.flatnonzero(np.diff(scopes)) + 1
    for start, end in zip(np.r_[0, bounds], np.r_[bounds, n], strict=True):
        store = (
            _Keys(ttl_us, ts, int(start), int(end))
            if keys is not None
            else _Vectors(given.shape[1], ttl_us)
        )
        for lo in range(int(start), int(end), size):
            hi = min(lo + size, int(end))
            rows = given[lo:hi]
            _batch(store, rows, keys is not None, ts[lo:hi], lo, threshold, ttl_us, state)
            if max_entries is not None:
                _evict(store, state, max_entries, int(ts[hi - 1]), ttl_us)
    return Replay(state.hit, state.served, int(state.evicted.sum()))


@dataclass(frozen=True)
class _State:
    ts: np.ndarray  # each request's time: an entry's creation
    hit: np.ndarray
    served: np.ndarray
    evicted: np.ndarray
    last_hit: np.ndarray  # each entry's latest hit (capacity only)


def _batch(
    store: _Vectors | _Keys,
    rows: np.ndarray,
    exact_keys: bool,
    tq: np.ndarray,
    lo: int,
    threshold: float,
    span: int | None,
    state: _State,
) -> None:
    """One batch of a scope: search the entries made before it, then settle the batch."""
    store.expire(int(tq[0]))
    before_sim, before_from = store.nearest(rows, tq, state.evicted)
    # the batch against itself: j < i, j still live at i, similar enough
    within = (rows[:, None] == rows[None, :]).astype(np.float32) if exact_keys else rows @ rows.T
    m = len(tq)
    earlier = tq[:, None] > tq[None, :]  # strictly earlier: an answer is back only after
    if span is not None:
        earlier &= (tq[:, None] - tq[None, :]) <= span
    candidate = earlier & (within >= threshold)
    miss = _misses(candidate, before_sim >= threshold)
    inside = np.where(candidate & miss[None, :], within, NONE)
    best_inside = inside.argmax(axis=1)
    inside_sim = inside[np.arange(m), best_inside]
    source = np.where(before_sim >= inside_sim, before_from, lo + best_inside)
    hits = ~miss
    state.hit[lo : lo + m] = hits
    state.served[lo : lo + m] = np.where(hits, source, -1)
    np.maximum.at(state.last_hit, source[hits], tq[hits])
    made = np.flatnonzero(miss)
    store.add(made + lo, tq[made], rows[made])


def _misses(candidate: np.ndarray, served_before: np.ndarray) -> np.ndarray:
    """The batch's misses: not served by an earlier entry, and no earlier miss of the batch
    within reach. The fixed point is unique (request i depends on requests before it only),
    and round k settles at least the first k requests."""
    miss = ~served_before
    for _ in range(len(miss) + 1):
        reached = (candidate & miss[None, :]).any(axis=1)
        nxt = ~served_before & ~reached
        if np.array_equal(nxt, miss):
            return miss
        miss = nxt
    raise AssertionError("the batch's misses did not settle")


def _evict(
    store: _Vectors | _Keys, state: _State, max_entries: int, now: int, span: int | None
) -> None:
    """Over capacity: evict the least recently hit live entries (never hit: counted from
    their creation), the oldest first on ties."""
    live = store.live()
    live = live[~state.evicted[live]]
    if span is not None:
        live = live[(now - state.ts[live]) <= span]
    over = len(live) - max_entries
    if over > 0:
        recent = np.maximum(state.last_hit[live], state.ts[live])
        state.evicted[live[np.lexsort((live, recent))[:over]]] = True
        store.discard(state.evicted)
