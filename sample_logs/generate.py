"""Generate a month of realistic, seeded LLM request logs and evals in the costops JSONL format.

    python sample_logs/generate.py --seed 7 --out sample_logs            # the committed sample
    python sample_logs/generate.py --requests 1000000 --out /tmp/bench   # benchmark input

The same seed gives byte-identical files. What the sample is built to show:
- a heavy head: the support-agent feature (agent tasks of many calls) is most of the cost;
- several models on two providers, one feature already caching (5-minute TTL, refreshed on hit)
  and one with 1-hour cache writes; OpenAI features get automatic cache reads;
- arrival gaps that make caching pay for busy features and not for quiet ones; classify-ticket's
  prefix is below every minimum cacheable length;
- contract-review sends some prompts above 200k tokens, so the claude-sonnet-4-6 price change of
  2026-03-13 (the long-context surcharge dropped) splits the month;
- retries after errors, streamed partial records followed by their final record, batch requests;
- evals on ~75 % of units (~85 % pass overall, varying by feature), a few re-runs whose latest
  verdict differs, and shadow evals of claude-haiku-4-5 on email-draft units.

malformed.jsonl holds good translate records with bad lines at these line numbers:
  3 truncated JSON · 7 negative output_tokens · 11 cache_read_tokens > input_tokens ·
  15 unparseable timestamp · 19 input_tokens as a string · 23 a JSON array
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

START = datetime(2026, 3, 1, tzinfo=UTC)
DAYS = 31
# Relative traffic by UTC hour: the product's users are in Europe and the Americas.
HOUR_WEIGHTS = [2, 1, 1, 1, 1, 1, 2, 4, 6, 8, 9, 9, 9, 10, 10, 10, 9, 8, 7, 6, 5, 4, 3, 2]
WEEKEND_FACTOR = 0.4
CUSTOMERS = [
    f"cust-{name}"
    for name in (
        "acme",
        "globex",
        "initech",
        "umbrella",
        "hooli",
        "stark",
        "wayne",
        "tyrell",
        "cyberdyne",
        "soylent",
    )
]
CUSTOMER_WEIGHTS = [1 / (rank + 1) ** 1.1 for rank in range(len(CUSTOMERS))]


@dataclass(frozen=True)
class Feature:
    """One product feature: its model, traffic, prompt shape, caching behaviour and quality."""

    name: str
    provider: str
    model: str
    share: float  # of all requests
    templates: tuple[tuple[str, int], ...]  # (prompt_template, prefix_tokens)
    body_tokens: tuple[int, float]  # lognormal median and sigma of the non-prefix input
    output_tokens: tuple[int, float]
    max_tokens: int
    pass_rate: float
    calls_per_task: tuple[int, int] = (0, 0)  # agent tasks: calls drawn from this range
    cache_ttl_s: int = 0  # the feature's own caching (Anthropic cache_control); 0 = none
    long_share: float = 0.0  # share of requests with a very long document
    batch_share: float = 0.0
    reasoning_share: float = 0.0  # of output tokens
    workspace: str = "default"


FEATURES = (
    Feature(
        "support-agent",
        "anthropic",
        "claude-sonnet-4-6",
        0.30,
        (("agent-v3", 6000), ("agent-v4", 6400)),
        (1800, 0.5),
        (280, 0.6),
        1024,
        0.72,
        calls_per_task=(5, 40),
        cache_ttl_s=300,
    ),
    Feature(
        "contract-review",
        "anthropic",
        "claude-sonnet-4-6",
        0.012,
        (("review-v1", 3000),),
        (60000, 0.9),
        (1800, 0.4),
        4096,
        0.85,
        long_share=0.2,
    ),
    Feature(
        "email-draft",
        "anthropic",
        "claude-sonnet-4-6",
        0.09,
        (("draft-v2", 2400), ("draft-formal", 2600)),
        (900, 0.5),
        (320, 0.5),
        800,
        0.86,
    ),
    Feature(
        "doc-summarize",
        "anthropic",
        "claude-haiku-4-5-20251001",
        0.10,
        (("summary-v1", 800),),
        (9000, 0.7),
        (350, 0.4),
        1024,
        0.84,
    ),
    Feature(
        "code-review",
        "anthropic",
        "claude-opus-4-6",
        0.015,
        (("pr-review-v2", 9000),),
        (25000, 0.6),
        (1400, 0.5),
        4096,
        0.80,
        cache_ttl_s=3600,
        workspace="research",
    ),
    Feature(
        "search-rerank",
        "openai",
        "gpt-5-mini-2025-08-07",
        0.20,
        (("rerank-v5", 1500),),
        (2500, 0.4),
        (120, 0.5),
        512,
        0.88,
        reasoning_share=0.5,
    ),
    Feature(
        "classify-ticket",
        "openai",
        "gpt-5-nano",
        0.23,
        (("triage-v1", 600),),
        (350, 0.5),
        (12, 0.5),
        64,
        0.92,
        reasoning_share=0.4,
    ),
    Feature(
        "translate",
        "openai",
        "gpt-4.1",
        0.053,
        (("translate-v1", 400),),
        (1600, 0.6),
        (1700, 0.6),
        4096,
        0.90,
        batch_share=0.4,
    ),
)
SHADOW = {"email-draft": ("claude-haiku-4-5", 0.75)}  # feature -> (candidate model, pass rate)


class Writer:
    """Compact JSON lines into a deterministic gzip file (mtime 0)."""

    def __init__(self, path: Path):
        self.raw = path.open("wb")
        self.gz = gzip.GzipFile(filename="", mode="wb", fileobj=self.raw, mtime=0)
        self.lines = 0

    def write(self, record: dict[str, Any]) -> None:
        self.gz.write(json.dumps(record, separators=(",", ":")).encode() + b"\n")
        self.lines += 1

    def close(self) -> None:
        self.gz.close()
        self.raw.close()


def lognormal(rng: random.Random, median: int, sigma: float) -> int:
    return max(1, int(median * math.exp(rng.gauss(0, sigma))))


def arrival(rng: random.Random) -> datetime:
    """A request time in the month with the weekly and daily traffic shape."""
    while True:
        day = rng.randrange(DAYS)
        if (START + timedelta(days=day)).weekday() < 5 or rng.random() < WEEKEND_FACTOR:
            break
    hour = rng.choices(range(24), HOUR_WEIGHTS)[0]
    return START + timedelta(days=day, hours=hour, seconds=rng.uniform(0, 3600))


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def prefix_hash(feature: str, template: str) -> str:
    return hashlib.sha256(f"{feature}/{template}".encode()).hexdigest()[:16]


def base_record(rng: random.Random, feature: Feature, moment: datetime, rid: str) -> dict[str, Any]:
    template, prefix = rng.choice(feature.templates)
    return {
        "request_id": rid,
        "timestamp": stamp(moment),
        "provider": feature.provider,
        "model": feature.model,
        "feature": feature.name,
        "customer": rng.choices(CUSTOMERS, CUSTOMER_WEIGHTS)[0],
        "prompt_template": template,
        "environment": "prod" if rng.random() < 0.95 else "staging",
        "workspace": feature.workspace,
        "prefix_hash": prefix_hash(feature.name, template),
        "prefix_tokens": prefix,
        "max_tokens": feature.max_tokens,
        "attributes": {"app_version": rng.choice(("2.3.1", "2.4.0")), "region_hint": "eu-west"},
    }


def fill_usage(rng: random.Random, feature: Feature, record: dict[str, Any], body: int) -> None:
    """Input/output tokens, reasoning, finish reason, status and latency of one call."""
    record["input_tokens"] = record["prefix_tokens"] + body
    output = lognormal(rng, *feature.output_tokens)
    if output >= feature.max_tokens:
        output = feature.max_tokens
        record["finish_reason"] = "max_tokens" if feature.provider == "anthropic" else "length"
    else:
        record["finish_reason"] = "end_turn" if feature.provider == "anthropic" else "stop"
    if rng.random() < 0.01:
        record["status"] = "error"
        record["finish_reason"] = "error"
        output = 0
    record["output_tokens"] = output
    if feature.reasoning_share and output:
        record["reasoning_tokens"] = int(output * feature.reasoning_share * rng.uniform(0.6, 1.2))
        record["reasoning_tokens"] = min(record["reasoning_tokens"], output)
    record["latency_ms"] = int(300 + output * rng.uniform(8, 25) + body * 0.02)
    if feature.batch_share and rng.random() < feature.batch_share:
        record["batch"] = True
        record["service_tier"] = "batch"


def agent_tasks(rng: random.Random, feature: Feature, count: int) -> Iterator[dict[str, Any]]:
    """Agent tasks: many calls in quick succession, context growing, retries after errors."""
    made = task_no = 0
    while made < count:
        task_no += 1
        task_id = f"task-{task_no:06d}"
        moment = arrival(rng)
        calls = rng.randint(*feature.calls_per_task)
        if rng.random() < 0.03:
            calls = rng.randint(60, 90)  # a runaway loop
        template, customer = None, None
        for call in range(calls):
            record = base_record(rng, feature, moment, f"msg_{task_id}_{call:03d}")
            template = template or record["prompt_template"]
            customer = customer or record["customer"]
            record.update(
                task_id=task_id,
                trace_id=f"tr-{task_id}",
                prompt_template=template,
                customer=customer,
                session_id=f"sess-{task_no // 3:05d}",
                prefix_hash=prefix_hash(feature.name, template),
                prefix_tokens=dict(feature.templates)[template],
            )
            body = lognormal(rng, *feature.body_tokens) + call * rng.randint(900, 1800)
            fill_usage(rng, feature, record, body)
            if record["finish_reason"] == "end_turn" and call < calls - 1:
                record["finish_reason"] = "tool_use"
            yield record
            made += 1
            moment += timedelta(seconds=rng.uniform(3, 40))
            if record.get("status") == "error":  # the agent retries the failed call
                retry = dict(
                    record, request_id=record["request_id"] + "_retry", timestamp=stamp(moment)
                )
                retry.pop("status")
                fill_usage(rng, feature, retry, body)
                yield retry
                made += 1


def single_calls(rng: random.Random, feature: Feature, count: int) -> Iterator[dict[str, Any]]:
    for index in range(count):
        record = base_record(rng, feature, arrival(rng), f"req_{feature.name}_{index:07d}")
        body = lognormal(rng, *feature.body_tokens)
        if feature.long_share and rng.random() < feature.long_share:
            body = rng.randint(200_000, 400_000)
        fill_usage(rng, feature, record, body)
        yield record


def apply_actual_caching(feature: Feature, records: list[dict[str, Any]]) -> None:
    """What the provider did: Anthropic writes/reads with the feature's TTL (refreshed on hit);
    OpenAI reads automatically when the same prefix came within 5 minutes (>= 1024 tokens)."""
    last_seen: dict[tuple[str, str], datetime] = {}
    for record in records:
        moment = datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00"))
        key = (record["workspace"], record["prefix_hash"])
        previous = last_seen.get(key)
        last_seen[key] = moment
        gap = (moment - previous).total_seconds() if previous is not None else math.inf
        if feature.cache_ttl_s:
            if gap <= feature.cache_ttl_s:
                record["cache_read_tokens"] = record["prefix_tokens"]
            elif feature.cache_ttl_s > 300:
                record["cache_write_1h_tokens"] = record["prefix_tokens"]
            else:
                record["cache_write_5m_tokens"] = record["prefix_tokens"]
        elif feature.provider == "openai" and record["prefix_tokens"] >= 1024 and gap <= 300:
            record["cache_read_tokens"] = record["prefix_tokens"] // 128 * 128


def write_feature(
    rng: random.Random,
    feature: Feature,
    count: int,
    out: Writer,
    evals: Writer,
    stats: dict[str, int],
) -> None:
    make = agent_tasks if feature.calls_per_task[1] else single_calls
    records = sorted(make(rng, feature, count), key=lambda r: r["timestamp"])
    apply_actual_caching(feature, records)
    for record in records:
        if feature.calls_per_task[1] and record["output_tokens"] > 50 and rng.random() < 0.006:
            partial = dict(record, output_tokens=rng.randint(1, 40))  # a streamed partial record
            partial.pop("finish_reason", None)
            partial.pop("reasoning_tokens", None)
            out.write(partial)
            stats["partial records"] += 1
        out.write(record)
    stats[feature.name] = len(records)
    write_evals(rng, feature, records, evals, stats)


def write_evals(
    rng: random.Random,
    feature: Feature,
    records: list[dict[str, Any]],
    evals: Writer,
    stats: dict[str, int],
) -> None:
    """One verdict per evaluated unit (a task or a request), some re-runs, shadow evals."""
    units: dict[str, dict[str, Any]] = {}
    for record in records:
        units[record.get("task_id") or record["request_id"]] = record  # the unit's last call
    evaluators = ["rubric-v2"] + (["json-schema"] if feature.reasoning_share else [])
    for unit, last in units.items():
        if rng.random() > 0.75:
            continue
        key = {"task_id": unit} if "task_id" in last else {"request_id": unit}
        when = datetime.fromisoformat(last["timestamp"].replace("Z", "+00:00"))
        passed = rng.random() < feature.pass_rate
        for evaluator in evaluators:
            verdict = passed if evaluator == "rubric-v2" else rng.random() < 0.99
            evals.write(
                {
                    **key,
                    "evaluator": evaluator,
                    "passed": verdict,
                    "score": round(rng.uniform(0.7, 1.0) if verdict else rng.uniform(0, 0.6), 2),
                    "timestamp": stamp(when + timedelta(minutes=rng.randint(1, 90))),
                }
            )
        if rng.random() < 0.02:  # re-graded later with a newer rubric: the latest verdict counts
            evals.write(
                {
                    **key,
                    "evaluator": "rubric-v2",
                    "passed": not passed,
                    "timestamp": stamp(when + timedelta(days=1)),
                }
            )
            stats["re-graded units"] += 1
        if feature.name in SHADOW:
            model, rate = SHADOW[feature.name]
            shadow_passed = rng.random() < (rate + 0.1 if passed else 0.2)
            evals.write(
                {
                    **key,
                    "evaluator": "rubric-v2",
                    "passed": shadow_passed,
                    "model": model,
                    "timestamp": stamp(when + timedelta(hours=2)),
                }
            )
            stats["shadow evals"] += 1
        stats["evaluated units"] += 1


def write_malformed(rng: random.Random, path: Path) -> None:
    feature = next(f for f in FEATURES if f.name == "translate")
    bad = {
        3: '{"request_id":"req_trunc","timestamp":"2026-03-31T10:00:00Z","model":"gpt-4.1","inp',
        7: {"output_tokens": -12},
        11: {"cache_read_tokens": 999_999},
        15: {"timestamp": "31/03/2026 10:00"},
        19: {"input_tokens": "lots"},
        23: '["not", "a", "record"]',
    }
    lines = []
    for line_no in range(1, 31):
        moment = START + timedelta(days=30, hours=8, minutes=line_no * 7)
        record = base_record(rng, feature, moment, f"req_translate_late_{line_no:03d}")
        fill_usage(rng, feature, record, lognormal(rng, *feature.body_tokens))
        defect = bad.get(line_no)
        if isinstance(defect, str):
            lines.append(defect)
            continue
        record.update(defect or {})
        lines.append(json.dumps(record, separators=(",", ":")))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    parser.add_argument("--requests", type=int, default=30_000, help="approximate total")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    stats: dict[str, int] = {
        "partial records": 0,
        "re-graded units": 0,
        "shadow evals": 0,
        "evaluated units": 0,
    }
    requests, evals = Writer(args.out / "requests.jsonl.gz"), Writer(args.out / "evals.jsonl.gz")
    for feature in FEATURES:
        write_feature(rng, feature, round(args.requests * feature.share), requests, evals, stats)
    requests.close()
    evals.close()
    write_malformed(rng, args.out / "malformed.jsonl")
    report(sys.stderr, args.out, requests.lines, evals.lines, stats)
    return 0


def report(stream: IO[str], out: Path, requests: int, evals: int, stats: dict[str, int]) -> None:
    print(f"{requests:,} request lines, {evals:,} eval lines", file=stream)
    for name, value in stats.items():
        print(f"  {name}: {value:,}", file=stream)
    for path in sorted(out.glob("*.jsonl*")):
        print(f"  {path.name}: {path.stat().st_size / 1e6:.2f} MB", file=stream)


if __name__ == "__main__":
    sys.exit(main())
