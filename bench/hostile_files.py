"""Hostile files: `snapcheck check` keeps its contract (exit 0/1/2) in bounded time and memory on each.

Runs `snapcheck check FILE --ls-version 5.x --format json` as a whole process on

- every file of ../shared/fuzz-repro/ (minimal inputs of a structure-aware fuzzing campaign);
- the two large cases its README describes, built here (too large to keep in the repository):
  an ONNX model whose one float32 initializer (and one whose Constant node) is a 2.2 GB external tensor in a
  sparse file, an 18 KB model whose 300 initializers all point at one 64 MB file, and 30 levels of If where
  every other level's then/else branches are copies (2^15 copies of the innermost graphs, 17 MB), beside 30
  levels without copies;
- 10,000-op chains in execution order, reversed and shuffled, as .onnx and as .tflite;

and reports per file the exit code, wall time and the process's max RSS (from ``wait4``), against the
targets: exit 0/1/2 only, <= 10 s and <= 1 GB each, the 2.2 GB tensor <= 10 s and <= 300 MB, a 10,000-op
chain <= 3 s. Baseline: `python -c pass` in the same run.

    .venv/bin/python bench/hostile_files.py [--out out/bench/hostile] [--json out/bench/hostile.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np

from process_stats import run_process

from snapcheck.cli import INTERNAL_ERROR

ROOT = Path(__file__).resolve().parents[1]
REPRO = ROOT.parent / "shared" / "fuzz-repro"
PY = sys.executable
_SCRIPT = Path(PY).with_name("snapcheck")
SNAPCHECK = [str(_SCRIPT)] if _SCRIPT.is_file() else [PY, "-m", "snapcheck"]
MB = 1 << 20


def run(cmd: list[str], timeout: float = 60.0) -> dict:
    """Exit code, wall seconds, max RSS (MiB), the last line on stderr, and whether it holds a traceback."""
    r = run_process(cmd, ROOT, timeout)
    err = r.pop("stderr")
    return {**r, "message": err.splitlines()[-1] if err else "", "traceback": "Traceback" in err}


# -- builders -----------------------------------------------------------------------------------------


def _onnx():
    from onnx import TensorProto, helper

    return TensorProto, helper


def _save(model, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.SerializeToString())
    return path


def _external(name: str, location: str, dims: list[int], offset: int = 0, length: int | None = None):
    TensorProto, _ = _onnx()
    t = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=dims, data_location=TensorProto.EXTERNAL)
    entries = {"location": location, "offset": str(offset)}
    if length is not None:
        entries["length"] = str(length)
    for k, v in entries.items():
        t.external_data.add(key=k, value=v)
    return t


def build_big_external(folder: Path) -> list[Path]:
    """A 2.2 GB float32 external tensor in a sparse file, as an initializer and as a Constant node's value."""
    TensorProto, helper = _onnx()
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "big.bin"
    n = 2200 * 1000 * 1000 // 4
    if not data.exists() or data.stat().st_size != n * 4:
        with open(data, "wb") as f:
            f.truncate(n * 4)  # sparse: reads as zeros
    out = []
    w = _external("W", "big.bin", [n // 1000, 1000])
    graph = helper.make_graph([helper.make_node("MatMul", ["X", "W"], ["Y"])], "big",
                              [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, n // 1000])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 1000])], [w])
    out.append(_save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
                     folder / "external_2200mb_initializer.onnx"))
    const = helper.make_node("Constant", [], ["W"], value=_external("value", "big.bin", [n // 1000, 1000]))
    graph = helper.make_graph([const, helper.make_node("MatMul", ["X", "W"], ["Y"])], "big_const",
                              [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, n // 1000])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 1000])])
    out.append(_save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
                     folder / "external_2200mb_constant.onnx"))
    return out


def build_shared_external(folder: Path) -> Path:
    """300 initializers, each the whole of one 64 MB file (an 18 KB model)."""
    TensorProto, helper = _onnx()
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "shared64.bin"
    if not data.exists():
        rng = np.random.default_rng(0)
        data.write_bytes(rng.standard_normal(16 * MB, dtype=np.float32).tobytes())
    inits = [_external(f"W{i}", "shared64.bin", [4096, 4096]) for i in range(300)]
    nodes = [helper.make_node("Add", ["X" if i == 0 else f"Y{i - 1}", f"W{i}"], [f"Y{i}"]) for i in range(300)]
    graph = helper.make_graph(nodes, "shared", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [4096, 4096])],
                              [helper.make_tensor_value_info("Y299", TensorProto.FLOAT, [4096, 4096])], inits)
    return _save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
                 folder / "external_300_tensors_one_64mb_file.onnx")


def nested_if(levels: int, duplicated_levels: int):
    """``levels`` of If nested in the then-branch; at ``duplicated_levels`` of them (every other one from the
    innermost) the else-branch is a copy of the then-branch, so the innermost graph is written 2^k times."""
    TensorProto, helper = _onnx()
    leaf = helper.make_graph([helper.make_node("Relu", ["X"], ["out"])], "leaf", [],
                             [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 4])])
    plain = helper.make_graph([helper.make_node("Identity", ["X"], ["out"])], "plain", [],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 4])])
    body = leaf
    for k in range(levels):
        dup = k % 2 == 0 and k // 2 < duplicated_levels
        node = helper.make_node("If", ["C"], ["out"], then_branch=body, else_branch=body if dup else plain)
        body = helper.make_graph([node], f"level{k}", [], [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 4])])
    graph = helper.make_graph(list(body.node), "main",
                              [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 4]),
                               helper.make_tensor_value_info("C", TensorProto.BOOL, [])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 4])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def build_nested(folder: Path) -> list[Path]:
    return [_save(nested_if(30, 15), folder / "nested_if_30_levels_2e15_copies.onnx"),
            _save(nested_if(30, 0), folder / "nested_if_30_levels_plain.onnx")]


