"""``--format sarif``: SARIF 2.1.0 for code-scanning UIs (GitHub shows the results as alerts and annotations).

Each rule is described from the finding-code registry: ``shortDescription`` is the code's title, ``fullDescription``
its why, ``help`` its fix, ``helpUri`` the code's anchor in ``docs/check.md`` (under ``$SNAPCHECK_DOCS_URL`` when
set, e.g. the docs folder of your snapcheck checkout on the web). Each result is located at the model file, line 1
(``region.startLine``: a model has no lines, and GitHub places alerts by line), relative to the ``SRCROOT`` base
(``originalUriBaseIds``: the working folder) where it lies under it, with the op as a logical location. A finding
raised by several Lens Studio versions is one result that lists them; ``partialFingerprints`` (file, code and the
op's stable identity) let a code-scanning service follow it from run to run.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from snapcheck import __version__
from snapcheck.api import CheckReport
from snapcheck.baseline import identity
from snapcheck.findings import SEVERITY_ORDER
from snapcheck.registry import load_codes
from snapcheck.report.grouping import display_op

_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
BASE_ID = "SRCROOT"


def _docs_base() -> str:
    return os.environ.get("SNAPCHECK_DOCS_URL", "docs").rstrip("/")


def _rule(code: str) -> dict[str, Any]:
    entry = load_codes().get(code)
    if entry is None:  # a code from outside the registry (e.g. a test double): describe it by its id only
        return {"id": code, "name": code, "shortDescription": {"text": code}}
    return {
        "id": code, "name": entry.name,
        "shortDescription": {"text": entry.title},
        "fullDescription": {"text": entry.why},
        "help": {"text": entry.fix, "markdown": f"**Why:** {entry.why}\n\n**Fix:** {entry.fix}"},
        "helpUri": f"{_docs_base()}/check.md#{entry.anchor}",
        "defaultConfiguration": {"level": _LEVEL[entry.severity]},
        "properties": {"confidence": entry.confidence, "evidence": entry.evidence, "tags": [entry.family]},
    }


def _artifact(path: str, root: Path) -> dict[str, Any]:
    """The model's location as a URI reference: percent-encoded (a space, bytes that are not UTF-8), relative to
    ``SRCROOT`` where the file lies under it."""
    p = Path(path).resolve()
    try:
        return {"uri": quote(os.fsencode(p.relative_to(root).as_posix()), safe="/"), "uriBaseId": BASE_ID}
    except ValueError:
        return {"uri": p.as_uri()}


def render_models(groups: list[list[CheckReport]], errors: dict[str, str] | None = None) -> str:
    """One run over every model: rules once, one result per finding (merged across versions)."""
    root = Path.cwd().resolve()
    rules: dict[str, dict[str, Any]] = {}
    merged: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in (r for g in groups for r in g):
        art = _artifact(r.path, root)
        for f in r.findings:
            key = (art["uri"], f.code, identity(f))
            if key in merged:
                res = merged[key]
                res["properties"]["ls_versions"].append(r.ls_version)
                if SEVERITY_ORDER[f.severity] < SEVERITY_ORDER[res["properties"]["severity"]]:
                    res["level"], res["properties"]["severity"] = _LEVEL[f.severity], f.severity
                continue
            rules.setdefault(f.code, _rule(f.code))
            loc: dict[str, Any] = {"physicalLocation": {"artifactLocation": art, "region": {"startLine": 1}}}
            where = display_op(f)
            if where:
                loc["logicalLocations"] = [{"name": f.node or f.op or f.tensor,
                                            "fullyQualifiedName": f"{art['uri']}:{where}",
                                            "kind": "function" if f.op else "variable"}]
            fingerprint = hashlib.sha256("|".join(key).encode()).hexdigest()[:32]
            merged[key] = {
                "ruleId": f.code, "level": _LEVEL[f.severity],
                "message": {"text": f"{f.message}. Fix: {f.fix}"},
                "locations": [loc],
                "partialFingerprints": {"snapcheckFinding/v1": fingerprint},
                "properties": {"ls_versions": [r.ls_version], "severity": f.severity, "inferred": f.inferred,
                               **({"backend": f.backend} if f.backend else {})},
            }
    order = {code: i for i, code in enumerate(rules)}
    results = []
    for res in merged.values():
        versions = res["properties"]["ls_versions"]
        res["message"]["text"] = f"[Lens Studio {', '.join(versions)}] {res['message']['text']}"
        res["ruleIndex"] = order[res["ruleId"]]
        results.append(res)
    notes = [{"level": "error", "message": {"text": f"{path}: {problem}"},
              "locations": [{"physicalLocation": {"artifactLocation": _artifact(path, root)}}]}
             for path, problem in (errors or {}).items()]
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "snapcheck", "version": __version__, "semanticVersion": __version__,
                            "rules": list(rules.values())}},
        "originalUriBaseIds": {BASE_ID: {"uri": root.as_uri().rstrip("/") + "/"}},
        "invocations": [{"executionSuccessful": not errors, "toolExecutionNotifications": notes}],
        "results": results,
    }
    return json.dumps({"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2) + "\n"


def render(reports: list[CheckReport]) -> str:
    """One model's reports (one per version)."""
    return render_models([reports])
