"""``snapcheck fix MODEL -o FIXED.onnx``: apply the mechanical fixes, prove them, re-check. Imports inside."""

from __future__ import annotations

from typing import Optional

import typer

from snapcheck.commands import FastCommand


def fix(
    model: str = typer.Argument(..., metavar="MODEL", help="An .onnx model (a .tflite gets export-time advice)."),
    out: Optional[str] = typer.Option(None, "--out", "-o", metavar="FIXED.onnx",
                                      help="Where to write the fixed model (written only if the proof holds)."),
    ls_version: str = typer.Option("5.x", "--ls-version", "-l", help="Lens Studio version: 3.x, 4.x or 5.x."),
    target: Optional[str] = typer.Option(None, "--target", "-t", help="snapchat (default) or spectacles."),
    input_shape: list[str] = typer.Option([], "--input-shape", metavar="NAME=1,3,256,256",
                                          help="Static shape for an input with dynamic dims (repeat per input)."),
    fp16: bool = typer.Option(False, "--fp16", help="Also store the weights as float16 (measured, approximate)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would change; write nothing."),
    sample: Optional[str] = typer.Option(None, "--sample", metavar="FILE.npy",
                                         help="Your own input (.npy, or .npz by input name), run beside random ones."),
    fmt: str = typer.Option("text", "--format", "--output-format", "-f", metavar="FORMAT",
                            help="text (default) or json."),
) -> None:
    """Apply the mechanical fixes of rules/fixes.toml to an ONNX model, prove them, re-check the result.

    Both models run with onnxruntime on the same inputs; beyond the stated tolerance nothing is written.

    Exit 0: the fixed model passes the check. 1: errors with no mechanical fix remain, or the proof failed.

    Exit 2: unusable input, or a .tflite (the export-time change for each finding is printed instead).
    """
    import json

    from snapcheck.commands._common import JSON, ls_version as one_version, report_format
    from snapcheck.console import Console
    from snapcheck.fix import ExportTimeOnly, fix_model, parse_input_shapes

    fmt = report_format(fmt)
    version = one_version(ls_version)
    try:
        report = fix_model(model, out, ls_version=version, target=target,
                           input_shapes=parse_input_shapes(input_shape), fp16=fp16, dry_run=dry_run, sample=sample)
    except ExportTimeOnly as exc:
        if fmt == JSON:
            typer.echo(json.dumps({"path": model, "rewritten": False, "export_time_changes": [
                {"code": c, "message": m, "change": f} for c, m, f in exc.advice]}, indent=2))
        else:
            from snapcheck.fix.report import render_advice

            render_advice(Console(highlight=False), model, exc.advice)
        raise
    if fmt == JSON:
        typer.echo(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        from snapcheck.fix.report import render_fix

        render_fix(Console(highlight=False), report)
    raise typer.Exit(0 if report.ok and report.after.passed else 1)


def register(app: typer.Typer) -> None:
    app.command("fix", cls=FastCommand)(fix)
