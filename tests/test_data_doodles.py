"""Quick, Draw! doodles: which ones training may use, and the trainer's doodle stream."""

from __future__ import annotations

import numpy as np
import pytest

from snapcheck.data import doodles as dd
from snapcheck.errors import InputError


def _lines(n: int, seed: int = 0) -> np.ndarray:
    """``n`` 28×28 doodles of one random white line each."""
    import cv2

    rng = np.random.default_rng(seed)
    out = np.zeros((n, 28, 28), np.uint8)
    for d in out:
        a, b = rng.integers(2, 26, 2), rng.integers(2, 26, 2)
        cv2.line(d, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), 255, 2)
    return out


def test_training_never_sees_an_evaluated_shown_or_reserved_doodle():
    n = 3000
    held = set(dd.held_out(n).tolist())
    for group in (dd.evenly_spaced(n, dd.EVAL_COUNT), dd.evenly_spaced(n, dd.SHEET_COUNT), dd.blind_indices(n),
                  dd.reserve_indices(n)):
        assert set(group.tolist()) <= held
    assert len(dd.reserve_indices(n)) == dd.RESERVE_COUNT and dd.reserve_indices(n)[-1] == n - 1
    numbered = np.broadcast_to(np.arange(n, dtype=np.uint16)[:, None, None], (n, 2, 2))
    kept = set(dd.training_doodles(numbered)[:, 0, 0].tolist())
    assert kept.isdisjoint(held) and len(kept) == n - len(held) > 2000


def test_doodle_stream_is_a_function_of_seed_and_batch_index(tmp_path):
    pytest.importorskip("tensorflow")
    path = tmp_path / "cat.npy"
    np.save(path, _lines(700))
    first = [b.numpy() for b in dd.doodle_batches(path, 32, 3, seed=4).take(5)]
    resumed = [b.numpy() for b in dd.doodle_batches(path, 32, 3, seed=4, start=3).take(2)]
    other = next(iter(dd.doodle_batches(path, 32, 3, seed=5))).numpy()
    assert first[0].shape == (3, 32, 32, 1) and set(np.unique(first[0])) <= {-1.0, 1.0}
    np.testing.assert_array_equal(first[3], resumed[0])
    np.testing.assert_array_equal(first[4], resumed[1])
    assert not np.array_equal(first[0], other) and not np.array_equal(first[0], first[1])
    pool = dd.doodle_outlines(dd.training_doodles(_lines(700)), 32)
    for img in first[0]:  # every doodle drawn is a training doodle, maybe mirrored
        assert any(np.array_equal(img, p) or np.array_equal(img, p[:, ::-1]) for p in pool)


def test_a_file_too_small_to_spare_training_doodles_is_an_input_error(tmp_path):
    pytest.importorskip("tensorflow")
    path = tmp_path / "cat.npy"
    np.save(path, _lines(40))
    with pytest.raises(InputError, match="no Quick, Draw! doodles left"):
        dd.doodle_batches(path, 32, 2, seed=0)
