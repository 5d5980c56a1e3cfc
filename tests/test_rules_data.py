"""The rules files load, validate, and say where every entry comes from."""

from __future__ import annotations

import shutil

import pytest

from snapcheck.errors import InputError
from snapcheck.paths import rules_dir
from snapcheck.rules import (BACKENDS, VERSIONS, RulesError, load_mapping, load_ruleset, resolve_backend,
                             resolve_versions)

SEEN_IN_455 = {"Absolute", "Argmax", "Argmin", "Batch Matrix Multiplication", "Batch Normalization", "Concat",
               "Constant", "Convolution", "Transposed Convolution", "Cos", "Eltwise Add"}


@pytest.mark.parametrize("version", VERSIONS)
def test_every_version_loads_with_sources_and_budgets(version):
    rs = load_ruleset(version)
    assert rs.size_budget_bytes == 10_000_000 and rs.size["unit"] == "bytes"
    assert rs.ram["budget_bytes"] == 150_000_000
    for layer in rs.layers.values():
        assert layer.source and layer.confidence in ("documented", "inferred")
        assert set(layer.support) == set(BACKENDS)


def test_5x_is_the_complete_documented_table_plus_the_importers_gelu():
    rs = load_ruleset("5.x")
    assert len(rs.layers) == 51
    assert {n for n, lay in rs.layers.items() if lay.confidence != "documented"} == {"GELU"}
    npu_off = {n for n, lay in rs.layers.items() if not lay.support["iphone_npu"]}
    assert {"Reshape", "Slice", "Eltwise Sub", "Permute", "Constant", "Instance Normalization"} <= npu_off
    assert {n for n, lay in rs.layers.items() if not lay.support["android_gpu"]} == {
        "Batch Matrix Multiplication", "LSTM", "RNN", "GELU"}
    assert rs.performance["target_fps"] == 30 and rs.performance["floor_fps"] == 15


def test_4x_documents_only_the_rows_seen():
    rs = load_ruleset("4.x")
    assert {n for n, lay in rs.layers.items() if lay.confidence == "documented"} == SEEN_IN_455


def test_4x_adds_what_the_4x_importer_wrote():
    rs = load_ruleset("4.x")
    assert rs.importer == {"layer_unsupported": "The layer type is not supported by backend"}
    gelu = rs.layers["GELU"]
    assert gelu.support == {"cpu": True, "iphone_gpu": True, "iphone_npu": True, "android_gpu": False}
    assert "S-LS360" in gelu.source
    npu = next(c for c in rs.layers["Concat"].constraints if c.backends == ("iphone_npu",))
    assert npu.allowed == ("C",) and npu.importer == "Only concat along channel is supported"
    assert "iphone_npu" in next(c for c in load_ruleset("5.x").layers["Concat"].constraints).backends


def test_3x_is_all_inferred_with_device_frame_rates():
    rs = load_ruleset("3.x")
    assert all(lay.confidence == "inferred" for lay in rs.layers.values())
    tconv = rs.layers["Transposed Convolution"]
    assert all(tconv.support.values()) and "S-LS360" in tconv.source
    assert tconv.doubt is not None and "S-BRIEF" in tconv.doubt.source
    assert "GELU" not in rs.layers
    assert {d["device"]: d["min_fps"] for d in rs.performance["devices"]} == {"iphone6": 27, "galaxy_s6": 15}
    assert rs.performance["confidence"] == "unconfirmed"


def test_constraints_are_stated_once_and_versions_only_add_what_differs():
    from snapcheck.rules import load_shared_layers

    shared = load_shared_layers()
    for version in VERSIONS:
        rs = load_ruleset(version)
        for name, layer in rs.layers.items():
            ids = [c.id for c in layer.constraints]
            assert [c["id"] for c in shared[name].get("constraints", ())] == ids[:len(shared[name].get("constraints", ()))]
    extra = {(v, n, c.id) for v in VERSIONS for n, lay in load_ruleset(v).layers.items() for c in lay.constraints
             if c.id not in {x["id"] for x in shared[n].get("constraints", ())}}
    assert extra == {("4.x", "Concat", "axis-npu")}


def test_rules_cite_sources_and_never_issue_numbers():
    import re

    for path in rules_dir().glob("*.toml"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"ISSUE-\d|\bissue \d", text, re.IGNORECASE), path.name


def test_mapping_names_only_known_layers_and_has_hints():
    m = load_mapping()
    layers = set(load_ruleset("5.x").layers)
    assert {e.layer for es in m.entries.values() for e in es if e.layer} <= layers
    assert m.hint("HARD_SWISH").code == "SC105" and "ReLU" in m.hint("HARD_SWISH").fix
    assert m.hint("*custom").code == "SC102" and m.hint("NO_SUCH_OP").code == "SC101"
    assert m.hint("custom:Sinh", "*custom").code == "SC102"
    assert m.hint("custom:edgetpu-custom-op", "*custom").accelerator


def test_unknown_version_and_backend_are_input_errors():
    with pytest.raises(InputError):
        load_ruleset("6.x")
    with pytest.raises(InputError):
        resolve_versions("2.x")
    with pytest.raises(InputError):
        resolve_backend("tpu")
    assert resolve_versions("all") == list(VERSIONS)


def _copy_rules(tmp_path):
    dst = tmp_path / "rules"
    shutil.copytree(rules_dir(), dst)
    return dst


@pytest.mark.parametrize("file,old,new,match", [
    ("layers.toml", 'kind = "equal_hw"', 'kind = "equal_hwx"', "unknown constraint kind"),
    ("5.x.toml", 'source = "S-COMPAT5"', 'source = "a forum post"', "cites no key"),
    ("mapping.toml", 'confidence = "documented"', 'confidence = "guessed"', "confidence"),
    ("layers.toml", 'advice = true, code = "SC115"', "advice = true", "advice needs"),
])
def test_a_malformed_rules_file_is_refused(tmp_path, file, old, new, match):
    d = _copy_rules(tmp_path)
    p = d / file
    assert old in p.read_text()
    p.write_text(p.read_text().replace(old, new, 1))
    with pytest.raises(RulesError, match=match):
        load_ruleset("5.x", d)


def test_missing_layer_used_by_mapping_is_refused(tmp_path):
    d = _copy_rules(tmp_path)
    p = d / "layers.toml"
    text = p.read_text()
    start = text.index('[layers."Tanh"]')
    p.write_text(text[:start])
    with pytest.raises(RulesError, match="Tanh"):
        load_ruleset("5.x", d)


def test_every_finding_code_is_in_the_registry():
    import re
    from pathlib import Path

    from snapcheck.registry import load_codes

    root = Path(__file__).resolve().parents[1]
    sources = [*root.joinpath("snapcheck").rglob("*.py"), *root.joinpath("rules").glob("*.toml")]
    text = "\n".join(line.split("#")[0] if p.suffix == ".toml" else line  # the ranges held for others are comments
                     for p in sources for line in p.read_text(encoding="utf-8").splitlines())
    used = set(re.findall(r"\bSC[1-6]\d\d\b", text))
    assert used and not used - set(load_codes()), sorted(used - set(load_codes()))
