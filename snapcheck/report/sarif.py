"""``--format sarif``: SARIF 2.1.0 for code-scanning UIs (GitHub shows the results as annotations).

Each rule is described from the finding-code registry: its name, title, why, and a ``helpUri`` to the code's
anchor in ``docs/check.md``.
"""

from __future__ import annotations

import json
from pathlib import Path

from snapcheck import __version__
from snapcheck.api import CheckReport
from snapcheck.registry import load_codes

_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def _rule(code: str) -> dict:
    entry = load_codes().get(code)
    if entry is None:  # a code from outside the registry (e.g. a test double): describe it by its id only
        return {"id": code, "name": code}
    return {
        "id": code, "name": entry.name,
        "shortDescription": {"text": entry.title},
        "fullDescription": {"text": entry.why},
        "help": {"text": entry.fix},
        "helpUri": entry.help_uri(),
        "defaultConfiguration": {"level": _LEVEL[entry.severity]},
        "properties": {"confidence": entry.confidence, "evidence": entry.evidence},
    }


def render(reports: list[CheckReport]) -> str:
    rules: dict[str, dict] = {}
    results = []
    for r in reports:
        uri = Path(r.path).as_posix()
        for f in r.findings:
            rules.setdefault(f.code, _rule(f.code))
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
