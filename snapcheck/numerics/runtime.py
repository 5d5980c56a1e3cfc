"""Run a model in memory on the host: onnxruntime for ONNX, LiteRT for TFLite, with every intermediate readable.

The numerics check and ``snapcheck fix`` run models through these functions only; they open the model with
``snapcheck.runner.open_model(exact=True)``: optimisations off, so that the runtimes compute each op as the graph
writes it (onnxruntime would otherwise fuse the float16 round trips the numerics check inserts, and LiteRT's
XNNPACK delegate hides the intermediates). A runtime failure is a ``RuntimeFailure`` (the check reports it as
"not run"). The runtimes are imported only when a model is opened, never on the plain check path.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from snapcheck.errors import InputError
from snapcheck.runner import open_model


class RuntimeFailure(InputError):
    """The runtime cannot load or run the model (the check reports it; fix cannot prove a rewrite without it)."""


def run_onnx(model: bytes, feeds: dict[str, np.ndarray], outputs: Sequence[str] | None = None,
             path: str | None = None) -> dict[str, np.ndarray]:
    """``outputs`` (default: the graph's) of one onnxruntime CPU run of ``model`` on ``feeds``, by name."""
    try:
        return open_model(model, exact=True).run_named(feeds, outputs)
    except InputError as exc:
        raise RuntimeFailure(path, exc.problem) from None


# onnx TensorProto data types of inputs a Lens model can have, as numpy dtypes.
ONNX_DTYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 5: np.int16, 6: np.int32, 7: np.int64, 9: np.bool_,
               10: np.float16, 11: np.float64}


def onnx_input_types(model: Any) -> list[tuple[str, tuple[Any, ...], np.dtype]]:
    """(name, shape with None for open dims, numpy dtype) of each input of an ``onnx.ModelProto``."""
    inits = {t.name for t in model.graph.initializer}
    out = []
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        dims = tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in tt.shape.dim)
        out.append((vi.name, dims, np.dtype(ONNX_DTYPES.get(tt.elem_type, np.float32))))
    return out


def run_tflite(model: bytes, inputs: Sequence[np.ndarray], tensors: Sequence[int] = (),
               path: str | None = None) -> tuple[list[np.ndarray], dict[int, np.ndarray]]:
    """(the outputs, the tensors of index ``tensors``) of one LiteRT run with its builtin kernels."""
    try:
        return open_model(model, exact=True).run_probed(inputs, tensors)
    except InputError as exc:
        raise RuntimeFailure(path, exc.problem) from None


def tflite_input_types(model: bytes) -> list[tuple[str, tuple[Any, ...], np.dtype]]:
    """(name, shape, numpy dtype) of each input of a TFLite model, as LiteRT sees it."""
    return [(p.name, p.shape, p.dtype) for p in open_model(model, exact=True).inputs]
