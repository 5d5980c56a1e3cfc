"""The local residual table (estimate.residual): no TensorFlow, no timing."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from cost_fixtures import conv_kernel as _conv
from snapcheck.estimate import residual
from snapcheck.estimate.kernels import Kernel
from snapcheck.estimate.profiles import HOST_PROFILE, load_host_profile, profile_from_json, profile_to_json
from snapcheck.estimate.roofline import kernel_ms


def _elt(op: str, nbytes: int, channels: int) -> Kernel:
    return Kernel(kind="eltwise", ops=[0], flops=nbytes // 4, macs=0, bytes=nbytes, work=nbytes / 4,
                  channels=channels, label=op)


def test_features_key_convs_by_window_and_stride_and_eltwise_by_op():
    g, x = residual.features(_conv(32, 64, 56, 3, 2))
    assert g == "k3x3s2" and x == pytest.approx([math.log(64), math.log(32), math.log(28 * 28)])
    g, x = residual.features(_conv(48, 48, 28, 5, 1, groups=48))
    assert g == "k5x5s1" and len(x) == 2
    assert residual.features(_elt("TANH", 4096, 16))[0] == "TANH"
    assert residual.features(_elt("ADD", 4096, 16))[0] != residual.features(_elt("MUL", 4096, 16))[0]


def test_a_flat_multiply_is_not_priced_from_multiplies_that_broadcast_row_by_row():
    """A per-row multiply (one XNNPACK call per row) runs 3x its flat roofline; an input scaled by a scalar, of the
    same size and channels, does not (the Rescaling of MobileNetV3 and EfficientNet)."""
    per_row = dataclasses.replace(_elt("MUL", 1_200_000, 3), rows=50_176)
    assert residual.features(per_row)[0] == "MUL" + residual.PER_ROW
    assert residual.features(_elt("MUL", 1_200_000, 3))[0] == "MUL"
    copy = dataclasses.replace(_elt("MIRROR_PAD", 1_200_000, 3), kind="copy", rows=4096, row_rate="mirror")
    assert residual.features(copy)[0] == "MIRROR_PAD"  # rows a copy's own rate prices: not a broadcast
    rng = np.random.default_rng(2)
    samples = []
    for nbytes in rng.integers(200_000, 6_000_000, 40):
        for c, rows in ((3, int(nbytes) // 28), (3, 0), (16, 0), (64, 0)):
            k = dataclasses.replace(_elt("MUL", int(nbytes), c), rows=rows)
            samples.append((k, 3.0 if rows else 1.0, 1.0))
    res = residual.fit(samples)
    assert abs(residual.correction(_elt("MUL", 1_200_000, 3), res)) < 0.1
    assert residual.correction(per_row, res) == pytest.approx(math.log(3.0), abs=0.1)


def _synthetic(rng, bias_3x3: float = 0.3, n: int = 160) -> list[tuple[Kernel, float, float]]:
    """3x3 convs run ``exp(bias_3x3)`` slower than their roofline, 5x5 exactly at it; 2% noise."""
    out = []
    for _ in range(n):
        k = int(rng.choice([3, 5]))
        kern = _conv(int(rng.choice([16, 32, 64, 128])), int(rng.choice([16, 32, 64, 128])), int(rng.choice([14, 28, 56])), k)
        roof = float(rng.uniform(0.05, 5.0))
        out.append((kern, roof * math.exp((bias_3x3 if k == 3 else 0.0) + rng.normal(0, 0.02)), roof))
    return out


def test_fit_learns_a_local_bias_and_leaves_far_shapes_alone():
    rng = np.random.default_rng(0)
    res = residual.fit(_synthetic(rng))
    assert res["meta"]["roofline_within_10pct"] < 0.6
    assert res["meta"]["loo_within_10pct"] > 0.95
    assert residual.correction(_conv(64, 64, 28, 3), res) == pytest.approx(0.3, abs=0.03)
    assert residual.correction(_conv(64, 64, 28, 5), res) == pytest.approx(0.0, abs=0.03)
    # far outside every sample (4096 channels at 1 pixel): the shrink pulls the correction to 0
    assert abs(residual.correction(_conv(4096, 4096, 1, 3), res)) < 0.01
    # a kind without samples is not corrected
    assert residual.correction(_elt("ADD", 4096, 16), res) == 0.0


def test_leave_one_out_matches_a_direct_refit():
    rng = np.random.default_rng(1)
    kinds = residual.build(_synthetic(rng, n=30))
    e = kinds["conv"]
    g, x, r = np.array(e["group"]), np.array(e["x"]), np.array(e["r"])
    loo = residual._Table(e).loo_residuals(0.3, 0.1, 4.0)
    for j in (0, 7, 29):
        keep = [i for i in range(len(r)) if i != j]
        table = residual._Table({"group": g[keep].tolist(), "x": x[keep].tolist(), "r": r[keep].tolist()})
        assert r[j] - table.predict(str(g[j]), x[j].tolist(), 0.3, 0.1, 4.0) == pytest.approx(loo[j])


def test_kernel_ms_applies_the_table_and_the_profile_round_trips(tmp_path):
    host = dataclasses.replace(load_host_profile(), residual={}, network={})
    kern = _conv(64, 64, 28, 3)
    base, _ = kernel_ms(kern, host)
    res = residual.fit([(_conv(64, 64, 28, 3), 1.25 * base, base)] * 2 + [(_conv(64, 64, 28, 5), 1.0, 1.0)] * 2)
    with_table = dataclasses.replace(host, residual=res)
    got, _ = kernel_ms(kern, with_table)
    assert got == pytest.approx(base * math.exp(residual.correction(kern, res)))
    assert got > base
    path = tmp_path / "host.json"
    path.write_text(json.dumps(profile_to_json(with_table)))
    assert load_host_profile(str(path)) == with_table
    old = json.loads(HOST_PROFILE.read_text())
    old.pop("residual", None)
    assert profile_from_json(old).residual == {}


def test_tile_fill_feature_separates_channel_counts_that_fill_the_tile():
    x = np.log(np.array([[192.0, 64.0], [200.0, 64.0], [224.0, 64.0]]))
    groups = np.array(["k1x1s1"] * 3)
    got = residual.with_tile_fill("pointwise", groups, x, 32, 10.0)
    assert got.shape == (3, 3) and got[:, :2] == pytest.approx(x)
    assert got[0, 2] == pytest.approx(0.0) and got[2, 2] == pytest.approx(0.0)
    assert got[1, 2] == pytest.approx(10 * math.log(200 / 224))
    assert residual.with_tile_fill("eltwise", groups, x, 32, 10.0) is x  # bytes, not channels, lead there
    assert residual.with_tile_fill("conv", groups, x, 0, 0.0) is x


def test_tile_fill_of_a_grouped_conv_is_its_channels_per_group():
    """RegNetX-200MF's 152 channels in 19 groups of 8: each group's GEMM fills 8 of a 32-wide tile, where 152
    output channels as one GEMM would fill 152 of 160."""
    x = np.log(np.array([[152.0, 8.0, 196.0], [152.0, 8.0, 196.0]]))
    got = residual.with_tile_fill("conv", np.array(["k3x3s1g", "k3x3s1"]), x, 32, 10.0)
    assert got[0, 3] == pytest.approx(10 * math.log(8 / 32))
    assert got[1, 3] == pytest.approx(10 * math.log(152 / 160))


def test_fit_chooses_the_tile_when_misfilled_tiles_run_slower():
    """Output channels off a multiple of 32 run 30% slower than the roofline; full tiles run at it. Without
    the tile feature, neighbours in log-channel space mix both; the fit must find the tile of 32."""
    rng = np.random.default_rng(1)
    samples = []
    for _ in range(240):
        cout = int(rng.choice([64, 96, 128, 160, 192, 256])) + int(rng.choice([0, 0, 8, 16]))
        kern = _conv(int(rng.choice([32, 64, 128])), cout, int(rng.choice([14, 28])), 1)
        roof = float(rng.uniform(0.05, 2.0))
        slow = 0.3 if cout % 32 else 0.0
        samples.append((kern, roof * math.exp(slow + rng.normal(0, 0.02)), roof))
    res = residual.fit(samples)
    assert res["align"] == 32 and res["align_weight"] > 0
    assert residual.correction(_conv(64, 128, 28, 1), res) == pytest.approx(0.0, abs=0.05)
    assert residual.correction(_conv(64, 136, 28, 1), res) == pytest.approx(0.3, abs=0.05)
    assert res["meta"]["loo_within_10pct"] > 0.9


def test_a_depthwise_conv_takes_the_hosts_simd_width_as_its_tile():
    """Dense convs off a multiple of 32 output channels and depthwise convs off a multiple of 16 channels run 30%
    slower than the roofline (XNNPACK's GEMM and depthwise tiles on an AVX-512 host): with the host's SIMD width
    the fit keeps its shared tile for the dense convs and gives the depthwise kind 16, so 24 channels run slow and
    48 do not."""
    rng = np.random.default_rng(2)
    samples = []
    for _ in range(240):
        c = int(rng.choice([64, 96, 128, 160, 192, 256])) + int(rng.choice([0, 0, 8, 16]))
        roof = float(rng.uniform(0.05, 2.0))
        samples.append((_conv(64, c, int(rng.choice([14, 28])), 1), roof * math.exp((0.3 if c % 32 else 0.0)
                                                                                    + rng.normal(0, 0.02)), roof))
        c = int(rng.choice([16, 24, 32, 40, 48, 64, 72, 96]))
        samples.append((_conv(c, c, int(rng.choice([28, 56])), 3, groups=c), roof * math.exp(
            (0.3 if c % 16 else 0.0) + rng.normal(0, 0.02)), roof))
    res = residual.fit(samples, simd=16)
    assert res["align"] in (32, 64) and res["kind_align"] == {"depthwise": [16, res["align_weight"]]}
    assert residual.tile_of(res, "depthwise") == (16, res["align_weight"])
    assert residual.tile_of(res, "conv") == (res["align"], res["align_weight"])
    dw = [residual.correction(_conv(c, c, 28, 3, groups=c), res) for c in (24, 48, 80)]
    assert dw == pytest.approx([0.3, 0.0, 0.0], abs=0.08)
    assert residual.correction(_conv(64, 136, 28, 1), res) == pytest.approx(0.3, abs=0.08)
    assert "kind_align" not in residual.fit(samples, simd=res["align"]) and "kind_align" not in residual.fit(samples)
