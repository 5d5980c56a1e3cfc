"""Hostile files keep `snapcheck check`'s contract: exit 0/1 with a report that parses, or exit 2 with one line.

Every file of ../shared/fuzz-repro/ (the minimal inputs of a structure-aware fuzzing campaign) with its exact
expected outcome, and the classes behind them on files built here: cycles, limits, timeouts, external data.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from snapcheck.errors import InputError
from snapcheck.limits import LIMITS
from snapcheck.readers import load_model

REPRO = Path(__file__).resolve().parents[2] / "shared" / "fuzz-repro"
needs_repro = pytest.mark.skipif(not REPRO.is_dir(), reason=f"fuzz-repro files not found at {REPRO}")

# file -> (exit code, the essence of the one-line message; for exit 0/1 a code the report must hold)
EXPECTED = {
    "tfl_add_rank40_dims2e31.tflite": (2, r"too large to check: tensor 'big' has rank 40 \(limit 32\)"),
    "tfl_amplify_shared_options.tflite": (2, r"too large to check: more than 2,097,152 dims, op inputs and outputs "
                                             r"and option values"),
    "tfl_amplify_shared_shape.tflite": (2, r"too large to check: tensor 'a0' has rank 60,000"),
    "tfl_const_buffer_too_short.tflite": (2, r"constant tensor 'w' has a buffer of 7 bytes; its shape \[4, 3, 3, 3\] "
                                             r"of float32 needs 432"),
    "tfl_conv_inplace_add.tflite": (2, r"the main graph has a cycle: #1 ADD reads its own output 'y'"),
    "tfl_conv_stride0_same.tflite": (2, r"op #0 CONV_2D has stride_h 0; it must be at least 1"),
    "tfl_conv_weight_dim0.tflite": (0, None),
    "tfl_no_buffers_tensor_buffer7.tflite": (2, r"tensor 'x' points at buffer 7; the model has 0 buffer"),
    "tfl_pool_stride0_same.tflite": (2, r"op #0 AVERAGE_POOL_2D has stride_h 0; it must be at least 1"),
    "tfl_quant_scale3_zp5_axis99.tflite": (2, r"tensor 'w': its quantization has 3 scale\(s\) and 5 zero point\(s\)"),
    "tfl_reshape_chain1200_desc_indices.tflite": (0, None),
    "tfl_reshape_self_loop_on_const.tflite": (2, r"the main graph has a cycle: #2 RESHAPE reads its own output 'X'"),
    "tfl_signature_oob.tflite": (2, r"signature 'serving_default' names subgraph 7; the model has 1"),
    "tfl_sparsity_inconsistent.tflite": (2, r"tensor 'w': its sparsity metadata has traversal order \[99, -3,"),
    "tfl_tconv_weight_dim0.tflite": (0, None),
    "onnx_conv_group_string.onnx": (2, r"node 'conv' \(Conv\) has attribute 'group' of type STRING; Conv wants INT"),
    "onnx_conv_inplace_add.onnx": (2, r"the main graph has a cycle: #1 Add 'inplace_add' reads its own output 'C'"),
    "onnx_conv_stride0_same_upper.onnx": (2, r"node 'conv' \(Conv\) has strides \[0, 0\]; each must be at least 1"),
    "onnx_conv_weight_dim0.onnx": (0, None),
    "onnx_identity_chain10000_reversed.onnx": (0, None),
    "onnx_identity_chain1500_reversed.onnx": (0, None),
    "onnx_identity_self_loop_const.onnx": (2, r"the main graph has a cycle: #1 Identity reads its own output 'Q'"),
    "onnx_input_name_invalid_utf8.onnx": (0, None),
    "onnx_maxpool_kernel_shape_graph.onnx": (2, r"node MaxPool has attribute 'kernel_shape' of type GRAPH; MaxPool "
                                                r"wants INTS"),
    "onnx_op_type_invalid_utf8.onnx": (1, "SC101"),
    "onnx_raw_data_short.onnx": (2, r"tensor 'W' has 10 bytes of raw_data; its dims \[4, 3, 3, 3\] of float32 "
                                    r"need 432"),
    "onnx_relu_rank20_dims2e62.onnx": (2, r"too large to check: tensor 'X' of shape \[4611686018427387904, .*\] has "
                                          r"more elements than a runtime can hold"),
}


def check(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    """``snapcheck ARGS`` in this process, through the CLI's own entry point: (exit code, stdout, stderr without
    the host-profile note that ``check`` prints on a CPU other than the profile's)."""
    from snapcheck import cli
    from snapcheck.estimate.profiles import strip_host_note

    argv = sys.argv
    sys.argv = ["snapcheck", *args]
    try:
        cli.main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = argv
    out, err = capsys.readouterr()
    return code, out, strip_host_note(err)


