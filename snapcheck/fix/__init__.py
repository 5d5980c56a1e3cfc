"""``snapcheck fix``: apply the mechanical fixes to an ONNX model, prove they kept its function, re-check it.

The rewrites and what each resolves are ``rules/fixes.toml``; they run in its order (``fold`` again after a
hand-written rewrite, to drop what it left unused). Both models then run with onnxruntime on the same inputs
(``snapcheck.fix.verify``); a result outside the stated tolerance is not written. With ``--fp16`` the float16
model is also measured by the numerics check (``snapcheck.numerics``). The result is checked with the same rules
as the input, and written through a temporary file beside the target.

A ``.tflite`` is not rewritten: :class:`ExportTimeOnly` carries, per finding, the export-time change that resolves
it (the registry's Keras fix).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from snapcheck.api import CheckReport, check_graph, load
from snapcheck.errors import InputError, one_line
from snapcheck.fix import passes
from snapcheck.fix.decompose import depth_to_space, gelu, hard_swish, layer_norm
from snapcheck.fix.passes import Context
from snapcheck.fix.ranks import constant_ranks
from snapcheck.fix.rules import FixRules, Rewrite, load_fix_rules
from snapcheck.fix.upsample import nearest_upsampling
from snapcheck.fix.verify import Agreement, agreement
from snapcheck.rules import load_ruleset
from snapcheck.targets import resolve_target

Pass = Callable[[Any, Context], tuple[Any, "str | None"]]
PASSES: dict[str, Pass] = {
    "inline-functions": passes.inline_functions, "opset": passes.convert_opset, "freeze-dims": passes.freeze_dims,
    "batch-one": passes.batch_one, "fold": passes.fold, "upsampling": nearest_upsampling,
    "hard-swish": hard_swish, "layer-norm": layer_norm, "gelu": gelu, "depth-to-space": depth_to_space,
    "constant-rank": constant_ranks, "fp16": passes.to_fp16,
}
HAND_WRITTEN = ("upsampling", "hard-swish", "layer-norm", "gelu", "depth-to-space", "constant-rank")  # fold after


class ExportTimeOnly(InputError):
    """A model format fix does not rewrite; ``advice`` says which export-time change resolves each finding."""

    def __init__(self, path: str | Path, advice: list[tuple[str, str, str]]) -> None:
        self.advice = advice  # (code, message, export-time change)
        n = len(advice)
        super().__init__(path, f".tflite models are not rewritten; {n} finding(s) have the export-time change "
                               "above" if n else ".tflite models are not rewritten; the check finds nothing to change")


@dataclass
class Applied:
    rewrite: Rewrite
    note: str


@dataclass
class FixReport:
    path: str
    out: str | None
    dry_run: bool
    before: CheckReport
    after: CheckReport
    applied: list[Applied]
    exact: Agreement
    skipped: list[Applied] = field(default_factory=list)  # rewrites whose library failed on this model (note: why)
    fp16: Agreement | None = None
    numerics: dict[str, Any] | None = None
    written: bool = False
    refused: str = ""  # why nothing was written
    seconds: float = 0.0
    rules: FixRules | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return not self.refused

    def error_counts(self) -> tuple[int, int]:
        return self.before.counts()["error"], self.after.counts()["error"]

    @property
    def resolved_share(self) -> float | None:
        """Share of the input's error-level findings that the output no longer has (None: it had none)."""
        before, after = self.error_counts()
        return None if before == 0 else max(before - after, 0) / before

    def codes(self) -> list[tuple[str, int, int, list[str]]]:
        """(code, findings before, after, rewrites that resolve it) for every code of either check."""
        rules = self.rules or load_fix_rules()
        count = lambda r, c: sum(f.code == c for f in r.findings)  # noqa: E731
        codes = sorted({f.code for f in (*self.before.findings, *self.after.findings)})
        return [(c, count(self.before, c), count(self.after, c), rules.by_code(c)) for c in codes]

    def remaining(self) -> tuple[list[Any], list[Any]]:
        """The output's errors and warnings: (with a mechanical fix that did not resolve them, with none)."""
        mechanical = (self.rules or load_fix_rules()).mechanical
        left = [f for f in self.after.findings if f.severity != "info"]
        return [f for f in left if f.code in mechanical], [f for f in left if f.code not in mechanical]

    def to_dict(self) -> dict[str, Any]:
        before, after = self.error_counts()
        return {
            "path": self.path, "out": self.out, "dry_run": self.dry_run, "written": self.written,
            "refused": self.refused or None, "seconds": round(self.seconds, 3),
            "rewrites": [{"id": a.rewrite.id, "resolves": list(a.rewrite.resolves), "exactness": a.rewrite.exactness,
                          "tool": a.rewrite.tool, "did": a.note} for a in self.applied],
            "skipped": [{"id": a.rewrite.id, "tool": a.rewrite.tool, "why": a.note} for a in self.skipped],
            "agreement": self.exact.to_dict(), "fp16_agreement": None if self.fp16 is None else self.fp16.to_dict(),
            "numerics": self.numerics,
            "codes": [{"code": c, "before": b, "after": a, "resolved_by": r} for c, b, a, r in self.codes()],
            "ops": [len(self.before.ops), len(self.after.ops)],
            "size": {"before": self.before.size.to_dict(), "after": self.after.size.to_dict()},
            "errors": {"before": before, "after": after, "resolved_share": self.resolved_share},
            "after_passed": self.after.passed,
            "before_report": self.before.to_dict(), "after_report": self.after.to_dict(),
        }


