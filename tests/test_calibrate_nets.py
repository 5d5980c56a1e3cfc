"""The network stage's correction: the fit, in-family and cross-family validation, the variant rule (no
TensorFlow, no timing)."""

from __future__ import annotations

import numpy as np
import pytest

from snapcheck.calibrate.nets import NetRow, choose, cross_validate, family, fit_network, predict_row, transfer
from snapcheck.estimate.network import COLD_FEATURES

L2 = 2 ** 21


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


def test_cross_family_validation_fits_on_one_family_and_predicts_the_other():
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
    import snapcheck.calibrate.nets as cn

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
