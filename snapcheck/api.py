"""Python API of the checker: ``check_file(path, ls_version="5.x") -> CheckReport``.

The export gate, the sweep and the CI gate call this; the ``check`` command renders its result.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from snapcheck import __version__
from snapcheck.checks import netron_name
from snapcheck.checks.facts import SubgraphView
from snapcheck.checks.fold import fold_graph
from snapcheck.checks.fp16 import check_fp16
from snapcheck.checks.io import check_io
from snapcheck.checks.ops import OpVerdict, check_ops
from snapcheck.checks.placement import Placement, check_placement
from snapcheck.checks.size import SizeReport, check_size
from snapcheck.checks.weights import check_weights
from snapcheck.cost import ModelCost, model_cost
from snapcheck.findings import SEVERITY_ORDER, Finding
from snapcheck.ir import Graph
from snapcheck.registry import DEFAULT_POLICY, FAMILIES, Policy, codes_matching
from snapcheck.rules import Ruleset, load_ruleset, resolve_backend
from snapcheck.summary import model_summary
from snapcheck.targets import Target, resolve_target

SCHEMA_VERSION = 1


@dataclass
class CheckReport:
    """Everything one check of one model against one Lens Studio version found."""

    path: str
    format: str
    ls_version: str
    backend: str | None
    findings: list[Finding]
    ops: list[OpVerdict]
    size: SizeReport
    placement: list[Placement]
    inferred_rules_used: list[str]
    op_counts: list[int]  # ops per subgraph
    estimates: list[dict[str, Any]] = field(default_factory=list)
    not_judged: int = 0  # op x rule verdicts left open by unknown shapes or values (SC114 lists them)
    suppressed: list[Finding] = field(default_factory=list)  # findings dropped by select/ignore, suppress, baseline
    fail_on: str = "error"  # the least severe severity that fails the check (error or warning)
    summary: dict[str, Any] = field(default_factory=dict)  # the model's inputs, outputs and totals (snapcheck.summary)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per check family run (ops, placement, ...)
    seconds: float = 0.0  # the whole check of this version, reading the file included (set by the caller)
    skipped: dict[str, str] = field(default_factory=dict)  # check family -> why it did not run or report
    target: Target | None = None  # where the Lens runs (rules/targets.toml)
    numerics: dict[str, Any] | None = None  # the fp16 numerics measurement (check --numerics)

    @property
    def failing(self) -> list[Finding]:
        """The findings that fail the check: errors, and warnings too with ``fail_on="warning"``."""
        worst = SEVERITY_ORDER[self.fail_on]
        return [f for f in self.findings if SEVERITY_ORDER[f.severity] <= worst]

    @property
    def passed(self) -> bool:
        return not self.failing

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in SEVERITY_ORDER}
        for f in self.findings:
            out[f.severity] += 1
        return out

    @property
    def codes(self) -> set[str]:
        return {f.code for f in self.findings}

    def to_dict(self) -> dict[str, Any]:
        """The versioned JSON document (schema in docs/check.md)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "tool": f"snapcheck {__version__}",
            "path": self.path,
            "format": self.format,
            "ls_version": self.ls_version,
            "backend": self.backend,
            "passed": self.passed,
            "counts": self.counts(),
            "findings": [f.to_dict() for f in self.findings],
            "ops": [v.to_dict() for v in self.ops],
            "op_counts": self.op_counts,
            "placement": [p.to_dict() for p in self.placement],
            "size": self.size.to_dict(),
            "inferred_rules_used": self.inferred_rules_used,
            "not_judged": self.not_judged,
            "suppressed": len(self.suppressed),
            "suppressed_findings": [f.to_dict() for f in self.suppressed],
            "fail_on": self.fail_on,
            "summary": self.summary,
            "estimates": self.estimates,
            "target": None if self.target is None else {
                "name": self.target.name, "title": self.target.title, "devices": list(self.target.devices),
                "legacy_floor": list(self.target.legacy_floor)},
            "numerics": self.numerics,
        }


def _estimates(graph: Graph, ruleset: Ruleset, target: Target,
               cost: ModelCost) -> tuple[list[dict[str, Any]], list[Finding]]:
    """Frame-rate estimates and their findings from ``snapcheck.estimate`` (empty where it is not installed)."""
    try:
        from snapcheck.estimate import check_estimates
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("snapcheck.estimate"):
            return [], []
        raise
    return check_estimates(graph, ruleset, target, cost)


def _skipped(policy: Policy, estimates: bool, compiled: bool) -> dict[str, str]:
    """The check families that reported nothing by design, and why."""
    out = {fam: f"every {prefix} code is ignored by the settings" for prefix, fam in FAMILIES.items()
           if not any(policy.selects(c) for c in codes_matching(prefix))}
    if "performance" not in out and (not estimates or compiled):
        out["performance"] = ("frame-rate estimates are off (--no-estimates)" if not estimates else
                              "a model compiled for another accelerator has no estimate")
    return out


