"""Export a generator to Lens-friendly .tflite and .onnx, measure it against Keras, and gate it with snapcheck.

Everything is written to a staging folder inside ``out_dir`` first. The checker runs on the staged
files; only when every file passes (or the gate is off) are they moved into place, the JSON sidecar
last. A failed gate raises ``ExportGateError`` and leaves nothing behind.

Graph hygiene (see docs/generator.md): nearest upsampling is one ``RESIZE_NEAREST_NEIGHBOR`` /
``Resize(nearest, asymmetric, floor)``; BatchNorm is folded into the convs; the batch is fixed at 1;
the ONNX graph is NCHW from input to output with no ``Transpose``; identity ``Reshape`` nodes that
tf2onnx leaves behind are removed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from snapcheck import __version__
from snapcheck.api import CheckReport, check_graph
from snapcheck.data.images import psnr
from snapcheck.errors import InputError
from snapcheck.gan.generator import create_generator
from snapcheck.gan.layers import custom_objects
from snapcheck.gan.profile import profile_config
from snapcheck.gan.registry import GeneratorConfig, resolve_config
from snapcheck.ir import Graph
from snapcheck.readers import load_model
from snapcheck.rules import load_ruleset
from snapcheck.runner import open_model
from snapcheck.tfconvert import import_tensorflow, quiet_converters, to_tflite

FORMATS: tuple[str, ...] = ("tflite", "onnx")
ONNX_OPSET = 13
INPUT_NAME = "outline"
OUTPUT_NAME = "image"
# Documented equivalence tolerances (docs/generator.md): every export is measured against Keras.
FP32_MAX_ABS_DIFF = 1e-3  # an eighth of one 8-bit output level (2/255); float reordering gives ~1e-4
FP16_MIN_PSNR_DB = 40.0  # RMS error 0.02 on the [-1, 1] range; fp16 weights give ~60 dB
TANH_RANGE = 2.0  # outputs live in [-1, 1]
TOLERANCE_SAMPLES = 2
TOLERANCE_SEED = 0

Progress = Callable[[str], None]


class ExportGateError(Exception):
    """The checker rejected at least one exported file; nothing was written."""

    def __init__(self, sidecar: dict[str, Any], reports: dict[str, Any]) -> None:
        self.sidecar = sidecar
        self.reports = reports  # file name -> snapcheck report
        failed = [f for f, r in reports.items() if not r.passed]
        super().__init__(f"snapcheck rejected {', '.join(failed)} (Lens Studio {sidecar['snapcheck']['ls_version']})")


@dataclass
class Export:
    """What an export wrote: the sidecar (also saved as ``NAME.json``) and, per file name, the graph snapcheck's
    reader built from it and the gate's report on it (naming the written file), so that a caller neither reads
    nor checks the files again."""

    sidecar: dict[str, Any]
    graphs: dict[str, Graph]
    reports: dict[str, CheckReport]


@dataclass(frozen=True)
class Artifact:
    """One staged model file: its format, precision and bytes."""

    filename: str
    fmt: str
    precision: str
    data: bytes


def export_config(cfg: GeneratorConfig, out_dir: str | Path, *, weights: str | Path | None = None,
                  formats: Iterable[str] = FORMATS, fp16: bool = True, gate: bool = True, ls_version: str = "5.x",
                  name: str | None = None, size: int | None = None, progress: Progress | None = None) -> Export:
    """Build ``cfg``'s generator (random init, or ``weights``) and export it (``export_model``)."""
    cfg = resolve_config(cfg, size=size)
    _step(progress, f"building {cfg.name} at {cfg.size}×{cfg.size}")
    import_tensorflow()
    model = create_generator(cfg)
    if weights is not None:
        load_weights(model, weights)
    return export_model(model, cfg, out_dir, formats=formats, fp16=fp16, gate=gate, ls_version=ls_version,
                        name=name, weights=weights, progress=progress)


