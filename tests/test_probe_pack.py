"""The weightless probes ``calibrate --quick`` ships: one per probe spec, cut and restored at the weights only,
written back as graphs the runtime runs and TensorFlow would convert."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from helpers import assert_not_imported
from snapcheck.calibrate.probe_pack import (INDEX, PACK, float_spans, graph_form, pack, packed_keys, restore, strip,
                                            unpack_probes)
from snapcheck.calibrate.quick import build_probe, probe_specs

SMALL = ("conv-28x28x128-o128-k3-s1", "matmul-196x3x64-o196-k1-s1", "gather_last-64x64x64-o0-k1-s1")


def test_the_pack_holds_every_probe_and_nothing_else():
    """A probe spec added or changed without ``tools/pack_probes.py`` fails here, not on a user's machine."""
    assert packed_keys() == {s.key() for s in probe_specs()}


def test_unpacking_writes_the_missing_probes_once(tmp_path):
    assert unpack_probes(SMALL, tmp_path) == list(SMALL)
    first = (tmp_path / f"{SMALL[0]}.tflite").read_bytes()
    assert unpack_probes(SMALL, tmp_path) == []  # present: kept as they are
    assert unpack_probes(["no-such-probe"], tmp_path) == [] and not (tmp_path / "no-such-probe.tflite").exists()
    (tmp_path / f"{SMALL[0]}.tflite").unlink()
    assert unpack_probes(SMALL, tmp_path) == [SMALL[0]] and (tmp_path / f"{SMALL[0]}.tflite").read_bytes() == first


def test_only_float_weights_are_cut_and_they_come_back_in_place(tmp_path):
    unpack_probes(SMALL, tmp_path)
    conv, _, gather = ((tmp_path / f"{k}.tflite").read_bytes() for k in SMALL)
    spans = float_spans(conv)
    assert sorted(n for _, n in spans) == [128 * 4, 128 * 3 * 3 * 128 * 4]  # bias, filter
    skeleton, cut = strip(conv)
    assert cut == spans and len(skeleton) == len(conv) - sum(n for _, n in spans) and restore(skeleton, cut) == conv
    weights = np.frombuffer(conv, "<f4", spans[-1][1] // 4, spans[-1][0])
    assert np.all(np.abs(weights) <= 0.05) and weights.std() > 0.02  # pseudo-random, not zeros
    assert float_spans(gather) == []  # the gather's indices are int32: part of the graph, kept
    with zipfile.ZipFile(PACK) as z:
        assert z.read(f"{SMALL[2]}.tflite") == gather


def test_pack_is_deterministic_and_round_trips(tmp_path):
    unpack_probes(SMALL, tmp_path)
    files = {k: tmp_path / f"{k}.tflite" for k in SMALL}
    a, b = tmp_path / "a.zip", tmp_path / "b.zip"
    pack(files, a)
    pack(files, b)
    assert a.read_bytes() == b.read_bytes() and packed_keys(a) == set(SMALL)
    with zipfile.ZipFile(a) as z:
        assert INDEX in z.namelist()
    out = tmp_path / "out"
    assert unpack_probes(SMALL, out, a) == list(SMALL)
    assert all((out / f"{k}.tflite").read_bytes() == files[k].read_bytes() for k in SMALL)


def test_a_damaged_pack_is_one_line_naming_it(tmp_path):
    from snapcheck.errors import InputError

    broken = tmp_path / "probes.zip"
    for data in (b"not a zip", PACK.read_bytes()[:5000]):
        broken.write_bytes(data)
        with pytest.raises(InputError, match="probe pack is damaged.*reinstall"):
            unpack_probes(SMALL, tmp_path / "out", broken)
        with pytest.raises(InputError, match=str(broken)):
            packed_keys(broken)


def test_unpacking_imports_no_tensorflow(tmp_path):
    """``--quick`` times with LiteRT alone: writing the probes back needs neither TensorFlow nor Keras."""
    assert_not_imported(
        "import snapcheck.commands.calibrate, snapcheck.calibrate.quick\n"
        "from snapcheck.calibrate.probe_pack import unpack_probes\n"
        f"assert unpack_probes({list(SMALL)!r}, __import__('pathlib').Path({str(tmp_path)!r}))",
        modules=("tensorflow", "keras"))


def test_an_unpacked_probe_runs(tmp_path):
    pytest.importorskip("ai_edge_litert")
    from snapcheck.calibrate.harness import measure_tflite, typical_ms

    unpack_probes(SMALL[:1], tmp_path)
    assert typical_ms(measure_tflite(tmp_path / f"{SMALL[0]}.tflite", 1, min_seconds=0.0, runs=2)) > 0


@pytest.mark.slow
def test_the_packed_probes_are_what_tensorflow_converts(tmp_path):
    """Same operators, options, shapes and weight sizes as a fresh conversion (a two-input probe's inputs as a
    set, a multi-branch network's operators in any topological order)."""
    pytest.importorskip("tensorflow")
    specs = {s.key(): s for s in probe_specs()}
    keys = [*SMALL, next(k for k in specs if k.startswith("rnd0-cell"))]
    unpack_probes(keys, tmp_path)
    for key in keys:
        (ops, inputs), (want_ops, want_inputs) = (graph_form((tmp_path / f"{key}.tflite").read_bytes()),
                                                  graph_form(build_probe(specs[key])))
        assert sorted(ops) == sorted(want_ops) and inputs == want_inputs, key


def test_quick_writes_the_probes_from_the_pack_before_timing_them(tmp_path, monkeypatch):
    from rich.console import Console

    from snapcheck.calibrate import quick

    specs = {s.key(): s for s in probe_specs()}
    monkeypatch.setenv("SNAPCHECK_CACHE", str(tmp_path))
    monkeypatch.setattr(quick, "probe_specs", lambda: [specs[k] for k in SMALL])
    seen = []

    def timed_models(items, *, folder, **kw):
        seen.extend(sorted(p.name for p in folder.iterdir()))
        return []

    monkeypatch.setattr(quick, "timed_models", timed_models)
    console = Console(record=True, width=200)
    quick.measure_probes(console=console)
    assert seen == sorted(f"{k}.tflite" for k in SMALL)
    assert "wrote 3 probes from the shipped pack" in console.export_text(clear=False)
    quick.measure_probes(console=console)  # the second time there is nothing to write
    assert console.export_text().count("wrote") == 1