@needs_repro
def test_every_repro_file_has_an_expected_outcome() -> None:
    assert sorted(p.name for p in REPRO.iterdir() if p.suffix in (".onnx", ".tflite")) == sorted(EXPECTED)


@needs_repro
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_repro_file_outcome(capsys: pytest.CaptureFixture, name: str) -> None:
    code, message = EXPECTED[name]
    rc, out, err = check(capsys, "check", str(REPRO / name), "--ls-version", "5.x", "--format", "json")
    assert rc == code, err
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"snapcheck: error: {REPRO / name}: "), err
        assert re.search(message, lines[0]), lines[0]
        assert out == ""
    else:
        assert err == ""
        doc = json.loads(out)
        assert doc["passed"] == (code == 0)
        if message:
            assert message in {f["code"] for f in doc["findings"]}


@needs_repro
@pytest.mark.parametrize("name", ["onnx_input_name_invalid_utf8.onnx", "onnx_op_type_invalid_utf8.onnx"])
@pytest.mark.parametrize("fmt", ["json", "sarif", "junit", "terminal"])
def test_invalid_utf8_names_never_break_a_report(capsys: pytest.CaptureFixture, name: str, fmt: str) -> None:
    rc, out, err = check(capsys, "check", str(REPRO / name), "--format", fmt, "-v")
    assert rc == EXPECTED[name][0] and err == ""
    if fmt in ("json", "sarif"):
        out = json.dumps(json.loads(out), ensure_ascii=False)
    elif fmt == "junit":
        ET.fromstring(out.encode())
    shown = "inpu\ufffd" if "input" in name else "Relu\ufffd"
    g = load_model(REPRO / name)
    assert shown in {t.name for t in g.main.tensors} | {op.type for op in g.main.ops}
    if fmt == "terminal" or "op_type" in name:
        assert shown in out


# -- cycles, second writers, undefined names, schemas ----------------------------------------------------


def save_onnx(tmp_path: Path, nodes: list, inputs=("X",), outputs=("Y",), inits=(), opset: int = 17,
              name: str = "m.onnx") -> Path:
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(i, TensorProto.FLOAT, [1, 4]) for i in inputs],
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs], list(inits))
    path = tmp_path / name
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString())
    return path


