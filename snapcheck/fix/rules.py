"""The rewrites of ``snapcheck fix`` as ``rules/fixes.toml`` states them: what each resolves, how exact it is."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from snapcheck.paths import rules_dir
from snapcheck.registry import load_codes
from snapcheck.rules import RulesError, check_evidence, load_sources
from snapcheck.tomlread import read_toml

EXACTNESS = ("exact", "approximate")


@dataclass(frozen=True)
class Rewrite:
    """One rewrite of ``fixes.toml``."""

    id: str
    title: str
    resolves: tuple[str, ...]  # finding codes it resolves
    exactness: str  # exact | approximate
    tool: str  # the library that does it ("snapcheck": hand-written)
    evidence: str
    confidence: str
    also: str = ""  # findings it resolves for some ops only
    options: dict[str, Any] = field(default_factory=dict)  # rewrite-specific keys (convert_below, fusions, ...)

    @property
    def also_codes(self) -> tuple[str, ...]:
        """Codes it resolves for some ops only (named in ``also``)."""
        return tuple(dict.fromkeys(re.findall(r"SC\d{3}", self.also)))


@dataclass(frozen=True)
class FixRules:
    rewrites: dict[str, Rewrite]  # in file order: the order fix applies them
    exact_atol: float
    exact_rtol: float

    @property
    def mechanical(self) -> frozenset[str]:
        """Codes some rewrite resolves (whatever the op)."""
        return frozenset(c for r in self.rewrites.values() for c in r.resolves)

    def by_code(self, code: str) -> list[str]:
        """The rewrites that resolve ``code``: ``fold`` for all its findings, ``fold (some ops)`` for some."""
        full = [r.id for r in self.rewrites.values() if code in r.resolves]
        return full + [f"{r.id} (some ops)" for r in self.rewrites.values() if code in r.also_codes and r.id not in full]


_KEYS = {"title", "resolves", "exactness", "tool", "evidence", "confidence", "also"}


@lru_cache(maxsize=None)
def load_fix_rules(folder: Path | None = None) -> FixRules:
    folder = folder or rules_dir()
    raw = read_toml(folder / "fixes.toml")
    sources = load_sources(folder)
    codes = load_codes(folder)
    verify = raw.get("verify", {})
    check_evidence(verify, sources, "fixes.toml [verify]")
    out = {}
    for rid, r in raw.get("rewrites", {}).items():
        where = f"fixes.toml [rewrites.{rid}]"
        missing = [k for k in ("title", "resolves", "exactness", "tool") if k not in r]
        if missing:
            raise RulesError(f"{where}: missing {', '.join(missing)}")
        if r["exactness"] not in EXACTNESS:
            raise RulesError(f"{where}: exactness must be one of {EXACTNESS}")
        unknown = sorted(set(r["resolves"]) - set(codes))
        if unknown:
            raise RulesError(f"{where}: resolves codes not in codes.toml: {', '.join(unknown)}")
        check_evidence(r, sources, where, "evidence")
        out[rid] = Rewrite(id=rid, title=r["title"], resolves=tuple(r["resolves"]), exactness=r["exactness"],
                           tool=r["tool"], evidence=r["evidence"], confidence=r["confidence"], also=r.get("also", ""),
                           options={k: v for k, v in r.items() if k not in _KEYS})
    return FixRules(rewrites=out, exact_atol=float(verify.get("exact_atol", 1e-4)),
                    exact_rtol=float(verify.get("exact_rtol", 0.0)))
