"""A folder of Claude Code session transcripts shaped like `~/.claude/projects`, for
`make bench-claude-code`: `projects/<project-dir>/<sessionId>.jsonl`, seeded (same arguments,
same bytes).

Each session is what Claude Code writes: user prompts; assistant replies written one line per
content block while they stream (the lines share `message.id` and `requestId`, and an early line
may carry a partial `output_tokens`); tool calls and their results (the bulk of the bytes, the
result text twice: in the message and in `toolUseResult`); sub-agent runs inline as sidechains
(often on Haiku); `summary`, `file-history-snapshot`, `system` and `progress` lines; the odd
`<synthetic>` error reply with zero usage; compaction when the context nears its limit; and a
few resumed sessions that start with a copy of an earlier session's lines. Usage follows
Anthropic's: `input_tokens` excludes the cache, the context is re-read from the cache each call
and each call writes what it added (5-minute or 1-hour TTL, or no TTL split in older versions).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import string
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

START = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
DAYS = 30
# (model, weight as a session's main model)
MODELS = [
    ("claude-opus-4-6", 30),
    ("claude-opus-4-5-20251101", 15),
    ("claude-sonnet-4-6", 25),
    ("claude-sonnet-4-5-20250929", 15),
    ("claude-haiku-4-5-20251001", 10),
    ("claude-opus-4-1-20250805", 5),
]
SUBAGENT_MODEL = "claude-haiku-4-5-20251001"
# (Claude Code version, weight); versions before 1.0.80 wrote no cache_creation TTL split.
VERSIONS = [("2.1.72", 40), ("2.0.76", 30), ("2.0.14", 20), ("1.0.72", 10)]
TOOLS = ["Read", "Bash", "Edit", "Grep", "Glob", "Write", "TodoWrite", "WebFetch"]
SYSTEM_PROMPT_TOKENS = 16_000  # Claude Code's system prompt and tool definitions
COMPACT_AT = 165_000  # context tokens at which the session is compacted (kept under 200k)
CHARS_PER_TOKEN = 4


def _corpus(rng: random.Random, size: int) -> str:
    """Text to slice tool output and replies from: words, code-ish punctuation and newlines
    (so JSON escapes some of it, as in real transcripts)."""
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))) for _ in range(800)]
    words += ["def", "return", "import", "{", "}", "()", '"path"', "\\n", "=", "->", "\t"]
    parts: list[str] = []
    length = 0
    while length < size:
        line = " ".join(rng.choices(words, k=rng.randint(3, 14)))
        parts.append(line)
        length += len(line) + 1
    return "\n".join(parts)


@dataclass
class Session:
    """The state one transcript carries from line to line."""

    rng: random.Random
    text: str
    session_id: str
    cwd: str
    version: str
    branch: str
    model: str
    ttl: str  # "5m", "1h" or "" (no split: older versions)
    now: dt.datetime
    parent: str | None = None
    context: int = 0  # tokens in the cache after the last call
    lines: list[str] = field(default_factory=list)

    def snippet(self, chars: int) -> str:
        at = self.rng.randrange(0, len(self.text) - chars - 1)
        return self.text[at : at + chars]

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def token_id(self, prefix: str, length: int) -> str:
        return prefix + "".join(self.rng.choices(string.ascii_letters + string.digits, k=length))

    def tick(self, low: float, high: float) -> str:
        self.now += dt.timedelta(seconds=self.rng.uniform(low, high))
        return self.now.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def envelope(self, kind: str, sidechain: bool, **extra: object) -> dict[str, object]:
        """The keys every message line starts with, then the line's own."""
        line: dict[str, object] = {
            "parentUuid": self.parent, "isSidechain": sidechain, "userType": "external",
            "cwd": self.cwd, "sessionId": self.session_id, "version": self.version,
            "gitBranch": self.branch, "type": kind,
        }  # fmt: skip
        line.update(extra)
        line["uuid"] = self.uid()
        self.parent = str(line["uuid"])
        return line

    def write(self, line: dict[str, object]) -> None:
        self.lines.append(json.dumps(line, separators=(",", ":"), ensure_ascii=False))


def _usage(s: Session, new_tokens: int, output: int) -> dict[str, object]:
    """One call's usage: the context so far read from the cache, what it added written to it."""
    read = s.context if s.rng.random() > 0.03 else 0  # now and then the cache has expired
    created = new_tokens + (s.context - read)
    usage: dict[str, object] = {
        "input_tokens": s.rng.randint(1, 12),
        "cache_creation_input_tokens": created,
        "cache_read_input_tokens": read,
    }
    if s.ttl:
        usage["cache_creation"] = {
            "ephemeral_5m_input_tokens": created if s.ttl == "5m" else 0,
            "ephemeral_1h_input_tokens": created if s.ttl == "1h" else 0,
        }
    usage["output_tokens"] = output
    usage["service_tier"] = "standard"
    s.context += new_tokens + output
    return usage


