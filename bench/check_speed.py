"""Check speed: `snapcheck check` against TFLite's Analyzer and ONNX Runtime's usability checker.

Every tool is timed as a whole process (interpreter start, imports, reading, checking, printing), several
times in interleaved rounds, and the median is reported. The models are a Keras MobileNetV2 (random weights,
about 10 MB of float32 weights) exported to .tflite and to .onnx, and the shipped fp16 generator
(models/catface-s/catface-s.onnx, ``--shipped``); pass --tflite/--onnx to time other files.

snapcheck runs as its installed console script with its bytecode compiled first, as `pip install` leaves a
package (an editable install under PYTHONDONTWRITEBYTECODE=1 would otherwise recompile it on every run). Three
floors are timed beside the tools: `python -c pass`; `cli_floor` (import typer and rich, the CLI stack the project
prescribes); and `onnx_floor` (import onnx, load the file, run ONNX shape inference), which is what the ORT
usability checker does before its own checks; no checker built on the `onnx` package can run faster than that.

    .venv/bin/python bench/check_speed.py [--reps 7] [--out out/bench/check_speed.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
_SCRIPT = Path(PY).with_name("snapcheck")
SNAPCHECK = [str(_SCRIPT), "check"] if _SCRIPT.is_file() else [PY, "-m", "snapcheck", "check"]
ONNX_FLOOR = ("import sys, onnx; from onnx import shape_inference; "
              "shape_inference.infer_shapes(onnx.load(sys.argv[1]))")


def build_models(folder: Path) -> tuple[Path, Path]:
    """MobileNetV2 (alpha 1.0, 224x224, 250 classes, random weights): about 10 MB as float32 .tflite and .onnx."""
    tfl, onx = folder / "mobilenetv2_10mb.tflite", folder / "mobilenetv2_10mb.onnx"
    if tfl.exists() and onx.exists():
        return tfl, onx
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf
    import tf2onnx

    from snapcheck.tfconvert import keras_tflite

    folder.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(0)
    inp = keras.Input((224, 224, 3), batch_size=1)
    model = keras.applications.MobileNetV2(input_tensor=inp, alpha=1.0, weights=None, classes=250)
    tfl.write_bytes(keras_tflite(model))
    spec = [tf.TensorSpec((1, 224, 224, 3), tf.float32, name="input")]
    tf2onnx.convert.from_keras(model, input_signature=spec, opset=13, output_path=str(onx))
    return tfl, onx


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _run(cmd: list[str], env: dict) -> tuple[float, float]:
    c0, t0 = _children_cpu(), time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
    wall, cpu = time.perf_counter() - t0, _children_cpu() - c0
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}")
    return wall, cpu


def time_processes(cmds: dict[str, list[str]], reps: int) -> dict[str, dict]:
    """Wall and CPU (user + system) seconds of each command: one untimed warm-up each, then ``reps`` rounds
    that run every command once, so that a change in the machine's load hits all of them alike.

    CPU time is reported beside wall time because the machine is shared: when other jobs load both cores,
    wall time stretches while CPU time stays what the tool itself costs.
    """
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    for cmd in cmds.values():
        _run(cmd, env)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in cmds}
    for _ in range(reps):
        for name, cmd in cmds.items():
            times[name].append(_run(cmd, env))
    out = {}
    for name, cmd in cmds.items():
        wall, cpu = [w for w, _ in times[name]], [c for _, c in times[name]]
        out[name] = {"median_s": statistics.median(wall), "min_s": min(wall), "max_s": max(wall),
                     "median_cpu_s": statistics.median(cpu), "reps": reps,
                     "cmd": " ".join(Path(c).name if c in (PY, str(_SCRIPT)) else c for c in cmd)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tflite", type=Path)
    ap.add_argument("--onnx", type=Path)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--models", type=Path, default=ROOT / "out" / "bench")
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "bench" / "check_speed.json")
    ap.add_argument("--shipped", type=Path, default=ROOT / "models" / "catface-s" / "catface-s.onnx")
    args = ap.parse_args()
    tfl, onx = (args.tflite, args.onnx) if args.tflite and args.onnx else build_models(args.models)
    analyzer = [PY, "-c", "import sys, tensorflow as tf; tf.lite.experimental.Analyzer.analyze(model_path=sys.argv[1])",
                str(tfl)]
    ort = [PY, "-m", "onnxruntime.tools.check_onnx_model_mobile_usability", str(onx)]
    subprocess.run([PY, "-m", "compileall", "-q", str(ROOT / "snapcheck")], check=True, stdout=subprocess.DEVNULL)
    runs = time_processes({
        "snapcheck_tflite": SNAPCHECK + [str(tfl), "--ls-version", "5.x"],
        "tflite_analyzer": analyzer,
        "snapcheck_onnx": SNAPCHECK + [str(onx), "--ls-version", "5.x"],
        "ort_usability_checker": ort,
        "snapcheck_shipped_onnx": SNAPCHECK + [str(args.shipped), "--ls-version", "5.x"],
        "ort_checker_shipped_onnx": [PY, "-m", "onnxruntime.tools.check_onnx_model_mobile_usability",
                                     str(args.shipped)],
        "onnx_floor": [PY, "-c", ONNX_FLOOR, str(onx)],
        "python_start": [PY, "-c", "pass"],
        "cli_floor": [PY, "-c", "import typer, rich.console, rich.table"],
    }, args.reps)
    result = {
        "tflite_file_bytes": tfl.stat().st_size, "onnx_file_bytes": onx.stat().st_size,
        "cpu_count": os.cpu_count(), "load_avg_1min": os.getloadavg()[0], "runs": runs,
        "tflite_speedup_vs_analyzer": runs["tflite_analyzer"]["median_s"] / runs["snapcheck_tflite"]["median_s"],
        "onnx_speedup_vs_ort_checker": runs["ort_usability_checker"]["median_s"] / runs["snapcheck_onnx"]["median_s"],
        "tflite_cpu_speedup_vs_analyzer":
            runs["tflite_analyzer"]["median_cpu_s"] / runs["snapcheck_tflite"]["median_cpu_s"],
        "onnx_cpu_speedup_vs_ort_checker":
            runs["ort_usability_checker"]["median_cpu_s"] / runs["snapcheck_onnx"]["median_cpu_s"],
        "ort_checker_over_onnx_floor": runs["ort_usability_checker"]["median_s"] / runs["onnx_floor"]["median_s"],
        "shipped_onnx_speedup_vs_ort_checker":
            runs["ort_checker_shipped_onnx"]["median_s"] / runs["snapcheck_shipped_onnx"]["median_s"],
        "shipped_onnx_cpu_speedup_vs_ort_checker":
            runs["ort_checker_shipped_onnx"]["median_cpu_s"] / runs["snapcheck_shipped_onnx"]["median_cpu_s"],
        "targets": {"snapcheck_tflite_s": 0.5, "tflite_speedup": 10, "snapcheck_shipped_onnx_s": 0.35,
                    "shipped_onnx_speedup": 3},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for name, r in runs.items():
        print(f"{name:24s} wall median {r['median_s']:.3f} s (min {r['min_s']:.3f}, max {r['max_s']:.3f}, "
              f"n={r['reps']}); CPU median {r['median_cpu_s']:.3f} s")
    print(f"tflite: {result['tflite_file_bytes']:,} bytes; snapcheck vs TFLite Analyzer: "
          f"{result['tflite_speedup_vs_analyzer']:.1f}x (wall), {result['tflite_cpu_speedup_vs_analyzer']:.1f}x (CPU); "
          f"target >= 10x and <= 0.5 s")
    print(f"onnx:   {result['onnx_file_bytes']:,} bytes; snapcheck vs ONNX Runtime usability checker: "
          f"{result['onnx_speedup_vs_ort_checker']:.1f}x (wall), {result['onnx_cpu_speedup_vs_ort_checker']:.1f}x (CPU); "
          f"(no target on this file)")
    print(f"shipped onnx ({args.shipped.name}): snapcheck {runs['snapcheck_shipped_onnx']['median_s']:.3f} s vs ORT "
          f"usability checker: {result['shipped_onnx_speedup_vs_ort_checker']:.1f}x (wall), "
          f"{result['shipped_onnx_cpu_speedup_vs_ort_checker']:.1f}x (CPU); target <= 0.35 s and >= 3x")
    print(f"cli floor (python + typer + rich imports): {runs['cli_floor']['median_s']:.3f} s = "
          f"{runs['ort_usability_checker']['median_s'] / runs['cli_floor']['median_s']:.1f}x under the ORT checker")
    print(f"onnx floor (import onnx + load + shape inference): {runs['onnx_floor']['median_s']:.3f} s; the ORT "
          f"checker takes {result['ort_checker_over_onnx_floor']:.2f}x that floor, the most any onnx-based tool can gain")
    print(f"load average during the run: {result['load_avg_1min']:.2f} on {result['cpu_count']} CPUs; wrote {args.out}")


if __name__ == "__main__":
    main()
