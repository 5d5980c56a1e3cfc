"""fp16 numerics by running the model: ``snapcheck check --numerics`` and every ``snapcheck fix --fp16``.

Lens Studio stores weights in float16 and computes in float32 on the CPU and in float16 on GPUs and NPUs. The
model runs three ways on the host on the same inputs (onnxruntime for ONNX, LiteRT for TFLite): float32; float16
weights (the CPU path); float16 weights and every activation rounded to float16 between ops (the GPU path). Each
output gets its PSNR and max abs error per path; the layers of the GPU path give where the error first jumps and
where an activation first overflows float16. The tolerance is ``rules/numerics.toml``:

- SC404 (error): an activation overflows float16 and the GPU path's output is not finite or beyond tolerance;
- SC405 (warning): an output beyond tolerance on a path, with no overflow;
- SC406 (info): the measured drift of each output; SC407 (info): the model could not be run as it is.

A model that already computes in float16 is compared with its float32 twin.

The runtimes are imported only here (``runtime``), never by the plain check.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from snapcheck.errors import InputError
from snapcheck.findings import Finding
from snapcheck.ir import Graph
from snapcheck.numerics.compare import Drift, Step, drift, layer_steps
from snapcheck.paths import rules_dir
from snapcheck.registry import emit
from snapcheck.rules import RulesError, check_evidence, load_sources
from snapcheck.tomlread import read_toml

__all__ = ["NumericsReport", "Skip", "Tolerance", "check_numerics", "input_sets", "load_sample", "load_tolerance",
           "measure", "measure_onnx", "numerics_findings"]


@dataclass(frozen=True)
class Tolerance:
    """``rules/numerics.toml``."""

    psnr_min_db: float
    max_abs_share: float
    jump_min: float
    jump_factor: float
    fp16_max: float
    ranges: tuple[tuple[str, float, float], ...]  # (name, low, high) of random float inputs
    seed: int
    source: str
    confidence: str

    def describe(self) -> str:
        return f"tolerance ({self.psnr_min_db:g} dB PSNR, max abs {self.max_abs_share:.0%} of the range)"


@lru_cache(maxsize=None)
def load_tolerance(folder: Path | None = None) -> Tolerance:
    folder = folder or rules_dir()
    raw = read_toml(folder / "numerics.toml")
    sources = load_sources(folder)
    tol, inputs = raw.get("tolerance", {}), raw.get("inputs", {})
    for where, sec in (("[tolerance]", tol), ("[inputs]", inputs)):
        check_evidence(sec, sources, f"numerics.toml {where}")
    try:
        ranges = tuple((str(r["name"]), float(r["low"]), float(r["high"])) for r in inputs["ranges"])
        values = {k: float(tol[k]) for k in ("psnr_min_db", "max_abs_share", "jump_min", "jump_factor", "fp16_max")}
    except (KeyError, TypeError, ValueError) as exc:
        raise RulesError(f"numerics.toml: missing or bad {exc}") from None
    if not ranges or any(lo >= hi for _, lo, hi in ranges):
        raise RulesError("numerics.toml [inputs]: ranges need low < high")
    return Tolerance(**values, ranges=ranges, seed=int(inputs.get("seed", 0)), source=tol["source"],
                     confidence=tol["confidence"])


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


def input_sets(specs: list[tuple[str, tuple[Any, ...], np.dtype]], tol: Tolerance,
               sample: dict[str, np.ndarray] | None) -> list[tuple[str, list[np.ndarray]]]:
    """(description, one array per input) for each input set: the user's sample, else one per range."""
    for name, shape, _ in specs:
        dims = list(shape)
        if dims and dims[0] is None:
            dims[0] = 1
        if any(d is None for d in dims) and not (sample and name in sample):
            raise Skip(f"input '{name}' has dynamic dims {list(shape)}: give it a static shape "
                        "(snapcheck fix --input-shape NAME=1,3,H,W)")
    if sample is not None:
        return [(f"sample {sample.get('__file__', '')}".strip(), [sample[n] for n, _, _ in specs])]
    sets = []
    for label, low, high in tol.ranges:
        rng = np.random.default_rng(tol.seed)
        arrays = []
        for _, shape, dtype in specs:
            dims = [1 if d is None else int(d) for d in shape]
            if dtype.kind == "f":
                arrays.append(rng.uniform(low, high, dims).astype(dtype))
            elif dtype.kind in "iu":
                arrays.append(rng.integers(0, 16, dims).astype(dtype))
            else:
                arrays.append(rng.integers(0, 2, dims).astype(dtype))
        sets.append((f"random {label}", arrays))
    return sets


class Skip(Exception):
    """The model cannot be run as it is (the reason is reported as SC407)."""


