"""``--format sarif``: SARIF 2.1.0 for code-scanning UIs (GitHub shows the results as annotations)."""

from __future__ import annotations

import json
from pathlib import Path

from snapcheck import __version__
from snapcheck.api import CheckReport

_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def render(reports: list[CheckReport]) -> str:
    rules: dict[str, dict] = {}
    results = []
    for r in reports:
        uri = Path(r.path).as_posix()
        for f in r.findings:
            rules.setdefault(f.code, {
                "id": f.code, "name": f.code,
                "shortDescription": {"text": f.why or f.message},
                "help": {"text": f"{f.fix or f.why} (snapcheck docs/check.md#{f.code.lower()})"},
            })
            loc = {"physicalLocation": {"artifactLocation": {"uri": uri}}}
            if f.op or f.tensor:
                loc["logicalLocations"] = [{"name": f.op or f.tensor, "kind": "function" if f.op else "variable"}]
            results.append({
                "ruleId": f.code, "level": _LEVEL[f.severity],
                "message": {"text": f"[Lens Studio {r.ls_version}] {f.message}. Fix: {f.fix}"},
                "locations": [loc],
                "properties": {"ls_version": r.ls_version, "inferred": f.inferred,
                               **({"backend": f.backend} if f.backend else {})},
            })
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "snapcheck", "version": __version__, "rules": list(rules.values())}},
            "results": results,
        }],
    }
    return json.dumps(doc, indent=2) + "\n"
