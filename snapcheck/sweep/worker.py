"""One sweep configuration, end to end, in a worker process.

Build the generator with random weights and export fp16 .tflite and .onnx (``snapcheck.gan.export``,
gate off: a failing config is a result, not an error), whose gate has already checked each file with
estimates; or reuse an identical earlier export in the same folder and check its files
(``snapcheck.api``). Then the cost model (``snapcheck.cost``) on the .tflite's graph that check read,
and host latency (``snapcheck.hostbench``, 1 thread): what ``snapcheck check`` and ``snapcheck bench``
report. A failure in any stage raises with ``stage`` set; the runner records it and the sweep goes on.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from snapcheck import __version__
from snapcheck.api import check_graph
from snapcheck.cost import model_cost
from snapcheck.gan.export import export_config
from snapcheck.gan.registry import GeneratorConfig
from snapcheck.hostbench import bench_model
from snapcheck.readers import load_model
from snapcheck.rules import BACKENDS, load_ruleset
from snapcheck.sweep.cache import BENCH_RUNS, BENCH_THREADS, BENCH_WARMUP, stage

FORMATS = ("tflite", "onnx")


def evaluate_config(cfg: GeneratorConfig, model_dir: Path, out_dir: Path, ls_version: str) -> dict[str, Any]:
    """The row fields of one configuration (see ``snapcheck.sweep.outputs`` for the row layout)."""
    sidecar = previous_export(cfg, model_dir)
    exported = sidecar is None
    files = {fmt: model_dir / f"{cfg.name}.{fmt}" for fmt in FORMATS}
    if exported:
        import keras  # TensorFlow's Keras: only a configuration that must be exported needs it

        keras.backend.clear_session()  # one worker process builds many models: free the previous one's graph
        with stage("export"):
            export = export_config(cfg, model_dir, formats=FORMATS, fp16=True, gate=False, ls_version=ls_version,
                                   name=cfg.name)
        sidecar = export.sidecar
        graphs = {fmt: export.graphs[path.name] for fmt, path in files.items()}
        reports = {fmt: export.reports[path.name].to_dict() for fmt, path in files.items()}
    else:
        with stage("check"):
            graphs = {fmt: load_model(path) for fmt, path in files.items()}
            reports = {fmt: check_graph(graph, ls_version).to_dict() for fmt, graph in graphs.items()}
    with stage("cost"):
        cost = model_cost(graphs["tflite"])
    with stage("bench"):
        host = host_latency(files)
    budget = load_ruleset(ls_version).size_budget_bytes
    fp16_bytes = reports["tflite"]["size"]["fp16_bytes"]
    checks = {fmt: _check_summary(report) for fmt, report in reports.items()}
    return {
        "export": "exported" if exported else "reused",
        "files": {fmt: str(path.relative_to(out_dir)) for fmt, path in files.items()},
        "file_bytes": {fmt: path.stat().st_size for fmt, path in files.items()},
        "params": cost.params,
        "keras_params": sidecar["params"],
        "fp16_bytes": fp16_bytes,
        "macs": cost.macs,
        "peak_memory_bytes": cost.activation_peak_bytes,
        "naive_memory_bytes": cost.activation_naive_bytes,
        "budget_bytes": budget,
        "under_budget": fp16_bytes <= budget,
        "verdict": "pass" if all(c["passed"] for c in checks.values()) else "fail",
        "checks": checks,
        "host": host,
        "estimates": reports["tflite"].get("estimates", []),
    }


def previous_export(cfg: GeneratorConfig, model_dir: Path) -> dict[str, Any] | None:
    """The sidecar of an earlier fp16 export of exactly ``cfg`` by this snapcheck version in ``model_dir``,
    if its files are all there, unchanged (sha256); ``None`` otherwise. A sweep whose cache was invalidated
    by new rules or a recalibrated host re-checks and re-times these files instead of exporting again."""
    try:
        sidecar = json.loads((model_dir / f"{cfg.name}.json").read_text(encoding="utf-8"))
        files = sidecar["files"]
        same = (sidecar["config"] == cfg.to_dict() and sidecar["tools"]["snapcheck"] == __version__
                and sidecar["tools"]["fp16"] is True and set(files) == {f"{cfg.name}.{fmt}" for fmt in FORMATS})
        if same and all(hashlib.sha256((model_dir / name).read_bytes()).hexdigest() == info["sha256"]
                        for name, info in files.items()):
            return sidecar
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _check_summary(report: dict[str, Any]) -> dict[str, Any]:
    """Pass/fail overall and per backend (what ``snapcheck check --backend B`` says: no error that applies
    to every backend or to B), the error and warning codes, and the accelerator placement verdicts."""
    findings = report["findings"]
    errors = [f for f in findings if f["severity"] == "error"]
    return {
        "passed": bool(report["passed"]),
        "errors": sorted({f["code"] for f in errors}),
        "warnings": sorted({f["code"] for f in findings if f["severity"] == "warning"}),
        "backends": {b: "fail" if any(f.get("backend") in (None, b) for f in errors) else "pass" for b in BACKENDS},
        "placement": {p["backend"]: p["verdict"] for p in report["placement"]},
    }


def host_latency(files: dict[str, Path]) -> dict[str, Any]:
    """What ``snapcheck bench --threads 1 --runs 15 --warmup 3`` measures, per format: runtime, threads, runs,
    median, p90 and min (ms)."""
    return {fmt: _bench_summary(bench_model(path, threads=BENCH_THREADS, runs=BENCH_RUNS, warmup=BENCH_WARMUP))
            for fmt, path in files.items()}


def _bench_summary(result: Any) -> dict[str, Any]:
    d = result.to_dict()
    return {k: d[k] for k in ("runtime", "threads", "runs", "median_ms", "p90_ms", "min_ms")}
