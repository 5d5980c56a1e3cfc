"""The sweep runner with a fake worker: cache hits and misses, hash stability, one failure among
successes, and a sweep killed mid-way then resumed without redoing finished configurations."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from rich.console import Console
from sweep_fixtures import CRASH_ALPHA, FAIL_ALPHA, fake_worker

from snapcheck.gan.registry import GeneratorConfig
from snapcheck.sweep.cache import cache_key, cache_path
from snapcheck.sweep.grid import build_grids, grid_configs
from snapcheck.sweep.runner import run_sweep

TESTS = Path(__file__).resolve().parent
QUIET = Console(file=open(os.devnull, "w"))  # noqa: SIM115 - kept for the session


def _grid(encoder: str, decoder: str = "1,2") -> list[GeneratorConfig]:
    return grid_configs(build_grids({"alpha_encoder": encoder, "alpha_decoder": decoder, "separable": None,
                                     "upsample": None, "size": "64", "out_channels": None, "in_channels": None}))


def _calls(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def test_cache_key_is_stable_and_depends_on_architecture_version_and_ls():
    cfg = GeneratorConfig(name="a", alpha_encoder=0.4, alpha_decoder=2.0)
    assert cache_key(cfg, "5.x") == cache_key(cfg.replace(name="other label", description="x"), "5.x")
    assert cache_key(cfg, "5.x") == cache_key(GeneratorConfig(name="b", alpha_encoder=0.4, alpha_decoder=2.0), "5.x")
    other_process = subprocess.run(  # the hash names files on disk: it must not vary between processes
        [sys.executable, "-c", "from snapcheck.gan.registry import CONFIGS; from snapcheck.sweep.cache import "
         "cache_key; print(cache_key(CONFIGS['blog'].replace(name='a', description=''), '5.x'))"],
        capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "123"})
    assert other_process.stdout.strip() == cache_key(cfg, "5.x")
    assert len(cache_key(cfg, "5.x")) == 16
    assert cache_key(cfg, "5.x") != cache_key(cfg, "4.x")
    assert cache_key(cfg, "5.x") != cache_key(cfg.replace(alpha_decoder=1.5), "5.x")
    assert cache_key(cfg, "5.x") != cache_key(cfg.replace(separable=False), "5.x")
    assert cache_key(cfg, "5.x") != cache_key(cfg.replace(size=128), "5.x")


def test_cache_key_changes_with_snapcheck_version(monkeypatch):
    import snapcheck.sweep.cache as cache

    cfg = GeneratorConfig(name="a", alpha_encoder=0.4, alpha_decoder=2.0)
    before = cache_key(cfg, "5.x")
    monkeypatch.setattr(cache, "__version__", "999.0")
    assert cache_key(cfg, "5.x") != before


def test_cache_key_changes_with_the_rules_and_host_profile(tmp_path, monkeypatch):
    import snapcheck.sweep.cache as cache

    data = tmp_path / "devices.toml"
    data.write_text("a = 1\n")
    monkeypatch.setattr(cache, "data_files", lambda: [data])
    cfg = GeneratorConfig(name="a", alpha_encoder=0.4, alpha_decoder=2.0)
    before = cache_key(cfg, "5.x")
    assert cache_key(cfg, "5.x") == before
    data.write_text("a = 2\n")
    assert cache_key(cfg, "5.x") != before


def test_miss_then_hit_and_one_failure_recorded(tmp_path, monkeypatch):
    log = tmp_path / "calls.log"
    monkeypatch.setenv("SWEEP_FAKE_LOG", str(log))
    configs = _grid(f"0.25,{FAIL_ALPHA},0.5")
    run = run_sweep(configs, tmp_path, ls_version="5.x", worker=fake_worker, jobs=2, console=QUIET)
    assert (run.cached, run.computed) == (0, 6)
    assert [r["label"] for r in run.rows] == [c.name for c in configs]
    failed = [r for r in run.rows if r["status"] == "error"]
    assert len(failed) == 2 and all(r["config"]["alpha_encoder"] == FAIL_ALPHA for r in failed)
    assert all("RuntimeError: cannot build" in r["error"] and "Traceback" in r["traceback"] for r in failed)
    assert all(r["stage"] == "export" and r["verdict"] == "error" for r in failed)
    assert all(r["status"] == "ok" and r["params"] > 0 for r in run.rows if r not in failed)
    assert sorted(run.failed) == sorted(r["label"] for r in failed)
    for cfg in configs:  # every configuration, failed or not, is cached under its hash
        cached = json.loads(cache_path(tmp_path, cfg, "5.x").read_text())
        assert cached["key"] == cfg.key() and cached["ls_version"] == "5.x"
    assert sorted(_calls(log)) == sorted(c.name for c in configs)

    log.unlink()
    again = run_sweep(configs, tmp_path, ls_version="5.x", worker=fake_worker, jobs=2, console=QUIET)
    assert (again.cached, again.computed) == (6, 0) and not log.exists()
    assert again.rows == run.rows

    retried = run_sweep(configs, tmp_path, ls_version="5.x", worker=fake_worker, jobs=1, retry_failed=True,
                        console=QUIET)
    assert (retried.cached, retried.computed) == (4, 2)
    assert sorted(_calls(log)) == sorted(r["label"] for r in failed)

    other_ls = run_sweep(configs[:1], tmp_path, ls_version="4.x", worker=fake_worker, jobs=1, console=QUIET)
    assert (other_ls.cached, other_ls.computed) == (0, 1)


def test_a_config_that_kills_its_worker_is_recorded_and_the_others_finish(tmp_path, monkeypatch):
    log = tmp_path / "calls.log"
    monkeypatch.setenv("SWEEP_FAKE_LOG", str(log))
    configs = _grid("0.25,0.5", f"1,{CRASH_ALPHA},2")
    run = run_sweep(configs, tmp_path, ls_version="5.x", worker=fake_worker, jobs=2, console=QUIET)
    crashed = [r for r in run.rows if r["config"]["alpha_decoder"] == CRASH_ALPHA]
    assert len(crashed) == 2 and all("worker process died" in r["error"] for r in crashed)
    assert all(r["status"] == "ok" for r in run.rows if r not in crashed)
    assert run.computed == 6 and [r["key"] for r in run.rows] == [c.key() for c in configs]
    for cfg in configs:  # the crashes are not cached (a re-run retries them), the rest are
        assert cache_path(tmp_path, cfg, "5.x").exists() == (cfg.alpha_decoder != CRASH_ALPHA)
    assert not list((tmp_path / "cache").glob("*.running"))
    calls = _calls(log)  # a config that ran beside a crash is retried once, alone; the crash, at most twice
    assert all(calls.count(c.name) <= 2 for c in configs)


def test_workers_that_cannot_start_fail_the_configs_instead_of_looping(tmp_path, monkeypatch):
    monkeypatch.setenv("SWEEP_FAKE_BROKEN_WORKERS", "1")
    configs = _grid("0.25,0.5", "1,2")
    run = run_sweep(configs, tmp_path, ls_version="5.x", worker=fake_worker, jobs=2, console=QUIET)
    assert run.computed == 4 and all("died before starting" in r["error"] for r in run.rows)
    assert not list((tmp_path / "cache").glob("*.json"))


def test_unreadable_cache_entry_is_redone(tmp_path, monkeypatch):
    configs = _grid("0.25", "1")
    run_sweep(configs, tmp_path, ls_version="5.x", worker=fake_worker, jobs=1, console=QUIET)
    cache_path(tmp_path, configs[0], "5.x").write_text('{"status": "o')
    run = run_sweep(configs, tmp_path, ls_version="5.x", worker=fake_worker, jobs=1, console=QUIET)
    assert (run.cached, run.computed) == (0, 1) and run.rows[0]["status"] == "ok"


_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from sweep_fixtures import fake_worker
    from snapcheck.sweep.grid import build_grids, grid_configs
    from snapcheck.sweep.runner import run_sweep
    configs = grid_configs(build_grids({{"alpha_encoder": "0.25,0.5,0.75,1", "alpha_decoder": "1,2",
                                        "separable": None, "upsample": None, "size": "64", "out_channels": None,
                                        "in_channels": None}}))
    try:
        run = run_sweep(configs, {out!r}, ls_version="5.x", worker=fake_worker, jobs=2)
    except KeyboardInterrupt:  # as snapcheck.cli.main does
        sys.exit(130)
    print("computed", run.computed, "cached", run.cached)
""")


