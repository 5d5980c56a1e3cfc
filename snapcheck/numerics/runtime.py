"""Run a model in memory on the host: onnxruntime for ONNX, LiteRT for TFLite, with every intermediate readable.

The numerics check and ``snapcheck fix`` run models through these two functions only. Optimisations are off:
the runtimes must compute each op as the graph writes it (onnxruntime would otherwise fuse the float16 round
trips the numerics check inserts, and LiteRT's XNNPACK delegate hides the intermediates). The runtimes are
imported here, never on the plain check path.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from snapcheck.errors import InputError, one_line


class RuntimeFailure(InputError):
    """The runtime cannot load or run the model (the check reports it; fix cannot prove a rewrite without it)."""


def run_onnx(model: bytes, feeds: dict[str, np.ndarray], outputs: Sequence[str] | None = None,
             path: str | None = None) -> dict[str, np.ndarray]:
    """``outputs`` (default: the graph's) of one onnxruntime CPU run of ``model`` on ``feeds``, by name."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 4  # errors come back as exceptions, reported on one line
    try:
        sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
        names = list(outputs) if outputs is not None else [o.name for o in sess.get_outputs()]
        values = sess.run(names, feeds)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise RuntimeFailure(path, f"onnxruntime cannot run the model: {one_line(exc)}") from None
    return dict(zip(names, values))


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
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    try:  # without the default delegate (XNNPACK) LiteRT prints nothing and keeps every tensor readable
        interp = Interpreter(model_content=bytes(model), experimental_preserve_all_tensors=True,
                             experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        interp.allocate_tensors()
        for d, x in zip(interp.get_input_details(), inputs):
            interp.set_tensor(d["index"], np.asarray(x).astype(d["dtype"], copy=False))
        interp.invoke()
        outs = [interp.get_tensor(d["index"]) for d in interp.get_output_details()]
        probes = {i: interp.get_tensor(i) for i in tensors}
    except (ValueError, RuntimeError) as exc:
        raise RuntimeFailure(path, f"LiteRT cannot run the model: {one_line(exc)}") from None
    return outs, probes


def tflite_input_types(model: bytes) -> list[tuple[str, tuple[Any, ...], np.dtype]]:
    """(name, shape, numpy dtype) of each input of a TFLite model, as LiteRT sees it."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=bytes(model))
    return [(d["name"], tuple(int(x) for x in d["shape"]), np.dtype(d["dtype"])) for d in interp.get_input_details()]
