"""Baselines: record today's findings (``check --write-baseline FILE``) and fail later only on new ones
(``check --baseline FILE``).

A finding is matched by its file (relative to the baseline's folder), Lens Studio version, code and a stable op
identity: the op's Netron name (ONNX node name, TFLite first output tensor name), else the tensor it names, plus
the backend it applies to. Never the op's index or the message's counts, which change when the model changes
elsewhere. Each recorded finding absorbs one finding of the same identity; the rest are new.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from snapcheck import __version__
from snapcheck.api import CheckReport
from snapcheck.errors import InputError
from snapcheck.findings import Finding
from snapcheck.fsutil import atomic_write_text

BASELINE_VERSION = 1
Key = tuple[str, str, str, str]


def identity(f: Finding) -> str:
    """The stable place of a finding: ``node@backend``, ``tensor``, or ``""`` for a whole-model finding."""
    where = f.node or f.tensor or ""
    return f"{where}@{f.backend}" if f.backend else where


def _rel(path: str, folder: Path) -> str:
    return Path(os.path.relpath(Path(path).resolve(), folder.resolve())).as_posix()


def write_baseline(path: str | Path, reports: list[CheckReport]) -> int:
    """Record every finding of ``reports`` in ``path`` (atomically); the number recorded."""
    folder = Path(path).resolve().parent
    rows = [{"path": _rel(r.path, folder), "ls_version": r.ls_version, "code": f.code, "identity": identity(f),
             "message": f.message} for r in reports for f in r.findings]
    doc = {"baseline_version": BASELINE_VERSION, "tool": f"snapcheck {__version__}", "findings": rows}
    atomic_write_text(path, json.dumps(doc, indent=2) + "\n")
    return len(rows)


class Baseline:
    """A read baseline: ``apply`` moves the findings it records into a report's suppressed list."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.folder = self.path.resolve().parent
        try:
            doc: Any = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(self.path, "no such baseline file (write one with --write-baseline)") from None
        except IsADirectoryError:
            raise InputError(self.path, "is a directory, not a baseline file") from None
        except (OSError, ValueError) as exc:
            raise InputError(self.path, f"not a snapcheck baseline: {exc}") from None
        rows = doc.get("findings") if isinstance(doc, dict) else None
        if not isinstance(rows, list) or doc.get("baseline_version") != BASELINE_VERSION:
            raise InputError(self.path, f"not a snapcheck baseline (expected baseline_version {BASELINE_VERSION} "
                                        "and a findings list)")
        try:
            self.counts: Counter[Key] = Counter(
                (str(r["path"]), str(r["ls_version"]), str(r["code"]), str(r["identity"])) for r in rows)
        except (KeyError, TypeError):
            raise InputError(self.path, "not a snapcheck baseline: each finding needs path, ls_version, code and "
                                        "identity") from None

    def apply(self, report: CheckReport) -> CheckReport:
        """The report with the findings this baseline records moved to ``suppressed``."""
        left = Counter(self.counts)
        rel = _rel(report.path, self.folder)
        kept, known = [], []
        for f in report.findings:
            key = (rel, report.ls_version, f.code, identity(f))
            if left[key] > 0:
                left[key] -= 1
                known.append(replace(f, reason=f"in baseline {self.path.name}"))
            else:
                kept.append(f)
        return replace(report, findings=kept, suppressed=[*report.suppressed, *known])