def refused(path: Path, pattern: str) -> str:
    with pytest.raises(InputError) as info:
        load_model(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: ") and re.search(pattern, message), message
    return message


def test_a_cycle_is_refused_naming_its_ops(tmp_path: Path) -> None:
    nodes = [helper.make_node("Relu", ["X"], ["a"], name="entry"), helper.make_node("Add", ["a", "c"], ["b"], name="join"),
             helper.make_node("Sigmoid", ["b"], ["c"], name="back"), helper.make_node("Relu", ["b"], ["Y"])]
    refused(save_onnx(tmp_path, nodes), r"the main graph has a cycle: #2 Sigmoid 'back' -> #1 Add 'join' -> "
                                         r"#2 Sigmoid 'back'|#1 Add 'join' -> #2 Sigmoid 'back' -> #1 Add 'join'")


def test_a_long_cycle_is_named_in_short(tmp_path: Path) -> None:
    n = 3000
    nodes = [helper.make_node("Relu", [f"t{i}"], [f"t{(i + 1) % n}"]) for i in range(n)]
    nodes.append(helper.make_node("Add", ["X", "t0"], ["Y"]))
    message = refused(save_onnx(tmp_path, nodes), r"has a cycle: (#\d+ Relu -> ){6}\.\.\. \(3000 ops\)")
    assert len(message) < 400


def test_a_reversed_or_shuffled_chain_is_no_cycle(tmp_path: Path) -> None:
    n = 2000
    nodes = [helper.make_node("Relu", ["X" if i == 0 else f"t{i}"], [f"t{i + 1}" if i < n - 1 else "Y"])
             for i in range(n)]
    rng = np.random.default_rng(0)
    for order in (nodes[::-1], [nodes[i] for i in rng.permutation(n)]):
        g = load_model(save_onnx(tmp_path, order))
        assert len(g.main.ops) == n


def test_second_writer_undefined_name_and_redefinition_are_refused(tmp_path: Path) -> None:
    w = numpy_helper.from_array(np.ones((1, 4), np.float32), "W")
    refused(save_onnx(tmp_path, [helper.make_node("Relu", ["X"], ["Y"]), helper.make_node("Sigmoid", ["X"], ["Y"])]),
            r"tensor 'Y' of the main graph is written by both #0 Relu and #1 Sigmoid")
    refused(save_onnx(tmp_path, [helper.make_node("Add", ["X", "nowhere"], ["Y"], name="add")]),
            r"node 'add' \(Add\) reads 'nowhere', which no input, initializer or node of 'g' defines")
    refused(save_onnx(tmp_path, [helper.make_node("Relu", ["X"], ["W"]), helper.make_node("Relu", ["W"], ["Y"])],
                      inits=[w]), r"node Relu writes 'W', already a graph input or initializer of 'g'")
    refused(save_onnx(tmp_path, [helper.make_node("Relu", ["X"], ["Z"])]), r"output 'Y' of 'g' is not defined")


@pytest.mark.parametrize(("node", "pattern"), [
    (helper.make_node("Conv", ["X", ""], ["Y"], name="c"), r"node 'c' \(Conv\) leaves required input 1 \(W\) empty"),
    (helper.make_node("Relu", ["X", "X"], ["Y"]), r"node Relu has 2 inputs; Relu takes 1 to 1"),
    (helper.make_node("Cast", ["X"], ["Y"]), r"node Cast lacks the required attribute 'to'"),
    (helper.make_node("MaxPool", ["X"], ["Y"], kernel_shape=[0, 3]), r"has kernel_shape \[0, 3\]; each must be at"),
    (helper.make_node("Conv", ["X", "X"], ["Y"], group=0), r"node Conv has group 0; it must be at least 1"),
    (helper.make_node("Conv", ["X", "X"], ["Y"], auto_pad="SAME"), r"has auto_pad 'SAME'; it must be one of"),
    (helper.make_node("Conv", ["X", "X"], ["Y"], dilations=[1, -1]), r"has dilations \[1, -1\]"),
])
def test_nodes_are_checked_against_their_schema(tmp_path: Path, node, pattern: str) -> None:
    refused(save_onnx(tmp_path, [node]), pattern)


def test_unknown_ops_and_custom_domains_are_left_to_the_checks(tmp_path: Path) -> None:
    nodes = [helper.make_node("QuantizeSnap", ["X"], ["q"], min=-1.0, max="oops"),  # no schema: not judged here
             helper.make_node("Conv", ["q", "q"], ["Y"], domain="com.example", group="abc", strides=[0, 0],
                              auto_pad="SAME_UPPER", kernel_shape=[3, 3])]  # not the builtin Conv: no facts
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
    path = tmp_path / "custom.onnx"
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    path.write_bytes(model.SerializeToString())
    from snapcheck.api import check_file

    report = check_file(path)
    assert [v.type for v in report.ops] == ["QuantizeSnap", "com.example::Conv"]


# -- TFLite control flow calling itself ----------------------------------------------------------------


def test_a_subgraph_calling_itself_is_refused(tmp_path: Path) -> None:
    import flatbuffers
    from ai_edge_litert import schema_py_generated as S

    model = S.ModelT()
    model.version, model.buffers = 3, [S.BufferT()]
    code = S.OperatorCodeT()
    code.builtinCode, code.deprecatedBuiltinCode = S.BuiltinOperator.CALL_ONCE, 127  # 127: see builtin_code
    code.version = 1
    model.operatorCodes = [code]
    sg = S.SubGraphT()
    t = S.TensorT()
    t.shape, t.type, t.buffer, t.name = [1], S.TensorType.FLOAT32, 0, b"x"
    sg.tensors, sg.inputs, sg.outputs = [t], [0], [0]
    op = S.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [], []
    op.builtinOptionsType = S.BuiltinOptions.CallOnceOptions
    op.builtinOptions = S.CallOnceOptionsT()
    op.builtinOptions.initSubgraphIndex = 0
    sg.operators = [op]
    model.subgraphs = [sg]
    b = flatbuffers.Builder(256)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    path = tmp_path / "self_call.tflite"
    path.write_bytes(bytes(b.Output()))
    refused(path, r"control flow calls itself: subgraph 0 -> subgraph 0")


# -- limits and the timeout ---------------------------------------------------------------------------


def test_limits_are_stated_in_the_help(capsys: pytest.CaptureFixture) -> None:
    rc, out, _ = check(capsys, "check", "--help")
    text = " ".join(out.replace("│", " ").split())
    assert rc == 0 and "--timeout" in text
    for figure in (f"{LIMITS.ops:,} ops", f"rank {LIMITS.rank}", "2^21 dims, op inputs and outputs", "4 GiB of weights"):
        assert figure in text


def test_too_many_ops_or_tensors_is_too_large_to_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from snapcheck import limits

    monkeypatch.setattr(limits, "LIMITS", limits.Limits(ops=50))
    for module in ("snapcheck.readers.onnx_reader", "snapcheck.readers.validate"):
        monkeypatch.setattr(f"{module}.LIMITS", limits.LIMITS)
    nodes = [helper.make_node("Relu", ["X" if i == 0 else f"t{i}"], [f"t{i + 1}" if i < 59 else "Y"]) for i in range(60)]
    refused(save_onnx(tmp_path, nodes), r"too large to check: more than 50 nodes \(limit 50\)")
    monkeypatch.setattr(limits, "LIMITS", limits.Limits(tensors=10))
    for module in ("snapcheck.readers.onnx_reader", "snapcheck.readers.validate"):
        monkeypatch.setattr(f"{module}.LIMITS", limits.LIMITS)
    model = save_onnx(tmp_path, [helper.make_node("Relu", ["X"], ["Y"])], inputs=[f"i{k}" for k in range(12)] + ["X"])
    refused(model, r"too large to check: more than 10 declared tensors \(limit 10\)")


def test_timeout_stops_with_exit_2_and_one_line(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    path = save_onnx(tmp_path, [helper.make_node("Relu", ["X"], ["Y"])])
    rc, out, err = check(capsys, "check", str(path), "--timeout", "0.000001")
    assert rc == 2 and out == "" and err.strip() == (
        f"snapcheck: error: stopped at the --timeout of 1e-06 s while checking {path}; no report was written")
    rc, _, err = check(capsys, "check", str(path), "--timeout", "soon")
    assert rc == 2 and "--timeout 'soon' is not a number of seconds" in err


def test_timeout_stops_native_code_that_holds_the_interpreter() -> None:
    """SIGALRM cannot interrupt native code: the watchdog thread ends the process with the same line."""
    code = textwrap.dedent("""
        import signal, time
        from snapcheck.limits import deadline
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])  # as if native code never returned
        with deadline(0.2):
            time.sleep(30)
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
    assert p.returncode == 2
    assert p.stderr.strip() == "snapcheck: error: stopped at the --timeout of 0.2 s; no report was written"


# -- external data: opened once, checked again at open, streamed --------------------------------------


def external_model(tmp_path: Path, n_tensors: int, values: np.ndarray) -> Path:
    (tmp_path / "w.bin").write_bytes(values.tobytes())
    inits = []
    for i in range(n_tensors):
        t = numpy_helper.from_array(values, f"W{i}")
        t.ClearField("raw_data")
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", "w.bin"), ("offset", "0"), ("length", str(values.nbytes))):
            t.external_data.add(key=k, value=v)
        inits.append(t)
    nodes = [helper.make_node("Add", ["X" if i == 0 else f"s{i}", f"W{i}"], [f"s{i + 1}" if i < n_tensors - 1 else "Y"])
             for i in range(n_tensors)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, list(values.shape))],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)], inits)
    path = tmp_path / "ext.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    return path


def test_a_shared_external_file_is_opened_once_and_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from snapcheck.api import check_file
    from snapcheck.readers import onnx_external

    values = np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32)
    path = external_model(tmp_path, 50, values)
    opened, reads = [], []
    real_open, real_preadv = os.open, os.preadv
    monkeypatch.setattr(onnx_external.os, "open", lambda p, *a: opened.append(p) or real_open(p, *a))
    monkeypatch.setattr(onnx_external.os, "preadv", lambda *a: reads.append(a[2]) or real_preadv(*a))
    report = check_file(path)
    assert len(report.ops) == 50
    assert [Path(p).name for p in opened].count("w.bin") == 1
    assert len(reads) == 1  # fp16 statistics: one read of the one span all 50 tensors share


def test_external_data_is_streamed_in_pieces(tmp_path: Path) -> None:
    values = np.random.default_rng(1).standard_normal((300, 700)).astype(np.float32)
    g = load_model(external_model(tmp_path, 1, values))
    t = g.main.tensors[g.main.ops[0].inputs[1]]
    pieces = [p.copy() for p in t.chunks(50_000)]
    assert [p.size for p in pieces] == [50_000] * 4 + [10_000]
    assert np.array_equal(np.concatenate(pieces), values.reshape(-1))


def test_external_file_swapped_after_load_is_refused_at_open(tmp_path: Path) -> None:
    values = np.ones((8, 8), np.float32)
    g = load_model(external_model(tmp_path, 1, values))
    (tmp_path / "w.bin").unlink()
    os.mkfifo(tmp_path / "w.bin")  # a FIFO where the regular file was: opening must neither hang nor read it
    t = g.main.tensors[g.main.ops[0].inputs[1]]
    with pytest.raises(InputError, match=r"external file w.bin changed since the model was read"):
        t.data()


def test_external_length_must_match_the_dims(tmp_path: Path) -> None:
    values = np.ones((8, 8), np.float32)
    path = external_model(tmp_path, 1, values)
    (tmp_path / "w.bin").write_bytes(values.tobytes() * 2)
    model = path.read_bytes().replace(b"256", b"512")
    path.write_bytes(model)
    refused(path, r"tensor 'W0' has 512 bytes of external data; its dims \[8, 8\] of float32 need 256")


@pytest.mark.parametrize(("version", "outcome"), [(0, r"imports opset 0 of domain 'ai.onnx'; opsets start at 1"),
                                                  (2**40, None)])
def test_opset_versions_out_of_range(tmp_path: Path, version: int, outcome: str | None) -> None:
    path = save_onnx(tmp_path, [helper.make_node("Relu", ["X"], ["Y"])], opset=version)
    if outcome:
        refused(path, outcome)
    else:  # a version past every schema: the latest schema judges the node
        assert load_model(path).main.ops[0].version == 2**40


def test_constant_folding_computes_only_small_values_and_a_bounded_number(tmp_path: Path) -> None:
    """A 4-byte shape constant must not make folding allocate 2^30 values, nor 30,000 foldable ops take minutes."""
    from snapcheck.checks.fold import MAX_EVALUATIONS, fold_graph

    big = helper.make_node("ConstantOfShape", ["s"], ["big"], value=numpy_helper.from_array(np.array([1.0], np.float32)))
    shape = numpy_helper.from_array(np.array([32768, 32768], np.int64), "s")
    g = load_model(save_onnx(tmp_path, [big, helper.make_node("Add", ["X", "big"], ["Y"])], inits=[shape]))
    folding = fold_graph(g)[0]
    out = g.main.ops[0].outputs[0]
    assert 0 in folding.folded and out not in folding.values  # folded, without computing its 2^30 values

    n = MAX_EVALUATIONS + 50
    one = numpy_helper.from_array(np.ones((1, 4), np.float32), "c")
    chain = [helper.make_node("Add", ["c" if i == 0 else f"t{i}", "c"], [f"t{i + 1}"]) for i in range(n)]
    g = load_model(save_onnx(tmp_path, [*chain, helper.make_node("Add", ["X", f"t{n}"], ["Y"])], inits=[one],
                             name="chain.onnx"))
    folding = fold_graph(g)[0]
    assert len(folding.folded) == n and len(folding.values) == MAX_EVALUATIONS


def test_a_graph_listed_backwards_folds_and_infers_in_topological_order(tmp_path: Path, monkeypatch) -> None:
    """ONNX only asks for sorted nodes. A constant chain listed backwards folds whole in one pass, its shapes
    known from the values; a Relu chain from the input listed backwards gets every shape from one inference
    (both took a round per op, and stopped after three)."""
    from snapcheck.checks import fold

    n = 40
    one = numpy_helper.from_array(np.ones((1, 4), np.float32), "c")
    chain = [helper.make_node("Identity", ["c" if i == 0 else f"t{i}"], [f"t{i + 1}"]) for i in range(n)]
    g = load_model(save_onnx(tmp_path, [helper.make_node("Add", ["X", f"t{n}"], ["Y"]), *reversed(chain)],
                             inits=[one], name="constants.onnx"))
    assert [op.index for op in g.main.topological_ops()] == [*range(n, 0, -1), 0]
    folding = fold.fold_graph(g)[0]
    assert folding.folded == set(range(1, n + 1))
    assert all(folding.shape(g.main, op.outputs[0]) == (1, 4) for op in g.main.ops)

    calls = []
    monkeypatch.setattr(fold, "_infer", lambda *a, _infer=fold._infer: calls.append(1) or _infer(*a))
    relus = [helper.make_node("Relu", ["X" if i == 0 else f"t{i}"], [f"t{i + 1}" if i < n - 1 else "Y"]) for i in range(n)]
    g = load_model(save_onnx(tmp_path, relus[::-1], name="relus.onnx"))
    folding = fold.fold_graph(g)[0]
    assert not folding.folded and len(calls) == 1
    assert all(folding.shape(g.main, op.outputs[0]) == (1, 4) for op in g.main.ops)


def test_topological_order_keeps_the_file_order_where_the_graph_allows(tmp_path: Path) -> None:
    nodes = [helper.make_node("Relu", ["X"], ["a"]), helper.make_node("Neg", ["X"], ["b"]),
             helper.make_node("Add", ["a", "b"], ["Y"])]
    g = load_model(save_onnx(tmp_path, nodes, name="sorted.onnx"))
    assert [op.index for op in g.main.topological_ops()] == [0, 1, 2]
    g = load_model(save_onnx(tmp_path, [nodes[2], nodes[1], nodes[0]], name="backwards.onnx"))
    assert [op.index for op in g.main.topological_ops()] == [1, 2, 0]
    assert g.main.topological_split()[1] == []


def test_control_characters_in_names_keep_every_report_valid(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    """XML 1.0 forbids most control characters: a name holding one must not break the JUnit report."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as S

    shipped = Path(__file__).resolve().parents[1] / "models" / "catface-s" / "catface-s.tflite"
    model = S.ModelT.InitFromPackedBuf(shipped.read_bytes(), 0)
    sg = model.subgraphs[0]
    sg.tensors[sg.inputs[0]].name = b"in\x01put\x0b\xff"
    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    path = tmp_path / "names.tflite"
    path.write_bytes(bytes(b.Output()))
    for fmt in ("junit", "json", "sarif", "terminal"):
        rc, out, err = check(capsys, "check", str(path), "--format", fmt, "-v")
        assert rc in (0, 1) and err == "", err
        if fmt == "junit":
            ET.fromstring(out.encode())
        elif fmt != "terminal":
            json.loads(out)
    assert load_model(path).main.tensors[load_model(path).main.inputs[0]].name == "in\ufffdput\ufffd\ufffd"
