"""Speed of `snapcheck fix` and `snapcheck check --numerics`, whole processes, against same-run baselines.

- `snapcheck fix` on a 25.5 MB U-Net (bench/fix_models.py --base 29, 256x256, opset 11), against onnxslim alone
  simplifying the same file (`python -m onnxslim IN OUT`, the library fix uses for folding);
- `snapcheck check --numerics` on the small shipped generator (models/catface-s, .tflite and .onnx), against the plain
  `snapcheck check` of the same file; its fp16 PSNR is read from the JSON report.

Each command runs --reps times in interleaved rounds; the median wall time is reported. Run it through
bench/quiet.sh on the shared machine.

    bench/quiet.sh .venv/bin/python bench/fix_speed.py [--reps 5] [--out out/bench/fix_speed.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
SNAPCHECK = [str(Path(PY).with_name("snapcheck"))] if Path(PY).with_name("snapcheck").is_file() else [PY, "-m",
                                                                                                       "snapcheck"]
GENERATOR = sorted((ROOT / "models" / "catface-s").glob("catface-*.tflite"))[:1] + \
    sorted((ROOT / "models" / "catface-s").glob("catface-*.onnx"))[:1]


def timed(cmd: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return time.perf_counter() - t0, p


def median_of(cmds: dict[str, list[str]], reps: int) -> dict[str, float]:
    times: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(reps):
        for name, cmd in cmds.items():
            seconds, p = timed(cmd)
            if p.returncode not in (0, 1):
                raise SystemExit(f"{name} failed ({p.returncode}): {p.stderr[-400:]}")
            times[name].append(seconds)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "bench" / "fix_speed.json")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "bench"))
    from fix_models import build

    result: dict = {"load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        unet = build(Path(tmp), base=29, size=256)["unet_29"]
        result["unet_bytes"] = unet.stat().st_size
        fix = SNAPCHECK + ["fix", str(unet), "-o", f"{tmp}/fixed.onnx"]
        slim = [PY, "-m", "onnxslim", str(unet), f"{tmp}/slim.onnx"]
        result["fix"] = median_of({"snapcheck fix": fix, "onnxslim": slim}, args.reps)
        for model in GENERATOR:
            plain = SNAPCHECK + ["check", str(model), "--no-estimates"]
            numerics = plain + ["--numerics"]
            times = median_of({"check": plain, "check --numerics": numerics}, args.reps)
            _, p = timed(numerics + ["--format", "json"])
            runs = json.loads(p.stdout)["numerics"]["runs"]
            psnr = min(o["gpu"]["psnr_db"] for r in runs for o in r["outputs"])
            result[model.name] = {**times, "gpu_psnr_db": psnr}
    result["load_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    f = result["fix"]
    print(f"fix on a {result['unet_bytes'] / 1e6:.1f} MB U-Net: {f['snapcheck fix']:.2f} s; onnxslim alone "
          f"{f['onnxslim']:.2f} s ({f['snapcheck fix'] / f['onnxslim']:.2f}x)")
    for model in GENERATOR:
        r = result[model.name]
        print(f"check --numerics {model.name}: {r['check --numerics']:.2f} s; plain check {r['check']:.2f} s "
              f"({r['check --numerics'] / r['check']:.2f}x); GPU-path PSNR {r['gpu_psnr_db']:.1f} dB")
    print(f"load average before {result['load_before']}, after {result['load_after']}")


if __name__ == "__main__":
    main()
