"""Each operator of a .tflite model timed alone: the per-op table of ``snapcheck bench --profile`` for LiteRT.

LiteRT's Python API has no op profiler. So every operator of the main subgraph is cut out as a model of its own
(``one_op_model``: its constant inputs kept, its other inputs made graph inputs and fed random values, its
outputs the graph's), run on this machine's LiteRT as the whole model is, and priced by the host estimator the
same way (``snapcheck.estimate.host_prediction`` on the cut model). An op alone finds its input and weights in the
cache after its first run; in the network its input was just written by another op and its weights may have been
evicted, so the ops alone need not add up to the whole model (on the profile's Xeon, 0.73-1.09x its median over 73
models: docs/estimator.md, "Host benchmark"); the table reports that sum. An op computed from constants only
(the DEQUANTIZE of an fp16 weight) costs nothing per inference and is cut out with the op it feeds; ops that cannot
run alone (control flow, which calls other subgraphs; an input LiteRT rejects as random data) get no time and a
reason (``not_timed``).
"""

from __future__ import annotations

import copy
import signal
import statistics
from pathlib import Path
from typing import Any, Callable

from snapcheck.errors import InputError, one_line

CONTROL_FLOW = ("WHILE", "IF", "CALL_ONCE", "CALL")  # ops that run other subgraphs: not cut out
FOLDED = "computed from constants, folded when the model loads"
MIN_SECONDS = 0.05  # timed calls per op: at least this much wall time (and at least RUNS calls)
RUNS = 5
WARMUP = 2


def _is_constant(model: Any, t: int) -> bool:
    tensor = model.subgraphs[0].tensors[t]
    data = model.buffers[tensor.buffer].data if tensor.buffer else None
    return data is not None and len(data) > 0


def folded_ops(model: Any) -> dict[int, int]:
    """The ops of the main subgraph computed from constants alone (a DEQUANTIZE of fp16 weights, and any op fed
    only by such ops), which the runtime folds when it loads the model: output tensor -> its op's index."""
    folded: dict[int, int] = {}
    for i, op in enumerate(model.subgraphs[0].operators):
        ins = [t for t in op.inputs if t >= 0]
        if ins and all(_is_constant(model, t) or t in folded for t in ins):
            folded.update({t: i for t in op.outputs if t >= 0})
    return folded


def one_op_model(model: Any, index: int, folded: dict[int, int] | None = None) -> bytes:
    """The ``index``-th operator of ``model``'s main subgraph (an ``ai_edge_litert`` schema ``ModelT``) as a .tflite
    model of its own: only the tensors it touches, constants with their data, the ops that compute its inputs from
    constants (``folded_ops``; the runtime folds them at load, as in the whole model), its other inputs graph inputs
    (variables stay variables)."""
    from ai_edge_litert import schema_py_generated as fb
    from ai_edge_litert.tools.flatbuffer_utils import convert_object_to_bytearray

    sub = model.subgraphs[0]
    folded = folded_ops(model) if folded is None else folded
    chosen: list[int] = []

    def pull(i: int) -> None:  # the op and, first, the folded ops it reads
        for t in sub.operators[i].inputs:
            if t in folded and folded[t] not in chosen:
                pull(folded[t])
        chosen.append(i)

    pull(index)
    buffers = [fb.BufferT()]  # buffer 0: the empty buffer of every non-constant tensor
    tensors: list[Any] = []
    new_id: dict[int, int] = {}

    def take(t: int) -> int:
        if t < 0:
            return t
        if t not in new_id:
            tensor = copy.copy(sub.tensors[t])
            if _is_constant(model, t):
                buffers.append(model.buffers[tensor.buffer])
                tensor.buffer = len(buffers) - 1
            else:
                tensor.buffer = 0
            new_id[t] = len(tensors)
            tensors.append(tensor)
            details = tensor.quantization.details if tensor.quantization is not None else None
            if isinstance(details, fb.BlockwiseQuantizationT):  # its scales and zero points are tensors too
                tensor.quantization = copy.copy(tensor.quantization)
                tensor.quantization.details = details = copy.copy(details)
                details.scales = take(details.scales) if details.scales >= 0 else details.scales
                details.zeroPoints = take(details.zeroPoints) if details.zeroPoints >= 0 else details.zeroPoints
        return new_id[t]

    operators, made = [], set()
    for i in chosen:
        op = sub.operators[i]
        cut = copy.copy(op)
        cut.inputs = [take(t) for t in op.inputs]
        cut.outputs = [take(t) for t in op.outputs]
        cut.intermediates = [take(t) for t in (op.intermediates or [])]
        operators.append(cut)
        made.update(t for t in op.outputs if t >= 0)
    inputs: list[int] = []
    for i in chosen:
        for t in sub.operators[i].inputs:
            if t >= 0 and t not in made and not _is_constant(model, t) and not sub.tensors[t].isVariable \
                    and new_id[t] not in inputs:
                inputs.append(new_id[t])
    graph = fb.SubGraphT()
    graph.tensors, graph.inputs, graph.operators = tensors, inputs, operators
    graph.outputs = [new_id[t] for t in sub.operators[index].outputs if t >= 0]
    graph.name = sub.name
    out = fb.ModelT()
    out.version, out.operatorCodes, out.description = model.version, model.operatorCodes, model.description
    out.subgraphs, out.buffers = [graph], buffers
    return bytes(convert_object_to_bytearray(out))


