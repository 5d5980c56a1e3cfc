"""``snapcheck sweep`` on the command line: a fully cached re-run does no work and never imports
TensorFlow, writes the outputs and the table; bad options are one-line errors with exit code 2."""

from __future__ import annotations

import csv
import json
import os
import subprocess
from pathlib import Path

from helpers import CLI, HEAVY, assert_not_imported, run_cli
from rich.console import Console
from sweep_fixtures import fake_worker

from snapcheck.sweep.grid import build_grids, grid_configs
from snapcheck.sweep.runner import run_sweep

ARGS = ["--alpha-encoder", "0.25,0.4", "--alpha-decoder", "1,2", "--size", "64"]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return run_cli("sweep", *args, env={"COLUMNS": "220"}, timeout=120)


def _cache_fake_sweep(out: Path, alpha_encoder: str, alpha_decoder: str) -> list:
    """Fill ``out``'s cache with fake-worker results for a 64-px grid, so the CLI run after it is all cached."""
    configs = grid_configs(build_grids({"alpha_encoder": alpha_encoder, "alpha_decoder": alpha_decoder,
                                        "size": "64", "separable": None, "upsample": None,
                                        "out_channels": None, "in_channels": None}))
    with open(os.devnull, "w") as devnull:
        run_sweep(configs, out, ls_version="5.x", worker=fake_worker, jobs=1, console=Console(file=devnull))
    return configs


def test_cached_rerun_does_no_work_and_never_imports_tensorflow(tmp_path):
    configs = _cache_fake_sweep(tmp_path, "0.25,0.4", "1,2")
    done = assert_not_imported(CLI, "sweep", *ARGS, "--out", tmp_path, modules=(*HEAVY, "ray"),
                               env={"COLUMNS": "220"})
    assert "0 computed, 4 cached, 0 failed" in done.stdout
    assert "sorted by estimated iPhone 6 latency" in done.stdout and "(blog)" in done.stdout
    rows = json.loads((tmp_path / "results.json").read_text())["rows"]
    with (tmp_path / "results.csv").open() as fh:
        assert [r["label"] for r in csv.DictReader(fh)] == [r["label"] for r in rows] == [c.name for c in configs]
    assert (tmp_path / "pareto.png").read_bytes()[:4] == b"\x89PNG"


def test_cached_rerun_on_ray_does_not_start_ray(tmp_path):
    _cache_fake_sweep(tmp_path, "0.25,0.4", "1,2")
    done = assert_not_imported(CLI, "sweep", *ARGS, "--engine", "ray", "--address", "auto", "--out", tmp_path,
                               modules=("ray",), env={"COLUMNS": "220"})
    assert "0 computed, 4 cached, 0 failed" in done.stdout
    assert json.loads((tmp_path / "results.json").read_text())["engine"] == "ray"


def test_engine_options_are_checked_before_any_work(tmp_path):
    for args, message in ((["--engine", "spark"], "--engine must be one of local, ray, got 'spark'"),
                          (["--address", "auto"], "--address needs --engine ray"),
                          (["--bench-on-head"], "--bench-on-head needs --engine ray")):
        done = _cli(*args, "--out", str(tmp_path / "out"))
        assert done.returncode == 2 and done.stderr.strip() == f"snapcheck: error: {message}", done.stderr
    assert not (tmp_path / "out").exists()


def test_bad_option_is_one_line_exit_2(tmp_path):
    done = _cli("--alpha-encoder", "0.25,x", "--out", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip() == "snapcheck: error: --alpha-encoder: 'x' is not a number"
    assert not any(tmp_path.iterdir())


def test_bad_grid_file_names_it(tmp_path):
    grid = tmp_path / "g.toml"
    grid.write_text("alpha_encoder = [0.25\n")
    done = _cli("--grid", str(grid), "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and str(grid) in done.stderr and "not valid TOML" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_unknown_ls_version_is_refused_before_any_work(tmp_path):
    done = _cli("--ls-version", "9.x", "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and "9.x" in done.stderr and not (tmp_path / "out").exists()


def test_unknown_device_is_refused_before_any_work(tmp_path):
    done = _cli("--device", "nokia3310", "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and "nokia3310" in done.stderr and "iphone6" in done.stderr
    assert not (tmp_path / "out").exists()


def test_device_by_name(tmp_path):
    _cache_fake_sweep(tmp_path, "0.25", "1")
    done = _cli("--alpha-encoder", "0.25", "--alpha-decoder", "1", "--size", "64", "--device", "Galaxy S6",
                "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "results.json").read_text())["device"] == "galaxy_s6"
    assert "galaxy_s6 ms" in done.stdout
