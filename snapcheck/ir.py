"""The one graph IR that both readers produce and every check, cost model and estimator consumes.

Conventions
-----------
- Tensors live in their subgraph and are referred to by index; ``-1`` marks an omitted optional input.
- ``dtype`` is a canonical lower-case name (see ``DTYPE_BITS``), the same for .tflite and .onnx.
- ``shape`` holds concrete dims, with ``-1`` where a dim is unknown or dynamic. ``shape_signature``
  keeps what the file says: ``-1`` (TFLite) or the symbolic name (ONNX ``dim_param``) for dynamic dims.
- ``Op.type`` is the file's own op name: the TFLite builtin name (``CONV_2D``, ``CUSTOM``, ``DELEGATE``)
  or the ONNX op type (``Conv``). ``Op.custom_code`` names TFLite custom/Flex ops.
- ``Op.attrs`` holds the file's own attributes, with readable names (TFLite options fields in snake
  case, enums as their names; ONNX attributes as Python values). Canonical, layout-independent
  facts (kernel, stride, pads, axis as N/H/W/C) are derived by ``snapcheck.checks.facts``.
- ``Graph.layout`` is the layout of 4-D activations: ``NHWC`` for .tflite, ``NCHW`` for .onnx.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Hashable, Iterator, Literal

import numpy as np

# Bits per element of every dtype either schema has. Unknown-size types (string, resource, variant) are 0.
DTYPE_BITS: dict[str, int] = {
    "float64": 64, "float32": 32, "float16": 16, "bfloat16": 16,
    "float8e4m3fn": 8, "float8e4m3fnuz": 8, "float8e5m2": 8, "float8e5m2fnuz": 8, "float8e8m0": 8,
    "float6e2m3": 6, "float6e3m2": 6, "float4e2m1": 4,
    "int64": 64, "int32": 32, "int16": 16, "int8": 8, "int4": 4, "int2": 2,
    "uint64": 64, "uint32": 32, "uint16": 16, "uint8": 8, "uint4": 4, "uint2": 2,
    "bool": 8, "complex64": 64, "complex128": 128,
    "string": 0, "resource": 0, "variant": 0, "undefined": 0,
}

FLOAT_DTYPES = frozenset({"float64", "float32", "float16", "bfloat16"})
QUANT_DTYPES = frozenset({"int8", "uint8", "int16", "int4", "uint4"})

CHUNK_ELEMENTS = 1 << 18  # default piece size of ``Tensor.chunks`` (1 MiB of float32: numpy passes stay in cache)
CHUNKED_BYTES = 64 << 20  # external constants larger than this are read only in pieces (``Tensor.data`` is None)


@dataclass
class Quantization:
    """Affine quantization parameters: ``real = scale * (q - zero_point)``."""

    scale: tuple[float, ...] = ()
    zero_point: tuple[int, ...] = ()
    axis: int | None = None  # quantized dimension for per-channel quantization
    block_size: int | None = None  # blockwise quantization (e.g. int4 weights)
    kind: str = "affine"  # affine | blockwise | custom
    # Blockwise (TFLite): indices, in the same subgraph, of the tensors holding per-block scales / zero points.
    scale_tensor: int | None = None
    zero_point_tensor: int | None = None

    @property
    def per_channel(self) -> bool:
        return len(self.scale) > 1


@dataclass
class Tensor:
    """A tensor of a subgraph: an activation, a graph input or output, or a constant."""

    name: str
    dtype: str
    shape: tuple[int, ...] | None  # None: rank unknown
    shape_signature: tuple[int | str, ...] | None = None
    is_constant: bool = False
    nbytes: int = 0  # stored bytes for constants; computed from shape and dtype otherwise (0 if unknown)
    quantization: Quantization | None = None
    sparse: bool = False
    is_variable: bool = False
    loader: Callable[[], np.ndarray | None] | None = field(default=None, repr=False, compare=False)
    # a dynamic tensor's shape when the model runs at batch 1, where the reader could work it out
    # (``readers.tflite_shapes``); None otherwise
    runtime_shape: tuple[int, ...] | None = None

    @property
    def rank(self) -> int | None:
        return None if self.shape is None else len(self.shape)

    @property
    def is_dynamic(self) -> bool:
        """True when any dim is unknown, negative or symbolic."""
        if self.shape is None:
            return True
        dims = self.shape_signature if self.shape_signature is not None else self.shape
        return any((not isinstance(d, int)) or d < 0 for d in dims) or any(d < 0 for d in self.shape)

    @property
    def numel(self) -> int | None:
        """Elements of the stored shape; None when a dim is unknown or dynamic (the estimator counts a dynamic
        tensor at LiteRT's batch-1 shape, ``runtime_shape``, through ``cost.tensors.numel``)."""
        if self.shape is None or any(d < 0 for d in self.shape):
            return None
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def is_quantized(self) -> bool:
        q = self.quantization
        return q is not None and (bool(q.scale) or q.kind == "blockwise")

    def data(self) -> np.ndarray | None:
        """The constant's values (decoded, not dequantized), or None for activations and opaque data.

        Readers may return None for a constant too large to hold in memory at once (external data over
        ``CHUNKED_BYTES``): ``chunks`` reads every constant.
        """
        return self.loader() if self.loader is not None else None

    def chunks(self, max_elements: int = CHUNK_ELEMENTS) -> Iterator[np.ndarray]:
        """The constant's values as consecutive flat pieces of at most ``max_elements`` (none for activations).

        External data is read piece by piece, so memory stays bounded whatever the tensor's size. A piece may
        be overwritten by the next one: use each before asking for the next.
        """
        own = getattr(self.loader, "chunks", None)
        if own is not None:
            yield from own(max_elements)
            return
        data = self.data()
        if data is None:
            return
        flat = data.reshape(-1)
        for start in range(0, flat.size, max_elements):
            yield flat[start:start + max_elements]

    @property
    def data_key(self) -> Hashable | None:
        """Identity of the stored bytes: constants with equal keys hold the same values (None: unknown)."""
        return getattr(self.loader, "key", None)


@dataclass
class Op:
    """One node of a subgraph."""

    index: int
    type: str
    inputs: list[int]
    outputs: list[int]
    attrs: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    domain: str = ""  # ONNX domain ("" = ai.onnx)
    custom_code: str | None = None  # TFLite custom op name; Flex ops start with "Flex"
    subgraphs: list[int] = field(default_factory=list)  # called subgraphs (WHILE/IF/CALL_ONCE, Loop/Scan/If)
    version: int = 1  # TFLite builtin op version, or the ONNX opset of the op's domain
    function_body: tuple[str, ...] | None = None  # ONNX call of a model-local function: its body's op types

    @property
    def kind(self) -> Literal["builtin", "custom", "flex", "function"]:
        if self.function_body is not None:
            return "function"
        if self.custom_code is not None:
            return "flex" if self.custom_code.startswith("Flex") else "custom"
        if self.domain not in ("", "ai.onnx"):
            return "custom"
        return "builtin"

    @property
    def display_type(self) -> str:
        """Type as a user reads it: ``CONV_2D``, ``CUSTOM(Sinh)``, ``FLEX(FlexErf)``, ``com.microsoft::Gelu``."""
        if self.custom_code is not None:
            return f"{'FLEX' if self.kind == 'flex' else 'CUSTOM'}({self.custom_code})"
        if self.domain not in ("", "ai.onnx"):
            return f"{self.domain}::{self.type}"
        return self.type


@dataclass
class Subgraph:
    """A function body: the main graph, or one called by a control-flow op."""

    index: int
    name: str
    tensors: list[Tensor]
    ops: list[Op]
    inputs: list[int]
    outputs: list[int]
    parent: int | None = None  # ONNX: the subgraph holding the op whose attribute this graph is

    def tensor(self, i: int) -> Tensor | None:
        return self.tensors[i] if 0 <= i < len(self.tensors) else None

    def producers(self) -> dict[int, int]:
        """Tensor index -> index of the op that writes it."""
        return {t: op.index for op in self.ops for t in op.outputs if t >= 0}

    def consumers(self) -> dict[int, list[int]]:
        """Tensor index -> indices of the ops that read it."""
        out: dict[int, list[int]] = {}
        for op in self.ops:
            for t in op.inputs:
                if t >= 0:
                    out.setdefault(t, []).append(op.index)
        return out

    def writers(self) -> dict[int, list[int]]:
        """Tensor index -> indices of the ops that write it: the producer -> consumer edges that order the ops.
        TFLite variable tensors, updated in place by design, carry none."""
        out: dict[int, list[int]] = {}
        for op in self.ops:
            for t in op.outputs:
                tensor = self.tensor(t)
                if t >= 0 and not (tensor is not None and tensor.is_variable):
                    out.setdefault(t, []).append(op.index)
        return out

    def topological_split(self) -> tuple[list[int], list[int]]:
        """Kahn's algorithm over the edges of ``writers``: the op indices in an order with each after the writers
        of its inputs, in file order where the graph allows; and the ops left over, on or after a cycle, in file
        order."""
        writers = self.writers()
        waiting: dict[int, int] = {}
        readers: dict[int, list[int]] = {}
        for op in self.ops:
            deps = {w for t in op.inputs for w in writers.get(t, ())}
            waiting[op.index] = len(deps)
            for d in deps:
                readers.setdefault(d, []).append(op.index)
        ready = [k for k, n in waiting.items() if n == 0]
        heapq.heapify(ready)
        order: list[int] = []
        while ready:
            k = heapq.heappop(ready)
            order.append(k)
            for r in readers.get(k, ()):
                waiting[r] -= 1
                if waiting[r] == 0:
                    heapq.heappush(ready, r)
        return order, [op.index for op in self.ops if waiting[op.index] > 0]

    def topological_ops(self) -> list[Op]:
        """The ops with each after the writers of its inputs, in file order where the graph allows (ONNX only
        asks for sorted nodes, and a hostile file may list a chain backwards); a cycle's ops (which the readers
        refuse) come last."""
        order, rest = self.topological_split()
        return [self.ops[k] for k in order + rest]


@dataclass
class Graph:
    """A whole model file."""

    path: Path
    format: Literal["tflite", "onnx"]
    file_bytes: int  # the model file plus any ONNX external-data files it uses
    subgraphs: list[Subgraph]
    layout: Literal["NHWC", "NCHW"]
    producer: str = ""
    version: str = ""  # TFLite schema version, or "ir<N>" for ONNX
    opsets: dict[str, int] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    external_files: list[Path] = field(default_factory=list)
    signatures: list[str] = field(default_factory=list)

    @property
    def main(self) -> Subgraph | None:
        return self.subgraphs[0] if self.subgraphs else None

    def all_ops(self):
        """Yield ``(subgraph, op)`` for every op of every subgraph."""
        for sg in self.subgraphs:
            for op in sg.ops:
                yield sg, op

    @property
    def op_count(self) -> int:
        return sum(len(sg.ops) for sg in self.subgraphs)


def dtype_nbytes(dtype: str, shape: tuple[int, ...] | None) -> int:
    """Bytes a dense tensor of this dtype and shape takes (0 when the shape is unknown or dynamic)."""
    if shape is None or any(d < 0 for d in shape):
        return 0
    return (math.prod(shape) * DTYPE_BITS.get(dtype, 0) + 7) // 8
