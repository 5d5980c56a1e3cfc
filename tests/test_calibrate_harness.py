"""The calibration harness: the timing statistic, the measurement cache and the timed loop every stage runs
(no TensorFlow, no timing)."""

from __future__ import annotations

import pytest

from snapcheck.calibrate.harness import MeasurementCache, best_ms, typical_ms


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
    import snapcheck.calibrate.harness as cal

    built, timed = [], []
    speeds = iter([1.0, 5.0, 3.0, 4.0, 2.0, 9.0])

    def fake_measure(path, threads, min_seconds, runs):
        timed.append(path.name)
        ms = next(speeds)
        return {"min_ms": ms - 0.5, "cpu_min_ms": ms, "median_ms": ms, "cpu_median_ms": ms + 0.5, "runs": runs}

    monkeypatch.setattr(cal, "measure_tflite", fake_measure)
    monkeypatch.setattr(cal, "micro_kernels", lambda path: [path.read_bytes().decode()])

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
    assert [r[2]["passes_ms"] for r in rows] == [[1.0, 4.0], [5.0, 2.0], [3.0, 9.0]]  # each pass's own (host noise)
    # everything cached: a second call measures nothing; one pass returns pass 1's own timing
    again = cal.timed_models(["a", "b", "c"], passes=1, **kw)
    assert len(timed) == 6 and [cal.typical_ms(r[2]) for r in again] == [1.0, 5.0, 3.0]


def _encode(item: str) -> bytes:  # module level: build_missing pickles it into its converter processes
    return item.encode()


def test_build_missing_converts_only_the_missing_files_in_parallel_processes(tmp_path):
    import snapcheck.calibrate.harness as cal

    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "b.tflite").write_bytes(b"kept")
    cal.build_missing(["a", "b", "c"], key=str, build=_encode, folder=folder, workers=2)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == \
        {"a.tflite": b"a", "b.tflite": b"kept", "c.tflite": b"c"}
    assert 1 <= cal.build_workers() <= cal.MAX_BUILD_WORKERS


def _noisy(item: str) -> bytes:  # module level: pickled; prints on fd 2 as TensorFlow's C++ loggers do
    import os

    os.write(2, b"I0000 port.cc:153] oneDNN custom operations are on\n")
    if item == "bad":
        raise ValueError("cannot convert bad")
    return item.encode()


def test_build_missing_drops_converter_logs_but_not_their_failures(tmp_path, capfd):
    import snapcheck.calibrate.harness as cal

    cal.build_missing(["a"], key=str, build=_noisy, folder=tmp_path / "m", workers=1)
    assert (tmp_path / "m" / "a.tflite").read_bytes() == b"a"
    with pytest.raises(ValueError, match="cannot convert bad"):
        cal.build_missing(["bad"], key=str, build=_noisy, folder=tmp_path / "m", workers=1)
    assert "oneDNN" not in capfd.readouterr().err and not (tmp_path / "m" / "bad.tflite").exists()


def test_micro_kernels_reads_a_file_or_its_bytes_alike(tmp_path):
    import numpy as np
    from readers_fixtures import tiny_tflite

    from snapcheck.calibrate.harness import micro_kernels

    data = tiny_tflite(np.ones((4, 4), np.float32))
    path = tmp_path / "m.tflite"
    path.write_bytes(data)
    from_file, from_bytes = micro_kernels(path), micro_kernels(data)
    assert from_file and [k.kind for k in from_file] == [k.kind for k in from_bytes]
    assert [k.bytes for k in from_file] == [k.bytes for k in from_bytes]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tflite"]  # nothing else written
