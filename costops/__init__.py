"""costops: FinOps for LLM inference: ingest request logs, price them, find where money goes."""

__version__ = "0.1.0"
