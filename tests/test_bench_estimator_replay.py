"""``bench/estimator_replay.py``: a record keeps what a replay needs of a sitting, and replays are scored per set."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from helpers import load_script

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def replay():
    return load_script(BENCH / "estimator_replay.py")


def _run(quick: dict | None) -> dict:
    meta = {"cpu": "Some CPU (cpu family 6, model 106, stepping 6)", "calibrated_on": "4eb0dc036dc1"}
    if quick is not None:
        meta["quick"] = quick
    return {"profile": meta, "rows": [
        {"name": "mnv2-1.0-224", "set": "heldout", "measured_ms": 10.0, "passes_ms": [9.9, 10.0, 10.4],
         "predicted_ms": 9.0, "gflops": 0.6},
        {"name": "densenet121", "set": "validation", "measured_ms": 57.4, "passes_ms": [59.5, 57.4, 56.6]}]}


def test_a_record_keeps_the_probe_timings_and_each_models_timing_and_nothing_the_code_computes(replay):
    record = replay.make_record(_run({"timings": {"conv-a": 1.5}, "timings_apart": {"cold-b": 2.5},
                                      "date": "2026-12-06 06:57 UTC", "speed": {"conv": 1.5}}))
    assert record["probes"] == {"conv-a": 1.5, "cold-b": 2.5}
    assert record["cpu"].endswith("stepping 6)") and record["fingerprint"] == "4eb0dc036dc1"
    assert record["date"] == "2026-12-06 06:57 UTC"
    assert record["models"][0] == {"name": "mnv2-1.0-224", "set": "heldout", "measured_ms": 10.0,
                                   "passes_ms": [9.9, 10.0, 10.4]}  # no prediction: a replay makes its own
    json.dumps(record)


def test_a_record_replays_at_its_cpus_l2_on_any_machine(replay, monkeypatch):
    """A record keeps the L2 of the machine that saved it; one saved before that takes its CPU's from
    ``L2_BY_CPU``; the refit runs with ``SNAPCHECK_L2_BYTES`` set to it, and leaves the variable as it was."""
    import snapcheck.calibrate.quick as quick

    monkeypatch.setenv("SNAPCHECK_L2_BYTES", "2097152")
    saved = replay.make_record(_run({"timings": {"conv-a": 1.5}}))
    assert saved["l2_bytes"] == 2097152
    monkeypatch.delenv("SNAPCHECK_L2_BYTES")
    old = {k: v for k, v in saved.items() if k != "l2_bytes"}
    assert replay.record_l2(old) == 1310720  # the Ice Lake Xeon's 1.25 MB (family 6, model 106)
    assert replay.record_l2({**old, "cpu": "Another CPU"}) == 0.0
    seen = []
    monkeypatch.setattr(quick, "calibrate_quick", lambda base, timed: seen.append(os.environ.get("SNAPCHECK_L2_BYTES")))
    monkeypatch.setattr(replay, "recorded_probes", lambda probes: [])
    for record in (saved, old, {**old, "cpu": "Another CPU"}):
        with pytest.raises(TypeError):  # the stub returns no fit; what matters is the L2 it was run with
            replay.refit(record)
    assert seen == ["2097152", "1310720", None] and "SNAPCHECK_L2_BYTES" not in os.environ


@pytest.mark.parametrize("quick", [None, {"timings": {}}])
def test_a_run_on_a_profile_not_adapted_by_quick_makes_no_record(replay, quick):
    with pytest.raises(ValueError, match="calibrate --quick"):
        replay.make_record(_run(quick))


def test_scores_per_set_in_the_order_met_and_over_all(replay):
    rows = [{"set": s, "predicted_ms": p, "measured_ms": 10.0, "best_ms": 0.9 * p, "worst_ms": 1.1 * p}
            for s, p in (("heldout", 10.5), ("heldout", 13.0), ("validation", 9.5))]
    out = replay.scores(rows)
    assert list(out) == ["heldout", "validation", "all"]
    assert out["heldout"]["n"] == 2 and out["heldout"]["within_10pct"] == 0.5
    assert out["all"]["within_10pct"] == pytest.approx(2 / 3)
    assert out["validation"]["mean_abs_log"] == pytest.approx(abs(math.log(0.95)))
    assert out["heldout"]["inside_range"] == 0.5 and out["all"]["inside_range"] == pytest.approx(2 / 3)


def test_the_committed_records_are_complete(replay):
    records = sorted(replay.RECORDS.glob("*.json"))
    assert records, "bench/records holds the sittings replays score"
    for path in records:
        record = json.loads(path.read_text())
        assert record["version"] == replay.RECORD_VERSION and record["cpu"] and record["probes"]
        assert all(m["measured_ms"] > 0 and m["set"] for m in record["models"]), path.name


def _grouped(conv: float, pointwise: float, other: float, depthwise: float = 0.0) -> dict[str, float]:
    return {"conv": conv, "pointwise": pointwise, "depthwise": depthwise, "deconv": 0.0, "fc": 0.0, "other": other}


def test_wanted_factors_recover_the_change_each_kind_made_and_what_quick_gave_it(replay):
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(12):
        conv, pw, other = rng.uniform(1, 50, size=3)
        base = _grouped(conv, pw, other, depthwise=0.001 * conv)  # never a share worth a factor of its own
        rows.append({"base_groups": base, "groups": _grouped(1.5 * conv, 1.8 * pw, 1.2 * other, 0.002 * conv),
                     "measured_ms": 1.3 * conv + 2.0 * pw + 1.1 * other + 0.002 * conv})
    w = replay.wanted_factors(rows)
    assert w["groups"] == ["conv", "pointwise", "other"]
    wanted = dict(zip(w["groups"], w["wanted"]))
    assert wanted["conv"] == pytest.approx(1.3, rel=0.01) and wanted["pointwise"] == pytest.approx(2.0, rel=0.01)
    fitted = dict(zip(w["groups"], w["fitted"]))
    assert fitted["conv"] == pytest.approx(1.5) and fitted["pointwise"] == pytest.approx(1.8)
    assert w["ceiling"] == 1.0 and w["n"] == 12 and sum(w["time_share"]) == pytest.approx(1.0)


def test_the_ceiling_counts_the_models_no_factor_per_kind_explains(replay):
    rows = [{"base_groups": _grouped(10.0, 10.0, 1.0), "groups": _grouped(10.0, 10.0, 1.0), "measured_ms": m}
            for m in (21.0, 21.0, 21.0, 30.0)]  # the same kernels, one model 40 % slower
    assert replay.wanted_factors(rows)["ceiling"] == 0.75


def test_misfit_probes_are_those_the_fit_misses_the_same_way_in_most_records(replay):
    def row(probe: str, left: float, change: float = 1.5) -> dict:
        return {"probe": probe, "group": "pointwise", "change": change, "left": left}

    per_record = {
        "r1": [row("wide", 0.30, 1.3), row("noisy", 0.40), row("fine", 0.02), row("split", 0.20)],
        "r2": [row("wide", 0.25, 1.4), row("noisy", -0.05), row("fine", -0.03), row("split", -0.20)],
        "r3": [row("wide", 0.35, 1.2), row("noisy", 0.01), row("fine", 0.05)],
    }
    misfits = replay.misfit_probes(per_record)
    assert [m["probe"] for m in misfits] == ["wide"]  # one sitting's miss, or a sign that flips, is not a shape's
    assert misfits[0]["records"] == 3 and misfits[0]["left"] == pytest.approx(0.30)
    assert misfits[0]["change"] == pytest.approx([1.3, 1.2, 1.4])
    assert [m["probe"] for m in replay.misfit_probes(per_record, threshold=0.01)] == ["wide", "fine"]


def test_a_variant_is_applied_to_a_scratch_copy_of_the_committed_code_or_said_not_to_apply(tmp_path):
    import difflib
    import subprocess

    variants = load_script(BENCH / "replay_variants.py")
    head = subprocess.run(["git", "-C", str(variants.ROOT), "show", "HEAD:snapcheck/__init__.py"],
                          capture_output=True, text=True, check=True).stdout.splitlines(keepends=True)
    changed = head + ["VARIANT = True\n"]
    patch = tmp_path / "flag.patch"
    patch.write_text("A header the patch tools skip.\n\n" + "".join(difflib.unified_diff(
        head, changed, "a/snapcheck/__init__.py", "b/snapcheck/__init__.py")))
    archive = variants.committed_code()
    assert variants.scratch_tree(tmp_path / "v", patch, archive) == ""
    assert (tmp_path / "v" / "snapcheck" / "__init__.py").read_text().endswith("VARIANT = True\n")
    assert (tmp_path / "v" / "bench" / "estimator_replay.py").is_file()
    assert (tmp_path / "v" / "rules").resolve() == (variants.ROOT / "rules").resolve()
    stale = tmp_path / "stale.patch"
    stale.write_text("".join(difflib.unified_diff(["no such line\n"], ["x\n"], "a/snapcheck/__init__.py",
                                                  "b/snapcheck/__init__.py")))
    assert variants.scratch_tree(tmp_path / "w", stale, archive)  # the reason it does not apply
