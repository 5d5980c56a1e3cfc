"""Quality per byte: training runs at one step budget, each exported, checked and evaluated, as one table.

For every run folder given (``snapcheck train ... --out RUN``): its last checkpoint is exported to an
fp16 .tflite (``snapcheck.gan.export.export_config``), the file's size and MACs are read from the
sidecar, the estimated iPhone 6 rate is the best ``max_hz`` over its backends in ``snapcheck check``'s
estimates (Lens Studio 5.x), and the metrics come from ``snapcheck.gan.evaluate.evaluate`` on the
validation split (with the freehand doodle test). Writes ``OUT/<run>/`` (export, sheets, evaluation)
and prints the markdown table of docs/training.md.

    .venv/bin/python bench/quality_per_byte.py work/data/afhq_canny_128 work/train/catface-s@1500 \\
        work/train/catface-s-nosmooth work/train/catface-m --out work/quality
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def measure(run_dir: Path, data: str, out: Path) -> dict:
    from snapcheck.gan.checkpoints import CheckpointStore, restore_generator
    from snapcheck.gan.evaluate import evaluate, json_safe
    from snapcheck.gan.export import export_model

    run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    step, _ = CheckpointStore(run_dir / "checkpoints").latest()
    gen_cfg, generator = restore_generator(run_dir)
    name = run_dir.name.replace("@", "_at_")
    folder = out / name
    exported = export_model(generator, gen_cfg, folder, formats=("tflite",), fp16=True, gate=False, name=name)
    sidecar = exported.sidecar
    tflite = folder / f"{name}.tflite"
    report = exported.reports[tflite.name]  # the export's own check, against 5.x
    iphone6 = [e for e in report.estimates if e["device"] == "iphone6"]
    result = evaluate(run_dir, data, sheet_dir=folder)
    (folder / "evaluation.json").write_text(json.dumps(json_safe(result), indent=2) + "\n", encoding="utf-8")
    t = run["train"]
    return {
        "run": run_dir.name, "config": gen_cfg.name, "label_smoothing": t["label_smoothing"], "steps": step,
        "batch": t["batch_size"], "params": sidecar["deployed_params"], "tflite_bytes": sidecar["file_bytes"][tflite.name],
        "macs": sidecar["macs"], "iphone6_hz": max((e["max_hz"] for e in iphone6), default=None),
        "iphone6_fps": max((e["fps"] for e in iphone6), default=None), "passed_5x": report.passed,
        **result["metrics"], "freehand_edge_f1": result["freehand"]["edge_f1"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data")
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    rows = [measure(r, args.data, args.out) for r in args.runs]
    (args.out / "quality_per_byte.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    print("| run | config | label smoothing | steps × batch | deployed params | fp16 .tflite bytes | MACs | "
          "est. iPhone 6 Hz (FPS) | L1 ↓ | PSNR dB ↑ | SSIM ↑ | alpha IoU ↑ | VGG KID-style ↓ | edge F1 ↑ | "
          "freehand edge F1 ↑ |")
    print("| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| `{r['run']}` | {r['config']} | {'on' if r['label_smoothing'] else 'off'} | {r['steps']} × {r['batch']} | "
              f"{r['params']:,} | {r['tflite_bytes']:,} | {r['macs'] / 1e6:.1f} M | {r['iphone6_hz']:.1f} "
              f"({r['iphone6_fps']:.1f}) | {r['l1']:.4f} | {r['psnr_db']:.2f} | {r['ssim']:.3f} | {r['alpha_iou']:.3f} | "
              f"{r['vgg_kid']:.1f} | {r['edge_f1']:.3f} | {r['freehand_edge_f1']:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
