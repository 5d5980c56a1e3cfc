"""Time ``load_model`` on a ~10 MB float .tflite (Keras MobileNetV2 alpha=0.75, 2.6 M params).

Usage: .venv/bin/python bench/readers_parse.py [--model PATH] [--repeat N]
Builds the model with TensorFlow once (cached at PATH), then measures, each the median of N runs:
  process_pass:   a bare `python -c pass` (the baseline every figure is a ratio of),
  process_numpy:  a fresh process that only imports numpy (the floor of any snapcheck process),
  process_load:   a fresh process that imports snapcheck.readers and loads the model,
  parse:          load_model in-process (file already in the page cache).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def build(path: Path) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    from snapcheck.tfconvert import keras_tflite

    model = tf.keras.applications.MobileNetV2(alpha=0.75, weights=None, input_shape=(224, 224, 3))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(keras_tflite(model, fixed_batch=False))


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=Path("/tmp/snapcheck-bench/mobilenet_v2_075.tflite"))
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    if not args.model.is_file():
        build(args.model)

    from snapcheck.readers import load_model

    graph = load_model(args.model)
    py = sys.executable
    load_code = f"from snapcheck.readers import load_model; load_model({str(args.model)!r})"
    figures = {
        "process_pass": median_time(lambda: subprocess.run([py, "-c", "pass"], check=True), args.repeat),
        "process_numpy": median_time(lambda: subprocess.run([py, "-c", "import numpy"], check=True), args.repeat),
        "process_load": median_time(lambda: subprocess.run([py, "-c", load_code], check=True), args.repeat),
        "parse": median_time(lambda: load_model(args.model), args.repeat),
    }
    params = sum(t.numel or 0 for t in graph.main.tensors if t.is_constant)
    print(f"model: {args.model} ({graph.file_bytes / 1e6:.1f} MB, {len(graph.main.ops)} ops, "
          f"{len(graph.main.tensors)} tensors, {params / 1e6:.2f} M constant values)")
    for name, seconds in figures.items():
        print(f"{name:14s} {seconds * 1000:8.1f} ms   x{seconds / figures['process_pass']:.2f} of process_pass")


if __name__ == "__main__":
    main()
