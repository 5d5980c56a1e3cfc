"""Shared helpers for the generator tests (tests/test_gan_*.py).

Freshly initialised pix2pix weights (N(0, 0.02), BatchNorm at mean 0 / variance 1) make the outputs
nearly constant and the BN folding trivial, so equivalence tests would prove little. ``exercise``
gives a model He-scaled kernels and non-trivial BatchNorm statistics instead: outputs spread over
[-1, 1] and every fold is exercised.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def exercise(model: Any, seed: int = 0) -> Any:
    """Re-draw ``model``'s weights so activations stay O(1) and BatchNorm is not the identity."""
    rng = np.random.default_rng(seed)
    for layer in _leaf_layers(model):
        kind = type(layer).__name__
        for var in layer.weights:
            shape, vname = tuple(var.shape), var.path.rsplit("/", 1)[-1]
            if kind == "BatchNormalization":
                value = {
                    "gamma": rng.uniform(0.5, 1.5, shape),
                    "beta": rng.normal(0.0, 0.2, shape),
                    "moving_mean": rng.normal(0.0, 0.2, shape),
                    "moving_variance": rng.uniform(0.5, 2.0, shape),
                }[vname]
            elif vname == "bias":
                value = rng.normal(0.0, 0.1, shape)
            else:
                value = rng.normal(0.0, np.sqrt(2.0 / _fan_in(kind, vname, shape)), shape)
            var.assign(value.astype(np.float32))
    return model


def _fan_in(kind: str, vname: str, shape: tuple[int, ...]) -> int:
    if kind == "Conv2DTranspose":  # kernel (k, k, out, in); each output sums k²/4 taps per input channel
        return max(1, shape[0] * shape[1] * shape[3] // 4)
    if vname == "depthwise_kernel":
        return shape[0] * shape[1]
    return int(np.prod(shape[:-1]))


def _leaf_layers(model: Any):
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:
            yield from _leaf_layers(layer)
        else:
            yield layer


def random_outline(size: int, channels: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (1, size, size, channels)).astype(np.float32)
