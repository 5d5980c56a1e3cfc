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

The modules: ``tolerance`` (the rules), ``inputs``, ``measure`` (the runs; ``onnx_fp16`` and ``tflite_fp16``
build the variants), ``compare`` (drift and steps), ``runtime`` (the only place the runtimes are imported; the plain
check never imports it).
"""

from __future__ import annotations

import math
from pathlib import Path

from snapcheck.findings import Finding
from snapcheck.ir import Graph
from snapcheck.numerics.inputs import Skip, input_sets, load_sample
from snapcheck.numerics.measure import NumericsReport, measure, measure_onnx
from snapcheck.numerics.tolerance import Tolerance, load_tolerance
from snapcheck.registry import emit

__all__ = ["NumericsReport", "Skip", "Tolerance", "check_numerics", "input_sets", "load_sample", "load_tolerance",
           "measure", "measure_onnx", "numerics_findings"]


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
