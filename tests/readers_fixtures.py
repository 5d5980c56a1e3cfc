"""Shared helpers for the reader tests: the third-party corpus, its MANIFEST facts, and small ONNX builders."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from snapcheck.paths import repo_root

_ROOT = repo_root()
CORPUS = (_ROOT.parent if _ROOT else Path(__file__).resolve().parents[1].parent) / "shared" / "corpus"

# MANIFEST dtype abbreviations -> IR dtype names.
SHORT_DTYPES = {"f32": "float32", "f16": "float16", "f64": "float64", "i64": "int64", "i32": "int32", "i16": "int16",
                "i8": "int8", "u8": "uint8", "i4": "int4", "bool": "bool"}


def require_corpus() -> Path:
    if not (CORPUS / "MANIFEST.tsv").is_file():
        pytest.skip(f"third-party corpus not found at {CORPUS} (shared/ must sit beside the repository)")
    return CORPUS


@dataclass
class Facts:
    """What MANIFEST.tsv says about one file (the part after ``|`` in its notes)."""

    name: str
    notes: str
    values: dict[str, str] = field(default_factory=dict)
    ops: list[str] = field(default_factory=list)

    @property
    def negative(self) -> bool:
        return "NEGATIVE" in self.notes

    @property
    def is_model(self) -> bool:
        return not self.name.endswith(".data")

    def ints(self, key: str) -> int | None:
        return int(self.values[key]) if key in self.values else None

    def list(self, key: str) -> list[str]:
        return [v for v in self.values.get(key, "").split(",") if v]

    def dtype_counts(self) -> dict[str, int]:
        out = {}
        for item in self.list("dtypes"):
            short, n = item.split(":")
            out[SHORT_DTYPES[short]] = int(n)
        return out


def manifest() -> list[Facts]:
    rows = list(csv.DictReader((CORPUS / "MANIFEST.tsv").open(), delimiter="\t"))
    out = []
    for row in rows:
        facts = Facts(row["file"], row["notes"])
        for part in row["notes"].split("|", 1)[-1].split(";"):
            part = part.strip()
            if part.startswith("ops:"):
                facts.ops = part[4:].split(",")
            elif m := re.fullmatch(r"onnx IR (\d+)", part):
                facts.values["ir"] = m.group(1)
            elif m := re.match(r"([\w/ -]+?)=(.*)", part):
                facts.values[m.group(1).strip()] = m.group(2).strip()
        out.append(facts)
    return out


def corpus_params(fmt: str | None = None) -> list:
    """pytest params over the MANIFEST's model files (by the format its notes name), ids = file names."""
    if not (CORPUS / "MANIFEST.tsv").is_file():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"corpus not found at {CORPUS}"))]
    chosen = [f for f in manifest() if f.is_model and (fmt is None or f.notes.split("|", 1)[-1].strip().startswith(fmt))]
    return [pytest.param(f, id=f.name) for f in chosen]


