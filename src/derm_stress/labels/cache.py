"""Where derm-stress caches derived data (the parsed vocabulary, the ICD-10-CM index)."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_VARIABLE = "DERM_STRESS_CACHE"


def cache_dir() -> Path:
    """``$DERM_STRESS_CACHE``, else ``$XDG_CACHE_HOME/derm-stress``, else
    ``~/.cache/derm-stress``. Callers skip the cache when it cannot be written."""
    explicit = os.environ.get(CACHE_VARIABLE)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "derm-stress"
