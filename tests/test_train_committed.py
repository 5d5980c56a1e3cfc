"""The committed catface-l checkpoint (``training/catface-l``) resumes: its recipe, two more steps, a new checkpoint.

A fresh clone has the run folder but not the prepared AFHQ pairs (they are made from ``../shared/data``), so the
test resumes on synthetic 128×128 pairs and drops the run's data fingerprint in its copy (the fingerprint check
itself is tested in ``test_train_resume.py``). What it proves is what a fresh machine needs: every variable of
the committed generator, discriminator, both Adam states, the step, the RNG and the Dropout seeds loads into the
models the recipe builds, and training continues from the committed step.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from train_fixtures import make_pairs  # noqa: E402

from snapcheck.gan.checkpoints import CheckpointStore  # noqa: E402
from snapcheck.gan.train import TrainConfig, train  # noqa: E402

pytestmark = pytest.mark.slow

COMMITTED = Path(__file__).resolve().parents[1] / "training" / "catface-l"


def test_committed_checkpoint_is_small_and_complete():
    info = json.loads((COMMITTED / "checkpoints" / "latest.json").read_text(encoding="utf-8"))
    folder = COMMITTED / "checkpoints" / Path(info["prefix"]).parent
    size = sum(p.stat().st_size for p in folder.iterdir())
    assert size < 50e6, f"{folder}: {size / 1e6:.1f} MB"
    run = json.loads((COMMITTED / "run.json").read_text(encoding="utf-8"))
    assert run["train"]["config"] == "catface-l" and run["data"]["pairs"]  # the fingerprint a resume checks


def test_committed_checkpoint_resumes_two_steps(tmp_path, monkeypatch):
    from test_data_doodles import _lines

    from snapcheck.data import doodles

    np.save(tmp_path / "cat.npy", _lines(700))  # the run trains on doodles too; any will do here
    monkeypatch.setattr(doodles, "quickdraw_path", lambda: tmp_path / "cat.npy")
    run_dir = tmp_path / "catface-l"
    shutil.copytree(COMMITTED, run_dir, ignore=shutil.ignore_patterns("tb", "samples", "export"))
    run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    del run["data"]  # synthetic pairs below, not the run's
    (run_dir / "run.json").write_text(json.dumps(run), encoding="utf-8")
    data = make_pairs(tmp_path / "pairs", n_train=8, n_val=2, size=128)
    step = int(json.loads((run_dir / "checkpoints" / "latest.json").read_text(encoding="utf-8"))["step"])
    cfg = TrainConfig.from_dict({**run["train"], "data_dir": str(data), "steps": step + 2, "epochs": None,
                                 "checkpoint_every": 1, "log_every": 1, "image_every": 10 ** 6})
    seen = []
    result = train(cfg, run_dir, resume=True, export=False, progress=False,
                   on_step=lambda s, model: seen.append(s))
    assert seen == [step + 1, step + 2]
    assert result.step == step + 2 and int(result.model.step.numpy()) == step + 2
    assert CheckpointStore(run_dir / "checkpoints").latest()[0] == step + 2
    out = result.model.generator(np.zeros((1, 128, 128, 1), np.float32), training=False).numpy()
    assert out.shape == (1, 128, 128, 4) and np.isfinite(out).all()
