"""The linear learning-rate decay (``--lr-decay-from``): its values, and that kill/resume follows it exactly."""

from __future__ import annotations

import json

import pytest

from snapcheck.errors import InputError
from snapcheck.gan.train_config import learning_rate_at


def test_constant_then_linear_to_zero_at_the_last_step():
    lrs = [learning_rate_at(step, 2e-4, 6, 10) for step in range(10)]
    assert lrs[:6] == [2e-4] * 6
    assert lrs[6:] == pytest.approx([2e-4 * k / 4 for k in (4, 3, 2, 1)])
    assert learning_rate_at(10, 2e-4, 6, 10) == 0.0  # after the end, never negative
    assert learning_rate_at(99, 2e-4, 6, 10) == 0.0


def test_without_decay_the_rate_is_constant_and_degenerate_decay_is_zero():
    assert {learning_rate_at(step, 1e-3, None, 5) for step in range(8)} == {1e-3}
    assert learning_rate_at(7, 1e-3, 7, 7) == 0.0  # decay starting at the end: nothing left to train
    assert learning_rate_at(3, 1e-3, 7, 7) == 1e-3


def test_negative_decay_start_is_an_input_error(tmp_path):
    from snapcheck.gan.train_config import TrainConfig

    with pytest.raises(InputError, match="--lr-decay-from"):
        TrainConfig(data_dir=str(tmp_path), steps=10, lr_decay_from=-1)


@pytest.mark.slow
def test_both_optimisers_follow_the_schedule_across_kill_and_resume(tmp_path):
    pytest.importorskip("tensorflow")
    from helpers import Killed, kill_at
    from train_fixtures import TINY, make_pairs

    from snapcheck.gan.train import TrainConfig, train

    data = make_pairs(tmp_path / "pairs")
    cfg = dict(data_dir=str(data), config=TINY.name, size=32, batch_size=2, checkpoint_every=2, log_every=1,
               image_every=100, seed=3)
    run_dir = tmp_path / "run"
    seen: dict[int, tuple[float, float]] = {}

    def watch(step, model):
        seen[step] = (float(model.g_optimizer.learning_rate.numpy()), float(model.d_optimizer.learning_rate.numpy()))

    # a constant-LR run of 2 steps, then resumed with a decay added (how catface-s-long continued catface-s)
    train(TrainConfig(steps=2, **cfg), run_dir, export=False, progress=False, on_step=watch)
    decayed = TrainConfig(steps=8, lr_decay_from=4, **cfg)
    with pytest.raises(Killed):
        train(decayed, run_dir, resume=True, export=False, progress=False, on_step=kill_at(5, watch))
    assert json.loads((run_dir / "checkpoints" / "latest.json").read_text())["step"] == 4
    train(decayed, run_dir, resume=True, export=False, progress=False, on_step=watch)  # redoes steps 5, 6, 7, 8

    # the update that reached step s ran at learning_rate_at(s - 1): identical before and after the kill
    expected = {s: learning_rate_at(s - 1, 2e-4, 4, 8) for s in range(1, 9)}
    assert sorted(seen) == list(range(1, 9))
    for step, (g_lr, d_lr) in seen.items():
        assert g_lr == pytest.approx(expected[step], rel=1e-6) and d_lr == pytest.approx(expected[step], rel=1e-6)
    assert json.loads((run_dir / "run.json").read_text())["train"]["lr_decay_from"] == 4


def test_the_model_card_states_the_schedule():
    from snapcheck.gan.card import _decay

    assert _decay({"lr_decay_from": None, "steps": 10}) == " (constant)"
    assert _decay({"steps": 10}) == " (constant)"  # run.json written before the option existed
    assert _decay({"lr_decay_from": 18449, "steps": 28449}) == " constant to step 18,449, then linear to 0 at step 28,449"


def test_the_model_card_command_line_is_one_code_span():
    from snapcheck.gan.card import _command

    t = dict(data_dir="d", config="catface-s", size=128, steps=31449, epochs=None, batch_size=8,
             label_smoothing=False, instance_noise=0.0, noise_epochs=5.0, loss="bce", lr_decay_from=18449)
    assert _command(t) == ("snapcheck train d --config catface-s --size 128 --steps 31449 --batch-size 8 "
                           "--no-label-smoothing --lr-decay-from 18449")
