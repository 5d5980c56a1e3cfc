"""Single memory-bound kernels whose own traffic outgrows the last-level cache, timed against the host profile.

    .venv/bin/python bench/big_tensors.py [--profile PROFILE.json]

A bilinear x4 upsampling of a 96 x 96 map with 16-256 channels (10-160 MB of traffic) and an add of a map and its
ReLU at 128-512 px with 64 channels (13-200 MB), each converted, timed with LiteRT (1 thread, the calibration
statistic, best of 3) and priced by ``--profile`` (else the one host estimates use here). The estimate / measured
ratio of the small ones is the host's phase; where it falls below them, the kernel runs slower than the table
prices it. docs/bench/estimator.md (session 36) reads it: KerasHub's DeepLabV3 ends in a 151 MB bilinear output.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default=None, help="host profile JSON (default: the one host estimates use here)")
    args = ap.parse_args()

    import keras
    from keras import layers

    from snapcheck.calibrate.harness import measure_tflite, typical_ms
    from snapcheck.estimate import host_prediction
    from snapcheck.estimate.profiles import read_profile
    from snapcheck.readers import load_model
    from snapcheck.tfconvert import keras_tflite

    profile = read_profile(args.profile) if args.profile else None
    models = {}
    for c in (16, 32, 64, 128, 256):
        x = layers.Input((96, 96, c), batch_size=1)
        models[f"bilinear x4, 96 px, {c} ch"] = keras.Model(x, layers.Resizing(384, 384, interpolation="bilinear")(x))
    for side in (128, 256, 384, 512):
        x = layers.Input((side, side, 64), batch_size=1)
        models[f"add of x and relu(x), {side} px, 64 ch"] = keras.Model(x, layers.Add()([x, layers.ReLU()(x)]))
    with tempfile.TemporaryDirectory() as td:
        for name, model in models.items():
            path = Path(td) / "m.tflite"
            path.write_bytes(keras_tflite(model))
            ms = min(typical_ms(measure_tflite(path, min_seconds=0.5)) for _ in range(3))
            kernels, pred = host_prediction(load_model(path), profile)
            traffic = sum(k.bytes for k in kernels) / 1e6
            print(f"{name:34s} traffic {traffic:6.1f} MB  measured {ms:7.3f} ms  estimate {pred.latency_ms:7.3f} ms  "
                  f"estimate/measured {pred.latency_ms / ms:.2f}  {traffic / ms:5.1f} GB/s", flush=True)


if __name__ == "__main__":
    main()
