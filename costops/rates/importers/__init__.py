"""Import other price lists into reviewable costops YAML, one file per provider."""

from costops.rates.importers.common import ImportResult, claimed_names, write_tables
from costops.rates.importers.genai_prices import import_genai_prices
from costops.rates.importers.litellm import import_litellm, read_litellm

__all__ = [
    "ImportResult",
    "claimed_names",
    "import_genai_prices",
    "import_litellm",
    "read_litellm",
    "write_tables",
]
