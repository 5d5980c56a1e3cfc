"""The settings of a training run (``TrainConfig``, saved as ``run.json``) and its learning-rate schedule.

No TensorFlow here: the CLI validates options, and ``--resume`` compares them with the saved run, before
anything heavy is imported.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from snapcheck.errors import InputError

LOSSES = ("bce", "wgan-gp")


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved as ``run.json``; ``--resume`` reads it back)."""

    data_dir: str
    config: str = "catface-s"
    size: int = 128
    batch_size: int = 8
    steps: int | None = None
    epochs: float | None = None
    loss: str = "bce"
    l1_lambda: float = 100.0
    feature_matching: float = 0.0
    perceptual: float = 0.0
    perceptual_blocks: int = 3
    discriminator_scales: int = 1
    spectral_norm: bool = False
    freehand: float = 0.0
    stroke: float = 0.0
    doodles: int = 0
    doodle_colour: float = 0.0
    label_smoothing: bool = True
    instance_noise: float = 0.0
    noise_epochs: float = 5.0
    learning_rate: float = 2e-4
    lr_decay_from: int | None = None
    beta_1: float = 0.5
    checkpoint_every: int = 250
    log_every: int = 25
    image_every: int = 500
    seed: int = 0
    augment: bool = True
    xla: bool = False
    fast_kernels: bool = True
    ls_versions: tuple[str, ...] = ("5.x",)

    def __post_init__(self) -> None:
        problems = []
        if self.loss not in LOSSES:
            problems.append(f"--loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        if self.size % 8:
            problems.append(f"--size must be a multiple of 8, got {self.size}")
        if self.batch_size < 1:
            problems.append(f"--batch-size must be >= 1, got {self.batch_size}")
        if (self.steps is None) == (self.epochs is None):
            problems.append("give exactly one of --steps N or --epochs N")
        if self.steps is not None and self.steps < 1 or self.epochs is not None and self.epochs <= 0:
            problems.append("--steps / --epochs must be positive")
        if min(self.checkpoint_every, self.log_every, self.image_every) < 1:
            problems.append("--checkpoint-every, --log-every and --image-every must be >= 1")
        if self.instance_noise < 0:
            problems.append(f"--instance-noise must be >= 0, got {self.instance_noise}")
        if min(self.feature_matching, self.perceptual) < 0:
            problems.append("--feature-matching and --perceptual must be >= 0")
        if not 1 <= self.perceptual_blocks <= 5:
            problems.append(f"--perceptual-blocks must be 1-5 (VGG blocks), got {self.perceptual_blocks}")
        coarsest = self.size // 2 ** (self.discriminator_scales - 1)
        if not 1 <= self.discriminator_scales <= 3 or coarsest < 24 or coarsest % 8:
            problems.append(f"--discriminator-scales must be 1-3, each scale's side (--size halved per scale) a "
                            f"multiple of 8 and at least 24 (the PatchGAN's minimum); got {self.discriminator_scales} "
                            f"at {self.size}")
        if self.stroke < 0 or self.doodles < 0 or self.doodle_colour < 0:
            problems.append("--stroke-loss, --doodles and --doodle-colour must be >= 0")
        if self.doodle_colour and not self.doodles:
            problems.append("--doodle-colour needs --doodles N (it scores the doodle branch's outputs)")
        if self.doodles and not self.stroke:
            problems.append("--doodles needs --stroke-loss > 0 (the doodle branch has no target; the stroke loss is its signal)")
        if not 0.0 <= self.freehand <= 1.0:
            problems.append(f"--freehand must be a share in [0, 1], got {self.freehand}")
        if self.lr_decay_from is not None and self.lr_decay_from < 0:
            problems.append(f"--lr-decay-from must be >= 0, got {self.lr_decay_from}")
        if problems:
            raise InputError(None, "; ".join(problems))
        self.ls_versions = tuple(self.ls_versions)

    def total_steps(self, steps_per_epoch: int) -> int:
        return self.steps if self.steps is not None else math.ceil(self.epochs * steps_per_epoch)

    def learning_rate_at(self, step: int, total: int) -> float:
        """The learning rate for the update that takes the run from ``step`` to ``step + 1``."""
        return learning_rate_at(step, self.learning_rate, self.lr_decay_from, total)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


# Fields that --resume may change; every other field must match the run being resumed.
# (``lr_decay_from`` may be added to a constant-LR run to continue it with a decay; ``perceptual`` may be
# changed to continue a run with another VGG weight, e.g. 0 to buy more steps per hour: the VGG is not in
# the checkpoint, so what is restored does not change; ``fast_kernels`` changes the speed, not the maths;
# ``stroke``, ``doodles`` and ``doodle_colour`` add loss terms and inputs, not weights, so a trained run may be
# fine-tuned with them.)
RESUMABLE_FIELDS = frozenset({"steps", "epochs", "checkpoint_every", "log_every", "image_every", "data_dir",
                              "ls_versions", "lr_decay_from", "perceptual", "fast_kernels", "stroke", "doodles",
                              "doodle_colour"})


def learning_rate_at(step: int, base: float, decay_from: int | None, total: int) -> float:
    """Pix2pix-style schedule: ``base`` until ``decay_from``, then linear to 0 at ``total``.

    A pure function of the global step (the one the checkpoint stores), so a killed and resumed run
    follows exactly the same schedule. The update at ``step`` (0-based) uses this rate; the last
    update (``step = total - 1``) uses ``base / (total - decay_from)``, never exactly 0.
    """
    if decay_from is None or step < decay_from:
        return base
    if total <= decay_from:
        return 0.0
    return base * max(0.0, (total - step) / (total - decay_from))