def onnx_chain(n: int, order: str):
    """``n`` Relu ops in a chain, listed in execution order, reversed or shuffled."""
    TensorProto, helper = _onnx()
    nodes = [helper.make_node("Relu", ["X" if i == 0 else f"t{i}"], [f"t{i + 1}" if i < n - 1 else "Y"])
             for i in range(n)]
    if order == "reversed":
        nodes.reverse()
    elif order == "shuffled":
        random.Random(0).shuffle(nodes)
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 8, 16, 16])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 8, 16, 16])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def tflite_chain(n: int, order: str) -> bytes:
    """``n`` RELU ops in a chain as a .tflite (written with the LiteRT schema's object API)."""
    from ai_edge_litert import schema_py_generated as S
    import flatbuffers

    model = S.ModelT()
    model.version = 3
    code = S.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = S.BuiltinOperator.RELU
    code.version = 1
    model.operatorCodes = [code]
    model.buffers = [S.BufferT()]
    sg = S.SubGraphT()
    sg.tensors = []
    for i in range(n + 1):
        t = S.TensorT()
        t.shape, t.type, t.buffer, t.name = [1, 16, 16, 8], S.TensorType.FLOAT32, 0, f"t{i}"
        sg.tensors.append(t)
    ops = []
    for i in range(n):
        op = S.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = 0, [i], [i + 1]
        ops.append(op)
    if order == "reversed":
        ops.reverse()
    elif order == "shuffled":
        random.Random(0).shuffle(ops)
    sg.operators, sg.inputs, sg.outputs = ops, [0], [n]
    model.subgraphs = [sg]
    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def build_chains(folder: Path) -> list[Path]:
    out = []
    for order in ("forward", "reversed", "shuffled"):
        out.append(_save(onnx_chain(10_000, order), folder / f"chain10000_{order}.onnx"))
        path = folder / f"chain10000_{order}.tflite"
        path.write_bytes(tflite_chain(10_000, order))
        out.append(path)
    return out


TARGETS = {"external_2200mb": (10.0, 300.0), "chain10000": (3.0, 1024.0)}


def target(name: str) -> tuple[float, float]:
    return next((v for k, v in TARGETS.items() if name.startswith(k)), (10.0, 1024.0))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "bench" / "hostile")
    ap.add_argument("--json", type=Path, default=ROOT / "out" / "bench" / "hostile.json")
    args = ap.parse_args()
    built = [*build_big_external(args.out), build_shared_external(args.out), *build_nested(args.out),
             *build_chains(args.out)]
    files = sorted(REPRO.glob("*.tflite")) + sorted(REPRO.glob("*.onnx")) + built
    subprocess.run([PY, "-m", "compileall", "-q", str(ROOT / "snapcheck")], check=True, stdout=subprocess.DEVNULL)
    baseline = run([PY, "-c", "pass"])
    rows = []
    for path in files:
        r = run([*SNAPCHECK, "check", str(path), "--ls-version", "5.x", "--format", "json"])
        wall_max, rss_max = target(path.name)
        ok = r["rc"] in (0, 1, 2) and not r.get("traceback") and INTERNAL_ERROR not in r["message"] \
            and r["wall_s"] <= wall_max and r["rss_mb"] <= rss_max
        rows.append({"file": path.name, **r, "target_s": wall_max, "target_rss_mb": rss_max, "met": ok})
        print(f"{path.name:48s} rc={r['rc']!s:7s} {r['wall_s']:6.2f} s (CPU {r['cpu_s']:5.2f} s) {r['rss_mb']:7.1f} MiB "
              f"{'ok ' if ok else 'MISS'} {r['message'][:110]}")
    result = {"python_start_s": baseline["wall_s"], "load_avg_1min": os.getloadavg()[0], "rows": rows,
              "all_met": all(r["met"] for r in rows)}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{sum(r['met'] for r in rows)}/{len(rows)} within target; python -c pass {baseline['wall_s']:.3f} s; "
          f"load {result['load_avg_1min']:.2f}; wrote {args.json}")


if __name__ == "__main__":
    main()