def export_model(model: Any, cfg: GeneratorConfig, out_dir: str | Path, *, formats: Iterable[str] = FORMATS,
                 fp16: bool = True, gate: bool = True, ls_version: str = "5.x", name: str | None = None,
                 weights: str | Path | None = None, progress: Progress | None = None) -> Export:
    """Export a built Keras generator whose architecture is ``cfg``: the files, their sidecar, their graphs and
    gate reports.

    Raises ``ExportGateError`` (nothing written) when ``gate`` is on and snapcheck rejects a file.
    """
    load_ruleset(ls_version)  # an unknown Lens Studio version is refused before any conversion
    formats = _validate_formats(formats)
    name = name or cfg.name
    if not name or os.sep in name or name.startswith("."):
        raise InputError(None, f"export name {name!r} must be a plain file stem")
    _check_model_matches(model, cfg)
    out_dir = Path(out_dir)
    created = [p for p in [out_dir, *out_dir.parents] if not p.exists()]  # removed again if left empty
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(out_dir, f"cannot create output folder ({exc.strerror})") from None
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.export-", dir=out_dir))
    try:
        serve = serving_function(model, cfg)
        artifacts = []
        if "tflite" in formats:
            _step(progress, "converting to .tflite")
            artifacts.append(Artifact(f"{name}.tflite", "tflite", _precision(fp16), to_tflite(serve, fp16=fp16)))
        if "onnx" in formats:
            _step(progress, "converting to .onnx")
            artifacts.append(Artifact(f"{name}.onnx", "onnx", _precision(fp16), to_onnx(serve, fp16=fp16)))
        for art in artifacts:
            (staging / art.filename).write_bytes(art.data)

        _step(progress, "measuring against Keras")
        tolerances = measure_tolerances(model, cfg, {a.filename: (staging / a.filename, a) for a in artifacts})
        _step(progress, f"checking with snapcheck (Lens Studio {ls_version})")
        graphs = {a.filename: load_model(staging / a.filename) for a in artifacts}
        reports = {f: run_checker(g, ls_version) for f, g in graphs.items()}
        sidecar = build_sidecar(cfg, name, model, artifacts, graphs, tolerances, reports,
                                fp16=fp16, gate=gate, ls_version=ls_version, weights=weights)
        if gate and not sidecar["snapcheck"]["passed"]:
            raise ExportGateError(sidecar, reports)
        (staging / f"{name}.json").write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8")
        for art in artifacts:
            os.replace(staging / art.filename, out_dir / art.filename)
        os.replace(staging / f"{name}.json", out_dir / f"{name}.json")
        return Export(sidecar, graphs, {f: dataclasses.replace(r, path=str(out_dir / f)) for f, r in reports.items()})
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        for folder in created:
            if any(folder.iterdir()):
                break
            folder.rmdir()


def _step(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)


def _precision(fp16: bool) -> str:
    return "fp16" if fp16 else "fp32"


def _validate_formats(formats: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(formats))
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise InputError(None, f"export format must be among {', '.join(FORMATS)}, got {', '.join(chosen) or 'none'}")
    return chosen


def _check_model_matches(model: Any, cfg: GeneratorConfig) -> None:
    for what, got, expected in (("input", model.input_shape, cfg.in_channels),
                                ("output", model.output_shape, cfg.out_channels)):
        if tuple(got) != (None, cfg.size, cfg.size, expected):
            raise InputError(None, f"model {what} {tuple(got)} does not match config {cfg.name!r} "
                                   f"({cfg.size}×{cfg.size}×{expected})")


def load_weights(model: Any, path: str | Path) -> None:
    """Load trained weights into ``model``: a Keras ``.weights.h5`` / ``.keras`` file, or a TF checkpoint
    (prefix or folder) holding the generator under the key ``generator``."""
    import keras
    import tensorflow as tf

    path = Path(path)
    try:
        if path.name.endswith(".weights.h5"):
            model.load_weights(path)
        elif path.suffix == ".keras":
            saved = keras.models.load_model(path, custom_objects=custom_objects(), compile=False)
            model.set_weights(saved.get_weights())
        else:
            prefix = tf.train.latest_checkpoint(str(path)) if path.is_dir() else str(path)
            if prefix is None or not Path(prefix + ".index").is_file():
                raise InputError(path, "no TF checkpoint here (expected a .weights.h5, a .keras, or a checkpoint)")
            tf.train.Checkpoint(generator=model).restore(prefix).assert_existing_objects_matched().expect_partial()
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError(path, "weights file not found") from None
    except OSError as exc:  # h5py: not an HDF5 file, truncated
        raise InputError(path, f"cannot read the weights: {_gist(exc)}") from None
    except Exception as exc:  # noqa: BLE001 - Keras/TF raise many types for a mismatched file
        raise InputError(path, f"these weights do not fit {model.name}: {_gist(exc)} (--config and --size must be "
                               "the training run's: see its run.json)") from None


