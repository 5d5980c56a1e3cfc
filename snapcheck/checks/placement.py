"""The placement check: per accelerator, how many ops run there, in how many partitions, and a verdict.

Partitions are grown as ONNX Runtime's ``CreateSupportedPartitionNodeGroups`` does (and its mobile
usability checker re-implements): a topological walk that extends the current group with ready supported
ops and closes it when only unsupported ops are ready. The YES/MAYBE/NO verdict is that checker's.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from snapcheck.checks.ops import OpVerdict
from snapcheck.findings import Finding
from snapcheck.registry import emit
from snapcheck.rules import ACCELERATORS


@dataclass
class Placement:
    backend: str
    accelerated: int
    total: int
    partitions: int
    partition_sizes: list[int]
    verdict: str  # YES | MAYBE | NO (ONNX Runtime's usability checker heuristic)
    fallback: dict[str, int] = field(default_factory=dict)  # op type -> count on the CPU

    @property
    def share(self) -> float:
        return self.accelerated / self.total if self.total else 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "accelerated": self.accelerated, "total": self.total,
                "partitions": self.partitions, "partition_sizes": self.partition_sizes, "verdict": self.verdict,
                "cpu_fallback": self.fallback}


def usability_verdict(partitions: int, share: float) -> str:
    """ONNX Runtime's 'semi-arbitrary' heuristic: more than 2 partitions cost more in copies than they gain."""
    if partitions == 0:
        return "NO"
    if partitions == 1:
        return "YES" if share > 0.75 else "MAYBE" if share > 0.5 else "NO"
    if partitions == 2:
        return "MAYBE" if share > 0.75 else "NO"
    return "NO"


def partitions(ops: list[OpVerdict], backend: str) -> list[int]:
    """Sizes (counting layer ops only, not plumbing) of the accelerated groups of one subgraph's ops."""
    producer = {t: v.index for v in ops for t in v.outputs if t >= 0}
    by_index = {v.index: v for v in ops}
    deps = {v.index: {producer[t] for t in v.inputs if t in producer and producer[t] != v.index} for v in ops}
    users: dict[int, list[int]] = {v.index: [] for v in ops}
    for i, ds in deps.items():
        for d in ds:
            users[d].append(i)
    pending = {i: len(ds) for i, ds in deps.items()}
    ok_ready: deque[int] = deque()
    bad_ready: deque[int] = deque()

    def supported(i: int) -> bool:
        v = by_index[i]
        return v.plumbing or v.support.get(backend, False)

    for v in ops:
        if pending[v.index] == 0:
            (ok_ready if supported(v.index) else bad_ready).append(v.index)
    sizes: list[int] = []
    current = 0

    def release(i: int) -> None:
        for u in users[i]:
            pending[u] -= 1
            if pending[u] == 0:
                (ok_ready if supported(u) else bad_ready).append(u)

    while ok_ready or bad_ready:
        if ok_ready:
            i = ok_ready.popleft()
            current += 0 if by_index[i].plumbing else 1
            release(i)
            continue
        if current:
            sizes.append(current)
            current = 0
        while bad_ready:
            release(bad_ready.popleft())
    if current:
        sizes.append(current)
    return sizes


def check_placement(verdicts: list[OpVerdict], backend: str | None = None) -> tuple[list[Placement], list[Finding]]:
    """Placement of the main graph's ops on each accelerator (or the one asked for)."""
    main = [v for v in verdicts if v.subgraph == 0]
    layer_ops = [v for v in main if not v.plumbing]
    out: list[Placement] = []
    findings: list[Finding] = []
    for b in ACCELERATORS:
        if backend not in (None, b):
            continue
        sizes = partitions(main, b)
        acc = sum(1 for v in layer_ops if v.support.get(b))
        fallback = Counter(v.type for v in layer_ops if not v.support.get(b))
        share = acc / len(layer_ops) if layer_ops else 1.0
        verdict = usability_verdict(len(sizes), share) if layer_ops else "YES"
        p = Placement(backend=b, accelerated=acc, total=len(layer_ops), partitions=len(sizes),
                      partition_sizes=sizes, verdict=verdict, fallback=dict(fallback.most_common()))
        out.append(p)
        cpu = ", ".join(f"{t} x{n}" for t, n in fallback.most_common(5))
        findings.append(emit("SC201" if verdict == "YES" else "SC202", backend=b, accelerated=acc,
                             total=len(layer_ops), share=f"{share:.0%}", partitions=len(sizes), verdict=verdict,
                             cpu=f"; on the CPU: {cpu}" if cpu else ""))
    return out, findings