def _sweep_process(out: Path, log: Path, sleep: str) -> subprocess.Popen:
    env = {**os.environ, "SWEEP_FAKE_LOG": str(log), "SWEEP_FAKE_SLEEP": sleep}
    return subprocess.Popen([sys.executable, "-c", _SCRIPT.format(tests=str(TESTS), out=str(out))], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, text=True)


def test_killed_sweep_resumes_without_redoing_finished_configs(tmp_path):
    out = tmp_path / "sweep"
    first = _sweep_process(out, tmp_path / "first.log", "0.6")
    _wait_for_cache_files(first, out, "*.json", 3)
    os.killpg(first.pid, signal.SIGKILL)  # the parent and its workers, as a crash would
    first.wait()
    finished = {json.loads(p.read_text())["label"] for p in (out / "cache").glob("*.json")}
    assert 3 <= len(finished) < 8

    second = _sweep_process(out, tmp_path / "second.log", "0")
    stdout, stderr = second.communicate(timeout=120)
    assert second.returncode == 0, stderr
    redone = set(_calls(tmp_path / "second.log"))
    assert redone.isdisjoint(finished)
    assert len(redone) == 8 - len(finished)
    assert f"computed {8 - len(finished)} cached {len(finished)}" in stdout


def test_workers_stop_when_the_parent_is_killed(tmp_path):
    out = tmp_path / "sweep"
    proc = _sweep_process(out, tmp_path / "first.log", "2")
    _wait_for_cache_files(proc, out, "*.running", 2)
    workers = [int(p.read_text()) for p in (out / "cache").glob("*.running")]
    os.kill(proc.pid, signal.SIGKILL)  # the parent alone: its workers are orphaned
    proc.wait()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers):
        assert time.monotonic() < deadline, "orphaned workers kept running"
        time.sleep(0.05)


