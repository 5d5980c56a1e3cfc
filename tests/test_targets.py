"""Targets: each its ML budget, frame-rate rule and devices; the stored size; the kernels that dominate."""

from __future__ import annotations

import re
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import code_models as M
from snapcheck.api import check_file
from snapcheck.devices import device_ids
from snapcheck.rules import RulesError
from snapcheck.targets import load_targets, resolve_target
from snapcheck.errors import InputError

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
ENV.pop("SNAPCHECK_DEBUG", None)


def conv_of_size(folder: Path, mbytes: float) -> Path:
    """A 1x1 Conv whose float32 weights make the file about ``mbytes`` MB (1 MB = 1,000,000 bytes)."""
    cin = 1000
    cout = int(mbytes * 1e6 / 4 / cin)
    w = np.random.default_rng(0).standard_normal((cout, cin, 1, 1)).astype(np.float32) * 0.01
    return M.onnx_file(folder, f"conv_{mbytes:g}mb", [M.node("Conv", ["x", "w"], ["y"])],
                       [("x", "FLOAT", [1, cin, 4, 4])], [("y", "FLOAT", [1, cout, 4, 4])], [M.init("w", w)])


def test_spectacles_passes_a_20mb_model_that_snapchat_refuses(tmp_path):
    src = conv_of_size(tmp_path, 20.5)
    assert 20e6 < src.stat().st_size < 21e6
    phone = check_file(src, estimates=False)
    glasses = check_file(src, estimates=False, target="spectacles")
    assert not phone.passed and "SC301" in phone.codes
    assert glasses.passed and "SC301" not in glasses.codes and "SC302" not in glasses.codes
    assert phone.size.budget_bytes == 10_000_000 and glasses.size.budget_bytes == 25_000_000
    sc301 = next(f for f in phone.findings if f.code == "SC301")
    assert "Snapchat on phones" in sc301.message and "S-MLC5" in sc301.why


def test_spectacles_refuses_what_is_over_its_own_cap(tmp_path):
    r = check_file(conv_of_size(tmp_path, 52), estimates=False, target="spectacles")
    assert "SC301" in r.codes and "25.00 MB" in next(f.message for f in r.findings if f.code == "SC301")


def test_stored_size_drops_what_folds_away(tmp_path):
    """A 4 MB constant that only shape arithmetic reads is not stored; the float32 weight is stored at half."""
    big = np.zeros((1000, 1000), np.float32)
    w = np.ones((4, 4, 1, 1), np.float32)
    src = M.onnx_file(tmp_path, "folds", [M.node("Shape", ["big"], ["s"]), M.node("Conv", ["x", "w"], ["c"]),
                                          M.node("Reshape", ["c", "t"], ["y"])],
                      [("x", "FLOAT", [1, 4, 2, 2])], [("y", "FLOAT", [1, 16])],
                      [M.init("big", big), M.init("w", w), M.init("t", [1, 16], np.int64)])
    r = check_file(src, estimates=False)
    assert r.size.fp16_bytes > 2e6 > r.size.stored_bytes
    assert r.size.folded_bytes >= 2e6


def test_each_target_estimates_its_own_devices(tmp_path):
    src = M.conv(tmp_path)
    phone = check_file(src)
    target = resolve_target("snapchat")
    devices = list(dict.fromkeys(e["device"] for e in phone.estimates))
    assert devices == list(target.devices) + list(target.legacy_floor)
    assert {e["tier"] for e in phone.estimates if e["device"] in ("iphone6", "galaxy_s6")} == {"legacy floor"}
    assert {e["tier"] for e in phone.estimates if e["device"] in target.devices} == {"current"}
    glasses = check_file(src, target="spectacles")
    assert glasses.estimates == [] and "SC303" in glasses.codes  # no published processor: no estimate


def test_top_kernels_rank_what_dominates(tmp_path):
    src = M.heavy_conv(tmp_path)
    r = check_file(src)
    for e in r.estimates:
        tops = e["top_kernels"]
        assert 1 <= len(tops) <= 3
        shares = [k["share"] for k in tops]
        assert shares == sorted(shares, reverse=True) and sum(shares) <= 1.0 + 1e-6
        assert all(k["op"].startswith("#") and k["ms"] >= 0 for k in tops)
    assert r.estimates[0]["top_kernels"][0]["kind"] == "conv"


def test_spectacles_frame_rate_rule_is_60_fps():
    t = resolve_target("spectacles")
    assert t.performance["target_fps"] == 60 and t.performance["floor_fps"] == 60
    assert "S-SPECCHECK" in t.performance["source"] and "S-SPECCHECK" in t.size["source"]


def test_every_target_device_is_in_the_devices_file():
    targets, default = load_targets()
    assert default == "snapchat" and set(targets) == {"snapchat", "spectacles"}
    for t in targets.values():
        assert set(t.all_devices) <= set(device_ids())


def test_a_target_naming_an_unknown_device_is_a_rules_error(tmp_path, monkeypatch):
    import snapcheck.paths
    import snapcheck.targets

    folder = tmp_path / "rules"
    shutil.copytree(snapcheck.paths.rules_dir(), folder)
    p = folder / "targets.toml"
    p.write_text(p.read_text().replace('devices = ["spectacles5"]', 'devices = ["spectacles9"]'))
    with pytest.raises(RulesError, match="spectacles9"):
        load_targets(folder)


def test_unknown_target_is_one_line_exit_2(tmp_path):
    with pytest.raises(InputError):
        resolve_target("hololens")
    p = subprocess.run([sys.executable, "-m", "snapcheck", "check", str(M.conv(tmp_path)), "--target", "hololens"],
                       capture_output=True, text=True, env=ENV, timeout=120)
    assert p.returncode == 2 and p.stderr.strip().splitlines() == [
        "snapcheck: error: unknown --target 'hololens' (choose one of snapchat, spectacles)"]


def test_terminal_labels_the_legacy_floor_and_names_the_top_kernels(tmp_path):
    model = str(M.heavy_conv(tmp_path))
    p = subprocess.run([sys.executable, "-m", "snapcheck", "check", model, "--output-format", "full"],
                       capture_output=True, text=True, env={**ENV, "COLUMNS": "160"}, timeout=120)
    assert "iPhone 6 (legacy floor)" in p.stdout and "iPhone 12" in p.stdout
    assert "What dominates each device's estimate" in p.stdout and "#0 Conv" in p.stdout
    p = subprocess.run([sys.executable, "-m", "snapcheck", "check", model],  # the default: one estimates line
                       capture_output=True, text=True, env={**ENV, "COLUMNS": "160"}, timeout=120)
    assert re.search(r"Estimated FPS: [0-9.]+ on iPhone 6 \(legacy floor\) to ", p.stdout)
    assert "What dominates" not in p.stdout
