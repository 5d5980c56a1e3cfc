"""Names from a model file reach the terminal as text, never as rich markup.

A graph input's symbolic dim (``torch.onnx.export``'s ``dynamic_axes``: ``batch_size``) printed inside the
shape's brackets read as a style tag, so the shape vanished; one starting with ``/`` read as a closing tag and
the check ended with an internal error (a crash.log and exit 2). Every name a file carries (dims, tensor, node
and op names, the path) is printed here in every report style and must come out verbatim."""

from __future__ import annotations

import pytest
from onnx import TensorProto, helper, save

from helpers import run_cli as run

DIM = "/etc/hostname"  # read as a closing tag: an internal error before
BATCH = "batch_size"  # read as an opening tag: the shape vanished
INPUT = "in[/]"
NODE = "[bold]conv[/bold]"
OUTPUT = "[link=https://example.com]y"


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("m[v2]")
    w = helper.make_tensor("[red]w", TensorProto.FLOAT, [8, 3, 3, 3], [0.01] * 216)
    graph = helper.make_graph(
        [helper.make_node("Conv", [INPUT, "[red]w"], ["[x]"], name=NODE, pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["[x]"], [OUTPUT], name="[/]")],
        "g", [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [DIM, 3, 16, BATCH])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, [DIM, 8, 16, BATCH])], [w])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    path = folder / "m[1].onnx"
    save(m, str(path))
    return path


@pytest.mark.parametrize("args", [(), ("--output-format", "full"), ("-v",), ("--output-format", "concise"),
                                  ("--statistics",), ("-q",), ("--ls-version", "all", "-v")])
def test_names_print_verbatim(model, args):
    p = run("check", str(model), *args, *(() if "--ls-version" in args else ("--ls-version", "5.x")))
    assert p.returncode in (0, 1), p.stderr[-800:]
    assert "Traceback" not in p.stderr and "internal error" not in p.stderr, p.stderr[-800:]
    out = p.stdout
    assert str(model) in out.replace("\n", "")  # the path, brackets and all
    if not {"-q", "--statistics", "concise"} & set(args):
        assert f"[{DIM}, 3, 16, {BATCH}]" in out  # the summary's shape: both dims, as named in the file
        assert INPUT in out


def test_ops_table_names_verbatim(model):
    p = run("check", str(model), "-v", "--ls-version", "5.x")
    assert p.returncode in (0, 1), p.stderr[-800:]
    flat = p.stdout.replace("\n", " ")
    for name in (NODE, "[/]"):  # the op table's name column, as Netron names the nodes
        assert name in flat, name