def _gist(exc: BaseException, limit: int = 240) -> str:
    """A Keras/TF loading error in one short line: tensor values and long lists dropped, the rest cut."""
    import re

    text = " ".join(str(exc).split())
    shapes = re.search(r"variable\.shape=(\([^)]*\)), Received: value\.shape=(\([^)]*\))", text)
    where = re.search(r"Variable path=([^,]+)", text)
    if shapes:  # Keras 3: name the first mismatched variable and both shapes
        return (f"{where.group(1) if where else 'a variable'} has shape {shapes.group(1)} in the model and "
                f"{shapes.group(2)} in the file")
    text = re.sub(r"(tf\.Tensor|array)\(.*?\)(?=[,.;]|$)", "<values>", text)
    text = re.sub(r"\[[^\[\]]{60,}\]", "[...]", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def serving_function(model: Any, cfg: GeneratorConfig):
    """A batch-1 inference ``tf.function`` (BatchNorm in inference mode, Dropout off)."""
    import tensorflow as tf

    spec = [tf.TensorSpec([1, cfg.size, cfg.size, cfg.in_channels], tf.float32, name=INPUT_NAME)]

    @tf.function(input_signature=spec)
    def serve(outline):
        return {OUTPUT_NAME: model(outline, training=False)}

    return serve


def to_onnx(serve: Any, *, fp16: bool) -> bytes:
    """Convert to ONNX (opset 13), NCHW from input to output, batch 1; fp16 makes the whole graph float16
    (weights, activations and I/O), with no ``Cast`` nodes."""
    import onnx
    import tf2onnx

    with quiet_converters():
        proto, _ = tf2onnx.convert.from_function(
            serve, input_signature=serve.input_signature, opset=ONNX_OPSET,
            inputs_as_nchw=[INPUT_NAME], outputs_as_nchw=[OUTPUT_NAME],
        )
    proto = _fold_channel_affine(_drop_identity_reshapes(proto))
    if fp16:
        proto = _to_float16(proto)
    onnx.checker.check_model(proto, full_check=True)
    return proto.SerializeToString()


def _drop_identity_reshapes(proto: Any) -> Any:
    """Remove ``Reshape`` nodes whose output shape equals their input shape.

    tf2onnx turns the NHWC↔NCHW transposes of 1-channel and 1×1 tensors into such reshapes; once the
    transposes cancel, they do nothing.
    """
    from onnx import numpy_helper, shape_inference

    graph = shape_inference.infer_shapes(proto).graph
    shapes = {
        v.name: tuple(d.dim_value for d in v.type.tensor_type.shape.dim)
        for v in [*graph.value_info, *graph.input, *graph.output]
    }
    inits = {i.name: i for i in proto.graph.initializer}
    outputs = {o.name for o in proto.graph.output}
    rename: dict[str, str] = {}
    keep = []
    for node in proto.graph.node:
        node.input[:] = [rename.get(i, i) for i in node.input]
        if node.op_type == "Reshape" and node.input[1] in inits and node.output[0] not in outputs:
            target = tuple(int(d) for d in numpy_helper.to_array(inits[node.input[1]]))
            if shapes.get(node.input[0]) == target and all(d > 0 for d in target):
                rename[node.output[0]] = node.input[0]
                continue
        keep.append(node)
    return _replace_nodes(proto, keep)


def _fold_channel_affine(proto: Any) -> Any:
    """Fold per-channel ``Mul`` / ``Add`` constants that follow a ``Conv`` or ``ConvTranspose`` into its
    weights and bias.

    tf2onnx folds BatchNorm into ``Conv`` but leaves it after ``ConvTranspose`` as ``Mul`` + ``Add``,
    which run on the CPU on the iPhone NPU (snapcheck SC112).
    """
    from onnx import numpy_helper

    inits = {i.name: i for i in proto.graph.initializer}
    producer = {o: n for n in proto.graph.node for o in n.output}
    uses = Counter(i for n in proto.graph.node for i in n.input)
    outputs = {o.name for o in proto.graph.output}
    dropped = set()  # node indices (protobuf wrappers have no stable identity)
    for index, node in enumerate(proto.graph.node):
        if node.op_type not in ("Mul", "Add") or len(node.input) != 2:
            continue
        const = next((i for i in node.input if i in inits), None)
        other = next((i for i in node.input if i != const), None)
        conv = producer.get(other)
        if const is None or conv is None or conv.op_type not in ("Conv", "ConvTranspose") or uses[other] != 1 \
                or other in outputs or any(a.name == "group" and a.i != 1 for a in conv.attribute):
            continue
        weight = numpy_helper.to_array(inits[conv.input[1]])
        out_axis = 1 if conv.op_type == "ConvTranspose" else 0
        cout = weight.shape[out_axis]
        c = numpy_helper.to_array(inits[const])
        if uses[conv.input[1]] != 1 or c.size not in (1, cout) or (c.size > 1 and c.shape[-3:] != (cout, 1, 1)):
            continue
        c = np.broadcast_to(c.reshape(-1), (cout,)).astype(weight.dtype)
        bias = numpy_helper.to_array(inits[conv.input[2]]) if len(conv.input) > 2 else np.zeros(cout, weight.dtype)
        if node.op_type == "Mul":
            shape = [1] * weight.ndim
            shape[out_axis] = cout
            inits[conv.input[1]].CopyFrom(numpy_helper.from_array(weight * c.reshape(shape), conv.input[1]))
            bias = bias * c
        else:
            bias = bias + c
        bias_name = conv.input[2] if len(conv.input) > 2 else f"{conv.name}/folded_bias"
        if bias_name in inits:
            inits[bias_name].CopyFrom(numpy_helper.from_array(bias, bias_name))
        else:
            proto.graph.initializer.append(numpy_helper.from_array(bias, bias_name))
            inits[bias_name] = proto.graph.initializer[-1]
            conv.input.append(bias_name)
        conv.output[0] = node.output[0]
        producer[node.output[0]] = conv
        dropped.add(index)
    return _replace_nodes(proto, [n for i, n in enumerate(proto.graph.node) if i not in dropped])


def _replace_nodes(proto: Any, nodes: list[Any]) -> Any:
    """Set the graph's nodes to ``nodes`` and drop the initializers nothing reads any more."""
    kept = list(nodes)
    del proto.graph.node[:]
    proto.graph.node.extend(kept)
    used = {i for n in kept for i in n.input}
    for init in [i for i in proto.graph.initializer if i.name not in used]:
        proto.graph.initializer.remove(init)
    return proto


def _to_float16(proto: Any) -> Any:
    """Make every float32 tensor float16, except ``Resize``'s roi/scales inputs (the spec keeps them float32)."""
    from onnx import TensorProto, numpy_helper

    float_only = {n.input[i] for n in proto.graph.node if n.op_type == "Resize" for i in (1, 2) if i < len(n.input)}
    for i, init in enumerate(proto.graph.initializer):
        if init.data_type == TensorProto.FLOAT and init.name not in float_only:
            half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), init.name)
            proto.graph.initializer[i].CopyFrom(half)
    for value in [*proto.graph.input, *proto.graph.output, *proto.graph.value_info]:
        if value.type.tensor_type.elem_type == TensorProto.FLOAT and value.name not in float_only:
            value.type.tensor_type.elem_type = TensorProto.FLOAT16
    constants = [n for n in proto.graph.node if n.op_type in ("Constant", "Cast")]
    if constants:
        raise RuntimeError(f"fp16 ONNX export does not handle {constants[0].op_type} nodes")
    return proto


