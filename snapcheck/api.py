"""Python API of the checker: ``check_file(path, ls_version="5.x") -> CheckReport``.

The export gate, the sweep and the CI gate call this; the ``check`` command renders its result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snapcheck import __version__
from snapcheck.checks.facts import SubgraphView
from snapcheck.checks.fold import fold_graph
from snapcheck.checks.fp16 import check_fp16
from snapcheck.checks.io import check_io
from snapcheck.checks.ops import OpVerdict, check_ops
from snapcheck.checks.placement import Placement, check_placement
from snapcheck.checks.size import SizeReport, check_size
from snapcheck.checks.weights import check_weights
from snapcheck.findings import SEVERITY_ORDER, Finding
from snapcheck.ir import Graph
from snapcheck.registry import DEFAULT_POLICY, Policy
from snapcheck.rules import Ruleset, load_ruleset, resolve_backend
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
    suppressed: list[Finding] = field(default_factory=list)  # findings the policy's select/ignore dropped
    target: Target | None = None  # where the Lens runs (rules/targets.toml)
    numerics: dict[str, Any] | None = None  # the fp16 numerics measurement (check --numerics)

    @property
    def passed(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

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
            "estimates": self.estimates,
            "target": None if self.target is None else {
                "name": self.target.name, "title": self.target.title, "devices": list(self.target.devices),
                "legacy_floor": list(self.target.legacy_floor)},
            "numerics": self.numerics,
        }


def _estimates(graph: Graph, ruleset: Ruleset, target: Target) -> tuple[list[dict[str, Any]], list[Finding]]:
    """Frame-rate estimates and their findings from ``snapcheck.estimate`` (empty where it is not installed)."""
    try:
        from snapcheck.estimate import check_estimates
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("snapcheck.estimate"):
            return [], []
        raise
    return check_estimates(graph, ruleset, target)


def _sort_key(f: Finding) -> tuple:
    return (SEVERITY_ORDER[f.severity], f.code, f.subgraph or 0, f.op_index if f.op_index is not None else -1)


def check_graph(graph: Graph, ls_version: str = "5.x", backend: str | None = None, max_size: int | None = None,
                estimates: bool = True, policy: Policy = DEFAULT_POLICY, target: str | None = None,
                numerics: bool = False, sample: str | Path | None = None) -> CheckReport:
    """Run every check on an already loaded graph; ``policy`` selects, ignores and re-grades codes; ``target``
    (``rules/targets.toml``, default snapchat) sets the ML budget, frame-rate rule and devices; ``numerics`` runs
    the model in float32 and float16 on the host (``snapcheck.numerics``; ``sample``: the user's input)."""
    ruleset = load_ruleset(ls_version)
    backend = resolve_backend(backend)
    where = resolve_target(target)
    foldings = fold_graph(graph)
    views = [SubgraphView(graph, sg, values=f.values, shapes=f.shapes, folded=f.folded)
             for sg, f in zip(graph.subgraphs, foldings)]
    ops = check_ops(graph, ruleset, views, backend)
    placement, placement_findings = check_placement(ops.verdicts, backend)
    size, size_findings = check_size(graph, ruleset, max_size, foldings, where)
    findings = ops.findings + placement_findings + size_findings + check_fp16(graph, ruleset) + check_weights(graph)
    findings += check_io(graph, ruleset, views[0] if views else None, ops.covered_tensors,
                         {sg.index: f.folded for sg, f in zip(graph.subgraphs, foldings)})
    est: list[dict[str, Any]] = []
    if estimates and not ops.compiled:  # a compiled accelerator blob hides the work: nothing to estimate
        est, est_findings = _estimates(graph, ruleset, where)
        findings += est_findings
    measured = None
    if numerics:  # runs the model: onnxruntime or LiteRT are imported here only
        from snapcheck.numerics import check_numerics

        report, numeric_findings = check_numerics(graph, sample)
        measured = report.to_dict()
        findings += numeric_findings
    if backend is not None:
        findings = [f for f in findings if f.backend in (None, backend)]
    findings, suppressed = policy.apply(findings)
    inferred = set(ops.inferred_rules)
    for f in findings:
        if f.inferred and not f.code.startswith("SC1"):  # ops findings are recorded by their rule above
            inferred.add(f"{f.code}: {f.why}")
    return CheckReport(
        path=str(graph.path), format=graph.format, ls_version=ruleset.version, backend=backend,
        findings=sorted(findings, key=_sort_key), ops=ops.verdicts, size=size, placement=placement,
        inferred_rules_used=sorted(inferred), op_counts=[len(sg.ops) for sg in graph.subgraphs], estimates=est,
        not_judged=ops.not_judged, suppressed=suppressed, target=where, numerics=measured,
    )


def load(path: str | Path) -> Graph:
    """Read a model (InputError for anything unusable)."""
    from snapcheck.readers import load_model

    return load_model(path)


def check_file(path: str | Path, ls_version: str = "5.x", backend: str | None = None, max_size: int | None = None,
               estimates: bool = True, policy: Policy = DEFAULT_POLICY, target: str | None = None,
               numerics: bool = False, sample: str | Path | None = None) -> CheckReport:
    """Read ``path`` (.tflite or .onnx) and check it against the rules of ``ls_version`` for ``target``."""
    load_ruleset(ls_version)  # an unknown version or target is refused before reading the file
    resolve_target(target)
    return check_graph(load(path), ls_version, backend, max_size, estimates, policy, target, numerics, sample)
