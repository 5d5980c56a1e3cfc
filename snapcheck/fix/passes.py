"""The rewrites that well-kept libraries do: inlining (onnx.inliner), opset conversion (onnx.version_converter),
freezing input dims (onnx.tools.update_model_dims; onnxslim for a static batch), folding and BatchNorm fusion
(onnxslim) and float16 weights (onnxruntime's float16 converter). Each takes the model and the fix's
context and returns the rewritten model and what it did, or ``None`` when it had nothing to do."""

from __future__ import annotations

import contextlib
import io
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from snapcheck.errors import InputError, one_line
from snapcheck.fix.rules import FixRules

DEFAULT_DOMAINS = ("", "ai.onnx")


@dataclass
class Context:
    """What the user asked for and what the rules say."""

    rules: FixRules
    path: str
    input_shapes: dict[str, list[int]] = field(default_factory=dict)  # --input-shape
    sample_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # shapes of --sample's arrays
    fp16: bool = False
    batch_from: dict[str, int] = field(default_factory=dict)  # inputs whose static batch was set to 1 (old batch)


def opset(model: Any) -> int:
    return next((o.version for o in model.opset_import if o.domain in DEFAULT_DOMAINS), 0)


@contextlib.contextmanager
def _quiet():
    """onnxslim and the onnx tools log and print; fix reports what they did itself."""
    logging.getLogger("onnxslim").setLevel(logging.ERROR)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def inline_functions(model: Any, ctx: Context) -> tuple[Any, str | None]:
    if not len(model.functions):
        return model, None
    from onnx import inliner

    names = sorted({f.name for f in model.functions})
    return inliner.inline_local_functions(model), f"inlined {len(names)} function(s): {', '.join(names)}"


def convert_opset(model: Any, ctx: Context) -> tuple[Any, str | None]:
    rule = ctx.rules.rewrites["opset"].options
    current = opset(model)
    if not current or current >= int(rule["convert_below"]):
        return model, None
    from onnx import version_converter

    try:
        converted = version_converter.convert_version(model, int(rule["target"]))
    except Exception as exc:  # noqa: BLE001 - a model the converter has no adapter for keeps its opset
        return model, f"opset {current} kept: onnx.version_converter cannot convert it ({one_line(exc, 160)})"
    return converted, f"opset {current} -> {rule['target']}"


def dims_of(vi: Any) -> list[int | str | None]:
    """The dims of a ValueInfo: ints where static, the symbolic name (or None) where not."""
    out: list[int | str | None] = []
    for d in vi.type.tensor_type.shape.dim:
        out.append(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else (d.dim_param or None))
    return out


def graph_inputs(model: Any) -> list[Any]:
    inits = {t.name for t in model.graph.initializer}
    return [vi for vi in model.graph.input if vi.name not in inits]


def static_shape(name: str, dims: list[int | str | None], ctx: Context) -> list[int]:
    """The static shape of an input: --input-shape, else the sample's, else its dims with a dynamic batch as 1;
    ``InputError`` (one line) when a dynamic dim stays unknown or a given shape contradicts the file."""
    given = ctx.input_shapes.get(name) or (list(ctx.sample_shapes[name]) if name in ctx.sample_shapes else None)
    if given is not None:
        if len(given) != len(dims):
            raise InputError(ctx.path, f"--input-shape {name}={','.join(map(str, given))} has rank {len(given)}; "
                                       f"input '{name}' has rank {len(dims)} {dims}")
        clash = [i for i, (g, d) in enumerate(zip(given, dims)) if isinstance(d, int) and g != d and i > 0]
        if clash:
            raise InputError(ctx.path, f"--input-shape {name}: dim {clash[0]} is {dims[clash[0]]} in the file, "
                                       f"not {given[clash[0]]}")
        return [int(g) for g in given]
    shape = [d if isinstance(d, int) else (1 if i == 0 else None) for i, d in enumerate(dims)]
    open_dims = [f"dim {i} ({dims[i] or '?'})" for i, d in enumerate(shape) if d is None]
    if open_dims:
        example = ",".join(str(d) if d is not None else str(dims[i] or f"D{i}").upper() for i, d in enumerate(shape))
        raise InputError(ctx.path, f"input '{name}' has dynamic {', '.join(open_dims)}: give its static shape with "
                                   f"--input-shape {name}={example} (or --sample FILE.npy)")
    return [int(d) for d in shape]


def freeze_dims(model: Any, ctx: Context) -> tuple[Any, str | None]:
    """Dynamic input dims become static; the stale symbolic shapes of intermediates are dropped (the fold
    infers them again)."""
    from onnx.tools.update_model_dims import update_inputs_outputs_dims

    unknown = sorted(set(ctx.input_shapes) - {vi.name for vi in graph_inputs(model)})
    if unknown:
        names = ", ".join(vi.name for vi in graph_inputs(model))
        raise InputError(ctx.path, f"--input-shape names no input of the model: {', '.join(unknown)} "
                                   f"(inputs: {names})")
    notes, inputs = [], {}
    for vi in graph_inputs(model):
        dims = dims_of(vi)
        if all(isinstance(d, int) for d in dims):
            inputs[vi.name] = dims
            continue
        inputs[vi.name] = static_shape(vi.name, dims, ctx)
        notes.append(f"{vi.name}: {[d if d is not None else '?' for d in dims]} -> {inputs[vi.name]}")
    if not notes:
        return model, None
    outputs = {vi.name: [d if d is not None else -1 for d in dims_of(vi)] for vi in model.graph.output}
    model = update_inputs_outputs_dims(model, inputs, outputs)
    del model.graph.value_info[:]
    return model, "; ".join(notes)