def parse_input_shapes(values: list[str]) -> dict[str, list[int]]:
    """``["x=1,3,256,256"]`` -> ``{"x": [1, 3, 256, 256]}``; ``InputError`` for anything else."""
    out = {}
    for v in values:
        name, _, dims = v.partition("=")
        try:
            shape = [int(d) for d in dims.split(",")]
        except ValueError:
            shape = []
        if not name or not shape or any(d <= 0 for d in shape):
            raise InputError(None, f"--input-shape {v!r}: expected NAME=D0,D1,... with positive dims "
                                   "(e.g. input=1,3,256,256)")
        out[name] = shape
    return out


def _advice(report: CheckReport) -> list[tuple[str, str, str]]:
    seen, out = set(), []
    for f in report.findings:
        if f.severity == "info" or (f.code, f.fix) in seen:
            continue
        seen.add((f.code, f.fix))
        out.append((f.code, f.message, f.fix))
    return out


def _load_onnx(path: Path) -> Any:
    import onnx

    try:
        return onnx.load(str(path))
    except Exception as exc:  # noqa: BLE001 - the reader accepted it; onnx's loader may still refuse
        raise InputError(path, f"onnx cannot load it: {' '.join(str(exc).split())[:200]}") from None


def _graph_of(model: Any, path: Path) -> Any:
    from snapcheck.readers.onnx_reader import read_onnx

    return read_onnx(path, model.SerializeToString())


def _run_pass(rid: str, work: Any, ctx: Context, skipped: list[Applied]) -> tuple[Any, str | None]:
    """One rewrite; should its library fail on this model (onnxslim recursing through a 1,500-op chain, a name
    that is not UTF-8), the model stays as it was and the failure is recorded: what is applied is proven anyway."""
    try:
        return PASSES[rid](work, ctx)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - onnxslim and the onnx tools raise whatever their code meets
        skipped.append(Applied(ctx.rules.rewrites[rid], f"{type(exc).__name__}: {one_line(exc, 160)}"))
        return work, None


def _rewrite(model: Any, rules: FixRules, ctx: Context) -> tuple[Any, Any, list[Applied], list[Applied]]:
    """Every rewrite in the rules' order (fold again after a hand-written one): (the result, the result before
    the approximate fp16 rewrite, what was applied, what was skipped and why)."""
    work, exact_model, applied, skipped = model, model, [], []
    for rid, rewrite in rules.rewrites.items():
        if rid == "fp16":  # the last rewrite: everything before it is proven exact
            exact_model = type(work)()
            exact_model.CopyFrom(work)
        work, note = _run_pass(rid, work, ctx, skipped)
        if note:
            applied.append(Applied(rewrite, note))
        if rid in HAND_WRITTEN and note:
            work, again = _run_pass("fold", work, ctx, skipped)
            if again:
                applied.append(Applied(rules.rewrites["fold"], f"after {rid}: {again}"))
    return work, exact_model, applied, skipped


