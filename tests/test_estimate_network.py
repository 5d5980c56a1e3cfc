"""Network-level calibration: the random-network generator, the cold-cache model, the correction fit and
the profile schema (no TensorFlow, no timing)."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter

import numpy as np
import pytest

from snapcheck.calibrate import profile_to_json
from snapcheck.calibrate_nets import (BLOCKS, MAX_MACS, MIN_MACS, UP_BLOCKS, NetRow, choose, cross_validate,
                                      fit_network, is_held_out_safe, net_key, predict_row, random_nets)
from snapcheck.estimate.kernels import Kernel
from snapcheck.estimate.network import COLD_FEATURES, cold_bytes, network_terms
from snapcheck.estimate.profiles import HOST_PROFILE, load_host_profile, profile_from_json
from snapcheck.estimate.roofline import predict_kernels

L2 = 2 ** 21


def test_random_nets_are_deterministic_and_seeded():
    a, b, c = random_nets(40, 0), random_nets(40, 0), random_nets(40, 1)
    assert a == b
    assert [net_key(s) for s in a] == [net_key(s) for s in b]
    assert len({net_key(s) for s in a} & {net_key(s) for s in c}) == 0
    assert len({s.layers for s in a}) == len(a)


def test_random_nets_cover_the_held_out_kinds_and_stay_apart():
    nets = random_nets(160, 0)
    recipes = Counter(r for n in nets for r in n.recipes)
    ops = Counter(ly.op for n in nets for ly in n.layers)
    assert set(recipes) == set(BLOCKS) | set(UP_BLOCKS)
    assert min(recipes.values()) >= 20
    for op in ("conv", "pw", "dw", "deconv", "nearest", "bilinear", "maxpool", "avgpool", "add", "concat", "dense"):
        assert ops[op] >= 20, op
    assert {ly.act for n in nets for ly in n.layers} >= {"relu", "relu6", "leaky", "hswish", "tanh", "sigmoid", ""}
    assert {ly.k for n in nets for ly in n.layers if ly.op == "deconv"} == {2, 3, 4}
    res = [n.res for n in nets]
    assert min(res) == 32 and max(res) == 256 and len(set(res)) >= 12
    assert all(MIN_MACS <= n.macs <= MAX_MACS for n in nets)
    assert all(is_held_out_safe(n) for n in nets)
    # a net with one recipe and widths that are multiples of 8 (every held-out architecture) is rejected
    one = dataclasses.replace(nets[0], recipes=("conv",) * 4)
    assert not is_held_out_safe(one)


def test_separable_family_is_mobile_style_and_families_keep_their_streams():
    from snapcheck.calibrate_nets import family

    nets = random_nets(600, 0)
    assert Counter(family(n) for n in nets) == {"mixed": 320, "deep": 160, "sep": 120}
    sep = [n for n in nets if "-sep-" in n.name]
    assert all(set(n.recipes) <= {"conv", "sep", "inv"} and n.recipes.count("conv") == 1 for n in sep)
    assert {ly.op for n in sep for ly in n.layers} == {"conv", "pw", "dw", "add", "gap", "dense"}
    assert max(ly.cout for n in sep for ly in n.layers if ly.op == "pw") >= 1024
    # a family's first networks do not depend on how many are drawn
    small = random_nets(300, 0)
    for label in ("-deep-", "-sep-"):
        few = [n for n in small if label in n.name]
        assert few == [n for n in nets if label in n.name][:len(few)]
    assert small[:20] == nets[:20]


def test_random_net_joins_have_matching_shapes():
    from snapcheck.calibrate_nets import _Builder

    for n in random_nets(60, 3):
        b = _Builder(n.res, n.cin)
        for ly in n.layers:
            if ly.op in ("add", "concat"):
                side, c = b.side, b.c
                other = b.shapes[ly.src] if ly.src >= 0 else (n.res, n.cin)
                assert other[0] == side, n.name
                if ly.op == "add":
                    assert other[1] == c, n.name
            b.add(ly)


def _k(kind: str, ins, outs, w: int = 0) -> Kernel:
    total = sum(s for _, s in ins) + sum(s for _, s in outs) + w
    return Kernel(kind=kind, ops=[0], flops=1000, macs=500, bytes=total, work=1000.0, inputs=list(ins),
                  outputs=list(outs), weight_bytes=w)


def test_cold_bytes_follow_an_lru_cache():
    small = [_k("conv", [(0, 1000)], [(1, 1000)], 500), _k("eltwise", [(1, 1000)], [(2, 1000)])]
    assert all(c[f] == 0 for c in cold_bytes(small, L2) for f in ("cold_weights", "cold_inputs"))
    # a 1.5 MB weight read once per inference, with 3 MB of other traffic between: cold in the network
    big = [_k("conv", [(0, 1000)], [(1, 1000)], 1_500_000), _k("eltwise", [(1, 1000)], [(2, 3_000_000)]),
           _k("eltwise", [(2, 3_000_000)], [(3, 1000)])]
    cold = cold_bytes(big, L2)
    assert cold[0]["cold_weights"] == pytest.approx(1_500_000)
    assert cold[2]["cold_inputs"] == 0  # read right after it was written: warm up to the cache size
    assert cold[1]["cold_inputs"] == 0
    # the graph input is touched one inference ago: cold once the inference moves more than the cache
    assert cold[0]["cold_inputs"] == pytest.approx(1000)
    assert cold_bytes(big, 1e9)[0]["cold_weights"] == 0


def _rows(rng, truth: dict, n: int = 80) -> list[NetRow]:
    rows = []
    for i in range(n):
        kinds, ms, feats = [], [], []
        for kind in ("conv", "conv", "depthwise", "pointwise", "resize", "pool"):
            if rng.random() < 0.85:
                kinds.append(kind)
                ms.append(float(rng.uniform(0.1, 20) if kind != "pool" else rng.uniform(0.0, 0.5)))
                feats.append({"lcout": float(rng.uniform(-2, 2)), "lpix": float(rng.uniform(-3, 3))}
                             if kind == "conv" else {})
        cold = {f: float(rng.uniform(0, 30)) for f in COLD_FEATURES}
        r = NetRow(f"n{i}", 0.0, kinds, ms, feats, cold)
        r.measured_ms = predict_row(r, truth, 0.01)
        rows.append(r)
    return rows


def test_fit_recovers_known_factors_slopes_and_rates():
    rng = np.random.default_rng(0)
    truth = {"kind_factor": {"conv": 1.1, "depthwise": 0.9, "pointwise": 1.25, "resize": 1.4, "all": 1.05},
             "cold_ms_per_mb": {"cold_weights": 0.03, "cold_inputs": 0.05, "cold_outputs": 0.0}}
    rows = _rows(rng, truth)
    kinds = ["conv", "depthwise", "pointwise", "resize"]
    fit = fit_network(rows, "kinds+cold", 1e-9, 0.01, L2, kinds=kinds)
    for k, v in truth["kind_factor"].items():
        assert fit["kind_factor"][k] == pytest.approx(v, abs=0.01), k
    for f, v in truth["cold_ms_per_mb"].items():
        assert fit["cold_ms_per_mb"][f] == pytest.approx(v, abs=2e-3), f
    pred = [predict_row(r, fit, 0.01) for r in rows]
    assert np.max(np.abs(np.array(pred) / [r.measured_ms for r in rows] - 1)) < 0.01
    # log-linear slopes of the in-network factor, clamped to the fitted range
    truth["kind_coef"] = {"conv": {"lcout": 0.2, "lpix": -0.1}}
    truth["feature_range"] = {"conv": {"lcout": [-5.0, 5.0], "lpix": [-5.0, 5.0]}}
    rows = _rows(rng, truth)
    fit = fit_network(rows, "shape+cold", 1e-9, 0.01, L2, kinds=kinds)
    assert fit["kind_coef"]["conv"]["lcout"] == pytest.approx(0.2, abs=0.01)
    assert fit["kind_coef"]["conv"]["lpix"] == pytest.approx(-0.1, abs=0.01)
    assert fit["kind_coef"]["conv"]["lk"] == pytest.approx(0.0, abs=0.01)
    lo, hi = fit["feature_range"]["conv"]["lcout"]
    assert -2 <= lo < hi <= 2
    # a strong ridge pulls every coefficient back to "no correction"
    stiff = fit_network(rows, "shape+cold", 1e6, 0.01, L2, kinds=["conv"])
    assert stiff["kind_factor"]["conv"] == pytest.approx(1.0, abs=1e-3)
    assert all(abs(v) < 1e-3 for v in stiff["kind_coef"]["conv"].values())
    assert all(v < 1e-4 for v in stiff["cold_ms_per_mb"].values())


def test_cross_validation_prefers_the_true_variant():
    rng = np.random.default_rng(1)
    truth = {"kind_factor": {"all": 1.0}, "cold_ms_per_mb": {"cold_weights": 0.08, "cold_inputs": 0.04}}
    rows = _rows(rng, truth, 60)
    for r in rows:
        r.measured_ms *= float(np.exp(rng.normal(0, 0.02)))
    assert cross_validate(rows, "kinds+cold", 1e-3, 0.01, L2)["within_10pct"] > \
        cross_validate(rows, "none", 0.0, 0.01, L2)["within_10pct"]
    variant, _, table = choose(rows, 0.01, L2)
    assert "cold" in variant and len(table) > 5


def test_profile_round_trip_and_old_profiles_still_load(tmp_path):
    host = load_host_profile()
    net = {"kind_factor": {"conv": 1.2, "all": 1.0}, "kind_coef": {"conv": {"lcout": 0.1}},
           "feature_range": {"conv": {"lcout": [-1.0, 1.0]}}, "cold_ms_per_mb": {"cold_weights": 0.02},
           "kernel_us": 1.0, "cache_bytes": float(L2), "meta": {"variant": "test"}}
    p = dataclasses.replace(host, network=net)
    path = tmp_path / "host.json"
    path.write_text(json.dumps(profile_to_json(p)))
    again = load_host_profile(str(path))
    assert again == p
    old = json.loads(HOST_PROFILE.read_text())
    old.pop("network", None)
    assert profile_from_json(old).network == {}
    kernels = [_k("conv", [(0, 4096)], [(1, 4096)], 8192), _k("eltwise", [(1, 4096)], [(2, 4096)])]
    for k in kernels:
        k.reduction, k.channels = 64, 16
    bare = dataclasses.replace(host, network={})
    base = predict_kernels(kernels, bare).per_kernel_ms
    assert network_terms(kernels, base, {}) == base
    scaled = predict_kernels(kernels, dataclasses.replace(bare, network={"kind_factor": {"conv": 2.0}}))
    assert scaled.per_kernel_ms[0] == pytest.approx(2 * base[0]) and scaled.per_kernel_ms[1] == pytest.approx(base[1])


def test_cross_family_validation_fits_on_one_family_and_predicts_the_other():
    from snapcheck.calibrate_nets import family, transfer

    rng = np.random.default_rng(2)
    truth = {"kind_factor": {"conv": 1.3, "all": 1.0}}
    rows = _rows(rng, truth, 40)
    for i, r in enumerate(rows):
        r.name = (f"rnd0-deep-{i:03d}-64", f"rnd0-sep-{i:03d}-64", f"rnd0-{i:03d}-cla-64")[i % 3]
    assert {family(r) for r in rows} == {"deep", "sep", "mixed"}
    good = transfer(rows, "kinds", 1e-6, 0.01, L2)
    assert good["n"] == 40 and good["within_10pct"] == 1.0
    assert transfer(rows, "none", 0.0, 0.01, L2)["within_10pct"] < 1.0


def test_choose_takes_the_simplest_variant_within_one_standard_error(monkeypatch):
    import snapcheck.calibrate_nets as cn

    share = {"none": 0.60, "scale": 0.72, "kinds": 0.73, "shape": 0.74, "shape+thin": 0.70}
    monkeypatch.setattr(cn, "cross_validate", lambda rows, v, r, *a, **k: {"within_10pct": 0.5, "median_abs_pct": 9.0})
    monkeypatch.setattr(cn, "transfer", lambda rows, v, r, *a: {"within_10pct": share.get(v, 0.5),
                                                                 "median_abs_pct": 8.0})
    rows = [None] * 480  # one standard error of a 74% share over 480 networks: 2.0 points
    assert cn.choose(rows, 0.0, L2)[:2] == ("scale", 3.0)  # 72% is within 2 points: the simplest, strongest ridge
    share["scale"] = 0.70
    assert cn.choose(rows, 0.0, L2)[:2] == ("kinds", 3.0)
    share["kinds"] = 0.71
    assert cn.choose(rows, 0.0, L2)[:2] == ("shape", 3.0)
