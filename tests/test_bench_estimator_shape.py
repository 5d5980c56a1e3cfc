"""``bench/estimator_shape.py``: the shape error takes each round's level (the host's phase) out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers import load_script

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def shape():
    return load_script(BENCH / "estimator_shape.py")


def test_a_host_whose_speed_swings_between_rounds_leaves_each_models_own_error(shape):
    rng = np.random.default_rng(0)
    true = rng.uniform(1.0, 200.0, 30)
    own = np.where(np.arange(30) < 5, 0.3, 0.0)  # five models priced 30 % high, the rest right
    phase = rng.uniform(0.6, 1.4, 8)  # the machine 0.6-1.4x as fast, round by round
    measured = true[:, None] / phase[None, :] * np.exp(rng.normal(0, 0.01, (30, 8)))
    predicted = true * (1 + own) * 0.8  # and the level 20 % low
    err, level = shape.shape_errors(predicted, measured)
    assert err[:5] == pytest.approx(0.3, abs=0.03) and np.abs(err[5:]).max() < 0.03
    assert level == pytest.approx(0.8 * phase, rel=0.03)


def test_a_phase_that_changes_within_a_round_is_taken_out_by_the_models_timed_beside_each(shape):
    rng = np.random.default_rng(1)
    n, rounds = 60, 6
    true = rng.uniform(1.0, 200.0, n)
    own = np.where(np.arange(n) < 6, -0.25, 0.0)
    order = np.stack([rng.permutation(n) for _ in range(rounds)], axis=1)
    speed = np.zeros((n, rounds))
    for j in range(rounds):  # the first half of each round's timings at full speed, the second 1.6x slower
        speed[order[:, j], j] = np.where(np.arange(n) < n // 2, 1.0, 1.6)
    measured = true[:, None] * speed
    predicted = true * (1 + own)
    err, _ = shape.shape_errors(predicted, measured, order)
    assert err[:6] == pytest.approx(-0.25, abs=0.05) and np.median(np.abs(err[6:])) < 0.01
