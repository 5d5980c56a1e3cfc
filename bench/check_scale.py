"""Check time and memory on large models: a 189 MB single-file .onnx, a 944 MB external-data .onnx, a 189 MB .tflite.

Each model is a chain of 3x3 convolutions of 1024 -> 1024 channels on a 14x14 input (random float32 weights,
37.7 MB per layer): 5 layers make 189 MB, 25 make 944 MB. Every command runs as a whole process; wall time and
max RSS come from GNU time (median of ``--reps`` runs). Baselines in the same run: ONNX Runtime's mobile
usability checker on the .onnx files, TFLite's Analyzer on the .tflite, and `python -c pass`.

Targets: 189 MB .onnx <= 3 s and <= 500 MB max RSS; 944 MB external-data .onnx <= 3 s and <= 300 MB;
189 MB .tflite <= 3 s and <= 500 MB.

    .venv/bin/python bench/check_scale.py [--reps 3] [--models out/bench/scale] [--out out/bench/check_scale.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

from process_stats import run_process

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
_SCRIPT = Path(PY).with_name("snapcheck")
SNAPCHECK = [str(_SCRIPT), "check"] if _SCRIPT.is_file() else [PY, "-m", "snapcheck", "check"]
CHANNELS, SIZE = 1024, 14


def _weights(layers: int):
    rng = np.random.default_rng(0)
    for _ in range(layers):
        yield (rng.standard_normal((CHANNELS, CHANNELS, 3, 3), dtype=np.float32) * 0.02).astype(np.float32)


def build_onnx(path: Path, layers: int, external: bool) -> Path:
    if path.exists():
        return path
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    path.parent.mkdir(parents=True, exist_ok=True)
    inits, nodes = [], []
    for k, w in enumerate(_weights(layers)):
        inits.append(numpy_helper.from_array(w, f"w{k}"))
        x = "x" if k == 0 else f"a{k - 1}"
        nodes.append(helper.make_node("Conv", [x, f"w{k}"], [f"c{k}"], pads=[1, 1, 1, 1], kernel_shape=[3, 3]))
        nodes.append(helper.make_node("Relu", [f"c{k}"], ["y" if k == layers - 1 else f"a{k}"]))
    shape = [1, CHANNELS, SIZE, SIZE]
    graph = helper.make_graph(nodes, "scale", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    if external:
        onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=path.name + ".data", size_threshold=1024)
    else:
        path.write_bytes(model.SerializeToString())
    return path


def build_tflite(path: Path, layers: int) -> Path:
    if path.exists():
        return path
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    from snapcheck.tfconvert import keras_tflite

    path.parent.mkdir(parents=True, exist_ok=True)
    x = inp = keras.Input((SIZE, SIZE, CHANNELS), batch_size=1)
    for w in _weights(layers):
        conv = keras.layers.Conv2D(CHANNELS, 3, padding="same", use_bias=False, activation="relu")
        x = conv(x)
        conv.set_weights([w.transpose(2, 3, 1, 0)])
    path.write_bytes(keras_tflite(keras.Model(inp, x)))
    return path


def measure(cmd: list[str], reps: int) -> dict:
    """Median wall seconds and max RSS (MiB) of ``reps`` runs, and the exit code of the last."""
    runs = [run_process(cmd, ROOT, timeout=600) for _ in range(reps)]
    for r in runs:
        if r["rc"] not in (0, 1):
            raise SystemExit(f"{' '.join(cmd)} exited {r['rc']}: {r['stderr'][-300:]}")
    walls = [r["wall_s"] for r in runs]
    return {"median_s": round(statistics.median(walls), 3), "min_s": round(min(walls), 3),
            "median_cpu_s": round(statistics.median(r["cpu_s"] for r in runs), 3),
            "max_rss_mb": round(max(r["rss_mb"] for r in runs), 1), "rc": runs[-1]["rc"], "reps": reps,
            "cmd": " ".join(Path(c).name if c in (PY, str(_SCRIPT)) else c for c in cmd)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--models", type=Path, default=ROOT / "out" / "bench" / "scale")
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "bench" / "check_scale.json")
    args = ap.parse_args()
    files = {
        "onnx_189mb": build_onnx(args.models / "conv5_189mb.onnx", 5, external=False),
        "onnx_944mb_external": build_onnx(args.models / "conv25_944mb_external.onnx", 25, external=True),
        "tflite_189mb": build_tflite(args.models / "conv5_189mb.tflite", 5),
    }
    targets = {"onnx_189mb": (3.0, 500.0), "onnx_944mb_external": (3.0, 300.0), "tflite_189mb": (3.0, 500.0)}
    subprocess.run([PY, "-m", "compileall", "-q", str(ROOT / "snapcheck")], check=True, stdout=subprocess.DEVNULL)
    result: dict = {"cpu_count": os.cpu_count(), "load_avg_1min": os.getloadavg()[0],
                    "python_start": measure([PY, "-c", "pass"], args.reps), "models": {}}
    for name, path in files.items():
        size = path.stat().st_size + sum(p.stat().st_size for p in path.parent.glob(path.name + ".data"))
        row = {"file": path.name, "bytes": size,
               "snapcheck": measure([*SNAPCHECK, str(path), "--ls-version", "5.x"], args.reps)}
        if name.startswith("onnx"):
            baseline = [PY, "-m", "onnxruntime.tools.check_onnx_model_mobile_usability", str(path)]
            row["baseline_name"] = "ORT mobile usability checker"
        else:
            baseline = [PY, "-c", "import sys, tensorflow as tf; tf.lite.experimental.Analyzer.analyze("
                                  "model_path=sys.argv[1])", str(path)]
            row["baseline_name"] = "TFLite Analyzer"
        row["baseline"] = measure(baseline, args.reps)
        s, b = row["snapcheck"], row["baseline"]
        row["speedup"] = round(b["median_s"] / s["median_s"], 2)
        row["rss_ratio"] = round(s["max_rss_mb"] / b["max_rss_mb"], 2)
        wall_t, rss_t = targets[name]
        row["target"] = {"s": wall_t, "rss_mb": rss_t}
        row["met"] = s["median_s"] <= wall_t and s["max_rss_mb"] <= rss_t
        result["models"][name] = row
        print(f"{name:22s} {size / 1e6:7.1f} MB: snapcheck {s['median_s']:.2f} s {s['max_rss_mb']:.0f} MiB; "
              f"{row['baseline_name']} {b['median_s']:.2f} s {b['max_rss_mb']:.0f} MiB; {row['speedup']:.1f}x faster; "
              f"target <= {wall_t:g} s, <= {rss_t:g} MB: {'met' if row['met'] else 'MISSED'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"python -c pass {result['python_start']['median_s']:.3f} s; load {result['load_avg_1min']:.2f}; "
          f"wrote {args.out}")


if __name__ == "__main__":
    main()