def _round_inputs(arrays: list[np.ndarray]) -> list[np.ndarray]:
    from snapcheck.numerics.onnx_fp16 import round_fp16

    return [round_fp16(a) if a.dtype == np.float32 else a for a in arrays]


def load_sample(path: str | Path, names: list[str], shapes: list[tuple[Any, ...]]) -> dict[str, np.ndarray]:
    """A user's sample: a .npy for the first (only) input, or a .npz with one array per input name; a batch
    dim of 1 is added where the array lacks it. ``InputError`` for anything that does not fit."""
    p = Path(path)
    try:
        data = np.load(p, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(p, "no such file (--sample)") from None
    except (OSError, ValueError) as exc:
        raise InputError(p, f"not a .npy or .npz array file (--sample): {exc}") from None
    arrays = dict(data) if hasattr(data, "files") else {names[0]: data} if len(names) == 1 else None
    if arrays is None:
        raise InputError(p, f"the model has {len(names)} inputs: give a .npz with arrays named {', '.join(names)}")
    out: dict[str, Any] = {"__file__": p.name}
    for name, shape in zip(names, shapes):
        if name not in arrays:
            raise InputError(p, f"no array named '{name}' (the model's inputs: {', '.join(names)})")
        a = np.asarray(arrays[name])
        if a.ndim == len(shape) - 1:
            a = a[None]
        if a.ndim != len(shape) or any(d is not None and d != s for d, s in zip(shape, a.shape)):
            raise InputError(p, f"array '{name}' has shape {list(a.shape)}, the input takes {list(shape)}")
        out[name] = a
    return out


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
        gpu = run_onnx(gpu_bytes, dict(zip(names, _round_inputs(arrays))), outputs + keys, path)
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
        gpu_out, gpu = run_tflite(v.gpu, _round_inputs(arrays), [p.gpu for p in v.probes], str(path))
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


def _fmt(x: float, spec: str = ".1f") -> str:
    return format(x, spec) if math.isfinite(x) else ("not finite" if x < 0 or math.isnan(x) else "inf")


def numerics_findings(report: NumericsReport, tol: Tolerance | None = None) -> list[Finding]:
    """SC404/SC405 per output beyond tolerance (on its worst input set), SC406 per output, SC407 if not run."""
    tol = tol or load_tolerance()
    if report.skipped:
        return [emit("SC407", reason=report.skipped)]
    findings: list[Finding] = []
    worst = report.worst
    assert worst is not None
    for i, o in enumerate(worst.outputs):
        by_run = [(r, r.outputs[i]) for r in report.runs]
        run, bad = min(by_run, key=lambda ro: ro[1].gpu.psnr_db)
        jump = run.jump or run.largest
        where = jump.label if jump is not None else "no single layer"
        if run.overflow is not None and bad.gpu.beyond(tol.psnr_min_db, tol.max_abs_share):
            s = run.overflow
            findings.append(emit("SC404", op=s.label, max_abs=f"{s.max_abs:.6g}",
                                 result="not finite" if not bad.gpu.finite else
                                 f"{_fmt(bad.gpu.psnr_db)} dB from the float32 output ({run.inputs} inputs)"))
            continue
        for path, d in (("weights and activations (GPU path)", bad.gpu),
                        ("weights (CPU path)", min((ro[1].cpu for ro in by_run), key=lambda x: x.psnr_db))):
            if d.beyond(tol.psnr_min_db, tol.max_abs_share):
                findings.append(emit("SC405", output=o.output, path=path, psnr=_fmt(d.psnr_db),
                                     max_abs=_fmt(d.max_abs, ".4g"), rel=f"{d.max_abs / d.value_range:.2%}",
                                     threshold=tol.describe(), jump=where))
                break
    for i, o in enumerate(worst.outputs):
        run = min(report.runs, key=lambda r: r.outputs[i].gpu.psnr_db)
        d = run.outputs[i]
        step = run.jump or run.largest
        findings.append(emit("SC406", output=o.output, cpu_psnr=_fmt(min(r.outputs[i].cpu.psnr_db for r in report.runs)),
                             cpu_max=_fmt(max(r.outputs[i].cpu.max_abs for r in report.runs), ".3g"),
                             gpu_psnr=_fmt(d.gpu.psnr_db), gpu_max=_fmt(d.gpu.max_abs, ".3g"),
                             jump=step.label if step is not None else "no layer",
                             inputs=f"worst of {len(report.runs)} input set(s): {run.inputs}"))
    return findings


def check_numerics(graph: Graph, sample: str | Path | None = None) -> tuple[NumericsReport, list[Finding]]:
    """The numerics report of ``graph``'s file and its findings."""
    tol = load_tolerance()
    report = measure(graph, sample, tol)
    return report, numerics_findings(report, tol)
