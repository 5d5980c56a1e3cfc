"""The I/O check: batch 1, static non-negative dims, rank <= 4, texture-sized image I/O, layout notes."""

from __future__ import annotations

from snapcheck.checks import op_label
from snapcheck.findings import Finding
from snapcheck.ir import Graph, Subgraph, Tensor
from snapcheck.rules import Ruleset

IO_DTYPES = frozenset({"float32", "float16", "uint8", "int8"})


def _dims(t: Tensor) -> tuple:
    return tuple(t.shape_signature) if t.shape_signature is not None else tuple(t.shape or ())


def _is_dynamic(d) -> bool:
    return not isinstance(d, int) or d < 0


def io_layout(graph: Graph, sg: Subgraph, ti: int, role: str) -> str:
    """Layout of a 4-D graph input/output. ONNX files converted from Keras keep NHWC I/O behind a Transpose."""
    if graph.layout == "NHWC":
        return "NHWC"
    if role == "input":
        users = [sg.ops[i] for i in sg.consumers().get(ti, [])]
        if users and all(op.type == "Transpose" and list(op.attrs.get("perm", ())) == [0, 3, 1, 2] for op in users):
            return "NHWC"
    else:
        p = sg.producers().get(ti)
        if p is not None and sg.ops[p].type == "Transpose" and list(sg.ops[p].attrs.get("perm", ())) == [0, 2, 3, 1]:
            return "NHWC"
    return "NCHW"


def check_io(graph: Graph, ruleset: Ruleset, covered_tensors: set[tuple[int, int]] | None = None) -> list[Finding]:
    covered = covered_tensors or set()
    findings: list[Finding] = []
    main = graph.main
    if main is None or not main.ops:
        findings.append(Finding(
            code="SC508", severity="error", message="the model has no operators" + ("" if main else " (no subgraph)"),
            why="Lens Studio imports a network; an empty graph gives the ML Component nothing to run.",
            fix="Export the trained model again; check the converter's log for errors."))
        return findings
    if graph.format not in ruleset.formats:
        findings.append(Finding(code="SC509", severity="error",
                                message=f"{ruleset.title} does not import .{graph.format} models",
                                why=f"{ruleset.title} imports {', '.join(ruleset.formats)}.",
                                fix="Convert the model to a format this version imports."))
    elif ruleset.formats[graph.format] == "inferred":
        findings.append(Finding(code="SC510", severity="info", inferred=True,
                                message=f"{ruleset.title} importing .{graph.format} is inferred, not documented",
                                why=f"Evidence: {ruleset.formats_source}.",
                                fix="Test the import in that Lens Studio version."))
    for role, indices in (("input", main.inputs), ("output", main.outputs)):
        for ti in indices:
            t = main.tensor(ti)
            if t is None:
                continue
            name = f"{role} '{t.name}'"
            dims = _dims(t)
            if t.shape is None:
                findings.append(Finding(code="SC502", severity="error", message=f"{name} has an unknown shape",
                                        why="Lens Studio takes input and output shapes from the file and cannot "
                                            "change them on import.",
                                        fix="Re-export with fixed shapes (TFLite: a keras.Input with batch_size=1 "
                                            "and fixed H, W; ONNX: no dynamic_axes).", tensor=t.name))
                continue
            dyn = [i for i, d in enumerate(dims) if _is_dynamic(d)]
            if dyn:
                which = ", ".join(("batch" if i == 0 and len(dims) > 1 else f"dim {i}") + f" ({dims[i]})" for i in dyn)
                findings.append(Finding(
                    code="SC502", severity="error",
                    message=f"{name} has dynamic or negative dims: {which}; shape {list(dims)}",
                    why="Lens Studio refuses them (\"The ONNX network's output dimensions should be non-negative\"); "
                        "input and output shapes are taken from the file and cannot change on import.",
                    fix="Re-export with fixed shapes: keras.Input(shape, batch_size=1) before converting to "
                        "TFLite; torch.onnx.export without dynamic_axes (or onnxruntime.tools.make_dynamic_shape_fixed).",
                    tensor=t.name))
            elif len(dims) >= 2 and dims[0] != 1:
                findings.append(Finding(
                    code="SC501", severity="error", message=f"{name} has batch {dims[0]}; Lens Studio runs batch 1",
                    why="The ML Component feeds one frame per run; Snap's exports all use a batch-1 input (inferred "
                        "rule: no Snap doc states it).",
                    fix="Re-export with batch size 1.", tensor=t.name, inferred=True))
            rank = len(dims)
            if rank == 4 and not dyn:
                layout = io_layout(graph, main, ti, role)
                c_axis, hw = (3, (1, 2)) if layout == "NHWC" else (1, (2, 3))
                c = dims[c_axis]
                if c > 4 and min(dims[hw[0]], dims[hw[1]]) > 1:
                    findings.append(Finding(
                        code="SC504", severity="warning",
                        message=f"{name} has {c} channels: it cannot be a texture (at most 4)",
                        why="The ML Component binds only inputs and outputs of up to 4 channels to textures; "
                            "others must be filled or read by script as Float32Arrays.",
                        fix="Use 1-4 channels for image inputs and outputs (e.g. RGB in, RGBA out).", tensor=t.name))
                if layout == "NCHW" and role == "input":
                    findings.append(Finding(
                        code="SC505", severity="info", message=f"{name} is NCHW {list(dims)}",
                        why="Lens Studio describes shapes as width, height, channels; it converts NCHW ONNX inputs, "
                            "but reshapes that assume a layout may behave differently on device (S-PT5).",
                        fix="Nothing to do for convolutional models; avoid view/reshape that mixes channels and "
                            "space.", tensor=t.name))
                if layout == "NHWC" and role == "input" and dims[1] <= 4 < min(dims[2], dims[3]):
                    findings.append(Finding(
                        code="SC506", severity="warning",
                        message=f"{name} {list(dims)} looks channels-first in a TFLite (NHWC) model",
                        why="Lens Studio reads the last dim of a TFLite input as channels, so it would see "
                            f"{dims[3]} channels and no texture.",
                        fix="Convert the model with an NHWC input (e.g. with onnx2tf, or a Keras model "
                            "built channels-last) and drop the leading TRANSPOSE.", tensor=t.name))
            if t.dtype not in IO_DTYPES:
                findings.append(Finding(
                    code="SC507", severity="warning", message=f"{name} is {t.dtype}",
                    why="\"All input and output data are Float32Arrays\" in the ML Component (S-SCRIPT5).",
                    fix="Use float32 inputs and outputs (or uint8/int8 for fully quantized TFLite models).",
                    tensor=t.name))
    for sg in graph.subgraphs:
        prod = sg.producers()
        for ti, t in enumerate(sg.tensors):
            if t.rank is not None and t.rank > 4 and (sg.index, ti) not in covered:
                p = prod.get(ti)
                op = sg.ops[p] if p is not None else None
                findings.append(Finding(
                    code="SC503", severity="error",
                    message=f"tensor '{t.name}' has rank {t.rank} {list(_dims(t))}"
                            + (f" (from {op_label(sg.index, op)})" if op is not None else ""),
                    why="Lens Studio builds every tensor as 4-D (its .dnn format has dim0..dim3).",
                    fix="Keep every tensor at rank 4 or below: fold extra dims into channels, or reshape to 4-D "
                        "before the op.",
                    op=op_label(sg.index, op) if op is not None else None, subgraph=sg.index,
                    op_index=op.index if op is not None else None, tensor=t.name, inferred=True))
    return findings
