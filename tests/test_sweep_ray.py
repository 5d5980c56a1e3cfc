"""The sweep on a real local Ray cluster that the tests start (``ray start --head`` on 127.0.0.1 with 2 CPUs,
no dashboard) and stop (every process it started, and only those).

Rows from Ray equal the local engine's for everything but host latency; a worker killed mid-task is
retried once, a configuration that kills its worker twice is recorded as failed and the sweep goes on;
Ctrl-C cancels the outstanding tasks and keeps the finished ones; a node that does not share the sweep
folder sends the exported files back; ``--bench-on-head`` re-measures rows timed on another node.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest
from rich.console import Console
from sweep_fixtures import CRASH_ALPHA, env_worker

from snapcheck.sweep.cache import cache_path
from snapcheck.sweep.grid import build_grids, grid_configs
from snapcheck.sweep.runner import run_sweep

TESTS = Path(__file__).resolve().parent
QUIET = Console(file=open(os.devnull, "w"))  # noqa: SIM115 - kept for the session
RAY = Path(sys.executable).with_name("ray")
# The test's cluster and its drivers share a token of their own (Ray's token authentication; a driver
# given an explicit address only uses it with RAY_AUTH_MODE=token).
AUTH = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
os.environ.update(AUTH)  # before Ray is imported: its C++ core reads them once, at start
ray = pytest.importorskip("ray")


def _grid(encoder: str, decoder: str, separable: str | None = None, size: str = "64") -> list:
    return grid_configs(build_grids({"alpha_encoder": encoder, "alpha_decoder": decoder, "separable": separable,
                                     "upsample": None, "size": size, "out_channels": None, "in_channels": None}))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid: int) -> list[int]:
    """``pid``'s child processes, recursively (Ray's workers run in process groups of their own)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@pytest.fixture(scope="module")
