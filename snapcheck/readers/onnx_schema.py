"""Check each ONNX node against its operator schema (``onnx.defs``), as ONNX Runtime does when it loads a model.

For ops of the standard domains that ``onnx`` knows at the model's opset, a node is refused (one line
naming it) when an attribute has another type than the schema's, a required attribute is missing, it has
fewer or more inputs or outputs than the schema allows, or a required input or output is empty. The
values of window attributes (strides, dilations, kernel shape, group) must be positive, and ``auto_pad``
one of its four names. Ops the schemas do not know (custom domains, typos) are left to the checks, which
report them. After this, every attribute value that the cost model and the checks read has its type.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from snapcheck.readers.lazy_package import submodule

_defs = submodule("onnx", "onnx_cpp2py_export").defs
_pb = submodule("onnx", "onnx_ml_pb2")
AttributeProto = _pb.AttributeProto

STANDARD_DOMAINS = {"": "", "ai.onnx": "", "ai.onnx.ml": "ai.onnx.ml",
                    "ai.onnx.preview.training": "ai.onnx.preview.training"}
_SINGLE = int(_defs.OpSchema.FormalParameterOption.Single)
_VARIADIC = int(_defs.OpSchema.FormalParameterOption.Variadic)
_POSITIVE_INTS = ("strides", "dilations", "kernel_shape")
_AUTO_PAD = frozenset({"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"})
_TYPE_NAMES = {v: k for k, v in AttributeProto.AttributeType.items()}
_MAX_VERSION = 2**31 - 1  # onnx.defs takes an int32 opset version; a larger one finds the latest schema


@lru_cache(maxsize=4096)
def schema(op_type: str, domain: str, version: int) -> Any | None:
    """The schema of ``op_type`` at opset ``version`` of a standard ``domain``, or None."""
    canonical = STANDARD_DOMAINS.get(domain)
    if canonical is None or not isinstance(op_type, str):
        return None
    try:
        return _defs.get_schema(op_type, min(version, _MAX_VERSION), canonical)
    except _defs.SchemaError:
        return None


def _params(formal: list, given: list, kind: str) -> str | None:
    """What is wrong with the node's inputs (or outputs) against the schema's formal parameters, if anything."""
    for k, name in enumerate(given):
        if k >= len(formal):
            if not formal or int(formal[-1].option) != _VARIADIC:
                return f"has {len(given)} {kind}s; the schema declares {len(formal)}"
            param = formal[-1]
        else:
            param = formal[k]
        if not name and int(param.option) == _SINGLE:
            return f"leaves required {kind} {k} ({param.name}) empty"
    return None


def node_problem(node: Any, kinds: dict[str, int], op_schema: Any) -> str | None:
    """Why ``node`` breaks its schema (attribute types as ``kinds``: name -> AttributeProto type), or None."""
    n_in, n_out = len(node.input), len(node.output)
    if not op_schema.min_input <= n_in <= op_schema.max_input:
        return f"has {n_in} inputs; {op_schema.name} takes {op_schema.min_input} to {op_schema.max_input}"
    if not op_schema.min_output <= n_out <= op_schema.max_output:
        return f"has {n_out} outputs; {op_schema.name} gives {op_schema.min_output} to {op_schema.max_output}"
    problem = _params(list(op_schema.inputs), list(node.input), "input") \
        or _params(list(op_schema.outputs), list(node.output), "output")
    if problem:
        return problem
    declared = op_schema.attributes
    for name, kind in kinds.items():
        attr = declared.get(name) if isinstance(name, str) else None
        if attr is not None and kind != int(attr.type):
            return (f"has attribute {name!r} of type {_TYPE_NAMES.get(kind, kind)}; {op_schema.name} wants "
                    f"{_TYPE_NAMES.get(int(attr.type), attr.type)}")
    for name, attr in declared.items():
        if attr.required and name not in kinds:
            return f"lacks the required attribute {name!r}"
    return None


def value_problem(op_type: str, attrs: dict[str, Any]) -> str | None:
    """Window attributes a runtime refuses: non-positive strides, dilations, kernel dims or group."""
    for name in _POSITIVE_INTS:
        values = attrs.get(name)
        if values is not None and any(v < 1 for v in values):
            return f"has {name} {list(values)}; each must be at least 1"
    if op_type in ("Conv", "ConvTranspose", "ConvInteger", "QLinearConv") and attrs.get("group", 1) < 1:
        return f"has group {attrs['group']}; it must be at least 1"
    pad = attrs.get("auto_pad")
    if pad is not None and pad not in _AUTO_PAD:
        return f"has auto_pad {pad!r}; it must be one of {', '.join(sorted(_AUTO_PAD))}"
    return None
