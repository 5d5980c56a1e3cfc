"""Load and validate the rules data under ``rules/`` (the format is in ``rules/README.md``).

``layers.toml`` states each Snap layer once (comment, attribute constraints, why/fix); ``<version>.toml`` gives a
version's support marks per backend, its evidence, budgets and any constraint that differs; ``mapping.toml`` maps
file ops to layers; ``sources.toml`` holds the evidence every entry cites.
"""

from __future__ import annotations

import re
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
CONFIDENCES = ("documented", "inferred", "unconfirmed")
CONSTRAINT_KINDS = ("value_in", "equal_hw", "pad_le_kernel", "broadcast_in", "first_largest")
_SOURCE_KEY = re.compile(r"\bS-[A-Z0-9]+\b")


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


def _need(d: dict, key: str, where: str) -> Any:
    if key not in d:
        raise RulesError(f"{where}: missing '{key}'")
    return d[key]


def _confidence(value: Any, where: str) -> str:
    if value not in CONFIDENCES:
        raise RulesError(f"{where}: confidence must be one of {CONFIDENCES}, not {value!r}")
    return value


def _cites(text: Any, sources: dict[str, str], where: str) -> str:
    """``text`` names at least one known source key (and no unknown one)."""
    if not isinstance(text, str) or not text:
        raise RulesError(f"{where}: missing source")
    keys = _SOURCE_KEY.findall(text)
    if not keys:
        raise RulesError(f"{where}: the source {text!r} cites no key of sources.toml")
    unknown = sorted(set(keys) - set(sources))
    if unknown:
        raise RulesError(f"{where}: unknown source keys {', '.join(unknown)}")
    return text


def check_evidence(entry: dict, sources: dict[str, str], where: str, key: str = "source") -> None:
    """An entry of a rules file states its evidence: ``key`` cites known source keys, ``confidence`` is known."""
    _cites(entry.get(key, ""), sources, f"{where} {key}")
    _confidence(entry.get("confidence"), where)


def _constraint(raw: dict, where: str) -> dict[str, Any]:
    """A constraint as the shared file states it (confidence and source may still come from the version)."""
    kind = _need(raw, "kind", where)
    if kind not in CONSTRAINT_KINDS:
        raise RulesError(f"{where}: unknown constraint kind {kind!r} (known: {', '.join(CONSTRAINT_KINDS)})")
    for key in ("id", "text"):
        _need(raw, key, where)
    if raw.get("advice") and not raw.get("code"):
        raise RulesError(f"{where}: advice needs the 'code' it is reported with")
    backends = tuple(raw.get("backends", BACKENDS))
    bad = set(backends) - set(BACKENDS)
    if bad:
        raise RulesError(f"{where}: unknown backends {sorted(bad)}")
    if kind in ("value_in", "equal_hw") and not raw.get("fact"):
        raise RulesError(f"{where}: constraint {kind} needs 'fact'")
    if kind in ("value_in", "broadcast_in") and not raw.get("allowed"):
        raise RulesError(f"{where}: constraint {kind} needs 'allowed'")
    unknown = set(raw) - {"id", "kind", "text", "fix", "backends", "fact", "allowed", "code", "importer",
                          "advice", "confidence", "source"}
    if unknown:
        raise RulesError(f"{where}: unknown keys {sorted(unknown)}")
    return {**raw, "backends": backends, "allowed": tuple(raw.get("allowed", ()))}


def _layer(name: str, shared: dict, raw: dict, sources: dict[str, str], where: str) -> Layer:
    support = dict(_need(raw, "support", where))
    if set(support) != set(BACKENDS) or not all(isinstance(v, bool) for v in support.values()):
        raise RulesError(f"{where}: support must give true/false for each of {', '.join(BACKENDS)}")
    source = _cites(_need(raw, "source", where), sources, f"{where} source")
    confidence = _confidence(_need(raw, "confidence", where), where)
    merged: dict[str, dict] = {}
    for i, c in enumerate([*shared.get("constraints", ()), *raw.get("constraints", ())]):
        c = _constraint(c, f"{where} constraint {c.get('id', i)}")
        merged[c["id"]] = c  # a version's constraint replaces the shared one of the same id
    cons = []
    for cid, c in merged.items():
        cw = f"{where} constraint {cid}"
        cons.append(Constraint(
            id=cid, kind=c["kind"], text=c["text"], backends=c["backends"], fix=c.get("fix", ""),
            confidence=_confidence(c.get("confidence", confidence), cw),
            source=_cites(c.get("source", source), sources, f"{cw} source"), fact=c.get("fact", ""),
            allowed=c["allowed"], code=c.get("code", ""), importer=c.get("importer", ""),
            advice=bool(c.get("advice", False))))
    doubt = None
    if "doubt" in raw:
        d = raw["doubt"]
        doubt = Doubt(text=_need(d, "text", f"{where} doubt"), fix=_need(d, "fix", f"{where} doubt"),
                      source=_cites(d.get("source"), sources, f"{where} doubt source"))
    pick = lambda key: raw.get(key, shared.get(key, ""))  # noqa: E731 - a version's text overrides the shared one
    return Layer(
        name=name, support={b: support[b] for b in BACKENDS}, source=source, confidence=confidence,
        comment=shared.get("comment", ""), note=pick("note"), why=pick("why"), fix=pick("fix"),
        constant_operands=shared.get("constant_operands", ""), constraints=tuple(cons), doubt=doubt,
    )