def onnx_with_initializer(weights: np.ndarray):
    """A one-node model ``Y = X + W`` whose initializer ``W`` holds ``weights`` (inline data)."""
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("Add", ["X", "W"], ["Y"])],
        "add",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, list(weights.shape))],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, list(weights.shape))],
        [numpy_helper.from_array(weights, "W")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def save_with_external(model_path: Path, weights: np.ndarray, location: str, data_file: Path | None) -> None:
    """Save ``onnx_with_initializer(weights)`` at ``model_path`` with ``W``'s data at ``location``.

    ``data_file`` (where the bytes are really written, if anywhere) may differ from ``location``, so
    that tests can point a location at a file outside the model's folder.
    """
    from onnx.external_data_helper import set_external_data

    model = onnx_with_initializer(weights)
    w = model.graph.initializer[0]
    raw = w.raw_data
    set_external_data(w, location=location, offset=0, length=len(raw))
    w.ClearField("raw_data")
    if data_file is not None:
        data_file.parent.mkdir(parents=True, exist_ok=True)
        data_file.write_bytes(raw)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    model_path.write_bytes(model.SerializeToString())


def tiny_tflite(weights: np.ndarray, *, external: bool = False, custom_code: str | None = None,
                inputs: tuple[int, ...] = (0, 1)) -> bytes:
    """A one-op .tflite, ``out = op(x, w)`` with float32 ``w = weights``, written with the ``tflite`` builders.

    ``external`` stores ``w`` after the flatbuffer, referenced by the buffer's offset/size (as
    converters do for models over 2 GB). ``custom_code`` makes the op CUSTOM with that code, else ADD.
    ``inputs`` are the op's input tensor indices (tensors: 0 = x, 1 = w, 2 = out).
    """
    import importlib

    import flatbuffers

    # The schema modules (their builder functions), not the classes the ``tflite`` package re-exports.
    Buffer, Model, Operator, OperatorCode, SubGraph, Tensor = (
        importlib.import_module(f"tflite.{name}")
        for name in ("Buffer", "Model", "Operator", "OperatorCode", "SubGraph", "Tensor"))

    raw = np.ascontiguousarray(weights, dtype=np.float32).view(np.uint8).ravel()

    def build(offset: int) -> bytes:
        b = flatbuffers.Builder(1024)
        data = None if external else b.CreateNumpyVector(raw)
        Buffer.Start(b)
        empty = Buffer.End(b)
        Buffer.Start(b)
        if external:
            Buffer.AddOffset(b, offset)
            Buffer.AddSize(b, raw.size)
        else:
            Buffer.AddData(b, data)
        stored = Buffer.End(b)

        def vector(start, items, add=None):
            start(b, len(items))
            for item in reversed(items):
                (add or b.PrependUOffsetTRelative)(item)
            return b.EndVector()

        def tensor(name: str, buffer: int) -> int:
            shape = vector(Tensor.StartShapeVector, list(weights.shape), b.PrependInt32)
            label = b.CreateString(name)
            Tensor.Start(b)
            Tensor.AddShape(b, shape)
            Tensor.AddType(b, 0)
            Tensor.AddBuffer(b, buffer)
            Tensor.AddName(b, label)
            return Tensor.End(b)

        tensors = [tensor("x", 0), tensor("w", 1), tensor("out", 0)]
        code = b.CreateString(custom_code) if custom_code else None
        OperatorCode.Start(b)
        OperatorCode.AddBuiltinCode(b, 32 if custom_code else 0)
        OperatorCode.AddDeprecatedBuiltinCode(b, 32 if custom_code else 0)
        if code is not None:
            OperatorCode.AddCustomCode(b, code)
        OperatorCode.AddVersion(b, 1)
        opcode = OperatorCode.End(b)
        op_inputs = vector(Operator.StartInputsVector, list(inputs), b.PrependInt32)
        op_outputs = vector(Operator.StartOutputsVector, [2], b.PrependInt32)
        Operator.Start(b)
        Operator.AddOpcodeIndex(b, 0)
        Operator.AddInputs(b, op_inputs)
        Operator.AddOutputs(b, op_outputs)
        op = Operator.End(b)
        sg_tensors = vector(SubGraph.StartTensorsVector, tensors)
        sg_inputs = vector(SubGraph.StartInputsVector, [0], b.PrependInt32)
        sg_outputs = vector(SubGraph.StartOutputsVector, [2], b.PrependInt32)
        sg_ops = vector(SubGraph.StartOperatorsVector, [op])
        SubGraph.Start(b)
        SubGraph.AddTensors(b, sg_tensors)
        SubGraph.AddInputs(b, sg_inputs)
        SubGraph.AddOutputs(b, sg_outputs)
        SubGraph.AddOperators(b, sg_ops)
        subgraph = SubGraph.End(b)
        codes = vector(Model.StartOperatorCodesVector, [opcode])
        subgraphs = vector(Model.StartSubgraphsVector, [subgraph])
        buffers = vector(Model.StartBuffersVector, [empty, stored])
        Model.Start(b)
        Model.AddVersion(b, 3)
        Model.AddOperatorCodes(b, codes)
        Model.AddSubgraphs(b, subgraphs)
        Model.AddBuffers(b, buffers)
        b.Finish(Model.End(b), file_identifier=b"TFL3")
        return bytes(b.Output())

    if not external:
        return build(0)
    size = len(build(2))  # the offset's value does not change the flatbuffer's size
    start = (size + 15) // 16 * 16
    head = build(start)
    return head + b"\0" * (start - len(head)) + raw.tobytes()
