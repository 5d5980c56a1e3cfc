"""``--format junit``: one test suite per model and Lens Studio version, one test case per check family.

The structure GitLab and Jenkins read: ``<testsuites>`` with totals, ``<testsuite name tests failures errors
skipped time>``, and ``<testcase classname name time file>`` where ``classname`` is the model file and ``name``
the check family with the version (``ops [5.x]``). Failing findings are a ``<failure>`` (message: how many, of
which codes; text: each with why and fix); the others go to ``<system-out>``. A family that did not run is
``<skipped>`` with the reason: the estimates with ``--no-estimates`` (or a compiled model), a family whose every
code the settings ignore. An unusable file is one test case with an ``<error>``. Times are the seconds the family
took (``CheckReport.timings``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from snapcheck.api import CheckReport
from snapcheck.findings import Finding
from snapcheck.registry import FAMILIES
from snapcheck.report import family


def _text(f: Finding) -> str:
    where = f" at {f.node}" if f.node else ""
    return f"{f.code} {f.severity}{where}: {f.message}\n  why: {f.why}\n  fix: {f.fix}"


def _case(suite: ET.Element, r: CheckReport, fam: str) -> tuple[int, int]:
    """One family's test case; (failed, skipped)."""
    found = [f for f in r.findings if family(f.code) == fam]
    case = ET.SubElement(suite, "testcase", classname=r.path, name=f"{fam} [{r.ls_version}]",
                         time=f"{r.timings.get(fam, 0.0):.6f}", file=r.path)
    skip = r.skipped.get(fam)
    if skip is not None:
        ET.SubElement(case, "skipped", message=skip)
        return 0, 1
    failing = [f for f in found if f in r.failing]
    if failing:
        fail = ET.SubElement(case, "failure", type=failing[0].code,
                             message=f"{len(failing)} finding(s): " + ", ".join(dict.fromkeys(f.code for f in failing)))
        fail.text = "\n".join(_text(f) for f in failing)
    rest = [f for f in found if f not in failing]
    if rest:
        ET.SubElement(case, "system-out").text = "\n".join(_text(f) for f in rest)
    return int(bool(failing)), 0


def render_models(groups: list[list[CheckReport]], errors: dict[str, str] | None = None) -> str:
    root = ET.Element("testsuites", name="snapcheck")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    seconds = 0.0
    for r in (r for g in groups for r in g):
        suite = ET.SubElement(root, "testsuite", name=f"snapcheck {r.ls_version} {r.path}",
                              time=f"{r.seconds or sum(r.timings.values()):.6f}")
        failed = skipped = 0
        for fam in FAMILIES.values():
            f, s = _case(suite, r, fam)
            failed, skipped = failed + f, skipped + s
        counts = {"tests": len(FAMILIES), "failures": failed, "errors": 0, "skipped": skipped}
        for k, v in counts.items():
            suite.set(k, str(v))
            totals[k] += v
        seconds += float(suite.get("time", "0"))
    for path, problem in (errors or {}).items():
        suite = ET.SubElement(root, "testsuite", name=f"snapcheck {path}", tests="1", failures="0", errors="1",
                              skipped="0", time="0")
        case = ET.SubElement(suite, "testcase", classname=path, name="read", time="0", file=path)
        ET.SubElement(case, "error", type="unusable-input", message=problem).text = f"{path}: {problem}"
        totals["tests"] += 1
        totals["errors"] += 1
    for k, v in totals.items():
        root.set(k, str(v))
    root.set("time", f"{seconds:.6f}")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def render(reports: list[CheckReport]) -> str:
    """One model's reports (one per version)."""
    return render_models([reports])
