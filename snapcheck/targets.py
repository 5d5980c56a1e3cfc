"""Where a Lens runs: Snapchat on phones or Spectacles, each with its own ML budget, frame-rate rule and devices.

The data is ``rules/targets.toml`` (format in ``rules/README.md``). A target's budget and frame-rate rule are its
own, or the Lens Studio version's (``"version"``); :meth:`Target.size_for` and :meth:`Target.performance_for`
give the effective ones for a ruleset.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from snapcheck.devices import device_ids
from snapcheck.errors import InputError
from snapcheck.paths import rules_dir
from snapcheck.rules import RulesError, Ruleset, check_evidence, load_sources
from snapcheck.tomlread import read_toml

LEGACY_FLOOR = "legacy floor"


@dataclass(frozen=True)
class Target:
    """One target of ``targets.toml``."""

    name: str
    title: str
    size: dict[str, Any] | None  # None: the Lens Studio version's [size]
    performance: dict[str, Any] | None  # None: the version's [performance]
    devices: tuple[str, ...]  # current reference devices (ids of devices.toml)
    legacy_floor: tuple[str, ...]  # the seed's floor, reported apart
    devices_source: str
    legacy_source: str
    confidence: str

    def size_for(self, ruleset: Ruleset) -> dict[str, Any]:
        """The ML size rule (``budget_bytes``, ``source``, ``confidence``, ...) for this target and version."""
        return dict(self.size) if self.size is not None else {**ruleset.size,
                                                               "budget_bytes": ruleset.size_budget_bytes}

    def performance_for(self, ruleset: Ruleset) -> dict[str, Any]:
        """The frame-rate rule (``target_fps``/``floor_fps`` or per-device ``devices``) for this target and version."""
        return dict(self.performance) if self.performance is not None else dict(ruleset.performance)

    def tier(self, device: str) -> str:
        """``"current"`` for a reference device, ``"legacy floor"`` for the seed's floor."""
        return LEGACY_FLOOR if device in self.legacy_floor else "current"

    @property
    def all_devices(self) -> tuple[str, ...]:
        return self.devices + self.legacy_floor


def _section(raw: Any, where: str, sources: dict[str, str], required: tuple[str, ...]) -> dict[str, Any] | None:
    if raw == "version":
        return None
    if not isinstance(raw, dict):
        raise RulesError(f"{where}: give \"version\" or a table")
    check_evidence(raw, sources, where)
    for key in required:
        if not isinstance(raw[key], (int, float)) or raw[key] <= 0:
            raise RulesError(f"{where}: {key} must be a positive number")
    return dict(raw)


@lru_cache(maxsize=None)
def load_targets(folder: Path | None = None) -> tuple[dict[str, Target], str]:
    """Every target of ``targets.toml`` (validated) and the default target's name."""
    folder = folder or rules_dir()
    raw = read_toml(folder / "targets.toml")
    sources = load_sources(folder)
    known = device_ids(str(folder / "devices.toml"))
    out = {}
    for name, t in raw.get("targets", {}).items():
        where = f"targets.toml [targets.{name}]"
        devices, legacy = tuple(t.get("devices", ())), tuple(t.get("legacy_floor", ()))
        unknown = sorted(set(devices + legacy) - set(known))
        if unknown:
            raise RulesError(f"{where}: devices not in devices.toml: {', '.join(unknown)}")
        if not devices:
            raise RulesError(f"{where}: at least one device")
        check_evidence(t, sources, where, "devices_source")
        if legacy:
            check_evidence(t, sources, where, "legacy_source")
        out[name] = Target(
            name=name, title=t.get("title", name),
            size=_section(t.get("size", "version"), f"{where} size", sources, ("budget_bytes",)),
            performance=_section(t.get("performance", "version"), f"{where} performance", sources,
                                 ("target_fps", "floor_fps")),
            devices=devices, legacy_floor=legacy, devices_source=t["devices_source"],
            legacy_source=t.get("legacy_source", ""), confidence=t.get("confidence", "inferred"))
    default = raw.get("default", "")
    if default not in out:
        raise RulesError(f"targets.toml: default {default!r} is not a target")
    return out, default


def target_names() -> tuple[str, ...]:
    """The targets ``rules/targets.toml`` defines, the default first."""
    targets, default = load_targets()
    return (default, *(t for t in targets if t != default))


def resolve_target(name: str | None) -> Target:
    """The target called ``name`` (None: the default); an unknown name is an ``InputError`` listing the known ones."""
    targets, default = load_targets()
    key = default if name is None else name.strip().lower()
    if key not in targets:
        raise InputError(None, f"unknown --target {name!r} (choose one of {', '.join(targets)})")
    return targets[key]
