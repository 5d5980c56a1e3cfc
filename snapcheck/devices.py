"""The reference devices of ``rules/devices.toml`` by id: name, soc, tier and, for a device that cannot be
estimated, why. Light enough for the check path (targets are validated against it without the estimator)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from snapcheck.paths import rules_dir
from snapcheck.tomlread import read_toml


@lru_cache(maxsize=8)
def device_info(path: str | None = None) -> dict[str, dict[str, Any]]:
    """Every device of ``devices.toml`` (with or without backends) by id: its name, soc, tier and, for a device
    that cannot be estimated, why (``no_estimate``)."""
    data = read_toml(Path(path or rules_dir() / "devices.toml"))
    return {dev_id: {k: v for k, v in dev.items() if k != "backends"} for dev_id, dev in data.get("devices", {}).items()}


def device_ids(path: str | None = None) -> tuple[str, ...]:
    """The ids of the devices of ``devices.toml``, in file order."""
    return tuple(device_info(path))
