"""check_estimates: fields per device and backend, SC601/SC602 findings, speed, no TensorFlow/LiteRT import."""

from __future__ import annotations

import time

import pytest
from cost_fixtures import conv_chain
from helpers import assert_not_imported

from snapcheck.estimate import ML_FRAME_SHARE, check_estimates
from snapcheck.estimate.profiles import load_devices
from snapcheck.rules import load_ruleset


@pytest.fixture(scope="module")
def tiny():
    return conv_chain(32, [3, 8, 8])


@pytest.fixture(scope="module")
def huge():
    return conv_chain(512, [3, 128, 128, 128])  # ~ 2 x 4.8 GMAC at 512 x 512


def test_devices_file_has_the_reference_phones_with_sources():
    backends = {(b.device, b.backend) for b in load_devices()}
    for pair in [("iphone6", "cpu"), ("iphone6", "iphone_gpu"), ("galaxy_s6", "cpu"), ("galaxy_s6", "android_gpu"),
                 ("iphone12", "iphone_gpu"), ("galaxy_s21", "android_gpu"), ("pixel6", "cpu")]:
        assert pair in backends
    import tomllib

    from snapcheck.paths import rules_dir

    data = tomllib.loads((rules_dir() / "devices.toml").read_text())
    for dev in data["devices"].values():
        for b in dev.get("backends", {}).values():
            for key in ("peak_gflops", "bandwidth_gbs", "efficiency"):
                assert b[key]["source"] and b[key]["confidence"]


def test_rows_have_the_report_fields(tiny):
    rows, findings = check_estimates(tiny, load_ruleset("5.x"))
    assert {(r["device"], r["backend"]) for r in rows} == {(b.device, b.backend) for b in load_devices()}
    for r in rows:
        for key in ("device", "backend", "latency_ms", "latency_range_ms", "fps", "max_hz", "ram_mb"):
            assert key in r
        lo, hi = r["latency_range_ms"]
        assert lo <= r["latency_ms"] <= hi
        assert r["max_hz"] <= r["target_fps"]
        assert r["fps"] < 1000 / ((1 - ML_FRAME_SHARE) * 1000 / r["target_fps"]) + 1e-6
    assert findings == []


def test_iphone6_gpu_never_beats_its_cpu(tiny, huge):
    for g in (tiny, huge):
        rows, _ = check_estimates(g, load_ruleset("5.x"))
        lat = {(r["device"], r["backend"]): r["latency_ms"] for r in rows}
        assert lat[("iphone6", "iphone_gpu")] >= lat[("iphone6", "cpu")]


def test_big_model_misses_the_floor_on_reference_phones(huge):
    rows, findings = check_estimates(huge, load_ruleset("3.x"))
    sc601 = [f for f in findings if f.code == "SC601"]
    assert {f.message.split(":")[0] for f in sc601} == {"iPhone 6", "Galaxy S6"}
    s6 = [r for r in rows if r["device"] == "galaxy_s6"]
    assert all(r["floor_fps"] == 15 for r in s6)
    assert all(r["target_fps"] == 27 for r in rows if r["device"] == "iphone6")
    assert all(r["floor_fps"] is None for r in rows if r["device"] == "pixel6")  # 3.x's claim names two phones only
    assert any(f.code == "SC602" for f in findings)  # 3 x 128 ch x 512^2 fp32 activations are over 150 MB


def test_fast_enough_for_a_10mb_model():
    g = conv_chain(64, [3] + [256] * 11)  # ten 3x3 256->256 convs: 2.4 M params each, ~24 MB fp32
    t0 = time.perf_counter()
    check_estimates(g, load_ruleset("5.x"))
    assert time.perf_counter() - t0 < 0.5  # the brief's target is 50 ms; generous for a loaded CI machine


def test_check_estimates_imports_no_runtime():
    assert_not_imported("from snapcheck.estimate import check_estimates\n"
                        "import snapcheck.estimate.profiles as p\np.load_devices()\np.load_host_profile()")
