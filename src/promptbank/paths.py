"""Where promptbank keeps converted weights and extracted data (PROMPTBANK_CACHE)."""

import os
from pathlib import Path


def cache_dir() -> Path:
    """The cache root: $PROMPTBANK_CACHE, else ~/.cache/promptbank."""
    root = os.environ.get("PROMPTBANK_CACHE") or Path.home() / ".cache" / "promptbank"
    return Path(root)