class _Laps:
    """Seconds spent in each check family (the JUnit report's test case times)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._t = time.perf_counter()

    def __call__(self, family: str) -> None:
        now = time.perf_counter()
        self.seconds[family] = now - self._t
        self._t = now


def _sort_key(f: Finding) -> tuple:
    return (SEVERITY_ORDER[f.severity], f.code, f.subgraph or 0, f.op_index if f.op_index is not None else -1)


def _name_ops(graph: Graph, findings: list[Finding]) -> list[Finding]:
    """Each finding at an op with the op's Netron name and type (what suppressions and baselines match)."""
    out = []
    for f in findings:
        if f.op_index is not None and f.subgraph is not None and 0 <= f.subgraph < len(graph.subgraphs):
            sg = graph.subgraphs[f.subgraph]
            if 0 <= f.op_index < len(sg.ops):
                op = sg.ops[f.op_index]
                f = replace(f, node=netron_name(sg, op) or None, op_type=op.display_type)
        out.append(f)
    return out


def check_graph(graph: Graph, ls_version: str = "5.x", backend: str | None = None, max_size: int | None = None,
                estimates: bool = True, policy: Policy = DEFAULT_POLICY, fail_on: str = "error",
                target: str | None = None, numerics: bool | tuple[Any, list[Finding]] = False,
                sample: str | Path | None = None) -> CheckReport:
    """Run every check on an already loaded graph; ``policy`` selects, ignores, re-grades and suppresses codes;
    ``fail_on="warning"`` makes warnings fail the check too; ``target`` (``rules/targets.toml``, default snapchat)
    sets the ML budget, frame-rate rule and devices; ``numerics`` runs the model in float32 and float16 on the
    host (``snapcheck.numerics``; ``sample``: the user's input), or takes the ``(report, findings)`` that
    ``check_numerics`` gave, so that one measurement serves every version."""
    lap = _Laps()
    ruleset = load_ruleset(ls_version)
    backend = resolve_backend(backend)
    where = resolve_target(target)
    foldings = fold_graph(graph)
    views = [SubgraphView(graph, sg, values=f.values, shapes=f.shapes, folded=f.folded)
             for sg, f in zip(graph.subgraphs, foldings)]
    ops = check_ops(graph, ruleset, views, backend)
    lap("ops")
    placement, placement_findings = check_placement(ops.verdicts, backend)
    lap("placement")
    size, size_findings = check_size(graph, ruleset, max_size, foldings, where)
    lap("size")
    findings = ops.findings + placement_findings + size_findings + check_fp16(graph, ruleset) + check_weights(graph)
    lap("fp16")
    findings += check_io(graph, ruleset, views[0] if views else None, ops.covered_tensors,
                         {sg.index: f.folded for sg, f in zip(graph.subgraphs, foldings)})
    lap("io")
    cost = model_cost(graph)  # the summary's totals and the estimates' op costs
    est: list[dict[str, Any]] = []
    if estimates and not ops.compiled:  # a compiled accelerator blob hides the work: nothing to estimate
        est, est_findings = _estimates(graph, ruleset, where, cost)
        findings += est_findings
        lap("performance")
    measured = None
    if numerics is True:  # runs the model: onnxruntime or LiteRT are imported here only
        from snapcheck.numerics import check_numerics

        numerics = check_numerics(graph, sample)
    if numerics:
        report, numeric_findings = numerics
        measured = report.to_dict()
        findings += numeric_findings
        lap("numerics")
    if backend is not None:
        findings = [f for f in findings if f.backend in (None, backend)]
    findings, suppressed = policy.apply(_name_ops(graph, findings))
    inferred = set(ops.inferred_rules)
    for f in findings:
        if f.inferred and not f.code.startswith("SC1"):  # ops findings are recorded by their rule above
            inferred.add(f"{f.code}: {f.why}")
    return CheckReport(
        path=str(graph.path), format=graph.format, ls_version=ruleset.version, backend=backend,
        findings=sorted(findings, key=_sort_key), ops=ops.verdicts, size=size, placement=placement,
        inferred_rules_used=sorted(inferred), op_counts=[len(sg.ops) for sg in graph.subgraphs], estimates=est,
        not_judged=ops.not_judged, suppressed=suppressed, fail_on=fail_on, timings=lap.seconds,
        skipped=_skipped(policy, estimates, ops.compiled),
        summary=model_summary(graph, size, ops.verdicts, cost), target=where, numerics=measured,
    )


def load(path: str | Path) -> Graph:
    """Read a model (InputError for anything unusable)."""
    from snapcheck.readers import load_model

    return load_model(path)


def check_file(path: str | Path, ls_version: str = "5.x", backend: str | None = None, max_size: int | None = None,
               estimates: bool = True, policy: Policy = DEFAULT_POLICY, fail_on: str = "error",
               target: str | None = None, numerics: bool = False, sample: str | Path | None = None) -> CheckReport:
    """Read ``path`` (.tflite or .onnx) and check it against the rules of ``ls_version`` for ``target``."""
    load_ruleset(ls_version)  # an unknown version or target is refused before reading the file
    resolve_target(target)
    return check_graph(load(path), ls_version, backend, max_size, estimates, policy=policy, fail_on=fail_on,
                       target=target, numerics=numerics, sample=sample)
