"""Quality per byte and per MAC: training runs (and shipped models) measured the same way, in one run, as one table.

For every run folder given (``snapcheck train ... --out RUN``): its last checkpoint is exported to an fp16
.tflite (``snapcheck.gan.export.export_model``); for a ``.tflite`` given instead (a shipped model) that file
is used as it is. Parameters and MACs come from the export sidecar, the estimated iPhone 6 rate from
``snapcheck check`` (the best ``max_hz`` over its backends, Lens Studio 5.x), the metrics from
``snapcheck.gan.evaluate.evaluate`` on the validation split with the freehand doodle test, and the training
time from the run's ``latest.json`` (wall time over all resumes, pauses by other jobs included) and its
TensorBoard log (``active_minutes``: the steps at the run's median speed). Each row
also gets a small sample sheet, ``OUT/sheets/<row>.jpg`` (8 validation outlines, then 8 doodles, evenly
spaced, not picked: each input above its output). Writes ``OUT/<row>/`` (export, sheets, evaluation.json,
row.json), ``OUT/quality_per_byte.json`` and prints the markdown table of docs/training.md. A row already
measured for the run's current checkpoint is read back from its ``row.json``, so the command can be re-run
as runs finish.

    .venv/bin/python bench/quality_per_byte.py work/data/afhq_canny_128 models/catface-s/catface-s.tflite \\
        work/ablation/A0-baseline work/ablation/A1-freehand --out work/quality
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SHEET_CELLS = 8


def settings(train: dict) -> str:
    """The run's loss and data settings that differ from plain pix2pix, in words."""
    parts = ["BCE" if train["loss"] == "bce" else train["loss"], f"{train['l1_lambda']:g}·L1"]
    if train["label_smoothing"]:
        parts.append("LS")
    if train.get("freehand"):
        parts.append(f"freehand {train['freehand']:g}")
    if train.get("feature_matching"):
        parts.append(f"{train['feature_matching']:g}·FM")
    if train.get("perceptual"):
        parts.append(f"{train['perceptual']:g}·VGG{train['perceptual_blocks']}")
    if train.get("stroke"):
        parts.append(f"{train['stroke']:g}·stroke")
    if train.get("doodles"):
        parts.append(f"{train['doodles']} doodles/step")
    if train.get("doodle_colour"):
        parts.append(f"{train['doodle_colour']:g}·doodle colour")
    if train.get("discriminator_scales", 1) > 1:
        parts.append(f"{train['discriminator_scales']}-scale D")
    if train.get("spectral_norm"):
        parts.append("SN-D")
    if train.get("lr_decay_from") is not None:
        parts.append(f"LR decay from {train['lr_decay_from']:,}")
    return ", ".join(parts)


def active_minutes(run_dir: Path) -> float | None:
    """Training minutes at the run's median speed: steps / the median steps per second between its logged
    intervals (TensorBoard ``g_loss`` wall times). Unlike the wall time, this leaves out the time the run was
    paused (``bench/quiet.sh`` stops it while other jobs time things) or slowed by a busy machine."""
    import numpy as np
    import tensorflow as tf

    points = []
    for events in sorted((run_dir / "tb").glob("events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(str(events)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            if any(v.tag == "g_loss" for v in event.summary.value):
                points.append((event.step, event.wall_time))
    points = np.array(sorted(points))
    if len(points) < 3:
        return None
    steps, seconds = np.diff(points[:, 0]), np.diff(points[:, 1])
    ok = (steps > 0) & (seconds > 0)
    return float(points[-1, 0] / np.median(steps[ok] / seconds[ok]) / 60)


def row_sheet(path: Path, model: Path, data: str) -> None:
    """A compact JPEG sheet: 8 validation outlines and 8 doodles (evenly spaced), each input above its output."""
    import cv2
    import numpy as np

    from snapcheck.gan import evaluate as ev
    from snapcheck.gan.preview import checkerboard, composite, to_unit

    predictor = ev.load_predictor(model)
    outlines, _ = ev.load_split(data, "val", predictor.size)
    val = outlines[ev.evenly_spaced(len(outlines), SHEET_CELLS)]
    doodles = ev.load_doodles()
    free = ev.doodle_outlines(doodles[ev.evenly_spaced(len(doodles), SHEET_CELLS)], predictor.size)
    board = checkerboard(predictor.size)
    strips = []
    for inputs in (val, free):  # one strip of validation outlines, one of doodles
        outputs = predictor(inputs)
        strips.append(np.concatenate([np.concatenate([np.repeat(to_unit(x), 3, -1), composite(to_unit(y), board)], 0)
                                      for x, y in zip(inputs, outputs)], axis=1))
    sheet = (np.concatenate(strips, axis=0) * 255 + 0.5).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])
    tmp = path.with_suffix(".tmp.jpg")
    tmp.write_bytes(buf.tobytes())
    tmp.replace(path)


