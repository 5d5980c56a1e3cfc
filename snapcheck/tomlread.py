"""Read TOML files (the rules, the devices, grid and gate files), with each parse cached as JSON by content hash.

This is the one module that imports ``tomllib`` (``tomli`` on Python 3.10); its readers catch
``TOMLDecodeError`` from here. Parsing the rules, the mapping and the devices with ``tomllib`` costs about
15 ms of every `snapcheck check`; reading the cached JSON costs about 1 ms. The cache is keyed by the file's
bytes, so an edited file is parsed again; an unwritable cache folder only means no caching.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from snapcheck.fsutil import atomic_write_text
from snapcheck.paths import cache_dir

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

TOMLDecodeError = tomllib.TOMLDecodeError

__all__ = ["TOMLDecodeError", "read_toml"]


def _cache_path(data: bytes) -> Path | None:
    try:
        return cache_dir() / "toml" / f"{hashlib.blake2b(data, digest_size=16).hexdigest()}.json"
    except (RuntimeError, KeyError):  # no home folder to keep a cache in
        return None


def read_toml(path: Path) -> dict:
    """``tomllib.load(path)``, from the parse cache when this exact content was parsed before.

    Raises ``TOMLDecodeError`` or ``UnicodeDecodeError`` for a malformed file, like ``tomllib``, and ``OSError``
    (``FileNotFoundError``...) for one it cannot read.
    """
    data = path.read_bytes()
    cached = _cache_path(data)
    if cached is not None:
        try:
            return json.loads(cached.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass
    parsed = tomllib.loads(data.decode("utf-8"))
    if cached is not None:
        try:
            text = json.dumps(parsed)  # TypeError for TOML dates and times: such a file is simply not cached
            cached.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(cached, text)
        except (TypeError, OSError):
            pass
    return parsed
