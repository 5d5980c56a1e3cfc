"""Project settings for ``snapcheck check`` and the CI gate, found as ruff finds its configuration.

The settings of a model file come from the nearest ``snapcheck.toml`` or ``pyproject.toml`` with a
``[tool.snapcheck]`` table, looking in the model's folder and then in each folder above it (in one folder
``snapcheck.toml`` wins). Keys are kebab-case; options given on the command line override them. Every key is
validated: a bad one is an ``InputError`` naming the file, the key and the problem (exit 2).

```toml
[tool.snapcheck]
ls-version = "5.x"              # or a list, or "all"
backend = "iphone_npu"          # focus on one backend
target = "snapchat"             # snapchat | spectacles
max-size = "8MB"                # bytes, or with a unit
select = ["ALL"]
ignore = ["SC505"]
extend-ignore = ["SC403"]
per-file-ignores = { "legacy/*.onnx" = ["SC1"] }
severity = { SC202 = "info" }
fail-on = "warning"             # error (default) | warning
no-estimates = true

[[tool.snapcheck.suppress]]     # accepted findings, each with its reason
code = "SC112"                  # a code, a prefix or a list (default: every code)
op = "model/concat_1"           # the Netron name: ONNX node name or TFLite op's first output tensor name
reason = "runs once per frame; measured at 0.2 ms on the CPU"
```
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from snapcheck.config.schema import BACKENDS, FAIL_ON, KNOWN_KEYS, parse_config, parse_size
from snapcheck.errors import InputError
from snapcheck.registry import Policy, Suppression
from snapcheck.tomlread import TOMLDecodeError, read_toml

__all__ = ["BACKENDS", "CONFIG_NAMES", "FAIL_ON", "KNOWN_KEYS", "ConfigFile", "ConfigFinder", "Settings",
           "parse_config", "parse_size", "read_config", "resolve_settings"]

CONFIG_NAMES: tuple[str, ...] = ("snapcheck.toml", "pyproject.toml")  # in one folder the first wins
DEFAULT = "default"
COMMAND_LINE = "command line"


@dataclass
class Settings:
    """The resolved settings of one model file, and where each came from (``sources``: key -> a config file,
    ``command line`` or ``default``)."""

    ls_versions: list[str] = field(default_factory=lambda: ["5.x"])
    backend: str | None = None
    target: str | None = None
    max_size: int | None = None
    select: tuple[str, ...] = ("ALL",)
    ignore: tuple[str, ...] = ()
    severity: dict[str, str] = field(default_factory=dict)
    fail_on: str = "error"
    estimates: bool = True
    suppress: tuple[Suppression, ...] = ()
    baseline: Path | None = None
    config: Path | None = None
    sources: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def policy(self) -> Policy:
        return Policy.build(self.select, self.ignore, self.severity, self.suppress,
                            ignore_reason=f"ignored ({self.sources.get('ignore', DEFAULT)})")

    def source(self, key: str) -> str:
        return self.sources.get(key, DEFAULT)

    def describe(self) -> list[tuple[str, str, str]]:
        """``(key, value, where it came from)`` rows for ``check --show-settings``."""
        rows = [
            ("ls-version", ", ".join(self.ls_versions), self.source("ls-version")),
            ("backend", self.backend or "all", self.source("backend")),
            ("target", self.target or "snapchat", self.source("target")),
            ("max-size", f"{self.max_size:,} bytes" if self.max_size else "the version's budget",
             self.source("max-size")),
            ("select", ", ".join(self.select), self.source("select")),
            ("ignore", ", ".join(self.ignore) or "none", self.source("ignore")),
            ("severity", ", ".join(f"{k}={v}" for k, v in self.severity.items()) or "none", self.source("severity")),
            ("fail-on", self.fail_on, self.source("fail-on")),
            ("no-estimates", str(not self.estimates).lower(), self.source("no-estimates")),
            ("baseline", str(self.baseline) if self.baseline else "none", self.source("baseline")),
        ]
        for s in self.suppress:
            where = s.op and f"op {s.op}" or s.op_type and f"op type {s.op_type}" or s.tensor and f"tensor {s.tensor}"
            rows.append(("suppress", f"{', '.join(s.codes)}{' at ' + where if where else ''}: {s.reason}",
                         self.source("suppress")))
        return rows


@dataclass
class ConfigFile:
    path: Path
    values: dict[str, Any]

    @property
    def folder(self) -> Path:
        return self.path.parent


def read_config(path: Path) -> ConfigFile | None:
    """A ``snapcheck.toml`` (its whole table) or a ``pyproject.toml`` (its ``[tool.snapcheck]``; None without one)."""
    try:
        raw = read_toml(path)
    except (TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not valid TOML: {' '.join(str(exc).split())}") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    if path.name == "pyproject.toml":
        tool = raw.get("tool", {})
        if not isinstance(tool, dict) or "snapcheck" not in tool:
            return None
        table = tool["snapcheck"]
        if not isinstance(table, dict):
            raise InputError(path, "[tool.snapcheck] must be a table")
        return ConfigFile(path, parse_config(path, table, "[tool.snapcheck] "))
    return ConfigFile(path, parse_config(path, raw))


class ConfigFinder:
    """Finds the nearest config of a path, once per folder (a run over many models reads each file once)."""

    def __init__(self, explicit: Path | None = None, isolated: bool = False) -> None:
        self.explicit = read_config(explicit) if explicit is not None else None
        if explicit is not None and self.explicit is None:
            raise InputError(explicit, "has no [tool.snapcheck] table")
        self.isolated = isolated
        self._cache: dict[Path, ConfigFile | None] = {}

    def find(self, model: Path) -> ConfigFile | None:
        if self.explicit is not None or self.isolated:
            return self.explicit
        start = model.resolve()
        folder = start if start.is_dir() else start.parent
        seen: list[Path] = []
        found: ConfigFile | None = None
        for d in (folder, *folder.parents):
            if d in self._cache:
                found = self._cache[d]
                break
            seen.append(d)
            found = next((c for c in (read_config(d / n) for n in CONFIG_NAMES if (d / n).is_file()) if c), None)
            if found is not None:
                break
        for d in seen:
            self._cache[d] = found
        return found


def _glob_match(pattern: str, rel: str) -> bool:
    """A per-file glob: against the path relative to the config's folder, or the file name when it has no ``/``."""
    if "/" not in pattern:
        return fnmatch.fnmatch(rel.rsplit("/", 1)[-1], pattern)
    return fnmatch.fnmatch(rel, pattern.lstrip("./"))


