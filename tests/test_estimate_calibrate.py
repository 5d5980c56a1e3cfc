"""Calibration fitting and caching, on synthetic data (no TensorFlow, no timing)."""

from __future__ import annotations

import numpy as np

from snapcheck.calibrate import (BASE, FIT_KINDS, MeasurementCache, Sample, best_ms, fit_kind, kind_model, micro_specs,
                                 typical_ms)


def test_micro_specs_cover_every_kind_deterministically():
    a, b = micro_specs(0, 8), micro_specs(0, 8)
    assert a == b
    assert {s.kind for s in a} >= set(FIT_KINDS)
    assert len({s.key() for s in a}) == len(a)


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


def test_measurement_cache_resumes(tmp_path):
    path = tmp_path / "cache.json"
    c = MeasurementCache(path)
    hit = {"min_ms": 2.0, "cpu_min_ms": 1.5, "median_ms": 2.4, "cpu_median_ms": 2.6}
    c.put("a", hit)
    again = MeasurementCache(path)
    assert again.get("a") == hit and again.get("b") is None
    # the calibration statistic: the lower median (wall here, CPU time on a preempted run); the minimum beside it
    assert typical_ms(again.get("a")) == 2.4 and best_ms(again.get("a")) == 1.5
    assert typical_ms({**hit, "cpu_median_ms": 2.2}) == 2.2 and typical_ms({"median_ms": 3.0}) == 3.0


def test_timed_models_builds_times_resumes_and_takes_the_median_over_passes(tmp_path, monkeypatch):
    import snapcheck.calibrate as cal

    built, timed = [], []
    speeds = iter([1.0, 5.0, 3.0, 4.0, 2.0, 9.0])

    def fake_measure(path, threads, min_seconds, runs):
        timed.append(path.name)
        ms = next(speeds)
        return {"min_ms": ms - 0.5, "cpu_min_ms": ms, "median_ms": ms, "cpu_median_ms": ms + 0.5, "runs": runs}

    monkeypatch.setattr(cal, "measure_tflite", fake_measure)
    monkeypatch.setattr(cal, "micro_kernels", lambda model, tmp: [model.decode()])

    def build(item):
        built.append(item)
        return item.encode()

    kw = dict(key=str, build=build, folder=tmp_path / "m", cache_path=tmp_path / "t.json", label="test")
    assert cal.timed_models(["a", "b"], build_only=True, passes=2, **kw) == []
    assert built == ["a", "b"] and timed == []
    rows = cal.timed_models(["a", "b", "c"], passes=2, **kw)
    assert built == ["a", "b", "c"] and len(timed) == 6
    assert cal.pass_cache(tmp_path / "t.json", 1).is_file()
    # pass 1 timed a, b, c at 1, 5, 3 ms; pass 2 at 4, 2, 9: the median of two is their mean
    assert [(r[0], r[1], cal.typical_ms(r[2]), r[2]["passes"]) for r in rows] == \
        [("a", ["a"], 2.5, 2), ("b", ["b"], 3.5, 2), ("c", ["c"], 6.0, 2)]
    assert cal.best_ms(rows[0][2]) == 2.0  # the minima are merged the same way
    # everything cached: a second call measures nothing; one pass returns pass 1's own timing
    again = cal.timed_models(["a", "b", "c"], passes=1, **kw)
    assert len(timed) == 6 and [cal.typical_ms(r[2]) for r in again] == [1.0, 5.0, 3.0]
