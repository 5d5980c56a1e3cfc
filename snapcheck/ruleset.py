"""The rules as Python values: a Lens Studio version's layers with their attribute constraints and doubts, and the
op -> layer mapping with its hints (``snapcheck.rules`` reads and validates them from ``rules/``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BACKENDS: tuple[str, ...] = ("cpu", "iphone_gpu", "iphone_npu", "android_gpu")
ACCELERATORS: tuple[str, ...] = ("iphone_gpu", "iphone_npu", "android_gpu")
BACKEND_TITLES: dict[str, str] = {
    "cpu": "CPU", "iphone_gpu": "iPhone GPU", "iphone_npu": "iPhone NPU", "android_gpu": "Android GPU",
}
CONFIDENCES = ("documented", "inferred", "unconfirmed")
CONSTRAINT_KINDS = ("value_in", "equal_hw", "pad_le_kernel", "broadcast_in", "first_largest")


class RulesError(ValueError):
    """A rules file breaks the format that this module documents."""


@dataclass(frozen=True)
class Constraint:
    """One attribute rule of a layer, checked on ``backends``."""

    id: str
    kind: str  # one of CONSTRAINT_KINDS
    text: str  # what the rule requires, read after "runs <layer> only": "along the channel axis"
    backends: tuple[str, ...]
    confidence: str
    source: str
    fix: str = ""
    fact: str = ""
    allowed: tuple[Any, ...] = ()
    code: str = ""  # finding code override ("" = SC110 / SC111)
    importer: str = ""  # Lens Studio's own message for this rule, verbatim
    advice: bool = False  # a recommendation: reported with ``code``, changes no backend's support

    @property
    def unconfirmed(self) -> bool:
        return self.confidence == "unconfirmed"


@dataclass(frozen=True)
class Doubt:
    """A claim, with no named evidence, that a version fails on a layer it otherwise runs (a warning)."""

    text: str
    source: str
    fix: str


@dataclass(frozen=True)
class Layer:
    """A Snap layer of one Lens Studio version: the shared definition plus the version's support marks."""

    name: str
    support: dict[str, bool]
    source: str
    confidence: str
    comment: str = ""
    note: str = ""
    why: str = ""
    fix: str = ""
    constant_operands: str = ""  # layer that constant operands of this layer become ("Constant")
    constraints: tuple[Constraint, ...] = ()
    doubt: Doubt | None = None

    @property
    def supported_anywhere(self) -> bool:
        return any(self.support.values())


@dataclass(frozen=True)
class MappingEntry:
    """One row of the op -> layer mapping."""

    format: str  # tflite | onnx
    op: str
    layer: str | None
    plumbing: bool
    when: dict[str, Any]
    confidence: str
    note: str = ""
    kind: str = "plumbing"  # what a plumbing op is: plumbing | quantization


@dataclass(frozen=True)
class Hint:
    """Why/fix for an op with no documented layer ("" = the code's own text in the registry)."""

    why: str = ""
    fix: str = ""
    code: str = "SC101"
    confidence: str = ""
    accelerator: str = ""  # SC109: the accelerator the op was compiled for


@dataclass(frozen=True)
class Mapping:
    entries: dict[tuple[str, str], tuple[MappingEntry, ...]]  # (format, op) -> entries in file order
    fused_activation: dict[str, str]
    hints: dict[str, Hint]

    def candidates(self, fmt: str, op: str) -> tuple[MappingEntry, ...]:
        return self.entries.get((fmt, op), ())

    def hint(self, key: str, fallback: str = "") -> Hint:
        """The hint of ``key`` (else of ``fallback``), its missing why/fix/code taken from ``default``."""
        base = self.hints.get("default", Hint())
        h = self.hints.get(key) or self.hints.get(fallback)
        if h is None:
            return base
        return Hint(why=h.why or base.why, fix=h.fix or base.fix, code=h.code, confidence=h.confidence,
                    accelerator=h.accelerator)


@dataclass(frozen=True)
class Ruleset:
    """Everything snapcheck knows about one Lens Studio version."""

    version: str
    title: str
    formats: dict[str, str]  # format -> confidence
    formats_source: str
    layers: dict[str, Layer]
    size_budget_bytes: int
    size: dict[str, Any]
    ram: dict[str, Any]
    fp16: dict[str, Any]
    performance: dict[str, Any]
    sources: dict[str, str]  # source key -> URL
    mapping: Mapping
    importer: dict[str, str] = field(default_factory=dict)  # Lens Studio's own messages, verbatim
    path: Path = field(default=Path("."))
