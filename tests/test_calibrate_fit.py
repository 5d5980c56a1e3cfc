"""The roofline fit, on synthetic data (no TensorFlow, no timing)."""

from __future__ import annotations

import numpy as np

from snapcheck.calibrate.fit import BASE, Sample, fit_kind, kind_model


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
