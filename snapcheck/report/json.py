"""``--format json``: the versioned document of ``CheckReport.to_dict`` (schema in docs/check.md)."""

from __future__ import annotations

import json
from typing import Any

from snapcheck.api import SCHEMA_VERSION, CheckReport


def document(reports: list[CheckReport]) -> dict[str, Any]:
    """One report as is; several (``--ls-version all``) as ``{"versions": {...}}`` with an overall verdict."""
    if len(reports) == 1:
        return reports[0].to_dict()
    return {
        "schema_version": SCHEMA_VERSION,
        "path": reports[0].path,
        "ls_version": "all",
        "passed": all(r.passed for r in reports),
        "versions": {r.ls_version: r.to_dict() for r in reports},
    }


def render(reports: list[CheckReport]) -> str:
    return json.dumps(document(reports), indent=2) + "\n"


def render_models(groups: list[list[CheckReport]], errors: dict[str, str] | None = None) -> str:
    """One model as :func:`document`; several (or any unusable file) as ``{"models": [...]}`` with an overall
    verdict, an unusable file as ``{"path": ..., "error": ...}`` after the checked ones."""
    errors = errors or {}
    if len(groups) == 1 and not errors:
        return render(groups[0])
    doc = {"schema_version": SCHEMA_VERSION, "passed": not errors and all(r.passed for g in groups for r in g),
           "models": [document(g) for g in groups] + [{"path": p, "error": e} for p, e in errors.items()]}
    return json.dumps(doc, indent=2) + "\n"