def _measure_fp16(exact_model: Any, fp16_model: Any, feeds: dict | None, sample: str | Path | None,
                  path: str) -> tuple[Agreement, dict[str, Any], list[Any]]:
    """The float16 model against the float32 fix on the host, and the numerics check of the float32 fix (the
    GPU path, where float16 activations overflow): (agreement, the measurement, its findings)."""
    from snapcheck.numerics import NumericsReport, Skip, load_tolerance, measure_onnx, numerics_findings

    tol = load_tolerance()
    approx = agreement(exact_model.SerializeToString(), fp16_model, tol, feeds, exact=False, atol=0.0, rtol=0.0,
                       batch_from={}, path=path)
    report = NumericsReport(runtime="onnxruntime")
    try:
        report.runs = measure_onnx(exact_model, tol, sample, path)
    except Skip as exc:
        report.skipped = str(exc)
    return approx, report.to_dict(), numerics_findings(report, tol)


def _refusal(exact: Agreement, approx: Agreement | None, numerics: list[Any]) -> str:
    """Why nothing may be written ("" when the proof holds)."""
    if not exact.ok:
        return (f"the rewritten model's outputs differ from the original's beyond {exact.allowed} "
                f"(max abs {exact.max_abs:.3g}, {exact.worst})")
    if approx is not None and not approx.ok:
        return (f"float16 weights move the outputs beyond the {approx.allowed} (PSNR {approx.psnr_db:.1f} dB, "
                f"max abs {approx.max_abs:.3g}, {approx.worst}); the float32 fix is kept out too: run without --fp16")
    bad = next((f for f in numerics if f.code in ("SC404", "SC405")), None)
    if bad is not None:
        return (f"float16 breaks the model on GPUs and NPUs ({bad.code}: {bad.message}); nothing is written: fix "
                "the layer it names, or run without --fp16")
    return ""


def fix_model(path: str | Path, out: str | Path | None = None, *, ls_version: str = "5.x", target: str | None = None,
              input_shapes: dict[str, list[int]] | None = None, fp16: bool = False, dry_run: bool = False,
              sample: str | Path | None = None) -> FixReport:
    """Fix ``path`` into ``out`` (nothing is written with ``dry_run``, nor when the proof fails); ``InputError``
    before any work when ``out`` cannot be written."""
    from snapcheck.fsutil import atomic_path, writable_file
    from snapcheck.numerics import load_sample, load_tolerance

    t0 = time.perf_counter()
    load_ruleset(ls_version)
    where = resolve_target(target)
    if out is None and not dry_run:
        raise InputError(path, "give the output file with -o FIXED.onnx (or --dry-run to write nothing)")
    if not dry_run:
        writable_file(out, "-o")  # before the rewrite and its proof
    path = Path(path)
    graph = load(path)
    before = check_graph(graph, ls_version, estimates=False, target=where.name)
    if graph.format != "onnx":
        raise ExportTimeOnly(path, _advice(before))
    rules = load_fix_rules()
    model = _load_onnx(path)
    original = model.SerializeToString()
    inputs = passes.graph_inputs(model)
    arrays = load_sample(sample, [vi.name for vi in inputs],
                         [tuple(d if isinstance(d, int) else None for d in passes.dims_of(vi)) for vi in inputs]) \
        if sample else None
    feeds = None if arrays is None else {k: v for k, v in arrays.items() if not k.startswith("__")}
    ctx = Context(rules=rules, path=str(path), input_shapes=dict(input_shapes or {}), fp16=fp16,
                  sample_shapes=passes.sample_shapes(feeds or {}))
    work, exact_model, applied, skipped = _rewrite(model, rules, ctx)
    exact = agreement(original, exact_model, load_tolerance(), feeds, exact=True, atol=rules.exact_atol,
                      rtol=rules.exact_rtol, batch_from=ctx.batch_from, path=str(path))
    approx, numerics, extra = (_measure_fp16(exact_model, work, feeds, sample, str(path))
                               if fp16 and work is not exact_model else (None, None, []))
    if exact.ok and exact.shapes:  # outputs declared with the static shape they ran with (static inputs)
        passes.declare_output_shapes(work, exact.shapes)
    target_path = Path(out) if out is not None else path
    after = check_graph(_graph_of(work, target_path), ls_version, estimates=False, target=where.name)
    after.findings += extra
    result = FixReport(path=str(path), out=None if out is None else str(out), dry_run=dry_run, before=before,
                       after=after, applied=applied, skipped=skipped, exact=exact, fp16=approx, numerics=numerics,
                       refused=_refusal(exact, approx, extra), rules=rules)
    if not result.refused and not dry_run:
        try:
            with atomic_path(target_path) as tmp:
                tmp.write_bytes(work.SerializeToString())
        except OSError as exc:
            raise InputError(target_path, f"cannot write it: {exc.strerror or exc}") from None
        result.written = True
    result.seconds = time.perf_counter() - t0
    return result
