"""Training on two localhost workers (``--strategy multiworker``, two processes, TF_CONFIG with 127.0.0.1
ports) against one process with the same seed and global batch: the generator's weights agree after the
same steps, and a run whose two workers are killed resumes from the chief's checkpoint with the same step
counting as a single process.

Tolerance: the two layouts compute the same maths in a different order (two half-batch gradients summed
vs one full-batch gradient; BatchNorm's synchronized moments vs the fused kernel), so they agree to float
rounding: measured 7.5e-9 at most after 6 steps, where one step moves a weight by up to ~2e-4 (Adam at
lr 2e-4). The test requires every weight within ``ATOL`` = 1e-6 (1/200 of one step) and the whole
difference under 1e-5 of how far the weights moved. A mismatch in any part of the step (a loss reduced
twice by the replica count, as Keras's own reduction did before ``_bce`` avoided it) showed as 1.3e-3.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from train_fixtures import TINY, make_pairs  # noqa: E402

pytestmark = pytest.mark.slow
ATOL = 1e-6
RELATIVE = 1e-5
BATCH = 4  # global: 2 pairs per worker


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_pairs(tmp_path_factory.mktemp("pairs"), n_train=8, n_val=2)


def _train_cmd(data: Path, out: Path, steps: int, strategy: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "snapcheck", "train", str(data), "--out", str(out), "--config", TINY.name,
            "--size", "32", "--batch-size", str(BATCH), "--steps", str(steps), "--checkpoint-every", "2",
            "--log-every", "1", "--image-every", "1000", "--seed", "3", "--no-export", "--strategy", strategy, *extra]


def _workers(data: Path, out: Path, steps: int, *extra: str) -> list[subprocess.Popen]:
    """Two worker processes of one multi-worker run (worker 0 is the chief)."""
    from snapcheck.gan.distribute import localhost_cluster, tf_config

    cluster = localhost_cluster(2)
    return [subprocess.Popen(_train_cmd(data, out, steps, "multiworker", *extra), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True,
                             env={**os.environ, "TF_CONFIG": tf_config(cluster, i)})
            for i in range(2)]


def _finish(procs: list[subprocess.Popen], timeout: float = 300) -> None:
    try:
        for proc in procs:
            out, _ = proc.communicate(timeout=timeout)
            assert proc.returncode == 0, out[-3000:]
    finally:
        _kill(procs)


def _kill(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def _single(data: Path, out: Path, steps: int, resume: bool = False) -> None:
    """The same run in this process (what ``_train_cmd`` with ``--strategy default`` runs)."""
    from snapcheck.gan.train import TrainConfig, train

    cfg = TrainConfig(data_dir=str(data), config=TINY.name, size=32, batch_size=BATCH, steps=steps,
                      checkpoint_every=2, log_every=1, image_every=1000, seed=3)
    train(cfg, out, resume=resume, export=False, progress=False)


def _step(run: Path) -> int:
    return json.loads((run / "checkpoints" / "latest.json").read_text())["step"]


def _generator_weights(run: Path) -> list[np.ndarray]:
    from snapcheck.gan.checkpoints import restore_generator

    return [w.copy() for w in restore_generator(run)[1].get_weights()]


def _initial_weights() -> list[np.ndarray]:
    import keras

    from snapcheck.gan.generator import create_generator

    keras.utils.set_random_seed(3)
    return create_generator(TINY.name, size=32, in_channels=1, out_channels=4).get_weights()


def _assert_same_weights(multi: Path, single: Path) -> None:
    a, b, start = _generator_weights(multi), _generator_weights(single), _initial_weights()
    diff = max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))
    gap = np.sqrt(sum(float(np.sum((x - y) ** 2)) for x, y in zip(a, b)))
    moved = np.sqrt(sum(float(np.sum((y - s) ** 2)) for y, s in zip(b, start)))
    assert moved > 0.01, "the single-process run did not train"
    assert diff <= ATOL and gap <= RELATIVE * moved, (diff, gap, moved)


def test_two_workers_match_one_process_with_the_same_global_batch(data, tmp_path):
    multi, single = tmp_path / "multi", tmp_path / "single"
    workers = _workers(data, multi, 6)
    _single(data, single, 6)  # meanwhile
    _finish(workers)
    assert _step(multi) == _step(single) == 6
    assert sorted(p.name for p in (multi / "checkpoints").iterdir()) == ["latest.json", "step-0000004",
                                                                          "step-0000006"]  # the chief's only
    assert len(list((multi / "tb").glob("events.out.tfevents.*"))) == 1  # the other worker wrote none
    _assert_same_weights(multi, single)


def test_both_workers_killed_then_resumed_count_steps_as_one_process(data, tmp_path):
    multi, single = tmp_path / "multi", tmp_path / "single"
    procs = _workers(data, multi, 100_000)
    try:
        deadline = time.monotonic() + 300
        while not ((multi / "checkpoints" / "latest.json").is_file() and _step(multi) >= 4):
            assert all(p.poll() is None for p in procs), procs[0].communicate()[0][-3000:]
            assert time.monotonic() < deadline, "no checkpoint at step 4 in 300 s"
            time.sleep(0.02)
    finally:
        _kill(procs)  # kill -9 of both workers: nothing is saved on the way out
    killed_at = _step(multi)
    _finish(_workers(data, multi, killed_at + 3, "--resume"))
    assert _step(multi) == killed_at + 3

    _single(data, single, killed_at)  # the same history in one process: to the checkpoint, then resumed
    _single(data, single, killed_at + 3, resume=True)
    _assert_same_weights(multi, single)


@pytest.mark.parametrize("strategy, tf_config, message", [
    ("spark", None, "--strategy must be one of default, mirrored, multiworker, got 'spark'"),
    ("multiworker", None, "--strategy multiworker needs TF_CONFIG"),
    ("multiworker", '{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 3}}',
     "TF_CONFIG is not a valid cluster description"),
])
def test_bad_strategy_settings_are_one_line_errors(data, tmp_path, strategy, tf_config, message):
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"} | ({"TF_CONFIG": tf_config} if tf_config else {})
    done = subprocess.run(_train_cmd(data, tmp_path / "run", 1, strategy), capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 2 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "run").exists()