def measure_tolerances(model: Any, cfg: GeneratorConfig, files: dict[str, tuple[Path, Artifact]], *,
                       samples: int = TOLERANCE_SAMPLES, seed: int = TOLERANCE_SEED) -> dict[str, dict[str, Any]]:
    """Keras vs each file on ``samples`` uniform [-1, 1] inputs: max abs diff and PSNR (range 2), and
    whether they meet the documented tolerance for the file's precision."""
    rng = np.random.default_rng(seed)
    inputs = [rng.uniform(-1, 1, (1, cfg.size, cfg.size, cfg.in_channels)).astype(np.float32) for _ in range(samples)]
    expected = [np.asarray(model(x, training=False)) for x in inputs]
    result = {}
    for filename, (path, art) in files.items():
        runner = open_model(path, threads=2)
        got = [runner.run_nhwc(x) for x in inputs]
        max_abs = max(float(np.max(np.abs(e - g))) for e, g in zip(expected, got))
        low = min(psnr(e, g, TANH_RANGE) for e, g in zip(expected, got))
        ok = low >= FP16_MIN_PSNR_DB if art.precision == "fp16" else max_abs <= FP32_MAX_ABS_DIFF
        result[filename] = {"max_abs_diff": max_abs, "psnr_db": round(low, 2) if np.isfinite(low) else None,
                            "samples": samples, "within_tolerance": bool(ok)}
    return result


