"""Running a model float32 and float16 side by side: the reports of one measurement."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from snapcheck.ir import Graph
from snapcheck.numerics.compare import Drift, Step, drift, layer_steps
from snapcheck.numerics.inputs import Skip, input_sets, load_sample, round_inputs
from snapcheck.numerics.tolerance import Tolerance, load_tolerance


@dataclass
class OutputDrift:
    output: str
    cpu: Drift  # float16 weights, float32 compute
    gpu: Drift  # float16 weights and activations

    def to_dict(self) -> dict[str, Any]:
        return {"output": self.output, "cpu": self.cpu.to_dict(), "gpu": self.gpu.to_dict()}


@dataclass
class Run:
    """The three runs on one set of inputs."""

    inputs: str  # "random [0, 1]" or "sample FILE"
    outputs: list[OutputDrift]
    jump: Step | None  # first layer where the GPU path's error jumps
    overflow: Step | None  # first activation above the float16 maximum (float32 value)
    largest: Step | None  # the layer with the largest step

    @property
    def worst_psnr(self) -> float:
        return min((o.gpu.psnr_db for o in self.outputs), default=math.inf)

    def to_dict(self) -> dict[str, Any]:
        step = lambda s: None if s is None else s.to_dict()  # noqa: E731
        return {"inputs": self.inputs, "outputs": [o.to_dict() for o in self.outputs], "jump": step(self.jump),
                "overflow": step(self.overflow), "largest_step": step(self.largest)}


@dataclass
class NumericsReport:
    runtime: str
    runs: list[Run] = field(default_factory=list)
    seconds: float = 0.0
    skipped: str = ""  # why the model was not run

    @property
    def worst(self) -> Run | None:
        return min(self.runs, key=lambda r: r.worst_psnr) if self.runs else None

    def to_dict(self) -> dict[str, Any]:
        return {"runtime": self.runtime, "seconds": round(self.seconds, 3), "skipped": self.skipped,
                "runs": [r.to_dict() for r in self.runs]}


def _load_onnx(path: Path) -> Any:
    """The ``onnx.ModelProto`` of a file, with its external data (only then is all of ``onnx`` imported)."""
    from snapcheck.numerics.onnx_fp16 import pb

    model = pb().ModelProto.FromString(path.read_bytes())
    if any(t.data_location == 1 for t in model.graph.initializer):
        import onnx

        model = onnx.load(str(path))
    return model


def _measure_onnx(path: Path, tol: Tolerance, sample_path: str | Path | None) -> list[Run]:
    return measure_onnx(_load_onnx(path), tol, sample_path, str(path))


def measure_onnx(model: Any, tol: Tolerance, sample_path: str | Path | None, path: str) -> list[Run]:
    """The runs of an ``onnx.ModelProto`` (``path`` names it in errors); ``Skip`` when it cannot run as it is."""
    from snapcheck.numerics.onnx_fp16 import (activations_fp16, computes_in_fp16, float32_twin, node_labels,
                                              weights_fp16, with_probes)
    from snapcheck.numerics.runtime import onnx_input_types, run_onnx

    if any(n.op_type in ("Loop", "If", "Scan") for n in model.graph.node) or model.functions:
        raise Skip("control flow or model-local functions: inline or unroll them first (snapcheck fix)")
    labels = node_labels(model)  # as the file names its ops, also when the reference is a float32 twin
    if computes_in_fp16(model):
        model = float32_twin(model)
    specs = onnx_input_types(model)
    names = [n for n, _, _ in specs]
    sample = load_sample(sample_path, names, [s for _, s, _ in specs]) if sample_path else None
    outputs = [o.name for o in model.graph.output]
    fp32 = with_probes(model).SerializeToString()
    cpu = weights_fp16(model)
    cpu_bytes = cpu.SerializeToString()
    gpu_bytes = b""
    keys: list[str] = []
    runs = []
    for label, arrays in input_sets(specs, tol, sample):
        feeds = dict(zip(names, arrays))
        ref = run_onnx(fp32, feeds, None, path)
        if not gpu_bytes:  # the probes are the float32 node outputs (onnxruntime reports the types)
            keys = [k for k in labels if k in ref and np.asarray(ref[k]).dtype == np.float32]  # in node order
            gpu_bytes = with_probes(activations_fp16(cpu, set(keys)), keys).SerializeToString()
        got_cpu = run_onnx(cpu_bytes, feeds, outputs, path)
        gpu = run_onnx(gpu_bytes, dict(zip(names, round_inputs(arrays))), outputs + keys, path)
        outs = [OutputDrift(o, drift(ref[o], got_cpu[o]), drift(ref[o], gpu[o])) for o in outputs]
        steps = layer_steps(((labels[k][0], k, labels[k][1], ref[k], gpu[k]) for k in keys),
                            tol.jump_min, tol.jump_factor, tol.fp16_max)
        runs.append(Run(label, outs, *steps))
    return runs


def _measure_tflite(path: Path, tol: Tolerance, sample_path: str | Path | None,
                    names_out: list[str] | None = None) -> list[Run]:
    from snapcheck.numerics.runtime import run_tflite, tflite_input_types
    from snapcheck.numerics.tflite_fp16 import tflite_variants

    buf = path.read_bytes()
    v = tflite_variants(buf)
    specs = tflite_input_types(buf)
    names = [n for n, _, _ in specs]
    sample = load_sample(sample_path, names, [s for _, s, _ in specs]) if sample_path else None
    runs = []
    for label, arrays in input_sets(specs, tol, sample):
        ref_out, ref = run_tflite(buf, arrays, [p.ref for p in v.probes], str(path))
        cpu_out, _ = run_tflite(v.cpu, arrays, (), str(path))
        gpu_out, gpu = run_tflite(v.gpu, round_inputs(arrays), [p.gpu for p in v.probes], str(path))
        labels = names_out or [f"output {i}" for i in range(len(ref_out))]
        outs = [OutputDrift(label_, drift(r, c), drift(r, g))
                for label_, r, c, g in zip(labels, ref_out, cpu_out, gpu_out)]
        steps = layer_steps(((p.label, p.ref, p.inputs, ref[p.ref], gpu[p.gpu]) for p in v.probes),
                            tol.jump_min, tol.jump_factor, tol.fp16_max)
        runs.append(Run(label, outs, *steps))
    return runs


_MEASURED: dict[tuple[Any, ...], NumericsReport] = {}  # one measurement per file and sample (e.g. --ls-version all)


def measure(graph: Graph, sample: str | Path | None = None, tol: Tolerance | None = None) -> NumericsReport:
    """Run ``graph``'s file float32 and float16 side by side (see the module docs); a model the runtime cannot run
    is reported as skipped, with the runtime's reason."""
    from snapcheck.numerics.runtime import RuntimeFailure

    tol = tol or load_tolerance()
    path = Path(graph.path)
    try:
        stat = path.stat()
        key: tuple[Any, ...] | None = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, str(sample), tol)
    except OSError:
        key = None
    if key in _MEASURED:
        return _MEASURED[key]
    runtime = "litert" if graph.format == "tflite" else "onnxruntime"
    t0 = time.perf_counter()
    report = NumericsReport(runtime=runtime)
    try:
        if graph.format == "tflite":
            main = graph.subgraphs[0] if graph.subgraphs else None
            outs = [main.tensors[i].name for i in main.outputs] if main is not None else None
            report.runs = _measure_tflite(path, tol, sample, outs)
        else:
            report.runs = _measure_onnx(path, tol, sample)
    except Skip as exc:
        report.skipped = str(exc)
    except RuntimeFailure as exc:
        report.skipped = exc.problem
    report.seconds = time.perf_counter() - t0
    if key is not None:
        _MEASURED[key] = report
    return report
