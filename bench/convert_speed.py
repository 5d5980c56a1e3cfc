"""Converting the probes of ``calibrate --quick``: ``tfconvert.keras_tflite`` (the inference function frozen,
``from_concrete_functions``) against ``TFLiteConverter.from_keras_model`` (a SavedModel round trip), which
converted them before session 45.

Each probe's Keras model is built once and converted both ways in turn, the order alternating from probe to probe.
The two files must hold the same graph: the same operators with the same options, input and output shapes and
types, constant sizes, and the same graph inputs (as a set: the SavedModel path sorts them by name). Prints the
two totals, their ratio and any probe whose graphs differ (exit 1 then).

    bench/quiet.sh .venv/bin/python bench/convert_speed.py [--limit N] [--json OUT]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def saved_model_tflite(model: Any, fixed_batch: bool) -> bytes:
    """The baseline: ``from_keras_model``, the inputs' batch fixed at 1 first as ``keras_tflite`` does."""
    import tensorflow as tf

    if fixed_batch and any(t.shape[0] is None for t in model.inputs):
        inputs = [tf.keras.Input(tuple(t.shape[1:]), batch_size=1, dtype=t.dtype) for t in model.inputs]
        model = tf.keras.Model(inputs, model(inputs if len(inputs) > 1 else inputs[0]))
    with contextlib.redirect_stdout(io.StringIO()):  # Keras' export prints every signature it saves
        return tf.lite.TFLiteConverter.from_keras_model(model).convert()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=0, help="convert only the first N probes (0: all)")
    ap.add_argument("--json", default=None, help="write the per-probe times here")
    args = ap.parse_args()

    from snapcheck.calibrate.harness import host_fingerprint
    from snapcheck.calibrate.probe_pack import graph_form
    from snapcheck.calibrate.quick import probe_keras, probe_specs
    from snapcheck.tfconvert import import_tensorflow, keras_tflite

    import_tensorflow()
    specs = probe_specs()[: args.limit or None]
    rows, differ = [], []
    for n, spec in enumerate(specs):
        model, fixed = probe_keras(spec)
        ways = {"frozen": lambda: keras_tflite(model, fixed_batch=fixed),
                "saved_model": lambda: saved_model_tflite(model, fixed)}
        out, secs = {}, {}
        for way in sorted(ways, reverse=n % 2 == 1):
            t = time.perf_counter()
            out[way] = ways[way]()
            secs[way] = time.perf_counter() - t
        same = graph_form(out["frozen"]) == graph_form(out["saved_model"])
        if not same:
            differ.append(spec.key())
        rows.append({"probe": spec.key(), **{f"{w}_s": round(s, 4) for w, s in secs.items()}, "same": same})
        print(f"{n + 1:3d}/{len(specs)} {spec.key():45s} frozen {secs['frozen']:6.2f} s  saved_model "
              f"{secs['saved_model']:6.2f} s  {'same graph' if same else 'GRAPHS DIFFER'}", flush=True)
    frozen = sum(r["frozen_s"] for r in rows)
    saved = sum(r["saved_model_s"] for r in rows)
    print(f"{len(rows)} probes on {host_fingerprint(1)}: frozen {frozen:.1f} s, saved_model {saved:.1f} s, "
          f"ratio {frozen / saved:.2f}; graphs differ: {differ or 'none'}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "frozen_s": frozen, "saved_model_s": saved,
                                               "differ": differ}, indent=1))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
