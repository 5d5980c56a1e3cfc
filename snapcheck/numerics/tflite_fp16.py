"""The float16 variants of a TFLite model that the numerics check runs with LiteRT.

Built with LiteRT's own flatbuffer object API (``ai_edge_litert.schema_py_generated``):

- ``cpu``: float32 constant buffers rounded to float16 values (float16 weights behind DEQUANTIZE are already so);
- ``gpu``: the rounded weights, and every float32 output of an op (other than the DEQUANTIZE of a weight) rounded
  by a CAST to FLOAT16 and back; the op's readers and the subgraph outputs read the rounded copy.

Intermediates are read with LiteRT's ``experimental_preserve_all_tensors``: a probe is a tensor index of the
float32 model and of the ``gpu`` variant.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from snapcheck.numerics.onnx_fp16 import round_fp16

_FLOAT32, _FLOAT16 = 0, 1  # TensorType
_CAST, _DEQUANTIZE = 53, 6  # BuiltinOperator


@dataclass
class TflProbe:
    label: str
    ref: int  # tensor index in the float32 model
    gpu: int  # tensor index of its rounded copy in the gpu variant
    inputs: list[int] = field(default_factory=list)  # float32-model tensor indices the op reads


@dataclass
class TflVariants:
    cpu: bytes
    gpu: bytes
    probes: list[TflProbe]


def _pack(model) -> bytes:
    import flatbuffers

    b = flatbuffers.Builder(1 << 16)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _code(model, op) -> int:
    oc = model.operatorCodes[op.opcodeIndex]
    return max(int(oc.builtinCode), int(oc.deprecatedBuiltinCode))


def _round_buffers(model) -> None:
    for sg in model.subgraphs:
        for t in sg.tensors:
            buf = model.buffers[t.buffer] if t.buffer < len(model.buffers) else None
            if t.type == _FLOAT32 and buf is not None and buf.data is not None and len(buf.data) >= 4:
                data = np.frombuffer(np.asarray(buf.data, np.uint8).tobytes(), np.float32)
                buf.data = np.frombuffer(round_fp16(data).tobytes(), np.uint8)


def tflite_variants(buf: bytes) -> TflVariants:
    """The ``cpu`` and ``gpu`` variants of a TFLite model's bytes, and the probes of its main subgraph."""
    from ai_edge_litert import schema_py_generated as S

    model = S.ModelT.InitFromPackedBuf(bytearray(buf), 0)
    _round_buffers(model)
    cpu = _pack(model)
    cast = S.OperatorCodeT()
    cast.builtinCode = cast.deprecatedBuiltinCode = _CAST
    cast.version = 1
    model.operatorCodes.append(cast)
    cast_index = len(model.operatorCodes) - 1
    sg = model.subgraphs[0]
    ops, remap, probes = [], {}, []
    op_names = {v: n for n, v in vars(S.BuiltinOperator).items() if not n.startswith("_")}

    def tensor(name: bytes, kind: int, like) -> int:
        t = S.TensorT()
        t.name, t.type, t.shape, t.buffer = name, kind, like.shape, 0
        t.shapeSignature = like.shapeSignature
        sg.tensors.append(t)
        return len(sg.tensors) - 1

    for k, op in enumerate(list(sg.operators)):
        reads = [i for i in op.inputs if i >= 0]
        op.inputs = [remap.get(i, i) for i in op.inputs]
        ops.append(op)
        code = _code(model, op)
        if code == _DEQUANTIZE:
            continue
        op_name = op_names.get(code, str(code))
        for o in op.outputs:
            t = sg.tensors[o]
            if o < 0 or t.type != _FLOAT32:
                continue
            half = tensor((t.name or b"") + b"/fp16", _FLOAT16, t)
            back = tensor((t.name or b"") + b"/fp16r", _FLOAT32, t)
            for src, dst in ((o, half), (half, back)):
                c = S.OperatorT()
                c.opcodeIndex, c.inputs, c.outputs = cast_index, [src], [dst]
                ops.append(c)
            remap[o] = back
            label = f"#{k} {op_name}" + (f" ({t.name.decode('utf-8', 'replace')})" if t.name else "")
            probes.append(TflProbe(label, o, back, reads))
    sg.operators = ops
    sg.outputs = [remap.get(i, i) for i in sg.outputs]
    return TflVariants(cpu=cpu, gpu=_pack(model), probes=probes)