def measure(source: Path, data: str, out: Path) -> dict:
    from snapcheck.api import check_file
    from snapcheck.gan.checkpoints import CheckpointStore, restore_generator
    from snapcheck.gan.evaluate import evaluate, json_safe
    from snapcheck.gan.export import export_model

    name = source.stem if source.suffix == ".tflite" else source.name
    folder = out / name
    row = {"row": name}
    if source.suffix == ".tflite":
        tflite = source
        sidecar = json.loads(source.with_suffix(".json").read_text(encoding="utf-8"))
        row.update(config=sidecar["config"]["name"], steps=None, batch=None, train_minutes=None, active_minutes=None,
                   settings="shipped",
                   params=sidecar["deployed_params"], macs=sidecar["macs"])
    else:
        run = json.loads((source / "run.json").read_text(encoding="utf-8"))
        info = CheckpointStore(source / "checkpoints").info()
        gen_cfg, generator = restore_generator(source)
        exported = export_model(generator, gen_cfg, folder, formats=("tflite",), fp16=True, gate=False, name=name)
        sidecar = exported.sidecar
        tflite = folder / f"{name}.tflite"
        t = run["train"]
        row.update(config=t["config"], steps=int(info["step"]), batch=t["batch_size"],
                   train_minutes=float(info.get("train_seconds", 0)) / 60, active_minutes=active_minutes(source),
                   settings=settings(t),
                   params=sidecar["deployed_params"], macs=sidecar["macs"])
    # a run's export was checked against 5.x by the export itself; a shipped file is checked here
    report = check_file(tflite, ls_version="5.x") if source.suffix == ".tflite" else exported.reports[tflite.name]
    iphone6 = [e for e in report.estimates if e["device"] == "iphone6"]
    result = evaluate(tflite, data, sheet_dir=folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "evaluation.json").write_text(json.dumps(json_safe(result), indent=2) + "\n", encoding="utf-8")
    row_sheet(out / "sheets" / f"{name}.jpg", tflite, data)
    row.update(
        tflite_bytes=tflite.stat().st_size, iphone6_hz=max((e["max_hz"] for e in iphone6), default=None),
        iphone6_fps=max((e["fps"] for e in iphone6), default=None), passed_5x=report.passed,
        **result["metrics"], freehand_edge_f1=result["freehand"]["edge_f1"],
        freehand_alpha=result["freehand"]["alpha_coverage"],
    )
    (folder / "row.json").write_text(json.dumps(row, indent=2) + "\n", encoding="utf-8")
    return row


def cached(source: Path, out: Path) -> dict | None:
    """The row measured before (``OUT/<row>/row.json``) if the run has no newer checkpoint since."""
    from snapcheck.gan.checkpoints import CheckpointStore

    name = source.stem if source.suffix == ".tflite" else source.name
    saved = out / name / "row.json"
    if not saved.is_file():
        return None
    row = json.loads(saved.read_text(encoding="utf-8"))
    if source.suffix != ".tflite" and row["steps"] != int(CheckpointStore(source / "checkpoints").info()["step"]):
        return None
    if "active_minutes" not in row:
        row["active_minutes"] = None if source.suffix == ".tflite" else active_minutes(source)
    return row


def _num(v, fmt: str) -> str:
    return "–" if v is None else format(v, fmt)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data")
    parser.add_argument("models", nargs="+", type=Path, help="run folders and/or shipped .tflite files")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = [cached(m, args.out) or measure(m, args.data, args.out) for m in args.models]
    (args.out / "quality_per_byte.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    print("| row | config | settings | steps × batch | train min (wall / active) | fp16 .tflite bytes | MACs | est. iPhone 6 Hz "
          "| L1 ↓ | PSNR dB ↑ | SSIM ↑ | alpha IoU ↑ | VGG KID-style ↓ | edge F1 ↑ | freehand edge F1 ↑ | sheet |")
    print("| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        steps = "–" if r["steps"] is None else f"{r['steps']:,} × {r['batch']}"
        minutes = "–" if r["train_minutes"] is None else f"{r['train_minutes']:.0f} / {_num(r.get('active_minutes'), '.0f')}"
        print(f"| `{r['row']}` | {r['config']} | {r['settings']} | {steps} | {minutes} | "
              f"{r['tflite_bytes']:,} | {r['macs'] / 1e6:.0f} M | {_num(r['iphone6_hz'], '.1f')} | "
              f"{r['l1']:.4f} | {r['psnr_db']:.2f} | {r['ssim']:.3f} | {r['alpha_iou']:.3f} | {r['vgg_kid']:.1f} | "
              f"{r['edge_f1']:.3f} | {r['freehand_edge_f1']:.3f} | [sheet](img/ablation/{r['row']}.jpg) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
