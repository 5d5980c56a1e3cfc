"""Single ops with no Lens Studio layer, written exactly with layers that have one. No library does these.

- ``HardSwish(x)`` -> ``x * Clip(x + 3, 0, 6) * 1/6`` and ``HardSigmoid(x)`` -> ``Clip(a*x + b, ...)`` through
  ReLU6: ``Clip(6a*x + 6b, 0, 6) * 1/6`` (Clip(0, 6) is Lens Studio's ReLU6 layer).
- ``LayerNormalization`` (opset 17) -> ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul, Add: what
  torch.onnx writes at opset 16 and below, each op with a layer.
- ``DepthToSpace`` (PixelShuffle) -> a ConvTranspose with kernel and stride equal to the block size whose weights
  pick one input channel per output pixel (a 0/1 matrix: every output is one input times 1.0, exactly).
- GELU written with ``Erf`` (torch.onnx before opset 20: ``x * 0.5 * (1 + erf(x / sqrt(2)))``) -> one ``Gelu`` op,
  after converting the model to opset 20 (onnx.version_converter), where GELU is one op: Lens Studio has a GELU
  layer and no Erf one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from snapcheck.fix.passes import Context, opset

MAX_D2S_WEIGHTS = 1 << 20  # DepthToSpace with more weights than this (C^2 b^4) is left as it is


def _const(model: Any, name: str, value: Any, dtype: Any = np.float32) -> str:
    from onnx import numpy_helper

    model.graph.initializer.append(numpy_helper.from_array(np.asarray(value, dtype), name))
    return name


def _attr(node: Any, name: str, default: Any) -> Any:
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _replace(model: Any, rewrite: dict[int, list[Any]]) -> None:
    nodes = []
    for i, n in enumerate(model.graph.node):
        nodes.extend(rewrite.get(i, [n]))
    del model.graph.node[:]
    model.graph.node.extend(nodes)


def hard_swish(model: Any, ctx: Context) -> tuple[Any, str | None]:
    from onnx import helper

    rewrite: dict[int, list[Any]] = {}
    for i, n in enumerate(model.graph.node):
        if n.domain not in ("", "ai.onnx") or n.op_type not in ("HardSwish", "HardSigmoid"):
            continue
        x, y, p = n.input[0], n.output[0], f"{n.output[0]}__snapcheck"
        alpha, beta = (1 / 6, 0.5) if n.op_type == "HardSwish" else (_attr(n, "alpha", 0.2), _attr(n, "beta", 0.5))
        scaled = x
        nodes = []
        if abs(6 * alpha - 1) > 1e-12:
            nodes.append(helper.make_node("Mul", [x, _const(model, f"{p}_a", 6 * alpha)], [f"{p}_ax"]))
            scaled = f"{p}_ax"
        nodes += [helper.make_node("Add", [scaled, _const(model, f"{p}_b", 6 * beta)], [f"{p}_shift"]),
                  helper.make_node("Clip", [f"{p}_shift", _const(model, f"{p}_lo", 0.0),
                                            _const(model, f"{p}_hi", 6.0)], [f"{p}_relu6"]),
                  helper.make_node("Mul", [f"{p}_relu6", _const(model, f"{p}_sixth", 1 / 6)],
                                   [f"{p}_hsig" if n.op_type == "HardSwish" else y])]
        if n.op_type == "HardSwish":
            nodes.append(helper.make_node("Mul", [x, f"{p}_hsig"], [y]))
        rewrite[i] = nodes
    if not rewrite:
        return model, None
    kinds = sorted({model.graph.node[i].op_type for i in rewrite})
    _replace(model, rewrite)
    return model, f"{len(rewrite)} {'/'.join(kinds)} -> Add + ReLU6 (Clip 0..6) + Mul"


def layer_norm(model: Any, ctx: Context) -> tuple[Any, str | None]:
    from onnx import helper

    rewrite: dict[int, list[Any]] = {}
    axes_input = opset(model) >= 18
    for i, n in enumerate(model.graph.node):
        if n.domain not in ("", "ai.onnx") or n.op_type != "LayerNormalization" or len(n.output) > 1 and \
                any(n.output[1:]):
            continue  # the optional mean / inv-std outputs are not rewritten
        axis, eps = int(_attr(n, "axis", -1)), float(_attr(n, "epsilon", 1e-5))
        if axis != -1:
            continue  # over the last axis only (torch's nn.LayerNorm on features)
        x, y, p = n.input[0], n.output[0], f"{n.output[0]}__snapcheck"

        def mean(src: str, dst: str) -> Any:
            if axes_input:
                return helper.make_node("ReduceMean", [src, _const(model, f"{dst}_axes", [-1], np.int64)], [dst])
            return helper.make_node("ReduceMean", [src], [dst], axes=[-1])

        nodes = [mean(x, f"{p}_mean"), helper.make_node("Sub", [x, f"{p}_mean"], [f"{p}_d"]),
                 helper.make_node("Pow", [f"{p}_d", _const(model, f"{p}_two", 2.0)], [f"{p}_d2"]),
                 mean(f"{p}_d2", f"{p}_var"),
                 helper.make_node("Add", [f"{p}_var", _const(model, f"{p}_eps", eps)], [f"{p}_var_eps"]),
                 helper.make_node("Sqrt", [f"{p}_var_eps"], [f"{p}_std"]),
                 helper.make_node("Div", [f"{p}_d", f"{p}_std"], [f"{p}_norm"])]
        has_bias = len(n.input) > 2 and n.input[2]
        nodes.append(helper.make_node("Mul", [f"{p}_norm", n.input[1]], [f"{p}_scaled" if has_bias else y]))
        if has_bias:
            nodes.append(helper.make_node("Add", [f"{p}_scaled", n.input[2]], [y]))
        rewrite[i] = nodes
    if not rewrite:
        return model, None
    _replace(model, rewrite)
    return model, f"{len(rewrite)} LayerNormalization -> ReduceMean, Sub, Pow, Sqrt, Div, Mul, Add (opset-16 form)"


def _d2s_weight(channels: int, block: int, mode: str) -> np.ndarray:
    """ConvTranspose weights [C*b*b, C, b, b] that scatter each input channel to one output pixel."""
    w = np.zeros((channels * block * block, channels, block, block), np.float32)
    for c in range(channels):
        for i in range(block):
            for j in range(block):
                ic = c * block * block + i * block + j if mode == "CRD" else (i * block + j) * channels + c
                w[ic, c, i, j] = 1.0
    return w


def depth_to_space(model: Any, ctx: Context) -> tuple[Any, str | None]:
    from onnx import helper, shape_inference

    try:
        g = shape_inference.infer_shapes(model, strict_mode=False).graph
        shapes = {vi.name: [d.dim_value for d in vi.type.tensor_type.shape.dim]
                  for vi in (*g.input, *g.value_info, *g.output)}
    except Exception:  # noqa: BLE001
        shapes = {}
    rewrite: dict[int, list[Any]] = {}
    for i, n in enumerate(model.graph.node):
        if n.domain not in ("", "ai.onnx") or n.op_type != "DepthToSpace":
            continue
        shape = shapes.get(n.input[0])
        b = int(_attr(n, "blocksize", 0))
        mode = _attr(n, "mode", b"DCR")
        mode = mode.decode() if isinstance(mode, bytes) else str(mode)
        if not shape or len(shape) != 4 or b < 2 or shape[1] % (b * b):
            continue
        c = shape[1] // (b * b)
        if (c * b * b) * c * b * b > MAX_D2S_WEIGHTS:
            continue
        w = _const(model, f"{n.output[0]}__snapcheck_d2s", _d2s_weight(c, b, mode))
        rewrite[i] = [helper.make_node("ConvTranspose", [n.input[0], w], [n.output[0]], name=n.name or None,
                                       kernel_shape=[b, b], strides=[b, b])]
    if not rewrite:
        return model, None
    _replace(model, rewrite)
    return model, f"{len(rewrite)} DepthToSpace -> ConvTranspose (0/1 weights, kernel = stride = block size)"


GELU_OPSET = 20
_SQRT2 = float(np.sqrt(2.0))


def _scalar(inits: dict[str, Any], name: str) -> float | None:
    from onnx import numpy_helper

    t = inits.get(name)
    if t is None:
        return None
    v = numpy_helper.to_array(t)
    return float(v.reshape(-1)[0]) if v.size == 1 else None


def _gelu_patterns(model: Any) -> list[tuple[str, str, list[int]]]:
    """(x, y, node indices) of each ``Mul(Mul(x, Add(Erf(Div(x, sqrt 2)), 1)), 0.5)`` (either operand order)."""
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    by_output = {o: i for i, n in enumerate(g.node) for o in n.output}
    readers: dict[str, list[int]] = {}
    for i, n in enumerate(g.node):
        for t in n.input:
            readers.setdefault(t, []).append(i)

    def only_reader(tensor: str, op: str) -> int | None:
        rs = readers.get(tensor, [])
        return rs[0] if len(rs) == 1 and g.node[rs[0]].op_type == op else None

    def other(node: Any, tensor: str) -> str | None:
        rest = [t for t in node.input if t != tensor]
        return rest[0] if len(rest) == 1 else None

    found = []
    for e, n in enumerate(g.node):
        if n.op_type != "Erf":
            continue
        d = by_output.get(n.input[0])
        if d is None or g.node[d].op_type not in ("Div", "Mul"):
            continue
        div = g.node[d]
        x, k = div.input[0], _scalar(inits, div.input[1])
        if k is None or abs((k if div.op_type == "Div" else 1 / k) - _SQRT2) > 1e-5:
            continue
        a = only_reader(n.output[0], "Add")
        if a is None or _scalar(inits, other(g.node[a], n.output[0]) or "") != 1.0:
            continue
        m1 = only_reader(g.node[a].output[0], "Mul")
        if m1 is None or other(g.node[m1], g.node[a].output[0]) != x:
            continue
        m2 = only_reader(g.node[m1].output[0], "Mul")
        if m2 is None or _scalar(inits, other(g.node[m2], g.node[m1].output[0]) or "") != 0.5:
            continue
        if len(readers.get(div.output[0], [])) != 1:
            continue
        found.append((x, g.node[m2].output[0], [d, e, a, m1, m2]))
    return found


def gelu(model: Any, ctx: Context) -> tuple[Any, str | None]:
    from onnx import helper, version_converter

    if not _gelu_patterns(model):
        return model, None
    current = opset(model)
    if current < GELU_OPSET:
        try:
            model = version_converter.convert_version(model, GELU_OPSET)
        except Exception:  # noqa: BLE001 - no adapter for some op: the Erf form stays
            return model, None
    patterns = _gelu_patterns(model)
    drop = {i for _, _, members in patterns for i in members}
    rewrite: dict[int, list[Any]] = {members[-1]: [helper.make_node("Gelu", [x], [y])] for x, y, members in patterns}
    nodes = [n for i, n in enumerate(model.graph.node) for n in rewrite.get(i, [n] if i not in drop else [])]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    upgraded = f"; opset {current} -> {GELU_OPSET}" if current < GELU_OPSET else ""
    return model, f"{len(patterns)} GELU written with Erf -> Gelu{upgraded}"
