"""The roofline fit, on synthetic data (no TensorFlow, no timing)."""

from __future__ import annotations

import dataclasses

import numpy as np
from cost_fixtures import deconv_graph

from snapcheck.calibrate.fit import BASE, Sample, fit_kind, kind_model, refit_kinds
from snapcheck.estimate.kernels import split_kernels
from snapcheck.estimate.profiles import load_host_profile
from snapcheck.estimate.roofline import kernel_ms


def test_fit_recovers_a_known_roofline():
    rng = np.random.default_rng(1)
    truth = np.concatenate([np.log([80.0, 60.0, 12.0, 1.5, 20.0, 2.0, 4.0, 1.0]), [0.3, -0.2]])
    work = rng.uniform(1e5, 1e9, 40)
    nbytes = rng.uniform(1e4, 3e7, 40)
    red = rng.integers(1, 2000, 40).astype(float)
    chans = rng.integers(1, 512, 40).astype(float)
    z = rng.uniform(-2, 2, (40, 2))
    ms = kind_model(truth, work, nbytes, red, chans, z, 2 ** 21)
    samples = [Sample("conv", w, b, r, c, {"lcout": f[0], "lcin": f[1]}, m, m, w)
               for w, b, r, c, f, m in zip(work, nbytes, red, chans, z, ms)]
    fit = fit_kind(samples, 2 ** 21, ("lcout", "lcin"))
    x = np.concatenate([np.log([fit[p] for p in BASE]), [fit["shape_coef"]["lcout"], fit["shape_coef"]["lcin"]]])
    pred = kind_model(x, work, nbytes, red, chans, z, 2 ** 21)
    assert np.max(np.abs(pred / ms - 1)) < 0.05
    assert fit["shape_range"]["lcout"] == [z[:, 0].min(), z[:, 0].max()]


def test_refit_kinds_replaces_one_kinds_roofline_from_its_samples():
    """Samples timed as a profile whose transposed convs run 1.5x slower: the refit kind prices them so,
    the other kinds keep their parameters, and a kind with fewer than 4 samples keeps its own."""
    host = load_host_profile()
    bare = dataclasses.replace(host, residual={}, network={})
    slow = dataclasses.replace(bare, gflops={**bare.gflops, "deconv": bare.gflops["deconv"] / 1.5},
                               bandwidth_gbs={**bare.bandwidth_gbs, "deconv": bare.bandwidth_gbs["deconv"] / 1.5},
                               dram_gbs={**bare.dram_gbs, "deconv": bare.dram_gbs["deconv"] / 1.5},
                               kernel_us={**bare.kernel_us, "deconv": bare.kernel_us["deconv"] * 1.5})
    shapes = [(hw, cin, cout) for hw in (4, 8, 16, 32) for cin, cout in ((64, 32), (256, 128), (640, 256), (1024, 512))]
    ks = [split_kernels(deconv_graph(*shape))[0] for shape in shapes]
    samples = [(k, kernel_ms(k, slow)[0]) for k in ks]
    refit = refit_kinds(bare, samples, ("deconv",))
    errors = np.abs([kernel_ms(k, refit)[0] / ms - 1 for k, ms in samples])
    before = np.abs([kernel_ms(k, bare)[0] / ms - 1 for k, ms in samples])
    assert np.median(before) > 0.3 and np.median(errors) < 0.1 and errors.max() < 0.2  # the ridge holds slopes back
    assert refit.gflops["conv"] == bare.gflops["conv"] and refit.shape_coef["conv"] == bare.shape_coef["conv"]
    assert set(refit.shape_coef["deconv"]) == {"lcout", "lcin", "lpix", "lk", "wr"}
    assert refit_kinds(bare, samples[:3], ("deconv",)) == bare