def _wait_for_cache_files(proc: subprocess.Popen, out: Path, pattern: str, count: int) -> None:
    """Wait (60 s at most) until the running sweep has ``count`` cache files matching ``pattern``."""
    deadline = time.monotonic() + 60
    while len(list((out / "cache").glob(pattern))) < count:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"the sweep did not write {count} {pattern} cache files in 60 s"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper that is not ours to be does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[-1].split()[0] == "Z")


def test_ctrl_c_cancels_cleanly_and_keeps_finished_work(tmp_path):
    out = tmp_path / "sweep"
    proc = _sweep_process(out, tmp_path / "first.log", "0.6")
    _wait_for_cache_files(proc, out, "*.json", 2)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends: the whole foreground process group
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "run the same command to resume" in " ".join(stderr.split())
    assert "Traceback" not in stderr  # neither the parent nor a worker process prints one
    finished = len(list((out / "cache").glob("*.json")))
    assert 2 <= finished < 8
    time.sleep(1.0)  # cancelled workers were terminated: nothing more is written after the parent exits
    assert len(list((out / "cache").glob("*.json"))) == finished


def test_rows_come_back_in_grid_order(tmp_path):
    configs = _grid("1,0.5,0.25", "2,1")
    run = run_sweep(configs, tmp_path, ls_version="5.x", worker=fake_worker, jobs=3, console=QUIET)
    assert [r["key"] for r in run.rows] == [c.key() for c in configs]