def _tool_input(s: Session, tool: str) -> dict[str, object]:
    path = f"{s.cwd}/src/{s.token_id('', 6).lower()}.py"
    return {
        "Read": {"file_path": path},
        "Bash": {"command": f"pytest -q {path}", "description": "Run the tests"},
        "Edit": {"file_path": path, "old_string": s.snippet(120), "new_string": s.snippet(140)},
        "Grep": {"pattern": s.snippet(10), "path": s.cwd},
        "Glob": {"pattern": "**/*.py"},
        "Write": {"file_path": path, "content": s.snippet(1500)},
        "TodoWrite": {"todos": [{"content": s.snippet(40), "status": "pending"}]},
        "WebFetch": {"url": "https://docs.example.com/api", "prompt": s.snippet(60)},
        "Task": {"description": "Explore the code", "prompt": s.snippet(400),
                 "subagent_type": "Explore"},
    }[tool]  # fmt: skip


def _reply(
    s: Session, model: str, sidechain: bool, tools: list[str], new_tokens: int
) -> list[dict[str, object]]:
    """One API call: a line per content block (thinking, text, each tool use), all sharing the
    message id, request id and usage; early lines may carry a partial output count. Returns the
    tool uses."""
    output = int(s.rng.lognormvariate(5.3, 1.0)) + 10
    usage = _usage(s, new_tokens, output)
    message_id = s.token_id("msg_01", 22)
    request_id = s.token_id("req_011C", 18)
    blocks: list[dict[str, object]] = []
    if s.rng.random() < 0.3 and "haiku" not in model:
        blocks.append({"type": "thinking", "thinking": s.snippet(s.rng.randint(200, 3000)),
                       "signature": s.token_id("Eu", 300)})  # fmt: skip
    if not tools or s.rng.random() < 0.6:
        blocks.append({"type": "text", "text": s.snippet(min(output * CHARS_PER_TOKEN, 6000))})
    uses: list[dict[str, object]] = [
        {"type": "tool_use", "id": s.token_id("toolu_01", 22), "name": tool,
         "input": _tool_input(s, tool)} for tool in tools
    ]  # fmt: skip
    blocks.extend(uses)
    partial = s.rng.random() < 0.4
    for n, block in enumerate(blocks):
        last = n == len(blocks) - 1
        shown = usage if last or not partial else {**usage, "output_tokens": s.rng.randint(1, 30)}
        stop = ("tool_use" if tools else "end_turn") if last else None
        message = {
            "model": model, "id": message_id, "type": "message", "role": "assistant",
            "content": [block], "stop_reason": stop, "stop_sequence": None, "usage": shown,
        }  # fmt: skip
        s.write(s.envelope("assistant", sidechain, message=message, requestId=request_id,
                           timestamp=s.tick(0.2, 4.0 if last else 1.5)))  # fmt: skip
    return uses


def _tool_results(s: Session, sidechain: bool, uses: list[dict[str, object]]) -> int:
    """A user line with each tool's result (text twice, as Claude Code writes it); returns the
    tokens they add to the context."""
    tokens = 0
    for use in uses:
        size = min(int(s.rng.lognormvariate(6.7, 1.4)), 60_000) if use["name"] != "Task" else 2000
        output = s.snippet(size)
        tokens += size // CHARS_PER_TOKEN + 20
        content = [{"tool_use_id": use["id"], "type": "tool_result", "content": output}]
        result: dict[str, object] = (
            {"type": "text", "file": {"filePath": use["input"]["file_path"],  # type: ignore[index]
                                      "content": output, "numLines": output.count("\n") + 1,
                                      "startLine": 1, "totalLines": output.count("\n") + 1}}
            if use["name"] == "Read"
            else {"stdout": output, "stderr": "", "interrupted": False, "isImage": False}
        )  # fmt: skip
        s.write(s.envelope("user", sidechain, message={"role": "user", "content": content},
                           timestamp=s.tick(0.5, 20.0), toolUseResult=result))  # fmt: skip
    return tokens


def _steps(s: Session, model: str, sidechain: bool, steps: int, first_tokens: int) -> None:
    """An agent loop: calls with tools until the last, which answers in text."""
    new_tokens = first_tokens
    for step in range(steps):
        last = step == steps - 1
        tools = [] if last else s.rng.choices(TOOLS, k=1 + int(s.rng.random() < 0.25))
        if not sidechain and not last and s.rng.random() < 0.06:
            tools = ["Task"]
        uses = _reply(s, model, sidechain, tools, new_tokens)
        if tools == ["Task"]:
            _subagent(s)
        new_tokens = _tool_results(s, sidechain, uses)


def _subagent(s: Session) -> None:
    """A sub-agent's run, inline as sidechain lines with a context of its own."""
    main_context, main_parent = s.context, s.parent
    s.context, s.parent = SYSTEM_PROMPT_TOKENS // 2, None
    s.write(s.envelope("user", True, message={"role": "user", "content": s.snippet(400)},
                       timestamp=s.tick(0.1, 1.0), agentId=s.token_id("", 8)))  # fmt: skip
    model = SUBAGENT_MODEL if s.rng.random() < 0.6 else s.model
    _steps(s, model, True, s.rng.randint(3, 15), 200)
    s.context, s.parent = main_context, main_parent


