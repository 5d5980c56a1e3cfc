"""The registry of finding codes: each code's severity, title, message, why, fix and evidence, in one place.

The codes live in ``rules/codes.toml`` (data, shipped in the wheel). Checks build findings only through
:func:`emit`, which fills the code's message template and applies its evidence: an error whose rule is
``unconfirmed`` (inferred with no named evidence) is reported as a warning that says so. :class:`Policy`
selects, ignores and re-grades codes by code or prefix, as ruff's ``select``/``ignore`` do. The codes table of
``docs/check.md`` is generated from the registry (``snapcheck.report.codes_table``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping

from snapcheck.errors import InputError
from snapcheck.findings import SEVERITY_ORDER, Finding, Severity
from snapcheck.paths import rules_dir
from snapcheck.rules import BACKEND_TITLES, load_sources
from snapcheck.tomlread import read_toml

CONFIDENCES: tuple[str, ...] = ("documented", "inferred", "unconfirmed")
ORIGINS: tuple[str, ...] = ("keras", "pytorch", "onnx")
FAMILIES: dict[str, str] = {"SC1": "ops", "SC2": "placement", "SC3": "size", "SC4": "fp16", "SC5": "io",
                            "SC6": "performance"}  # the JUnit test cases; SC9 (reader findings) is "other"
DOCS_PAGE = "docs/check.md"
UNCONFIRMED_NOTE = " (inferred rule with no named evidence)"
_CODE = re.compile(r"SC\d{3}")
_SOURCE_KEY = re.compile(r"\bS-[A-Z0-9]+\b")
_SELECTOR = re.compile(r"SC\d{0,3}")
_FIELDS = ("name", "severity", "title", "message", "why", "fix", "confidence", "evidence")


class RegistryError(ValueError):
    """``codes.toml`` breaks the format that ``snapcheck.registry`` documents."""


@dataclass(frozen=True)
class Code:
    """One finding code, as ``rules/codes.toml`` states it."""

    code: str
    name: str
    severity: Severity
    title: str
    message: str
    why: str
    fix: str
    confidence: str
    evidence: str
    fixes: Mapping[str, str] = field(default_factory=dict)  # origin -> fix

    @property
    def family(self) -> str:
        return FAMILIES.get(self.code[:3], "other")

    @property
    def anchor(self) -> str:
        """The code's anchor in ``docs/check.md`` (``sc101``)."""
        return self.code.lower()

    def help_uri(self, base: str = DOCS_PAGE) -> str:
        return f"{base}#{self.anchor}"

    def fix_for(self, origin: str | None) -> str:
        """The fix for a model of this origin: its own variant, ``onnx``'s for a PyTorch model, else the default."""
        order = {"pytorch": ("pytorch", "onnx"), "keras": ("keras",), "onnx": ("onnx",)}.get(origin or "", ())
        return next((self.fixes[o] for o in order if o in self.fixes), self.fix)


def _code(key: str, raw: Any) -> Code:
    where = f"codes.toml [{key}]"
    if not _CODE.fullmatch(key):
        raise RegistryError(f"{where}: a code is SC and three digits")
    if not isinstance(raw, dict):
        raise RegistryError(f"{where}: expected a table")
    missing = [f for f in _FIELDS if not isinstance(raw.get(f), str) or not raw[f]]
    if missing:
        raise RegistryError(f"{where}: missing or empty {', '.join(missing)}")
    if raw["severity"] not in SEVERITY_ORDER:
        raise RegistryError(f"{where}: severity must be one of {', '.join(SEVERITY_ORDER)}")
    if raw["confidence"] not in CONFIDENCES:
        raise RegistryError(f"{where}: confidence must be one of {', '.join(CONFIDENCES)}")
    fixes = dict(raw.get("fixes", {}))
    bad = set(fixes) - set(ORIGINS)
    if bad:
        raise RegistryError(f"{where}: fixes for unknown origins {sorted(bad)} (known: {', '.join(ORIGINS)})")
    unknown = set(raw) - {*_FIELDS, "fixes"}
    if unknown:
        raise RegistryError(f"{where}: unknown keys {sorted(unknown)}")
    return Code(code=key, fixes=fixes, **{f: raw[f] for f in _FIELDS})


@lru_cache(maxsize=None)
def load_codes(folder: Path | None = None) -> dict[str, Code]:
    """Every code of ``codes.toml``, in code order (validated: names unique, fields present)."""
    raw = read_toml((folder or rules_dir()) / "codes.toml")
    codes = {key: _code(key, value) for key, value in sorted(raw.items())}
    sources = load_sources(folder)
    for c in codes.values():
        cited = set(_SOURCE_KEY.findall(c.evidence))
        if not cited or cited - set(sources):
            raise RegistryError(f"codes.toml [{c.code}]: evidence must cite keys of sources.toml "
                                f"(unknown: {sorted(cited - set(sources)) or 'none cited'})")
    names: dict[str, str] = {}
    for c in codes.values():
        if c.name in names:
            raise RegistryError(f"codes.toml: name {c.name!r} is used by {names[c.name]} and {c.code}")
        names[c.name] = c.code
    return codes


