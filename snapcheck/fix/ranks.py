"""Rank-3 constants of eltwise ops get rank 4: ``[C, 1, 1]`` becomes ``[1, C, 1, 1]``.

PyTorch writes a per-channel parameter as ``[C, 1, 1]``; broadcasting against a 4-D activation aligns trailing dims,
so prepending a 1 computes the same thing. An importer error reported for such constants asks for rank 1, 2 or 4.
No library does this; a constant shared with other readers gets a rank-4 copy instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from snapcheck.fix.passes import Context

ELTWISE = frozenset({"Add", "Sub", "Mul", "Div", "Max", "Min", "Sum", "Pow", "PRelu", "Where", "Equal", "Less",
                     "Greater", "And", "Or"})


def _ranks(model: Any) -> dict[str, int]:
    from onnx import shape_inference

    try:
        g = shape_inference.infer_shapes(model, strict_mode=False).graph
    except Exception:  # noqa: BLE001
        g = model.graph
    return {vi.name: len(vi.type.tensor_type.shape.dim) for vi in (*g.input, *g.value_info, *g.output)
            if vi.type.tensor_type.HasField("shape")}


def constant_ranks(model: Any, ctx: Context) -> tuple[Any, str | None]:
    from onnx import numpy_helper

    g = model.graph
    inits = {t.name: t for t in g.initializer}
    ranks = _ranks(model)
    readers: dict[str, int] = {}
    for n in g.node:
        for t in n.input:
            readers[t] = readers.get(t, 0) + 1
    done, copies = [], {}
    for n in g.node:
        if n.op_type not in ELTWISE:
            continue
        others = [ranks.get(t) for t in n.input if t and t not in inits]
        if not others or any(r != 4 for r in others):
            continue  # only against 4-D activations is the extra leading 1 free
        for k, name in enumerate(n.input):
            t = inits.get(name)
            if t is None or len(t.dims) != 3:
                continue
            if readers[name] == 1:
                t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t)[None], name))
                done.append(f"'{name}' {list(t.dims[1:])} -> {list(t.dims)}")
            else:
                if name not in copies:
                    copy = numpy_helper.from_array(np.asarray(numpy_helper.to_array(t))[None], f"{name}__rank4")
                    g.initializer.append(copy)
                    copies[name] = copy.name
                    done.append(f"'{name}' {list(t.dims)} -> '{copy.name}' {list(copy.dims)}")
                n.input[k] = copies[name]
    return model, ("; ".join(done) or None)
