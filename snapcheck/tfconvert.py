"""Converting Keras models to .tflite with TensorFlow (the ``tf`` extra), without its log chatter.

One conversion path for every model the project builds: the generator's exports, the calibration probes and the
benchmark zoos. A model is traced as an inference ``tf.function`` (BatchNorm in inference mode, Dropout off) and
converted from that concrete function alone, which freezes its variables into constants and folds BatchNorm into
the convs. ``TFLiteConverter.from_keras_model`` gives the same operators, shapes and weights through a SavedModel
round trip that takes three times as long (docs/bench/estimator.md, session 45); passing a trackable object to
``from_concrete_functions`` keeps Keras 3 variables as ``VAR_HANDLE`` ops.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any, Iterator

from snapcheck.runner import quiet_native_logs


def import_tensorflow() -> Any:
    """Import TensorFlow and Keras without their start-up log lines."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with quiet_native_logs():
        import keras  # noqa: F401
        import tensorflow as tf
    return tf


@contextlib.contextmanager
def quiet_converters() -> Iterator[None]:
    """Silence TF/absl/tf2onnx INFO and deprecation chatter during conversion."""
    import absl.logging

    names = ("tensorflow", "tf2onnx", "absl")
    levels = {n: logging.getLogger(n).level for n in names}
    absl_level = absl.logging.get_verbosity()
    for n in names:
        logging.getLogger(n).setLevel(logging.ERROR)
    absl.logging.set_verbosity(absl.logging.ERROR)
    try:
        with quiet_native_logs():
            yield
    finally:
        for n, level in levels.items():
            logging.getLogger(n).setLevel(level)
        absl.logging.set_verbosity(absl_level)


def to_tflite(serve: Any, *, fp16: bool = False) -> bytes:
    """Convert an inference ``tf.function`` with an input signature to a flat .tflite: variables frozen,
    BatchNorm folded into the convs; fp16 stores the weights as float16 with a ``DEQUANTIZE`` each (compute and
    I/O stay float32)."""
    tf = import_tensorflow()
    with quiet_converters():
        converter = tf.lite.TFLiteConverter.from_concrete_functions([serve.get_concrete_function()])
        if fp16:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        return converter.convert()


def keras_tflite(model: Any, *, fixed_batch: bool = True) -> bytes:
    """A Keras model's fp32 .tflite, its inputs' batch fixed at 1 (static shapes, as Lens Studio needs) or as
    built (``fixed_batch=False``)."""
    tf = import_tensorflow()
    signature = [tf.TensorSpec((1 if fixed_batch else t.shape[0],) + tuple(t.shape[1:]), t.dtype)
                 for t in model.inputs]

    @tf.function(input_signature=signature)
    def serve(*xs):
        return model(list(xs) if len(xs) > 1 else xs[0], training=False)

    return to_tflite(serve)