def cluster():
    """The address of a one-node Ray cluster with 2 CPUs on 127.0.0.1; stopped (its whole process tree) after."""
    temp = tempfile.mkdtemp(prefix="rt", dir="/tmp")  # short: Ray's socket paths must fit in 107 bytes
    port = _free_port()
    env = {**os.environ, **AUTH,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen(
        [str(RAY), "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(port),
         "--num-cpus", "2", "--include-dashboard", "false", "--disable-usage-stats", "--temp-dir", temp,
         "--ray-client-server-port", str(_free_port())],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    address = f"127.0.0.1:{port}"
    try:
        _wait_until_up(proc, address)
        yield address
    finally:
        if ray.is_initialized():
            ray.shutdown()
        _stop_tree(proc)
        shutil.rmtree(temp, ignore_errors=True)


def _wait_until_up(proc: subprocess.Popen, address: str) -> None:
    deadline = time.monotonic() + 120
    while True:
        assert proc.poll() is None, "ray start exited"
        probe = subprocess.run([sys.executable, "-c", f"import ray; ray.init(address={address!r}); ray.shutdown()"],
                               env={**os.environ, **AUTH}, capture_output=True, timeout=120)
        if probe.returncode == 0:
            return
        assert time.monotonic() < deadline, probe.stderr.decode()[-2000:]
        time.sleep(1)


def _stop_tree(proc: subprocess.Popen) -> None:
    """SIGTERM to ``ray start`` and every process under it, then SIGKILL to what is left after 10 s."""
    pids = [proc.pid, *_descendants(proc.pid)]
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            proc.poll()
            time.sleep(0.1)
    proc.wait(timeout=5)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _calls(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


@pytest.fixture(scope="module")
def real_sweeps(cluster, tmp_path_factory):
    """The same 4 tiny generators swept by the local engine and by Ray: (configs, local run, Ray run, Ray folder)."""
    from snapcheck.sweep.worker import evaluate_config

    configs = _grid("0.25", "0.5,1", separable="both", size="32")
    local = run_sweep(configs, tmp_path_factory.mktemp("local"), ls_version="5.x", worker=evaluate_config, jobs=2,
                      console=QUIET)
    out = tmp_path_factory.mktemp("ray")
    on_ray = run_sweep(configs, out, ls_version="5.x", worker=evaluate_config, engine="ray", address=cluster,
                       console=QUIET)
    return configs, local, on_ray, out


@pytest.mark.slow
def test_ray_rows_equal_local_rows_but_for_host_latency(real_sweeps):
    configs, local, on_ray, _ = real_sweeps
    assert (on_ray.computed, local.computed) == (4, 4) and not on_ray.failed and not local.failed
    varying = {"host", "host_node", "elapsed_s", "file_bytes"}  # measured where and when they ran
    for cfg, a, b in zip(configs, local.rows, on_ray.rows):
        assert b["key"] == cfg.key() and b["export"] == "exported"
        assert {k: v for k, v in a.items() if k not in varying} == {k: v for k, v in b.items() if k not in varying}
        # the .onnx of two exports of a randomly initialised generator has differed by up to 51 bytes
        assert a["file_bytes"]["tflite"] == b["file_bytes"]["tflite"]
        assert abs(a["file_bytes"]["onnx"] - b["file_bytes"]["onnx"]) <= 64
        assert b["host"]["tflite"]["median_ms"] > 0 and b["host_node"]["fingerprint"] == on_ray.reference["fingerprint"]


@pytest.mark.slow
def test_bench_on_head_remeasures_rows_timed_elsewhere(real_sweeps, cluster):
    from snapcheck.sweep.worker import evaluate_config

    configs, _, on_ray, out = real_sweeps
    moved = cache_path(out, configs[0], "5.x")
    row = json.loads(moved.read_text())
    row["host_node"] = {"hostname": "elsewhere", "fingerprint": "0" * 12}  # as if another node had timed it
    row["host"]["tflite"]["median_ms"] = -1.0
    moved.write_text(json.dumps(row))

    plain = run_sweep(configs, out, ls_version="5.x", worker=evaluate_config, engine="ray", address=cluster,
                      console=QUIET)
    from snapcheck.sweep.outputs import flat_row

    assert plain.cached == 4 and not ray.is_initialized()  # all cached: Ray is not even connected
    hidden = flat_row(plain.rows[0], [], [], plain.reference)
    assert hidden["host_tflite_median_ms"] is None and hidden["host_node"] == "elsewhere"

    again = run_sweep(configs, out, ls_version="5.x", worker=evaluate_config, engine="ray", address=cluster,
                      bench_on_head=True, console=QUIET)
    assert (again.cached, again.computed) == (4, 0)
    fixed = again.rows[0]
    assert fixed["host_node"]["rebenched"] is True
    assert fixed["host_node"]["fingerprint"] == again.reference["fingerprint"]
    assert fixed["host"]["tflite"]["median_ms"] > 0 and fixed["host"]["tflite"]["runs"] == 15
    assert json.loads(moved.read_text())["host"] == fixed["host"]  # the cache holds the new measurement
    assert again.rows[1:] == on_ray.rows[1:]  # rows timed on the head are left alone


def test_a_killed_worker_is_retried_once_and_a_config_that_always_kills_it_fails(cluster, tmp_path):
    log, go = tmp_path / "calls.log", tmp_path / "victim.go"
    configs = _grid("0.25,0.5", f"1,{CRASH_ALPHA}")
    victim = configs[0]
    # Each call logs itself; the victim's then waits for the killer's go-ahead, so that the kill lands while it
    # works however long a loaded machine starves the killer's thread (its marker alone appears before the worker
    # starts, and a kill there left the victim one logged call: two CI runs failed so). Its retry finds ``go``.
    hold = {"SWEEP_FAKE_HOLD": f"{victim.name}:{go}"}
    worker = functools.partial(env_worker, env={"SWEEP_FAKE_LOG": str(log), **hold})
    killed = []

    def kill_victim_once() -> None:
        marker = cache_path(tmp_path, victim, "5.x").with_suffix(".running")
        deadline = time.monotonic() + 60
        while not (marker.exists() and victim.name in _calls(log)) and time.monotonic() < deadline:
            time.sleep(0.02)
        pid = int(marker.read_text())
        os.kill(pid, signal.SIGKILL)  # what the kernel's OOM killer does to a Ray worker
        killed.append(pid)
        go.touch()

    killer = threading.Thread(target=kill_victim_once, daemon=True)
    killer.start()
    run = run_sweep(configs, tmp_path, ls_version="5.x", worker=worker, engine="ray", address=cluster,
                    console=QUIET)
    killer.join(timeout=5)
    assert killed, "the test never saw the victim running"
    calls = _calls(log)
    rows = {r["label"]: r for r in run.rows}
    assert rows[victim.name]["status"] == "ok" and calls.count(victim.name) == 2  # killed once, retried once
    crashed = [c for c in configs if c.alpha_decoder == CRASH_ALPHA]
    for cfg in crashed:  # killed its worker on both tries: failed with Ray's reason, not cached
        assert calls.count(cfg.name) == 2
        assert "Ray worker died 2 times" in rows[cfg.name]["error"] and rows[cfg.name]["stage"] == "worker"
        assert not cache_path(tmp_path, cfg, "5.x").exists()
    assert sorted(run.failed) == sorted(c.name for c in crashed)
    assert all(cache_path(tmp_path, c, "5.x").exists() for c in configs if c not in crashed)


def test_nodes_without_the_sweep_folder_send_the_files_back(cluster, tmp_path):
    from snapcheck.sweep.ray_engine import TOKEN_FILE, RayEngine

    worker = functools.partial(env_worker, env={"SWEEP_FAKE_FILES": "1"})
    configs = _grid("0.25", "1,2")
    engine = RayEngine(tmp_path, "5.x", worker, jobs=2, address=cluster)
    try:
        (tmp_path / "cache" / TOKEN_FILE).write_text('"another machine sees another folder"')
        rows = {}
        engine.run(configs, lambda cfg, row: rows.__setitem__(cfg.key(), row))
    finally:
        engine.close()
    for cfg in configs:
        row = rows[cfg.key()]
        assert row["status"] == "ok" and row["files"]["tflite"] == f"models/{cfg.key()}/{cfg.name}.tflite"
        assert (tmp_path / row["files"]["onnx"]).read_bytes() == f"onnx of {cfg.name}".encode()  # written here
        assert json.loads(cache_path(tmp_path, cfg, "5.x").read_text()) == row
    assert not (tmp_path / "cache" / TOKEN_FILE).exists()


_SCRIPT = textwrap.dedent("""
    import functools, sys
    sys.path.insert(0, {tests!r})
    from sweep_fixtures import env_worker
    from snapcheck.sweep.grid import build_grids, grid_configs
    from snapcheck.sweep.runner import run_sweep
    configs = grid_configs(build_grids({{"alpha_encoder": "0.25,0.5,0.75,1", "alpha_decoder": "1,2",
                                        "separable": None, "upsample": None, "size": "64", "out_channels": None,
                                        "in_channels": None}}))
    worker = functools.partial(env_worker, env={{"SWEEP_FAKE_SLEEP": {sleep!r}}})
    try:
        run = run_sweep(configs, {out!r}, ls_version="5.x", worker=worker, engine="ray", address={address!r})
    except KeyboardInterrupt:  # as snapcheck.cli.main does
        sys.exit(130)
    print("computed", run.computed, "cached", run.cached, "ray imported", "ray" in sys.modules)
""")


def _driver(out: Path, address: str, sleep: str) -> subprocess.Popen:
    script = _SCRIPT.format(tests=str(TESTS), out=str(out), address=address, sleep=sleep)
    return subprocess.Popen([sys.executable, "-c", script], env={**os.environ, **AUTH}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True, text=True)


def test_ctrl_c_cancels_the_ray_tasks_and_keeps_the_finished_ones(cluster, tmp_path):
    out = tmp_path / "sweep"
    proc = _driver(out, cluster, "1")
    deadline = time.monotonic() + 90
    while len(list((out / "cache").glob("*.json"))) < 2:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no 2 configurations finished in 90 s"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends to the foreground process group
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    text = " ".join(stderr.split())
    assert "interrupted" in text and "Ray task(s) cancelled" in text and "run the same command to resume" in text
    assert "Traceback" not in stderr
    finished = len(list((out / "cache").glob("*.json")))
    assert 2 <= finished < 8
    time.sleep(2.0)  # the cancelled tasks write nothing more
    assert len(list((out / "cache").glob("*.json"))) == finished

    again = _driver(out, cluster, "0")
    stdout, stderr = again.communicate(timeout=120)
    assert again.returncode == 0, stderr
    assert f"computed {8 - finished} cached {finished}" in stdout


def test_local_engine_never_imports_ray(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        from sweep_fixtures import fake_worker
        from snapcheck.sweep.grid import build_grids, grid_configs
        from snapcheck.sweep.runner import run_sweep
        configs = grid_configs(build_grids({{"alpha_encoder": "0.25", "alpha_decoder": "1,2", "separable": None,
                                            "upsample": None, "size": "64", "out_channels": None,
                                            "in_channels": None}}))
        run = run_sweep(configs, {str(tmp_path)!r}, ls_version="5.x", worker=fake_worker, jobs=2)
        print("computed", run.computed, "ray imported", "ray" in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "computed 2 ray imported False" in done.stdout
