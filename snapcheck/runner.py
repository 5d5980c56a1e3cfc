"""Run a model file on this machine: LiteRT (``ai_edge_litert``, XNNPACK) for TFLite, onnxruntime (CPU) for ONNX.

The runtime is picked by content (the flatbuffer's ``TFL3`` identifier), never by the file name. One
``ModelRunner`` serves every caller that executes a model: ``snapcheck bench`` and calibration (which time
``invoke``), export's equivalence check against Keras and ``snapcheck evaluate`` (which call ``run`` or
``run_nhwc``), and the numerics check and ``snapcheck fix`` (``exact=True``: optimisations off, every
intermediate readable). The runtimes are optional dependencies (the ``runtime`` extra) and heavy to import, so they
are imported when a model is opened, never by the check path.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil
import sys
import tempfile
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from snapcheck.errors import InputError, one_line
from snapcheck.readers.detect import TFLITE_IDENTIFIER

MAX_INPUT_BYTES = 2**30  # a random input beyond this is refused (a Lens model's input is a few MB)

# onnxruntime's input types as numpy dtypes (the ones a Lens model can have as inputs).
ORT_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
              "tensor(int8)": np.int8, "tensor(uint8)": np.uint8, "tensor(int32)": np.int32,
              "tensor(int64)": np.int64, "tensor(bool)": np.bool_}


@dataclass(frozen=True)
class Port:
    """One input or output of a model: its name, shape (``None`` for a dimension the file leaves open) and
    dtype (``None`` for an onnxruntime type numpy cannot hold)."""

    name: str
    shape: tuple[int | None, ...]
    dtype: np.dtype | None


@contextlib.contextmanager
def quiet_native_logs() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null: TensorFlow's and LiteRT's C++ loggers print INFO lines
    there (oneDNN, CUDA stubs, XNNPACK) whatever TF_CPP_MIN_LOG_LEVEL says. Python exceptions still
    propagate; they are printed after the descriptor is restored."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def random_input(shape: tuple[int | None, ...], dtype: Any, rng: np.random.Generator) -> np.ndarray:
    """A benchmark input: uniform in [-1, 1] for floats, in [-128, 127] for integers, 0/1 for booleans;
    open dimensions are 1."""
    dims = [int(d) if isinstance(d, (int, np.integer)) and int(d) > 0 else 1 for d in shape]
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return rng.uniform(-1, 1, dims).astype(dt)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return rng.integers(max(info.min, -128), min(info.max, 127) + 1, dims).astype(dt)
    if dt.kind == "b":
        return rng.integers(0, 2, dims).astype(dt)
    raise ValueError(f"unsupported input dtype {dt}")


class ModelRunner:
    """A loaded model on its runtime. ``feed`` sets the inputs, ``invoke`` runs one inference on them (what a
    benchmark times), ``results`` reads the outputs; ``run`` does all three."""

    runtime: str  # "litert" or "onnxruntime"
    runtime_version: str
    inputs: list[Port]
    outputs: list[Port]
    load_ms: float  # creating the interpreter or session and allocating its tensors
    invoke: Callable[[], None]  # one inference on the inputs fed last

    def __init__(self, model: str | Path | bytes, threads: int = 1, *, profile: bool = False,
                 exact: bool = False) -> None:
        self.path = None if isinstance(model, (bytes, bytearray)) else Path(model)
        head = bytes(model[:8]) if self.path is None else _head(self.path)
        t0 = time.perf_counter()
        if head[4:8] == TFLITE_IDENTIFIER:
            self._open_litert(model, threads, exact)
        else:
            self._open_onnx(model, threads, profile, exact)
        self.load_ms = (time.perf_counter() - t0) * 1e3
        self._results: list[np.ndarray] = []

    # --- LiteRT ---------------------------------------------------------------------------------------------

    def _open_litert(self, model: str | Path | bytes, threads: int, exact: bool) -> None:
        import ai_edge_litert  # the runtime extra, imported only when a TFLite model is opened
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        source: dict[str, Any] = ({"model_path": str(model)} if self.path is not None
                                  else {"model_content": bytes(model)})
        if exact:  # the builtin kernels, without XNNPACK (which fuses ops and hides intermediates), every tensor kept
            source.update(experimental_preserve_all_tensors=True,
                          experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        try:
            with quiet_native_logs():  # XNNPACK announces itself when the tensors are allocated
                interp = Interpreter(num_threads=threads, **source)
                interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise InputError(self.path, f"LiteRT cannot load the model: {one_line(exc)}") from None
        self.runtime, self.runtime_version = "litert", getattr(ai_edge_litert, "__version__", "?")
        self._interp = interp
        self._in = interp.get_input_details()
        self._out = interp.get_output_details()
        self.inputs = [Port(d["name"], tuple(int(x) for x in d["shape"]), np.dtype(d["dtype"])) for d in self._in]
        self.outputs = [Port(d["name"], tuple(int(x) for x in d["shape"]), np.dtype(d["dtype"])) for d in self._out]
        self.invoke = interp.invoke

    # --- onnxruntime ----------------------------------------------------------------------------------------

    def _open_onnx(self, model: str | Path | bytes, threads: int, profile: bool, exact: bool) -> None:
        import onnxruntime as ort  # the runtime extra, imported only when an ONNX model is opened

        opts = ort.SessionOptions()
        if exact:  # each op as the graph writes it (no fusion of the float16 round trips the numerics insert)
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 4  # failures come back as exceptions (one line); no coloured log lines on stderr
        opts.enable_profiling = profile
        if profile:  # onnxruntime writes its trace when the session starts: into a folder of ours, never the cwd
            self._profile_dir = tempfile.mkdtemp(prefix="snapcheck-ort-profile-")
            weakref.finalize(self, shutil.rmtree, self._profile_dir, True)
            opts.profile_file_prefix = os.path.join(self._profile_dir, "ort")
        source = str(model) if self.path is not None else bytes(model)
        try:  # onnxruntime prints its provider fallback ("EP Error ... Falling back") on stdout: kept off it
            with contextlib.redirect_stdout(io.StringIO()):
                sess = ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])
            inputs = [_ort_port(i) for i in sess.get_inputs()]  # a name that is not UTF-8 fails here
            outputs = [_ort_port(o) for o in sess.get_outputs()]
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
            if profile:
                shutil.rmtree(self._profile_dir, ignore_errors=True)
            problem = "onnxruntime cannot load the model"
            if self.path is not None and self.path.suffix.lower() != ".onnx":
                problem = f"not a TFLite model (no {TFLITE_IDENTIFIER.decode()} identifier) and {problem}"
            raise InputError(self.path, f"{problem}: {one_line(exc)}") from None
        self.runtime, self.runtime_version = "onnxruntime", ort.__version__
        self._sess = sess
        self.inputs, self.outputs = inputs, outputs
        self._feeds: dict[str, np.ndarray] = {}

        def invoke() -> None:
            self._results = self._sess.run(None, self._feeds)

        self.invoke = invoke

    # --- both -----------------------------------------------------------------------------------------------

    def feed(self, *arrays: np.ndarray) -> None:
        """Set every input, in order, each cast to the input's dtype."""
        if len(arrays) != len(self.inputs):
            raise ValueError(f"the model has {len(self.inputs)} inputs, got {len(arrays)} arrays")
        for i, (port, x) in enumerate(zip(self.inputs, arrays)):
            x = np.asarray(x).astype(port.dtype, copy=False) if port.dtype is not None else np.asarray(x)
            if self.runtime == "litert":
                self._interp.set_tensor(self._in[i]["index"], x)
            else:
                self._feeds[port.name] = x

    def feed_random(self, seed: int = 0) -> None:
        """Set every input to ``random_input`` (one generator seeded with ``seed``, inputs in order);
        ``InputError`` for an input type the benchmark cannot fill."""
        rng = np.random.default_rng(seed)
        for port in self.inputs:
            if port.dtype is None:
                raise InputError(self.path, f"input {port.name!r} has unsupported type {self._ort_type(port.name)}")
            size = math.prod(d if isinstance(d, int) and d > 0 else 1 for d in port.shape) * port.dtype.itemsize
            if size > MAX_INPUT_BYTES:
                need = f"{size / 2**30:,.1f} GiB" if size < 2**60 else "more than any memory"
                raise InputError(self.path, f"input {port.name!r} is too large to fill with random data ({need}; "
                                            f"the limit is {MAX_INPUT_BYTES / 2**30:g} GiB)")
        self.feed(*(random_input(p.shape, p.dtype, rng) for p in self.inputs))

    def try_invoke(self) -> None:
        """One ``invoke`` on the inputs fed last, a failure of the runtime (a dynamic shape it cannot resolve, a
        Loop whose outputs change shape) as an ``InputError`` naming the model, in one line."""
        try:
            with quiet_native_logs():
                self.invoke()
        except Exception as exc:  # noqa: BLE001 - LiteRT and onnxruntime raise their own exception types
            raise InputError(self.path, f"{self.runtime} cannot run the model on random inputs (open dims set to 1): "
                                        f"{one_line(exc, 200)}") from None

    def results(self) -> list[np.ndarray]:
        """The outputs of the last ``invoke``, in order."""
        if self.runtime == "litert":
            return [self._interp.get_tensor(d["index"]) for d in self._out]
        return list(self._results)

    def run(self, *arrays: np.ndarray) -> list[np.ndarray]:
        """One inference on ``arrays`` (one per input): its outputs."""
        self.feed(*arrays)
        self.invoke()
        return self.results()

    def run_named(self, feeds: dict[str, np.ndarray], outputs: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """ONNX: one inference on ``feeds`` (by input name), ``outputs`` (default: the graph's) by name;
        a runtime failure as one ``InputError`` line."""
        names = list(outputs) if outputs is not None else [o.name for o in self.outputs]
        try:
            return dict(zip(names, self._sess.run(names, feeds)))
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise InputError(self.path, f"onnxruntime cannot run the model: {one_line(exc)}") from None

    def run_probed(self, arrays: Sequence[np.ndarray], tensors: Sequence[int] = ()) -> tuple[
            list[np.ndarray], dict[int, np.ndarray]]:
        """LiteRT opened with ``exact``: (the outputs, the tensors of index ``tensors``) of one inference on
        ``arrays``; a runtime failure as one ``InputError`` line."""
        try:
            outs = self.run(*arrays)
            return outs, {i: self._interp.get_tensor(i) for i in tensors}
        except (ValueError, RuntimeError) as exc:
            raise InputError(self.path, f"LiteRT cannot run the model: {one_line(exc)}") from None

    @property
    def channels_first(self) -> bool:
        """Whether the first input is an NCHW image: ONNX's layout, unless its last dimension is smaller than
        its second (then it is NHWC, as a converted Keras model may keep it). LiteRT is always NHWC."""
        shape = self.inputs[0].shape
        if self.runtime != "onnxruntime" or len(shape) != 4:
            return False
        return not (isinstance(shape[1], int) and isinstance(shape[3], int) and shape[3] < shape[1])

    @property
    def image_shape(self) -> tuple[int | None, ...]:
        """The first input's shape in NHWC order."""
        shape = self.inputs[0].shape
        return (shape[0], shape[2], shape[3], shape[1]) if self.channels_first else shape

    def run_nhwc(self, x: np.ndarray) -> np.ndarray:
        """An image model's first output for the NHWC input ``x``, as float32 (NHWC when it is an image: a
        channels-first model gets ``x`` transposed and its image output transposed back)."""
        if not self.channels_first:
            return np.asarray(self.run(x)[0]).astype(np.float32)
        y = np.asarray(self.run(np.transpose(x, (0, 3, 1, 2)))[0])
        return (np.transpose(y, (0, 2, 3, 1)) if y.ndim == 4 else y).astype(np.float32)

    def end_profiling(self) -> list[dict[str, Any]] | None:
        """The events of onnxruntime's Chrome-trace profile of the runs so far (opened with ``profile=True``; its
        file is removed); None for LiteRT, whose Python API has no op profiler."""
        if self.runtime != "onnxruntime":
            return None
        trace = Path(self._sess.end_profiling())
        try:
            return json.loads(trace.read_text())
        finally:
            shutil.rmtree(self._profile_dir, ignore_errors=True)

    def _ort_type(self, name: str) -> str:
        return next(i.type for i in self._sess.get_inputs() if i.name == name)


def _ort_port(arg: Any) -> Port:
    shape = tuple(d if isinstance(d, int) else None for d in arg.shape)
    dtype = ORT_DTYPES.get(arg.type)
    return Port(arg.name, shape, None if dtype is None else np.dtype(dtype))


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(8)
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, not a model file") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None


def open_model(model: str | Path | bytes, threads: int = 1, *, profile: bool = False,
               exact: bool = False) -> ModelRunner:
    """Load ``model`` (a file or its bytes) on its runtime with ``threads`` CPU threads; ``profile``: record
    onnxruntime's per-node profile (``ModelRunner.end_profiling``); ``exact``: optimisations and delegates off,
    every intermediate readable (numerics, fix's proofs). ``InputError`` for an unusable file."""
    return ModelRunner(model, threads, profile=profile, exact=exact)
