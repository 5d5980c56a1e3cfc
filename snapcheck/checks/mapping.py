"""Match a file op to Snap layers with ``rules/mapping.toml``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from snapcheck.ir import Graph, Op
from snapcheck.rules import Mapping, MappingEntry

CONTROL_FLOW = frozenset({"WHILE", "IF", "CALL_ONCE", "CALL", "Loop", "If", "Scan"})
# ONNX domains that the ONNX standard defines: their ops are standard ops, not custom ones.
STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml", "ai.onnx.preview.training", "ai.onnx.training"})


@dataclass
class OpMatch:
    """What an op becomes in Lens Studio."""

    entry: MappingEntry | None  # None: no documented layer
    layers: list[str] = field(default_factory=list)  # primary layer, then the fused activation's
    hint_key: str = ""  # key into mapping hints when there is no layer
    fallback_key: str = ""  # the hint to use when ``hint_key`` has none ("*custom" for "custom:Sinh")
    unmapped_activation: str = ""  # a TFLite fused activation with no layer (e.g. SIGN_BIT)
    standard_domain: bool = False  # an op of a standard ONNX domain other than ai.onnx

    @property
    def plumbing(self) -> bool:
        return self.entry is not None and self.entry.plumbing


def model_origin(graph: Graph) -> str:
    """Who wrote the model, for advice: ``keras`` (.tflite, tf2onnx), ``pytorch`` (torch.onnx) or ``onnx``."""
    if graph.format == "tflite":
        return "keras"
    producer = graph.producer.lower()
    if producer.startswith("pytorch") or producer.startswith("torch"):
        return "pytorch"
    if producer.startswith("tf2onnx") or producer.startswith("keras2onnx"):
        return "keras"
    return "onnx"


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


def hint_keys(op: Op) -> tuple[str, str]:
    """(hint key, fallback key) of an op with no layer: its custom code or type, then its kind."""
    if op.kind == "function":
        return "*function", ""
    if op.custom_code is not None:
        return f"custom:{op.custom_code}", f"*{op.kind}"
    if op.kind == "custom" and op.domain not in STANDARD_DOMAINS:
        return f"{op.domain}::{op.type}", "*custom"
    if op.type in CONTROL_FLOW:
        return "*control_flow", ""
    return op.type, ""


def match_op(op: Op, facts: dict[str, Any], mapping: Mapping, fmt: str) -> OpMatch:
    """The first mapping entry whose conditions hold; plus the layer of a TFLite fused activation."""
    standard = op.domain in STANDARD_DOMAINS and op.custom_code is None and op.function_body is None
    if not standard:
        key, fallback = hint_keys(op)
        return OpMatch(entry=None, hint_key=key, fallback_key=fallback)
    entry = None
    if op.domain in ("", "ai.onnx"):
        entry = next((e for e in mapping.candidates(fmt, op.type) if entry_matches(e, facts)), None)
    if entry is None:
        key, fallback = hint_keys(op)
        return OpMatch(entry=None, hint_key=key, fallback_key=fallback,
                       standard_domain=op.domain not in ("", "ai.onnx"))
    match = OpMatch(entry=entry, layers=[entry.layer] if entry.layer else [])
    act = facts.get("fused_activation")
    if act is not None and not entry.plumbing:
        layer = mapping.fused_activation.get(act)
        if layer is None:
            match.unmapped_activation = act
        elif layer:
            match.layers.append(layer)
    return match
