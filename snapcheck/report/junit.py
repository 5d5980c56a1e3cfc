"""``--format junit``: one test suite per Lens Studio version, one test case per check family."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from snapcheck.api import CheckReport
from snapcheck.registry import FAMILIES
from snapcheck.report import family


def _text(f) -> str:
    return f"{f.code} {f.severity}: {f.message}\n  why: {f.why}\n  fix: {f.fix}"


def render(reports: list[CheckReport]) -> str:
    root = ET.Element("testsuites", name="snapcheck")
    for r in reports:
        suite = ET.SubElement(root, "testsuite", name=f"snapcheck {r.ls_version} {r.path}")
        failures = 0
        for fam in FAMILIES.values():
            found = [f for f in r.findings if family(f.code) == fam]
            case = ET.SubElement(suite, "testcase", classname=f"snapcheck.{r.ls_version}", name=fam)
            errors = [f for f in found if f.severity == "error"]
            if errors:
                failures += 1
                fail = ET.SubElement(case, "failure", type=errors[0].code,
                                     message=f"{len(errors)} error(s): " + "; ".join(f.code for f in errors))
                fail.text = "\n".join(_text(f) for f in errors)
            rest = [f for f in found if f.severity != "error"]
            if rest:
                ET.SubElement(case, "system-out").text = "\n".join(_text(f) for f in rest)
        suite.set("tests", str(len(FAMILIES)))
        suite.set("failures", str(failures))
        suite.set("errors", "0")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
