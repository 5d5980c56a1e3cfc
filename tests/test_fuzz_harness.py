"""The project's structure-aware fuzzing harness (tools/fuzz_check.py), run with a fixed seed and a small budget."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from helpers import load_script

TOOL = Path(__file__).resolve().parents[1] / "tools" / "fuzz_check.py"


def _harness():
    return load_script(TOOL)


def test_fixed_seed_campaign_keeps_the_contract(tmp_path: Path) -> None:
    pytest.importorskip("hypothesis")
    pytest.importorskip("ai_edge_litert")
    fuzz = _harness()
    fuzz.warm()
    seeds = fuzz.seed_files(small=True)
    assert any(p.suffix == ".onnx" for p in seeds) and any(p.suffix == ".tflite" for p in seeds)
    work = tmp_path / "work"
    fuzz.prepare_folder(work)
    campaign = fuzz.Campaign(work, tmp_path / "failures")
    t0 = time.monotonic()
    # One run per format: hypothesis draws the format first but not evenly (it leans to the first choice, the
    # more so as its engine adapts to the run's pace), so a shared run of 60 once made only 8 TFLite inputs.
    by_format = {fmt: [p for p in seeds if fuzz.is_tflite(p.read_bytes()) == fmt] for fmt in (False, True)}
    try:
        for group in by_format.values():
            fuzz.run_campaign(campaign, group, examples=30, seed=0, shrink=False)
    except AssertionError as exc:
        saved = campaign.save()
        pytest.fail(f"{exc} (input saved as {saved})")
    stats = campaign.stats
    assert stats["inputs"] >= 30, stats  # most draws make an input
    assert stats["inputs onnx"] >= 10 and stats["inputs tflite"] >= 10, stats  # both formats
    assert stats["exit 2"] and stats["exit 0"] + stats["exit 1"], stats  # refusals and reports both
    assert time.monotonic() - t0 < 60, stats


def test_a_broken_contract_is_caught_and_saved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The judge itself: an exit 3 is a failure, and the input that caused it is kept."""
    pytest.importorskip("hypothesis")
    fuzz = _harness()
    from snapcheck import cli

    def crash() -> None:
        raise SystemExit(3)

    monkeypatch.setattr(cli, "main", crash)
    work = tmp_path / "work"
    fuzz.prepare_folder(work)
    campaign = fuzz.Campaign(work, tmp_path / "failures")
    outcome = campaign.check(b"not a model", ".onnx", "json")
    assert outcome.problem == "exit 3" and campaign.save().read_bytes() == b"not a model"


def test_an_internal_error_is_a_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI turns a bug into one line and exit 2, as it does a refusal; the judge still calls it a bug."""
    pytest.importorskip("hypothesis")
    fuzz = _harness()
    fuzz.warm()
    import snapcheck.api as api

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(api, "check_graph", broken)
    monkeypatch.setenv("SNAPCHECK_CACHE", str(tmp_path))
    monkeypatch.delenv("SNAPCHECK_DEBUG", raising=False)
    seed = next(p for p in fuzz.seed_files(small=True) if p.suffix == ".onnx")
    work = tmp_path / "work"
    fuzz.prepare_folder(work)
    outcome = fuzz.Campaign(work, tmp_path / "failures").check(seed.read_bytes(), ".onnx", "json")
    assert outcome.rc == 2 and outcome.problem == "internal error", outcome
