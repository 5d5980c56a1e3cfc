"""The inputs a numerics run (and fix's proof) feeds: random ones per range of the rules, or the user's sample."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from snapcheck.errors import InputError
from snapcheck.numerics.tolerance import Tolerance


def input_sets(specs: list[tuple[str, tuple[Any, ...], np.dtype]], tol: Tolerance,
               sample: dict[str, np.ndarray] | None) -> list[tuple[str, list[np.ndarray]]]:
    """(description, one array per input) for each input set: the user's sample, else one per range."""
    for name, shape, _ in specs:
        dims = list(shape)
        if dims and dims[0] is None:
            dims[0] = 1
        if any(d is None for d in dims) and not (sample and name in sample):
            raise Skip(f"input '{name}' has dynamic dims {list(shape)}: give it a static shape "
                        "(snapcheck fix --input-shape NAME=1,3,H,W)")
    if sample is not None:
        return [(f"sample {sample.get('__file__', '')}".strip(), [sample[n] for n, _, _ in specs])]
    sets = []
    for label, low, high in tol.ranges:
        rng = np.random.default_rng(tol.seed)
        arrays = []
        for _, shape, dtype in specs:
            dims = [1 if d is None else int(d) for d in shape]
            if dtype.kind == "f":
                arrays.append(rng.uniform(low, high, dims).astype(dtype))
            elif dtype.kind in "iu":
                arrays.append(rng.integers(0, 16, dims).astype(dtype))
            else:
                arrays.append(rng.integers(0, 2, dims).astype(dtype))
        sets.append((f"random {label}", arrays))
    return sets


class Skip(Exception):
    """The model cannot be run as it is (the reason is reported as SC407)."""


def round_inputs(arrays: list[np.ndarray]) -> list[np.ndarray]:
    from snapcheck.numerics.onnx_fp16 import round_fp16

    return [round_fp16(a) if a.dtype == np.float32 else a for a in arrays]


def load_sample(path: str | Path, names: list[str], shapes: list[tuple[Any, ...]]) -> dict[str, np.ndarray]:
    """A user's sample: a .npy for the first (only) input, or a .npz with one array per input name; a batch
    dim of 1 is added where the array lacks it. ``InputError`` for anything that does not fit."""
    p = Path(path)
    try:
        data = np.load(p, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(p, "no such file (--sample)") from None
    except (OSError, ValueError) as exc:
        raise InputError(p, f"not a .npy or .npz array file (--sample): {exc}") from None
    arrays = dict(data) if hasattr(data, "files") else {names[0]: data} if len(names) == 1 else None
    if arrays is None:
        raise InputError(p, f"the model has {len(names)} inputs: give a .npz with arrays named {', '.join(names)}")
    out: dict[str, Any] = {"__file__": p.name}
    for name, shape in zip(names, shapes):
        if name not in arrays:
            raise InputError(p, f"no array named '{name}' (the model's inputs: {', '.join(names)})")
        a = np.asarray(arrays[name])
        if a.ndim == len(shape) - 1:
            a = a[None]
        if a.ndim != len(shape) or any(d is not None and d != s for d, s in zip(shape, a.shape)):
            raise InputError(p, f"array '{name}' has shape {list(a.shape)}, the input takes {list(shape)}")
        out[name] = a
    return out
