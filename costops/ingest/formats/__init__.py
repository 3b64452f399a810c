"""Log formats → the canonical record (SPEC §3-§4).

Each adapter is SQL over one line's JSON (`j`; `b` is the provider response inside a wrapper or
batch line) that builds the canonical JSON object; the canonical stage then checks it like any
canonical line. Detection is by shape, per line, so a directory of mixed formats ingests at once.
"""

# Every --format (here, not in detect: the CLI's help lists them without building the SQL).
FORMATS = (
    "auto", "costops", "openai", "anthropic", "litellm", "otlp", "openai-batch",
    "anthropic-batch", "langfuse", "claude-code", "gemini", "bedrock",
)  # fmt: skip
