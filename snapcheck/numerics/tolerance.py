"""The tolerance and inputs of the fp16 numerics check, as ``rules/numerics.toml`` states them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from snapcheck.paths import rules_dir
from snapcheck.rules import RulesError, check_evidence, load_sources
from snapcheck.tomlread import read_toml


@dataclass(frozen=True)
class Tolerance:
    """``rules/numerics.toml``."""

    psnr_min_db: float
    max_abs_share: float
    jump_min: float
    jump_factor: float
    fp16_max: float
    ranges: tuple[tuple[str, float, float], ...]  # (name, low, high) of random float inputs
    seed: int
    source: str
    confidence: str

    def describe(self) -> str:
        return f"tolerance ({self.psnr_min_db:g} dB PSNR, max abs {self.max_abs_share:.0%} of the range)"


@lru_cache(maxsize=None)
def load_tolerance(folder: Path | None = None) -> Tolerance:
    folder = folder or rules_dir()
    raw = read_toml(folder / "numerics.toml")
    sources = load_sources(folder)
    tol, inputs = raw.get("tolerance", {}), raw.get("inputs", {})
    for where, sec in (("[tolerance]", tol), ("[inputs]", inputs)):
        check_evidence(sec, sources, f"numerics.toml {where}")
    try:
        ranges = tuple((str(r["name"]), float(r["low"]), float(r["high"])) for r in inputs["ranges"])
        values = {k: float(tol[k]) for k in ("psnr_min_db", "max_abs_share", "jump_min", "jump_factor", "fp16_max")}
    except (KeyError, TypeError, ValueError) as exc:
        raise RulesError(f"numerics.toml: missing or bad {exc}") from None
    if not ranges or any(lo >= hi for _, lo, hi in ranges):
        raise RulesError("numerics.toml [inputs]: ranges need low < high")
    return Tolerance(**values, ranges=ranges, seed=int(inputs.get("seed", 0)), source=tol["source"],
                     confidence=tol["confidence"])
