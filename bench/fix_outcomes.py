"""What `snapcheck fix` does to real models: every .onnx of ../shared/corpus that onnxruntime runs, and a
torchvision-style MobileNetV2 and a U-Net exported by the standard PyTorch exporter (opset 11, static shapes;
bench/fix_models.py, needs torch).

With --zoo, also 30 more PyTorch exports (bench/fix_models.py --zoo: six architectures, opsets 11/13/17, dynamic
dims frozen with --input-shape, the dynamo exporter), as is only.

Per model, once as is and once with --fp16: the rewrites applied, error-level findings before -> after and the share
resolved, the proof (max abs difference against the original; fp16: PSNR), and the findings left, split into those
a rewrite of rules/fixes.toml resolves (must be none) and those with no mechanical fix. The baseline is the input
model's own check, in the same run.

    .venv/bin/python bench/fix_outcomes.py [--out out/bench/fix_outcomes.json] [--models DIR] [--zoo]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"


def models(folder: Path) -> list[Path]:
    found = sorted(CORPUS.glob("*.onnx"))
    try:
        sys.path.insert(0, str(ROOT / "bench"))
        from fix_models import build

        found += list(build(folder, base=16, size=256).values())
    except ModuleNotFoundError as exc:
        print(f"PyTorch models left out ({exc.name} not installed)", file=sys.stderr)
    return found


def outcome(path: Path, out: Path, fp16: bool, shapes: dict | None = None) -> dict:
    from snapcheck.errors import InputError
    from snapcheck.fix import fix_model

    try:
        r = fix_model(path, out, fp16=fp16, input_shapes=shapes)
    except InputError as exc:
        return {"model": path.name, "fp16": fp16, "skipped": exc.problem}
    mechanical, manual = r.remaining()
    before, after = r.error_counts()
    return {
        "model": path.name, "fp16": fp16, "rewrites": [a.rewrite.id for a in r.applied], "errors_before": before,
        "errors_after": after, "resolved_share": r.resolved_share, "max_abs": r.exact.max_abs, "proof_ok": r.exact.ok,
        "fp16_psnr_db": None if r.fp16 is None else r.fp16.psnr_db, "written": r.written, "refused": r.refused,
        "left_mechanical": sorted({f.code for f in mechanical}), "left_manual": sorted({f.code for f in manual}),
        "seconds": round(r.seconds, 2),
    }


def _fmt(row: dict) -> str:
    if "skipped" in row:
        return f"| {row['model']} | {'yes' if row['fp16'] else 'no'} | not run: {row['skipped'][:90]} | | | | | | no |"
    share = "-" if row["resolved_share"] is None else f"{row['resolved_share']:.0%}"
    psnr = "" if row["fp16_psnr_db"] is None else (f"{row['fp16_psnr_db']:.1f} dB" if math.isfinite(
        row["fp16_psnr_db"]) else "identical")
    return (f"| {row['model']} | {'yes' if row['fp16'] else 'no'} | {', '.join(row['rewrites']) or '-'} | "
            f"{row['errors_before']} -> {row['errors_after']} ({share}) | {row['max_abs']:.1e}"
            f"{'' if row['proof_ok'] else ' FAILED'} | {psnr} | {', '.join(row['left_mechanical']) or 'none'} | "
            f"{', '.join(row['left_manual']) or 'none'} | {'refused: ' + row['refused'][:80] if row['refused'] else 'yes'} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "bench" / "fix_outcomes.json")
    ap.add_argument("--models", type=Path, default=ROOT / "out" / "bench" / "fix_models")
    ap.add_argument("--zoo", action="store_true")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in models(args.models):
            for fp16 in (False, True):
                rows.append(outcome(path, Path(tmp) / f"{path.stem}.{int(fp16)}.onnx", fp16))
                print(_fmt(rows[-1]), flush=True)
        if args.zoo:
            from fix_models import build_zoo

            for path in build_zoo(args.models / "zoo").values():
                shapes = {"input": [1, 3, 64, 64]} if path.stem.endswith("_dynamic") else None
                rows.append(outcome(path, Path(tmp) / f"{path.stem}.onnx", False, shapes))
                print(_fmt(rows[-1]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2, default=str))
    print("| model | --fp16 | rewrites | errors before -> after (resolved) | max abs vs original | fp16 PSNR | "
          "left with a mechanical fix | left with none | written |")


if __name__ == "__main__":
    main()
