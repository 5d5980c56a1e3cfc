"""Where things live: the rules files (in the wheel, or at the repository root in a checkout), and the cache."""

from __future__ import annotations

import os
from pathlib import Path

_PKG = Path(__file__).resolve().parent


def rules_dir() -> Path:
    """The folder with ``3.x.toml``, ``4.x.toml``, ``5.x.toml``, ``mapping.toml`` and ``devices.toml``."""
    for candidate in (_PKG / "_rules", _PKG.parent / "rules"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("snapcheck rules folder not found (expected snapcheck/_rules or rules/)")


def repo_root() -> Path | None:
    """The source checkout's root, when running from one (for models/ and shared/)."""
    root = _PKG.parent
    return root if (root / "pyproject.toml").is_file() else None


def cache_dir() -> Path:
    """Where snapcheck caches measurements and parses (``SNAPCHECK_CACHE`` or ``~/.cache/snapcheck``)."""
    return Path(os.environ.get("SNAPCHECK_CACHE", Path.home() / ".cache" / "snapcheck"))