def get(code: str) -> Code:
    """The registry entry of ``code``; a code missing from the registry is a programming error."""
    try:
        return load_codes()[code]
    except KeyError:
        raise KeyError(f"{code} is not in rules/codes.toml") from None


def emit(code: str, *, op: str | None = None, subgraph: int | None = None, op_index: int | None = None,
         tensor: str | None = None, backend: str | None = None, why: str | None = None, fix: str | None = None,
         origin: str | None = None, confidence: str | None = None, **fields: Any) -> Finding:
    """The finding of ``code``: its message filled from ``fields`` (and ``op``, ``tensor``, ``backend``).

    ``why``/``fix`` replace the code's own texts where a check knows better (a layer's, an op's); otherwise the
    code's texts are filled from ``fields`` too, with the fix variant for ``origin``. ``confidence`` is the
    rule's (default: the code's); an unconfirmed rule lowers an error to a warning and says so.
    """
    entry = get(code)
    values = {"op": op or "", "tensor": tensor or "", **fields}
    values["backend"] = BACKEND_TITLES.get(backend or "", backend or "")
    confidence = confidence or entry.confidence
    if confidence not in CONFIDENCES:
        raise ValueError(f"{code}: unknown confidence {confidence!r}")
    message = entry.message.format(**values)
    severity: Severity = entry.severity
    if confidence == "unconfirmed":
        message += UNCONFIRMED_NOTE
        if severity == "error":
            severity = "warning"
    return Finding(
        code=code, severity=severity, message=message,
        why=why if why is not None else entry.why.format(**values),
        fix=fix if fix is not None else entry.fix_for(origin).format(**values),
        op=op, subgraph=subgraph, op_index=op_index, tensor=tensor, backend=backend,
        inferred=confidence != "documented", confidence=confidence,
    )


def codes_matching(selector: str) -> list[str]:
    """The codes a selector names: ``ALL``, a code (``SC112``) or a prefix (``SC1``, ``SC11``)."""
    if selector == "ALL":
        return list(load_codes())
    if not _SELECTOR.fullmatch(selector):
        return []
    return [c for c in load_codes() if c.startswith(selector)]


def _specificity(selector: str) -> int:
    return 0 if selector == "ALL" else len(selector)


def _matches(selector: str, code: str) -> bool:
    return selector == "ALL" or code.startswith(selector)


@dataclass(frozen=True)
class Policy:
    """Which codes a run reports and at what severity: ruff's ``select``/``ignore``, plus severity overrides.

    For each code the most specific matching selector (``ALL`` < ``SC1`` < ``SC11`` < ``SC112``) decides between
    ``select`` and ``ignore``; at equal specificity ``ignore`` wins. ``severity`` maps a code or prefix to a new
    severity; the most specific one applies.
    """

    select: tuple[str, ...] = ("ALL",)
    ignore: tuple[str, ...] = ()
    severity: tuple[tuple[str, Severity], ...] = ()

    @classmethod
    def build(cls, select: Iterable[str] = ("ALL",), ignore: Iterable[str] = (),
              severity: Mapping[str, str] | None = None) -> "Policy":
        """A validated policy; an unknown code, prefix or severity is an ``InputError`` naming it."""
        sel, ign = tuple(s.strip().upper() for s in select), tuple(s.strip().upper() for s in ignore)
        sev = tuple((k.strip().upper(), v) for k, v in (severity or {}).items())
        for s in (*sel, *ign, *(k for k, _ in sev)):
            if not codes_matching(s):
                raise InputError(None, f"unknown finding code or prefix {s!r} (codes: `snapcheck rules --codes`)")
        for k, v in sev:
            if v not in SEVERITY_ORDER:
                raise InputError(None, f"severity for {k} must be one of {', '.join(SEVERITY_ORDER)}, not {v!r}")
        return cls(select=sel, ignore=ign, severity=sev)  # type: ignore[arg-type]

    def selects(self, code: str) -> bool:
        best_sel = max((_specificity(s) for s in self.select if _matches(s, code)), default=-1)
        best_ign = max((_specificity(s) for s in self.ignore if _matches(s, code)), default=-1)
        return best_sel > best_ign

    def severity_of(self, code: str, current: Severity) -> Severity:
        hits = [(_specificity(k), v) for k, v in self.severity if _matches(k, code)]
        return max(hits)[1] if hits else current

    def apply(self, findings: Iterable[Finding]) -> tuple[list[Finding], list[Finding]]:
        """(kept findings with overridden severities, suppressed findings)."""
        kept, dropped = [], []
        for f in findings:
            if not self.selects(f.code):
                dropped.append(f)
                continue
            sev = self.severity_of(f.code, f.severity)
            kept.append(f if sev == f.severity else replace(f, severity=sev))
        return kept, dropped


DEFAULT_POLICY = Policy()