def _time_ops(path: str, threads: int, first: int, conn: Any, profile: str | None = None) -> None:
    """Child process: time ops ``first``, ``first + 1``, ... of the model at ``path`` alone and price them on the
    host profile at ``profile`` (None: the one host estimates use here), sending ``(index, fields)`` for each
    through ``conn``, then ``None``."""
    from ai_edge_litert.tools.flatbuffer_utils import opcode_to_name, read_model_from_bytearray

    from snapcheck.estimate import host_prediction
    from snapcheck.estimate.profiles import read_profile
    from snapcheck.hostbench import time_runs
    from snapcheck.readers.tflite_reader import read_tflite
    from snapcheck.runner import open_model

    priced_on = read_profile(profile) if profile else None
    model = read_model_from_bytearray(bytearray(Path(path).read_bytes()))
    ops = model.subgraphs[0].operators
    folded = folded_ops(model)
    folding = set(folded.values())
    for i in range(first, len(ops)):
        conn.send((i, None))  # started: if LiteRT brings the process down, the parent knows which op did
        if i in folding:
            fields: dict[str, Any] = {"not_timed": FOLDED}
        elif (opcode_to_name(model, ops[i].opcodeIndex) or "?") in CONTROL_FLOW:
            fields = {"not_timed": "runs other subgraphs"}
        else:
            try:
                blob = one_op_model(model, i, folded)
                runner = open_model(blob, threads)
                runner.feed_random()
                runner.try_invoke()
                wall, _ = time_runs(runner.invoke, RUNS, WARMUP, min_seconds=MIN_SECONDS, max_runs=100_000)
                fields = {"ms": statistics.median(wall)}
                if threads == 1:
                    fields["estimated_ms"] = host_prediction(read_tflite(Path(f"{path}#{i}"), blob),
                                                             priced_on)[1].latency_ms
            except InputError as exc:
                fields = {"not_timed": exc.problem}
            except Exception as exc:  # noqa: BLE001 - a table the cut cannot follow: this op only, in one line
                fields = {"not_timed": f"could not be cut out: {one_line(exc, 200)}"}
        conn.send((i, fields))
    conn.send(None)


def _child(worker: Callable[..., None], *args: Any) -> None:
    """The child process's entry: Ctrl-C is the parent's to handle (it ends this process), then ``worker``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    worker(*args)


def op_profile(path: Path, measured_ms: float, threads: int = 1, progress: Callable[[int, int], None] | None = None,
               worker: Callable[..., None] = _time_ops, profile: str | None = None) -> tuple[list[dict[str, Any]], str]:
    """Per operator of the .tflite at ``path``: its time alone on this machine (median ms of at least ``RUNS`` calls
    and ``MIN_SECONDS``), the host estimator's price for it alone (one thread only; on the host profile at
    ``profile``, else the one host estimates use here), its share of the ops' sum; and
    a line comparing that sum with ``measured_ms``, the whole model's median. ``progress(done, total)`` after each
    op. The ops run in a child process (``worker``, ``_time_ops``): an op that brings LiteRT down is reported as such
    and the rest go on in a new one."""
    import multiprocessing

    try:
        from ai_edge_litert.tools.flatbuffer_utils import opcode_to_name, read_model_from_bytearray
    except ImportError:
        raise InputError(None, "timing each op of a .tflite needs the flatbuffer tools of ai-edge-litert 2.x "
                               "(ai_edge_litert.tools), which the installed one lacks: pip install -U ai-edge-litert") \
            from None
    try:
        model = read_model_from_bytearray(bytearray(Path(path).read_bytes()))
    except Exception as exc:  # noqa: BLE001 - the flatbuffers object API raises whatever a bad table causes
        raise InputError(path, f"cannot split the model into its operators: {exc}") from None
    sub = model.subgraphs[0]
    rows: list[dict[str, Any]] = []
    for i, op in enumerate(sub.operators):
        outs = [t for t in op.outputs if t >= 0]
        name = sub.tensors[outs[0]].name if outs else b""
        rows.append({"op": f"#{i}", "type": opcode_to_name(model, op.opcodeIndex) or "?",
                     "name": name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name or "")})
    del model
    ctx = multiprocessing.get_context("spawn")
    first = 0
    while first < len(rows):
        receive, send = ctx.Pipe(duplex=False)
        child = ctx.Process(target=_child, args=(worker, str(path), threads, first, send, profile),
                            daemon=True)
        child.start()
        send.close()
        current = first
        try:
            while (msg := receive.recv()) is not None:
                current, fields = msg
                if fields is not None:
                    rows[current].update(fields)
                    if progress:
                        progress(current + 1, len(rows))
            first = len(rows)
        except EOFError:  # the child died on op ``current``
            rows[current]["not_timed"] = "LiteRT failed running it alone (the process ended)"
            first = current + 1
            if progress:
                progress(first, len(rows))
        except BaseException:  # interrupted: the child ignores Ctrl-C, so it is ended here
            child.terminate()
            raise
        finally:
            receive.close()
            child.join()
    total = sum(r.get("ms", 0.0) for r in rows)
    for r in rows:
        r["share"] = r.get("ms", 0.0) / total if total else 0.0
    folded_n = sum(r.get("not_timed") == FOLDED for r in rows)
    skipped = sum("not_timed" in r for r in rows) - folded_n
    note = (f"the {len(rows) - skipped - folded_n} ops timed alone sum to {total:.3f} ms, "
            f"{total / measured_ms:.2f}x the model's median of {measured_ms:.3f} ms" if total and measured_ms > 0 else
            "no op could be timed alone")
    if folded_n:
        note += f"; {folded_n} op(s) computed from constants, folded when the model loads"
    if skipped:
        note += f"; {skipped} op(s) could not run alone"
    return rows, note