def _read_toml(path: Path) -> dict:
    try:
        return read_toml(path)
    except (TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RulesError(f"{path.name}: {exc}") from exc


@lru_cache(maxsize=None)
def load_sources(folder: Path | None = None) -> dict[str, str]:
    """Source key -> URL, from ``sources.toml``."""
    raw = _read_toml((folder or rules_dir()) / "sources.toml")
    out = {}
    for key, entry in raw.items():
        if not _SOURCE_KEY.fullmatch(key) or not isinstance(entry, dict) or not entry.get("url"):
            raise RulesError(f"sources.toml [{key}]: a key S-NAME with a url")
        out[key] = entry["url"]
    return out


@lru_cache(maxsize=None)
def load_shared_layers(folder: Path | None = None) -> dict[str, dict]:
    """The layer definitions of ``layers.toml`` (comment, constraints, why/fix), by Snap's layer name."""
    return dict(_need(_read_toml((folder or rules_dir()) / "layers.toml"), "layers", "layers.toml"))


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
                kind=e.get("kind", "plumbing"),
            ))
    hints = {}
    for key, h in raw.get("hints", {}).items():
        conf = h.get("confidence", "")
        if conf:
            _confidence(conf, f"mapping.toml hints.{key}")
        hints[key] = Hint(why=h.get("why", ""), fix=h.get("fix", ""), code=h.get("code", "SC101"), confidence=conf,
                          accelerator=h.get("accelerator", ""))
    return Mapping(entries={k: tuple(v) for k, v in entries.items()},
                   fused_activation=dict(raw.get("fused_activation", {})), hints=hints)


def _check_mapping_layers(mapping: Mapping, shared: dict[str, dict], layers: dict[str, Layer], version: str) -> None:
    missing = sorted(mapped_layers(mapping) - set(shared))
    if missing:
        raise RulesError(f"mapping.toml: layers missing from layers.toml: {', '.join(missing)}")
    names = {lay.constant_operands for lay in layers.values() if lay.constant_operands}
    missing = sorted(names - set(layers))
    if missing:
        raise RulesError(f"{version}.toml: layers used as constant operands are missing: {', '.join(missing)}")


@lru_cache(maxsize=None)
def load_ruleset(version: str, folder: Path | None = None) -> Ruleset:
    """The validated rules of one Lens Studio version; an unknown version is an InputError."""
    if version not in VERSIONS:
        raise InputError(None, f"unknown Lens Studio version {version!r} (choose one of {', '.join(VERSIONS)} or all)")
    folder = folder or rules_dir()
    path = folder / f"{version}.toml"
    raw = _read_toml(path)
    where = path.name
    sources = load_sources(folder)
    shared = load_shared_layers(folder)
    if raw.get("version") != version:
        raise RulesError(f"{where}: version field is {raw.get('version')!r}, expected {version!r}")
    if tuple(raw.get("backends", ())) != BACKENDS:
        raise RulesError(f"{where}: backends must be {list(BACKENDS)}")
    layers = {}
    for name, lay in _need(raw, "layers", where).items():
        if name not in shared:
            raise RulesError(f"{where} layer {name!r}: not defined in layers.toml")
        layers[name] = _layer(name, shared[name], lay, sources, f"{where} layer {name!r}")
    size = dict(_need(raw, "size", where))
    budget = _need(size, "budget_bytes", f"{where} [size]")
    if not isinstance(budget, int) or budget <= 0:
        raise RulesError(f"{where} [size]: budget_bytes must be a positive integer")
    for section in ("size", "ram", "fp16", "performance"):
        sec = _need(raw, section, where)
        _cites(_need(sec, "source", f"{where} [{section}]"), sources, f"{where} [{section}] source")
        _confidence(_need(sec, "confidence", f"{where} [{section}]"), f"{where} [{section}]")
    fp16 = dict(_need(raw, "fp16", where))
    for key in ("flush_share", "subnormal_share"):
        if not 0 <= float(_need(fp16, key, f"{where} [fp16]")) <= 1:
            raise RulesError(f"{where} [fp16]: {key} must be within [0, 1]")
    importer = dict(raw.get("importer", {}))
    if importer:
        _cites(importer.pop("source", ""), sources, f"{where} [importer] source")
    mapping = load_mapping(folder)
    _check_mapping_layers(mapping, shared, layers, version)
    return Ruleset(
        version=version, title=raw.get("title", version), formats=dict(_need(raw, "formats", where)),
        formats_source=_cites(raw.get("formats_source", ""), sources, f"{where} formats_source"), layers=layers,
        size_budget_bytes=budget, size=size, ram=dict(raw["ram"]), fp16=fp16, performance=dict(raw["performance"]),
        sources=sources, mapping=mapping, importer=importer, path=path,
    )


def mapped_layers(mapping: Mapping) -> set[str]:
    """Every layer the mapping (and the fused activations) can produce."""
    names = {e.layer for es in mapping.entries.values() for e in es if e.layer}
    return names | {v for v in mapping.fused_activation.values() if v}


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
