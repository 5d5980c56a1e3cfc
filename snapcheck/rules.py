"""Load and validate the rules data: ``rules/<version>.toml`` (layers, budgets) and ``rules/mapping.toml``."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from snapcheck.errors import InputError
from snapcheck.paths import rules_dir
from snapcheck.tomlread import TOMLDecodeError, read_toml

BACKENDS: tuple[str, ...] = ("cpu", "iphone_gpu", "iphone_npu", "android_gpu")
ACCELERATORS: tuple[str, ...] = ("iphone_gpu", "iphone_npu", "android_gpu")
BACKEND_TITLES: dict[str, str] = {
    "cpu": "CPU", "iphone_gpu": "iPhone GPU", "iphone_npu": "iPhone NPU", "android_gpu": "Android GPU",
}
VERSIONS: tuple[str, ...] = ("3.x", "4.x", "5.x")
CONFIDENCES = ("documented", "inferred")
CONSTRAINT_KINDS = ("value_in", "equal_hw", "pad_le_kernel", "broadcast_in", "first_largest")


class RulesError(ValueError):
    """A rules file breaks the format that this module documents."""


@dataclass(frozen=True)
class Constraint:
    """One attribute rule of a layer, checked on ``backends``."""

    kind: str  # one of CONSTRAINT_KINDS
    text: str  # the rule as a user reads it
    backends: tuple[str, ...]
    confidence: str
    source: str
    fact: str = ""
    allowed: tuple[Any, ...] = ()
    code: str = ""  # finding code override ("" = the ops check's default)


@dataclass(frozen=True)
class Layer:
    """A Snap layer of one Lens Studio version."""

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


@dataclass(frozen=True)
class Hint:
    """Why/fix for an op with no documented layer."""

    why: str
    fix: str
    code: str = "SC101"
    confidence: str = "documented"


@dataclass(frozen=True)
class Mapping:
    entries: dict[tuple[str, str], tuple[MappingEntry, ...]]  # (format, op) -> entries in file order
    fused_activation: dict[str, str]
    hints: dict[str, Hint]

    def candidates(self, fmt: str, op: str) -> tuple[MappingEntry, ...]:
        return self.entries.get((fmt, op), ())

    def hint(self, key: str) -> Hint:
        base = self.hints["default"]
        h = self.hints.get(key)
        if h is None:
            return base
        return Hint(why=h.why or base.why, fix=h.fix or base.fix, code=h.code, confidence=h.confidence)


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
    sources: dict[str, str]
    mapping: Mapping
    path: Path = field(default=Path("."))


def _need(d: dict, key: str, where: str) -> Any:
    if key not in d:
        raise RulesError(f"{where}: missing '{key}'")
    return d[key]


def _confidence(value: Any, where: str) -> str:
    if value not in CONFIDENCES:
        raise RulesError(f"{where}: confidence must be one of {CONFIDENCES}, not {value!r}")
    return value


def _constraint(raw: dict, layer: dict, where: str) -> Constraint:
    kind = _need(raw, "kind", where)
    if kind not in CONSTRAINT_KINDS:
        raise RulesError(f"{where}: unknown constraint kind {kind!r} (known: {', '.join(CONSTRAINT_KINDS)})")
    backends = tuple(raw.get("backends", BACKENDS))
    bad = set(backends) - set(BACKENDS)
    if bad:
        raise RulesError(f"{where}: unknown backends {sorted(bad)}")
    if kind in ("value_in", "equal_hw") and not raw.get("fact"):
        raise RulesError(f"{where}: constraint {kind} needs 'fact'")
    if kind in ("value_in", "broadcast_in") and not raw.get("allowed"):
        raise RulesError(f"{where}: constraint {kind} needs 'allowed'")
    return Constraint(
        kind=kind, text=_need(raw, "text", where), backends=backends,
        confidence=_confidence(raw.get("confidence", layer["confidence"]), where),
        source=raw.get("source", layer["source"]), fact=raw.get("fact", ""),
        allowed=tuple(raw.get("allowed", ())), code=raw.get("code", ""),
    )


def _layer(name: str, raw: dict, where: str) -> Layer:
    support = dict(_need(raw, "support", where))
    if set(support) != set(BACKENDS) or not all(isinstance(v, bool) for v in support.values()):
        raise RulesError(f"{where}: support must give true/false for each of {', '.join(BACKENDS)}")
    _need(raw, "source", where)
    _confidence(_need(raw, "confidence", where), where)
    cons = tuple(_constraint(c, raw, f"{where} constraint {i}") for i, c in enumerate(raw.get("constraints", ())))
    return Layer(
        name=name, support={b: support[b] for b in BACKENDS}, source=raw["source"], confidence=raw["confidence"],
        comment=raw.get("comment", ""), note=raw.get("note", ""), why=raw.get("why", ""), fix=raw.get("fix", ""),
        constant_operands=raw.get("constant_operands", ""), constraints=cons,
    )


def _read_toml(path: Path) -> dict:
    try:
        return read_toml(path)
    except (TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RulesError(f"{path.name}: {exc}") from exc


@lru_cache(maxsize=None)
def load_mapping(folder: Path | None = None) -> Mapping:
    """Read and validate ``mapping.toml``."""
    path = (folder or rules_dir()) / "mapping.toml"
    raw = _read_toml(path)
    entries: dict[tuple[str, str], list[MappingEntry]] = {}
    for fmt in ("tflite", "onnx"):
        for i, e in enumerate(raw.get(fmt, ())):
            where = f"mapping.toml [[{fmt}]] #{i} ({e.get('op', '?')})"
            op = _need(e, "op", where)
            plumbing = bool(e.get("plumbing", False))
            layer = e.get("layer")
            if plumbing == (layer is not None):
                raise RulesError(f"{where}: give exactly one of 'layer' or 'plumbing = true'")
            entries.setdefault((fmt, op), []).append(MappingEntry(
                format=fmt, op=op, layer=layer, plumbing=plumbing, when=dict(e.get("when", {})),
                confidence=_confidence(_need(e, "confidence", where), where), note=e.get("note", ""),
            ))
    hints = {}
    for key, h in raw.get("hints", {}).items():
        hints[key] = Hint(why=h.get("why", ""), fix=h.get("fix", ""), code=h.get("code", "SC101"),
                          confidence=_confidence(h.get("confidence", "documented"), f"mapping.toml hints.{key}"))
    if "default" not in hints or not hints["default"].why or not hints["default"].fix:
        raise RulesError("mapping.toml: [hints.default] needs why and fix")
    return Mapping(entries={k: tuple(v) for k, v in entries.items()},
                   fused_activation=dict(raw.get("fused_activation", {})), hints=hints)


def _check_mapping_layers(mapping: Mapping, layers: dict[str, Layer], version: str) -> None:
    names = {e.layer for es in mapping.entries.values() for e in es if e.layer}
    names |= {v for v in mapping.fused_activation.values() if v}
    names |= {lay.constant_operands for lay in layers.values() if lay.constant_operands}
    missing = sorted(names - set(layers))
    if missing:
        raise RulesError(f"{version}.toml: layers used by mapping.toml are missing: {', '.join(missing)}")


@lru_cache(maxsize=None)
def load_ruleset(version: str, folder: Path | None = None) -> Ruleset:
    """The validated rules of one Lens Studio version; an unknown version is an InputError."""
    if version not in VERSIONS:
        raise InputError(None, f"unknown Lens Studio version {version!r} (choose one of {', '.join(VERSIONS)} or all)")
    folder = folder or rules_dir()
    path = folder / f"{version}.toml"
    raw = _read_toml(path)
    where = path.name
    if raw.get("version") != version:
        raise RulesError(f"{where}: version field is {raw.get('version')!r}, expected {version!r}")
    if tuple(raw.get("backends", ())) != BACKENDS:
        raise RulesError(f"{where}: backends must be {list(BACKENDS)}")
    layers = {name: _layer(name, lay, f"{where} layer {name!r}") for name, lay in _need(raw, "layers", where).items()}
    size = dict(_need(raw, "size", where))
    budget = _need(size, "budget_bytes", f"{where} [size]")
    if not isinstance(budget, int) or budget <= 0:
        raise RulesError(f"{where} [size]: budget_bytes must be a positive integer")
    for section in ("size", "ram", "performance"):
        sec = _need(raw, section, where)
        _need(sec, "source", f"{where} [{section}]")
        _confidence(_need(sec, "confidence", f"{where} [{section}]"), f"{where} [{section}]")
    fp16 = dict(_need(raw, "fp16", where))
    for key in ("flush_share", "subnormal_share"):
        if not 0 <= float(_need(fp16, key, f"{where} [fp16]")) <= 1:
            raise RulesError(f"{where} [fp16]: {key} must be within [0, 1]")
    mapping = load_mapping(folder)
    _check_mapping_layers(mapping, layers, version)
    return Ruleset(
        version=version, title=raw.get("title", version), formats=dict(_need(raw, "formats", where)),
        formats_source=raw.get("formats_source", ""), layers=layers,
        size_budget_bytes=budget, size=size, ram=dict(raw["ram"]), fp16=fp16, performance=dict(raw["performance"]),
        sources=dict(raw.get("sources", {})), mapping=mapping, path=path,
    )


def resolve_versions(value: str) -> list[str]:
    """``"all"`` -> every version; otherwise the one version, checked."""
    if value == "all":
        return list(VERSIONS)
    if value not in VERSIONS:
        raise InputError(None, f"unknown Lens Studio version {value!r} (choose one of {', '.join(VERSIONS)} or all)")
    return [value]


def resolve_backend(value: str | None) -> str | None:
    if value is None or value in BACKENDS:
        return value
    raise InputError(None, f"unknown backend {value!r} (choose one of {', '.join(BACKENDS)})")
