"""Nearest upsampling written out as Reshape/Unsqueeze + Tile/Expand (+ Reshape) becomes one ``Resize``.

PyTorch writes it for ``x[:, :, :, None, :, None].expand(...).reshape(...)``, ``x.repeat_interleave(2, dim)`` and
``unsqueeze(...).repeat(...)``; TF lowers Keras ``UpSampling2D`` the same way. No library rewrites it, so this
does: a connected group of those ops with one activation in and one out, whose output is its input with every
axis repeated by an integer factor, is first run on an ``arange`` input and compared with ``numpy.repeat`` (the
proof that it is a nearest upsampling), then replaced by ``Resize(mode=nearest, asymmetric, floor)`` with those
factors as scales: what ``F.interpolate(scale_factor, mode='nearest')`` exports.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from snapcheck.fix.passes import Context, opset

RESHAPES = frozenset({"Reshape", "Unsqueeze", "Squeeze", "Flatten"})
REPEATS = frozenset({"Tile", "Expand"})


def _shapes(model: Any) -> dict[str, tuple[int, ...]]:
    from onnx import shape_inference

    try:
        inferred = shape_inference.infer_shapes(model, strict_mode=False)
    except Exception:  # noqa: BLE001 - without inference nothing is rewritten
        return {}
    out = {}
    g = inferred.graph
    for vi in (*g.input, *g.value_info, *g.output):
        dims = vi.type.tensor_type.shape.dim
        if dims and all(d.HasField("dim_value") for d in dims):
            out[vi.name] = tuple(int(d.dim_value) for d in dims)
    return out


def _groups(nodes: list[Any]) -> list[list[int]]:
    """Trees of reshape and repeat nodes linked through their data input (each has one), that contain a repeat,
    grouped by the node at their root."""
    member = {i for i, n in enumerate(nodes) if n.op_type in RESHAPES | REPEATS}
    producer = {o: i for i, n in enumerate(nodes) for o in n.output}

    def root(i: int) -> int:
        while nodes[i].input and producer.get(nodes[i].input[0]) in member:
            i = producer[nodes[i].input[0]]
        return i

    groups: dict[int, list[int]] = {}
    for i in sorted(member):
        groups.setdefault(root(i), []).append(i)
    return [g for g in groups.values() if any(nodes[i].op_type in REPEATS for i in g)]


def _factors(src: tuple[int, ...] | None, dst: tuple[int, ...] | None) -> list[int] | None:
    """[1, 1, s, s] when ``dst`` is ``src`` (NCHW) with H and W grown by the same integer factor: what Lens
    Studio's Resize Nearest Neighbor runs ("same scaling factors in height and width"). A repeat of heads or
    channels (grouped-query attention) is not an upsampling and is left alone."""
    if src is None or dst is None or len(src) != len(dst) or len(src) != 4:
        return None
    if any(s <= 0 or d % s for s, d in zip(src, dst)):
        return None
    f = [d // s for s, d in zip(src, dst)]
    return f if f[0] == f[1] == 1 and f[2] == f[3] > 1 else None


def _proves_nearest(model: Any, members: list[int], x: str, y: str, shape: tuple[int, ...], factors: list[int],
                    ctx: Context) -> bool:
    """Run the group alone on an arange input: is it ``numpy.repeat`` along every axis by ``factors``?"""
    from onnx import TensorProto, helper

    from snapcheck.numerics.runtime import run_onnx

    g = model.graph
    nodes = [g.node[i] for i in members]
    needed = {i for n in nodes for i in n.input}
    inits = [t for t in g.initializer if t.name in needed]
    sub = helper.make_model(helper.make_graph(nodes, "group", [helper.make_tensor_value_info(x, TensorProto.FLOAT,
                                                                                             shape)],
                                              [helper.make_tensor_value_info(y, TensorProto.FLOAT, None)], inits),
                            opset_imports=list(model.opset_import))
    probe = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    try:
        got = run_onnx(sub.SerializeToString(), {x: probe}, [y], ctx.path)[y]
    except Exception:  # noqa: BLE001 - a group onnxruntime cannot run alone is left as it is
        return False
    want = probe
    for axis, f in enumerate(factors):
        want = np.repeat(want, f, axis=axis)
    return got.shape == want.shape and np.array_equal(got, want)


def nearest_upsampling(model: Any, ctx: Context) -> tuple[Any, str | None]:
    from onnx import helper, numpy_helper

    if opset(model) < 11:
        return model, None
    g = model.graph
    nodes = list(g.node)
    shapes = _shapes(model)
    consumers: dict[str, list[int]] = {}
    for i, n in enumerate(nodes):
        for t in n.input:
            consumers.setdefault(t, []).append(i)
    inits = {t.name for t in g.initializer}
    graph_outputs = {o.name for o in g.output}
    replace: dict[int, Any] = {}  # index of the member that writes the output -> Resize node
    drop: set[int] = set()
    done = []
    for members in _groups(nodes):
        inside = {o for i in members for o in nodes[i].output}
        ins = {nodes[i].input[0] for i in members} - inside - inits
        outs = [o for o in inside if o in graph_outputs or any(j not in members for j in consumers.get(o, []))]
        if len(ins) != 1 or len(outs) != 1:
            continue
        x, y = next(iter(ins)), outs[0]
        factors = _factors(shapes.get(x), shapes.get(y))
        if factors is None or not _proves_nearest(model, members, x, y, shapes[x], factors, ctx):
            continue
        scales = numpy_helper.from_array(np.asarray(factors, np.float32), f"{y}__snapcheck_scales")
        roi = numpy_helper.from_array(np.zeros(0, np.float32), f"{y}__snapcheck_roi")
        g.initializer.extend([scales, roi])
        last = next(i for i in members if y in nodes[i].output)  # every input is ready by then
        replace[last] = helper.make_node(
            "Resize", [x, roi.name, scales.name], [y], name=f"{y}/Resize", mode="nearest",
            coordinate_transformation_mode="asymmetric", nearest_mode="floor")
        drop.update(members)
        done.append(f"{len(members)} ops ({' + '.join(sorted({nodes[i].op_type for i in members}))}) -> Resize "
                    f"x{'x'.join(str(f) for f in factors[2:])} at '{y}'")
    if not done:
        return model, None
    kept = [replace[i] if i in replace else n for i, n in enumerate(nodes) if i not in drop or i in replace]
    del g.node[:]
    g.node.extend(kept)
    return model, "; ".join(done)