def run_checker(graph: Graph, ls_version: str) -> CheckReport:
    """snapcheck's verdict on one exported file (``snapcheck.api.check_graph``)."""
    return check_graph(graph, ls_version)


def op_counts(graph: Graph) -> dict[str, int]:
    """Op type → count in every subgraph, as snapcheck's reader sees the file (TFLite builtin names or
    ONNX op types)."""
    return dict(sorted(Counter(op.type for sg in graph.subgraphs for op in sg.ops).items()))


def build_sidecar(cfg: GeneratorConfig, name: str, model: Any, artifacts: list[Artifact], graphs: dict[str, Graph],
                  tolerances: dict[str, Any], reports: dict[str, Any], *, fp16: bool, gate: bool,
                  ls_version: str, weights: str | Path | None) -> dict[str, Any]:
    """The JSON sidecar: config, sizes and compute, and per file its bytes, hash, ops, verdict and tolerance."""
    import tensorflow as tf
    import tf2onnx

    prof = profile_config(cfg)
    files = {}
    for art in artifacts:
        report = reports[art.filename]
        files[art.filename] = {
            "format": art.fmt,
            "precision": art.precision,
            "bytes": len(art.data),
            "sha256": hashlib.sha256(art.data).hexdigest(),
            "ops": op_counts(graphs[art.filename]),
            "snapcheck": {"passed": bool(report.passed), "findings": sorted({f.code for f in report.findings}),
                          "errors": sorted({f.code for f in report.findings if f.severity == "error"})},
            "tolerance": tolerances[art.filename],
        }
    return {
        "name": name,
        "config": cfg.to_dict(),
        "config_key": cfg.key(),
        "weights": None if weights is None else str(weights),
        "params": int(model.count_params()),
        "deployed_params": prof.deployed_params,
        "macs": prof.macs,
        "input": {"name": INPUT_NAME, "shape_nhwc": [1, cfg.size, cfg.size, cfg.in_channels], "range": [-1, 1]},
        "output": {"name": OUTPUT_NAME, "shape_nhwc": [1, cfg.size, cfg.size, cfg.out_channels], "range": [-1, 1],
                   "alpha_channel": 3 if cfg.out_channels == 4 else None},
        "file_bytes": {f: info["bytes"] for f, info in files.items()},
        "files": files,
        "snapcheck": {
            "ls_version": ls_version,
            "gate": gate,
            "passed": all(info["snapcheck"]["passed"] for info in files.values()),
            "files": {f: info["snapcheck"] for f, info in files.items()},
        },
        "tolerances": {
            "limits": {"fp32_max_abs_diff": FP32_MAX_ABS_DIFF, "fp16_min_psnr_db": FP16_MIN_PSNR_DB},
            "measured": tolerances,
        },
        "tools": {"snapcheck": __version__, "tensorflow": tf.__version__, "tf2onnx": tf2onnx.__version__,
                  "onnx_opset": ONNX_OPSET, "fp16": fp16},
    }
