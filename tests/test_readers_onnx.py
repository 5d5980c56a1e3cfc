"""ONNX specifics: nested graphs and outer-scope names, Constant outputs, symbolic dims, untyped attributes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from onnx import AttributeProto, TensorProto, helper, numpy_helper

from snapcheck.readers import load_model


def save(tmp_path: Path, graph, opset: int = 17) -> Path:
    path = tmp_path / "model.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString())
    return path


def test_if_branches_and_constants(tmp_path: Path) -> None:
    def branch(name: str, value: float):
        const = helper.make_node("Constant", [], [f"{name}_c"], value=numpy_helper.from_array(np.full((2,), value, np.float32)))
        add = helper.make_node("Add", ["X", f"{name}_c"], [f"{name}_out"])  # X comes from the outer graph
        return helper.make_graph([const, add], name, [], [helper.make_tensor_value_info(f"{name}_out", TensorProto.FLOAT, [2])])

    cond = helper.make_node("Constant", [], ["cond"], value_int=1)
    if_node = helper.make_node("If", ["cond_b"], ["Y"], then_branch=branch("then", 1.0), else_branch=branch("else", 2.0))
    cast = helper.make_node("Cast", ["cond"], ["cond_b"], to=TensorProto.BOOL)
    graph = helper.make_graph([cond, cast, if_node], "main",
                              [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch"])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["batch"])])
    g = load_model(save(tmp_path, graph))

    assert [len(sg.ops) for sg in g.subgraphs] == [3, 2, 2]
    op = g.main.ops[2]
    assert op.type == "If" and sorted(op.subgraphs) == sorted([op.attrs["then_branch"], op.attrs["else_branch"]]) == [1, 2]
    assert [sg.parent for sg in g.subgraphs] == [None, 0, 0]
    then = g.subgraphs[op.attrs["then_branch"]]
    assert then.name == "then" and g.subgraphs[op.attrs["else_branch"]].name == "else"
    x = g.main.tensors[g.main.inputs[0]]
    assert x.shape == (-1,) and x.shape_signature == ("batch",) and x.is_dynamic
    assert g.main.ops[1].attrs["to"] == TensorProto.BOOL and g.main.ops[1].version == 17
    cond_t = g.main.tensors[g.main.ops[0].outputs[0]]
    assert cond_t.is_constant and cond_t.data() == 1 and cond_t.dtype == "int64"
    outer_x = then.tensors[then.ops[1].inputs[0]]
    assert outer_x.name == "X" and outer_x.dtype == "float32"  # the outer graph's tensor, copied in
    const = then.tensors[then.ops[0].outputs[0]]
    assert const.is_constant and const.data().tolist() == [1.0, 1.0] and const.nbytes == 8


def test_untyped_and_reference_attributes(tmp_path: Path) -> None:
    node = helper.make_node("Transpose", ["X"], ["Y"], perm=[1, 0])
    node.attribute[0].type = AttributeProto.UNDEFINED  # as some old exporters wrote it
    ref = node.attribute.add(name="outer", ref_attr_name="p", type=AttributeProto.INT)  # only valid in functions
    assert ref.ref_attr_name
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [2, 3])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
    g = load_model(save(tmp_path, graph))
    assert g.main.ops[0].attrs == {"perm": [1, 0]}
    assert g.main.tensors[g.main.outputs[0]].shape == (3, 2)  # from shape inference


def test_string_attrs_decoded_and_custom_domain(tmp_path: Path) -> None:
    node = helper.make_node("Resize", ["X", "", "scales"], ["Y"], mode="nearest")
    custom = helper.make_node("Gelu", ["Y"], ["Z"], domain="com.microsoft")
    graph = helper.make_graph([node, custom], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 1, 2, 2])],
                              [helper.make_tensor_value_info("Z", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.microsoft", 1)])
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    g = load_model(path)
    resize, gelu = g.main.ops
    assert resize.attrs["mode"] == "nearest" and resize.inputs[1] == -1
    assert gelu.display_type == "com.microsoft::Gelu" and gelu.kind == "custom" and gelu.version == 1
    assert g.opsets == {"ai.onnx": 13, "com.microsoft": 1}


def test_every_onnx_dtype_is_named() -> None:
    from snapcheck.ir import DTYPE_BITS
    from snapcheck.readers.onnx_reader import DTYPES

    for name, code in TensorProto.DataType.items():
        assert DTYPES[code] in DTYPE_BITS and (DTYPES[code] != "undefined") == (name != "UNDEFINED"), name


def test_model_local_function_call_is_sc108_with_its_body(tmp_path: Path) -> None:
    from snapcheck.api import check_file

    fn = helper.make_function("local.fn", "Act", ["x"], ["y"],
                              [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Neg", ["r"], ["y"])],
                              [helper.make_opsetid("", 17)])
    graph = helper.make_graph(
        [helper.make_node("Relu", ["X"], ["A"]), helper.make_node("Act", ["A"], ["Y"], domain="local.fn")], "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 3, 8, 8])])
    model = helper.make_model(graph, functions=[fn],
                              opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("local.fn", 1)])
    path = tmp_path / "fn.onnx"
    path.write_bytes(model.SerializeToString())
    ops = load_model(path).main.ops
    assert len(ops) == 2 and ops[0].kind == "builtin"  # the call stays one op: the graph's node count
    assert ops[1].kind == "function" and ops[1].function_body == ("Relu", "Neg")
    report = check_file(path, ls_version="5.x", estimates=False)
    [f] = [f for f in report.findings if f.code == "SC108"]
    assert f.severity == "error" and f.inferred and "body: Relu, Neg" in f.message and "inline" in f.fix
    assert not any(f.code == "SC102" for f in report.findings)