def resolve_settings(model: Path, finder: ConfigFinder, overrides: Mapping[str, Any] | None = None) -> Settings:
    """The settings for ``model``: defaults, then its nearest config, then ``overrides`` (the command line's
    options, by config key; ``select`` replaces the config's select and ignores, ``ignore`` adds to them)."""
    cfg = finder.find(model)
    s = Settings(config=cfg.path if cfg else None)
    overrides = dict(overrides or {})
    if cfg is not None:
        where = str(cfg.path)
        v = cfg.values
        s.notes += v["notes"]
        simple: dict[str, Callable[[Any], None]] = {
            "ls-version": lambda x: setattr(s, "ls_versions", list(x)),
            "backend": lambda x: setattr(s, "backend", x),
            "target": lambda x: setattr(s, "target", x),
            "max-size": lambda x: setattr(s, "max_size", x),
            "select": lambda x: setattr(s, "select", tuple(x)),
            "severity": lambda x: setattr(s, "severity", dict(x)),
            "fail-on": lambda x: setattr(s, "fail_on", x),
            "no-estimates": lambda x: setattr(s, "estimates", not x),
        }
        for key, setter in simple.items():
            if key in v:
                setter(v[key])
                s.sources[key] = where
        rel = _relative(model, cfg.folder)
        ignore = [*v.get("ignore", ()), *v.get("extend-ignore", ())]
        ignore += [c for glob, codes in v.get("per-file-ignores", {}).items() if _glob_match(glob, rel) for c in codes]
        if ignore:
            s.ignore = tuple(dict.fromkeys(ignore))
            s.sources["ignore"] = where
        if "baseline" in v:
            s.baseline = cfg.folder / v["baseline"]
            s.sources["baseline"] = where
        sup = [sup for sup, globs in v.get("suppress", ()) if not globs or any(_glob_match(g, rel) for g in globs)]
        if sup:
            s.suppress = tuple(sup)
            s.sources["suppress"] = where
    _apply_overrides(s, overrides)
    return s


def _apply_overrides(s: Settings, overrides: Mapping[str, Any]) -> None:
    for key, value in overrides.items():
        if value is None:
            continue
        if key == "ls-version":
            s.ls_versions = list(value)
        elif key == "select":
            s.select, s.ignore = tuple(value), ()
            s.sources["ignore"] = COMMAND_LINE
        elif key == "ignore":
            before = s.sources.get("ignore")
            s.ignore = tuple(dict.fromkeys([*s.ignore, *value]))
            s.sources["ignore"] = f"{before} + {COMMAND_LINE}" if before else COMMAND_LINE
            continue
        elif key == "no-estimates":
            s.estimates = not value
        elif key == "baseline":
            s.baseline = Path(value)
        elif key in ("backend", "target", "max-size", "fail-on"):
            setattr(s, key.replace("-", "_"), value)
        else:
            raise KeyError(key)
        s.sources[key] = COMMAND_LINE


def _relative(path: Path, folder: Path) -> str:
    try:
        return path.resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return path.name