def batch_one(model: Any, ctx: Context) -> tuple[Any, str | None]:
    """A static batch other than 1 on the 4-D inputs becomes 1 (the outputs' batch follows; fix checks it)."""
    changes = []
    for vi in graph_inputs(model):
        dims = dims_of(vi)
        wanted = ctx.input_shapes.get(vi.name)
        if len(dims) == 4 and isinstance(dims[0], int) and dims[0] > 1 and (wanted is None or wanted[0] == 1):
            changes.append((vi.name, [1, *dims[1:]], dims[0]))
    if not changes:
        return model, None
    from onnxslim.core import input_shape_modification

    with _quiet():
        model = input_shape_modification(model, [f"{n}:{','.join(map(str, s))}" for n, s, _ in changes])
    for vi in model.graph.output:  # the old static batch of the outputs is re-inferred by the fold
        if len(vi.type.tensor_type.shape.dim) and vi.type.tensor_type.shape.dim[0].dim_value > 1:
            vi.type.tensor_type.shape.dim[0].dim_param = "batch"
    ctx.batch_from.update({n: b for n, _, b in changes})
    return model, "; ".join(f"{n}: batch {b} -> 1" for n, _, b in changes)


def _node_counts(model: Any) -> tuple[int, int, int]:
    g = model.graph
    return len(g.node), sum(n.op_type == "BatchNormalization" for n in g.node), len(g.initializer)


def fold(model: Any, ctx: Context) -> tuple[Any, str | None]:
    """onnxslim: constant folding, shape chains, dead and duplicate nodes, and the fusions ``fixes.toml`` allows."""
    import onnxslim
    from onnxslim.core.pattern.registry import DEFAULT_FUSION_PATTERNS

    allowed = set(ctx.rules.rewrites["fold"].options.get("fusions", ()))
    before = _node_counts(model)
    with _quiet():
        slim = onnxslim.slim(model, skip_fusion_patterns=sorted(set(DEFAULT_FUSION_PATTERNS) - allowed))
    if slim is None:
        return model, None
    static_outputs(slim)
    after = _node_counts(slim)
    if after == before:
        return model, None  # nothing folded: keep the model as it was (no re-inferred shapes added)
    bn, dropped = before[1] - after[1], before[2] - after[2]
    parts = [f"{before[0]} -> {after[0]} ops" if after[0] != before[0] else ""]
    parts.append(f"{bn} BatchNormalization folded into the convolution before it" if bn else "")
    parts.append(f"{dropped} unused constant(s) dropped" if dropped > 0 else "")
    return slim, ", ".join(p for p in parts if p) or "shapes re-inferred"


def static_outputs(model: Any) -> None:
    """Output dims that shape inference states become static in the declared outputs."""
    from onnx import shape_inference

    try:
        inferred = {o.name: o for o in shape_inference.infer_shapes(model, strict_mode=False).graph.output}
    except Exception:  # noqa: BLE001 - a model onnx cannot infer keeps its declared output shapes
        return
    for o in model.graph.output:
        new = inferred.get(o.name)
        dims = new.type.tensor_type.shape.dim if new is not None else []
        if dims and all(d.HasField("dim_value") for d in dims):
            o.type.tensor_type.shape.CopyFrom(new.type.tensor_type.shape)


def declare_output_shapes(model: Any, shapes: dict[str, tuple[int, ...]]) -> None:
    """Outputs with a dynamic or missing shape get the one they ran with, when every input is static (so the
    shape cannot change between runs)."""
    if any(not all(isinstance(d, int) for d in dims_of(vi)) for vi in graph_inputs(model)):
        return
    for o in model.graph.output:
        shape = shapes.get(o.name)
        dims = dims_of(o)
        if shape is None or (dims and all(isinstance(d, int) for d in dims)):
            continue
        o.type.tensor_type.shape.Clear()
        for d in shape:
            o.type.tensor_type.shape.dim.add().dim_value = int(d)


def to_fp16(model: Any, ctx: Context) -> tuple[Any, str | None]:
    if not ctx.fp16:
        return model, None
    from onnxruntime.transformers.float16 import convert_float_to_float16

    floats = sum(t.data_type == 1 for t in model.graph.initializer)
    if not floats:
        return model, None
    import onnxslim.third_party.onnx_graphsurgeon as gs

    with _quiet():
        out = convert_float_to_float16(model, keep_io_types=True)
        out = gs.export_onnx(gs.import_onnx(out).toposort())  # the converter appends its input Casts at the end
    return out, f"{floats} float32 weight tensor(s) -> float16 (inputs and outputs stay float32)"


def sample_shapes(arrays: dict[str, np.ndarray]) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in arrays.items() if not k.startswith("__")}
