"""The finding-code registry: one entry per code, the docs table generated from it, emit and the select policy."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from snapcheck.errors import InputError
from snapcheck.findings import Finding
from snapcheck.paths import rules_dir
from snapcheck.registry import Policy, RegistryError, emit, get, load_codes
from snapcheck.report.codes_table import splice

ROOT = Path(__file__).resolve().parents[1]


def test_docs_codes_table_is_generated_from_the_registry():
    doc = (ROOT / "docs" / "check.md").read_text(encoding="utf-8")
    assert splice(doc) == doc, "docs/check.md is out of date: run python tools/gen_docs.py"
    for code in load_codes():
        assert f'<a id="{code.lower()}"></a>{code}' in doc


def test_every_code_has_a_message_template_the_checks_fill():
    for code in load_codes().values():
        assert "{" in code.message or code.code in ("SC508",), code.code
        assert code.why and code.fix and code.evidence
        assert re.search(r"\bS-[A-Z0-9]+\b", code.evidence), code.code


def test_emit_fills_the_template_and_takes_the_fix_for_the_models_origin():
    f = emit("SC502", name="input 'x'", which="batch (N)", shape="['N', 3, 8, 8]", cause="", origin="pytorch",
             tensor="x")
    assert f.severity == "error" and f.message == "input 'x' has dynamic dims: batch (N); shape ['N', 3, 8, 8]"
    assert "dynamic_axes" in f.fix and "keras" not in f.fix.lower()
    assert "keras.Input" in emit("SC502", name="n", which="w", shape="s", cause="", origin="keras").fix
    with pytest.raises(KeyError):
        emit("SC502", name="n")  # a field of the template is missing


def test_an_unconfirmed_rule_is_a_warning_that_says_so():
    f = emit("SC110", op="#0 Add", version="5.x", layer="Constant", rule="r", detail="d", confidence="unconfirmed")
    assert f.severity == "warning" and f.message.endswith("(inferred rule with no named evidence)")
    assert f.inferred and f.confidence == "unconfirmed"
    documented = emit("SC110", op="#0 Add", version="5.x", layer="Constant", rule="r", detail="d")
    assert documented.severity == "error" and not documented.inferred


@pytest.mark.parametrize("select,ignore,kept", [
    (["ALL"], [], {"SC101", "SC112", "SC201", "SC502"}),
    (["ALL"], ["SC1"], {"SC201", "SC502"}),
    (["ALL"], ["SC1"] + [], {"SC201", "SC502"}),
    (["SC11"], [], {"SC112"}),
    (["ALL"], ["SC1", "SC112"], {"SC201", "SC502"}),
    (["SC112"], ["SC1"], {"SC112"}),  # the more specific selector wins
    (["SC1"], ["SC1"], set()),  # at equal specificity ignore wins
])
def test_policy_selects_and_ignores_by_code_or_prefix(select, ignore, kept):
    findings = [Finding(code=c, severity="warning", message=c) for c in ("SC101", "SC112", "SC201", "SC502")]
    got, dropped = Policy.build(select, ignore).apply(findings)
    assert {f.code for f in got} == kept
    assert {f.code for f in dropped} == {f.code for f in findings} - kept


def test_policy_overrides_severity_most_specific_first():
    p = Policy.build(severity={"SC1": "info", "SC112": "error"})
    got, _ = p.apply([Finding("SC112", "warning", "m"), Finding("SC101", "error", "m"), Finding("SC5", "error", "m")])
    assert [f.severity for f in got] == ["error", "info", "error"]


@pytest.mark.parametrize("kw", [{"select": ["SC999"]}, {"ignore": ["XY1"]}, {"severity": {"SC101": "fatal"}}])
def test_policy_refuses_unknown_codes_and_severities(kw):
    with pytest.raises(InputError):
        Policy.build(**kw)


def test_policy_applies_to_a_whole_check(tmp_path):
    from snapcheck.api import check_graph
    from check_fixtures import ir_graph

    g = ir_graph("onnx", [("x", (1, 4, 8, 8), "float32", None), ("y", (1, 4, 8, 8), "float32", None)],
                 [("DepthToSpace", [0], [1], {"blocksize": 2})], [0], [1])
    full = check_graph(g, estimates=False)
    assert not full.passed and "SC101" in full.codes
    relaxed = check_graph(g, estimates=False, policy=Policy.build(ignore=["SC101"]))
    assert relaxed.passed and "SC101" not in relaxed.codes and [f.code for f in relaxed.suppressed] == ["SC101"]
    assert relaxed.to_dict()["suppressed"] == 1


def _copy(tmp_path: Path) -> Path:
    dst = tmp_path / "rules"
    shutil.copytree(rules_dir(), dst)
    return dst


@pytest.mark.parametrize("old,new,match", [
    ('severity = "error"', 'severity = "fatal"', "severity"),
    ('name = "custom-op"', 'name = "no-layer"', "used by"),
    ('confidence = "documented"', 'confidence = "likely"', "confidence"),
    ('\n[SC102]', '\n[SC10]', "three digits"),
    ('evidence = "S-TPL Lensathon', 'evidence = "a notebook', "cite keys"),
])
def test_a_malformed_registry_is_refused(tmp_path, old, new, match):
    d = _copy(tmp_path)
    p = d / "codes.toml"
    p.write_text(p.read_text().replace(old, new, 1))
    with pytest.raises(RegistryError, match=match):
        load_codes(d)


def test_a_code_missing_from_the_registry_is_a_programming_error():
    with pytest.raises(KeyError, match="SC100"):
        get("SC100")