def _turn(s: Session) -> None:
    """A user prompt and the agent loop that answers it, with Claude Code's bookkeeping."""
    if s.context > COMPACT_AT:
        s.write(s.envelope("system", False, subtype="compact_boundary", content="Conversation "
                           "compacted", timestamp=s.tick(1, 5), level="info"))  # fmt: skip
        s.write(s.envelope("user", False, message={"role": "user", "content": s.snippet(8000)},
                           isCompactSummary=True, timestamp=s.tick(1, 5)))  # fmt: skip
        s.context = 0
    stamp = s.tick(30, 900)
    prompt = s.envelope("user", False, message={"role": "user", "content": s.snippet(300)},
                        timestamp=stamp, permissionMode="default")  # fmt: skip
    s.write({"type": "file-history-snapshot", "messageId": prompt["uuid"], "snapshot": {
        "messageId": prompt["uuid"], "trackedFileBackups": {}, "timestamp": stamp},
        "isSnapshotUpdate": False})  # fmt: skip
    s.write(prompt)
    if s.rng.random() < 0.01:  # an API error: Claude Code logs a synthetic reply, zero usage
        usage = {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0,
                 "cache_read_input_tokens": 0}  # fmt: skip
        message = {"id": s.uid(), "model": "<synthetic>", "role": "assistant", "type": "message",
                   "stop_reason": "stop_sequence", "stop_sequence": "", "usage": usage,
                   "content": [{"type": "text", "text": "API Error: 529 Overloaded"}]}  # fmt: skip
        s.write(s.envelope("assistant", False, message=message, timestamp=s.tick(5, 30),
                           isApiErrorMessage=True))  # fmt: skip
        return
    first = (SYSTEM_PROMPT_TOKENS if s.context == 0 else 0) + s.rng.randint(20, 400)
    _steps(s, s.model, False, 1 + int(s.rng.expovariate(1 / 5)), first)
    s.write(s.envelope("progress", False, data={"type": "hook_progress", "hookEvent": "Stop"},
                       timestamp=s.tick(0, 0.1)))  # fmt: skip
    took = s.rng.randint(2_000, 400_000)
    s.write(s.envelope("system", False, subtype="turn_duration", durationMs=took,
                       timestamp=s.tick(0, 0.1)))  # fmt: skip


def _weighted(rng: random.Random, choices: list[tuple[str, int]]) -> str:
    return rng.choices([c for c, _ in choices], [w for _, w in choices])[0]


def sessions(count: int, seed: int) -> Iterator[tuple[str, str, list[str], dt.datetime]]:
    """(project dir, session id, lines, last timestamp) for each session."""
    rng = random.Random(seed)
    text = _corpus(rng, 1 << 21)
    projects = [
        f"/home/dev/src/{''.join(rng.choices(string.ascii_lowercase, k=rng.randint(4, 10)))}"
        for _ in range(max(8, count // 15))
    ]
    earlier: dict[str, list[str]] = {}  # project → an earlier session's lines, to resume
    for _ in range(count):
        cwd = rng.choice(projects)
        version = _weighted(rng, VERSIONS)
        s = Session(
            rng=random.Random(rng.getrandbits(64)), text=text, session_id="", cwd=cwd,
            version=version, branch=rng.choice(["main", "main", "dev", "feature/billing"]),
            model=_weighted(rng, MODELS),
            ttl="" if version.startswith("1.") else rng.choice(["5m", "5m", "1h"]),
            now=START + dt.timedelta(seconds=rng.uniform(0, DAYS * 86400)),
        )  # fmt: skip
        s.session_id = s.uid()
        if version.startswith(("1.", "2.0.14")):
            for _ in range(rng.randint(1, 3)):
                s.write({"type": "summary", "summary": s.snippet(60), "leafUuid": s.uid()})
        if cwd in earlier and rng.random() < 0.04:  # resumed: the earlier lines, copied
            s.lines.extend(earlier[cwd][: rng.randint(5, 60)])
        for _ in range(1 + int(rng.lognormvariate(1.2, 0.9))):
            _turn(s)
        earlier[cwd] = s.lines
        yield cwd.replace("/", "-"), s.session_id, s.lines, s.now


def generate(folder: Path, count: int, seed: int = 16) -> tuple[int, int, int]:
    """Write `count` sessions under folder/projects; returns (files, lines, bytes)."""
    files = lines = size = 0
    for project, session_id, body, last in sessions(count, seed):
        path = folder / "projects" / project / f"{session_id}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = ("\n".join(body) + "\n").encode()
        path.write_bytes(data)
        os.utime(path, (last.timestamp(), last.timestamp()))
        files, lines, size = files + 1, lines + len(body), size + len(data)
    return files, lines, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=600)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--out", type=Path, required=True, help="folder to hold projects/")
    opts = parser.parse_args()
    files, lines, size = generate(opts.out, opts.sessions, opts.seed)
    print(f"{files:,} sessions, {lines:,} lines, {size / 1e6:,.1f} MB in {opts.out}/projects")


if __name__ == "__main__":
    main()
