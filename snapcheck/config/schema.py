"""Validation of a snapcheck config table (``snapcheck.toml``, ``[tool.snapcheck]``): each key's type and values,
the codes it names, the suppressions and their reasons; every error names the file and the key."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, Mapping

from snapcheck.errors import InputError
from snapcheck.findings import SEVERITY_ORDER
from snapcheck.registry import Suppression, check_selector
from snapcheck.rules import BACKENDS
from snapcheck.targets import target_names
from snapcheck.versions import expand_versions, normalise_version

FAIL_ON: tuple[str, ...] = ("error", "warning")
_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "kib": 1024, "mib": 1024**2, "gib": 1024**3}
_SUPPRESS_KEYS = ("code", "op", "op-type", "tensor", "path", "reason")


def parse_size(text: str | int, what: str = "--max-size") -> int:
    """``10000000``, ``10MB``, ``9.5MiB`` -> bytes (MB = 1,000,000 bytes)."""
    if isinstance(text, int) and not isinstance(text, bool):
        n = text
    else:
        m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kKmMgG]?i?[bB]?)\s*", str(text))
        if not m or m.group(2).lower() not in _UNITS:
            raise InputError(None, f"{what} {text!r} is not a size (e.g. 10000000, 10MB, 9.5MiB)")
        n = int(float(m.group(1)) * _UNITS[m.group(2).lower()])
    if n <= 0:
        raise InputError(None, f"{what} {text!r} must be positive")
    return n


class _Reader:
    """Validates one config table; every error names the file and the key."""

    def __init__(self, path: Path, table: str) -> None:
        self.path, self.table = path, table

    def fail(self, key: str, problem: str) -> InputError:
        return InputError(self.path, f"{self.table}{key}: {problem}")

    def string(self, key: str, value: Any, choices: tuple[str, ...] | None = None) -> str:
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, not {type(value).__name__}")
        if choices is not None and value not in choices:
            raise self.fail(key, f"{value!r} is not one of {', '.join(choices)}")
        return value

    def codes(self, key: str, value: Any) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(c, str) for c in items):
            raise self.fail(key, "must be a list of finding codes or prefixes, e.g. [\"SC112\", \"SC5\"]")
        out = []
        for c in items:
            try:
                out.append(check_selector(c.strip().upper()))
            except InputError as exc:
                raise self.fail(key, exc.problem) from None
        return tuple(out)

    def versions(self, key: str, value: Any, notes: list[str]) -> list[str]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
            raise self.fail(key, "must be a version or a list of them, e.g. \"5.x\" or [\"4.x\", \"5.x\"]")
        out: list[str] = []
        for v in items:
            try:
                version, note = normalise_version(v, what=f"{self.path}: {key}")
            except InputError:
                raise self.fail(key, f"unknown Lens Studio version {v!r} (3.x, 4.x, 5.x or all)") from None
            if note:
                notes.append(note)
            out += [x for x in expand_versions(version) if x not in out]
        return out


def _suggest(key: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key.replace("_", "-"), known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(known)})"


KNOWN_KEYS: tuple[str, ...] = ("ls-version", "backend", "target", "max-size", "select", "ignore", "extend-ignore",
                               "per-file-ignores", "severity", "fail-on", "no-estimates", "suppress", "baseline")


def parse_config(path: Path, raw: Mapping[str, Any], table: str = "") -> dict[str, Any]:
    """Validate a config table (``raw``) into canonical values; ``InputError`` naming ``path`` and the key."""
    r = _Reader(path, table)
    out: dict[str, Any] = {"notes": []}
    for key, value in raw.items():
        if key not in KNOWN_KEYS:
            raise r.fail(key, f"unknown key{_suggest(key, KNOWN_KEYS)}")
        if key == "ls-version":
            out[key] = r.versions(key, value, out["notes"])
        elif key == "backend":
            out[key] = r.string(key, value, BACKENDS)
        elif key == "target":
            out[key] = r.string(key, value, target_names())
        elif key == "max-size":
            if not isinstance(value, (str, int)) or isinstance(value, bool):
                raise r.fail(key, "must be a number of bytes or a size such as \"8MB\"")
            try:
                out[key] = parse_size(value, what="")
            except InputError as exc:
                raise r.fail(key, exc.problem.strip()) from None
        elif key == "select":
            out[key] = r.codes(key, value)
        elif key in ("ignore", "extend-ignore"):
            # a plain code, or { code = "SC505", reason = "..." }: an ignore that says why is a suppression
            items = value if isinstance(value, list) else [value]
            tables = [v for v in items if isinstance(v, dict)]
            out[key] = r.codes(key, [v for v in items if not isinstance(v, dict)])
            if tables:
                out.setdefault("suppress", []).extend(_suppressions(r, tables, key))
        elif key == "baseline":
            out[key] = r.string(key, value)
        elif key == "per-file-ignores":
            if not isinstance(value, dict):
                raise r.fail(key, "must be a table of glob = [codes], e.g. { \"legacy/*.onnx\" = [\"SC1\"] }")
            out[key] = {str(glob): r.codes(f"{key}.{glob}", codes) for glob, codes in value.items()}
        elif key == "severity":
            if not isinstance(value, dict):
                raise r.fail(key, "must be a table of code = severity, e.g. { SC202 = \"info\" }")
            for code, sev in value.items():
                r.codes(f"{key}.{code}", code)
                r.string(f"{key}.{code}", sev, tuple(SEVERITY_ORDER))
            out[key] = {str(k).upper(): v for k, v in value.items()}
        elif key == "fail-on":
            out[key] = r.string(key, value, FAIL_ON)
        elif key == "no-estimates":
            if not isinstance(value, bool):
                raise r.fail(key, "must be true or false")
            out[key] = value
        elif key == "suppress":
            out.setdefault(key, []).extend(_suppressions(r, value))
    return out


def _suppressions(r: _Reader, value: Any, where: str = "suppress") -> list[tuple[Suppression, tuple[str, ...]]]:
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise r.fail(where, "must be [[suppress]] tables with a code, op, op-type or tensor and a reason")
    out = []
    for i, entry in enumerate(value):
        key = f"{where}[{i}]"
        unknown = [k for k in entry if k not in _SUPPRESS_KEYS]
        if unknown:
            raise r.fail(f"{key}.{unknown[0]}", f"unknown key{_suggest(unknown[0], _SUPPRESS_KEYS)}")
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise r.fail(f"{key}.reason", "missing: every suppression says why (reason = \"...\")")
        if not any(k in entry for k in ("code", "op", "op-type", "tensor")):
            raise r.fail(key, "names nothing to suppress: give a code, op, op-type or tensor")
        codes = r.codes(f"{key}.code", entry["code"]) if "code" in entry else ("ALL",)
        names = {k: r.string(f"{key}.{k}", entry[k]) for k in ("op", "op-type", "tensor") if k in entry}
        paths = entry.get("path", ())
        paths = (paths,) if isinstance(paths, str) else tuple(paths)
        if not all(isinstance(p, str) for p in paths):
            raise r.fail(f"{key}.path", "must be a glob or a list of globs")
        out.append((Suppression(reason=" ".join(reason.split()), codes=codes, op=names.get("op"),
                                op_type=names.get("op-type"), tensor=names.get("tensor")), paths))
    return out
