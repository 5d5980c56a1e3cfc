"""Match a file op to Snap layers with ``rules/mapping.toml``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from snapcheck.ir import Op
from snapcheck.rules import Mapping, MappingEntry

CONTROL_FLOW = frozenset({"WHILE", "IF", "CALL_ONCE", "CALL", "Loop", "If", "Scan"})


@dataclass
class OpMatch:
    """What an op becomes in Lens Studio."""

    entry: MappingEntry | None  # None: no documented layer
    layers: list[str] = field(default_factory=list)  # primary layer, then the fused activation's
    hint_key: str = ""  # key into mapping hints when there is no layer
    unmapped_activation: str = ""  # a TFLite fused activation with no layer (e.g. SIGN_BIT)

    @property
    def plumbing(self) -> bool:
        return self.entry is not None and self.entry.plumbing


def _as_number(v: Any) -> Any:
    if isinstance(v, str) and v.lower() in ("inf", "+inf", "-inf"):
        return -math.inf if v.startswith("-") else math.inf
    return v


def _holds(expected: Any, actual: Any) -> bool:
    if isinstance(expected, list):
        return any(_holds(e, actual) for e in expected)
    expected = _as_number(expected)
    if isinstance(expected, float) or isinstance(actual, float):
        try:
            return math.isclose(float(expected), float(actual), rel_tol=1e-6, abs_tol=1e-6) or expected == actual
        except (TypeError, ValueError):
            return False
    return expected == actual


def entry_matches(entry: MappingEntry, facts: dict[str, Any]) -> bool:
    return all(k in facts and _holds(v, facts[k]) for k, v in entry.when.items())


def hint_key(op: Op) -> str:
    if op.kind in ("custom", "flex", "function"):
        return f"*{op.kind}"
    if op.type in CONTROL_FLOW:
        return "*control_flow"
    return op.type


def match_op(op: Op, facts: dict[str, Any], mapping: Mapping, fmt: str) -> OpMatch:
    """The first mapping entry whose conditions hold; plus the layer of a TFLite fused activation."""
    if op.kind != "builtin":
        return OpMatch(entry=None, hint_key=hint_key(op))
    entry = next((e for e in mapping.candidates(fmt, op.type) if entry_matches(e, facts)), None)
    if entry is None:
        return OpMatch(entry=None, hint_key=hint_key(op))
    match = OpMatch(entry=entry, layers=[entry.layer] if entry.layer else [])
    act = facts.get("fused_activation")
    if act is not None and not entry.plumbing:
        layer = mapping.fused_activation.get(act)
        if layer is None:
            match.unmapped_activation = act
        elif layer:
            match.layers.append(layer)
    return match
