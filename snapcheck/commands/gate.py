"""``snapcheck gate MODELS_DIR``: the gate for shipped models (``snapcheck.models_gate``). Imports stay inside
the function (every command module is imported when the CLI starts)."""

from __future__ import annotations

from pathlib import Path

import typer


def gate(
    models_dir: Path = typer.Argument(..., metavar="MODELS_DIR", help="Folder of shipped models (e.g. models/)."),
) -> None:
    """Check every .tflite and .onnx under MODELS_DIR against the Lens Studio versions its folder's snapcheck.toml
    declares. Exit 0 when all pass (or there are no models yet), 1 on any error finding, unusable file or
    missing declaration."""
    from snapcheck.models_gate import model_folders, run_gate

    if not models_dir.is_dir() or not model_folders(models_dir):
        typer.echo(f"models gate: no .tflite or .onnx models under {models_dir}/ yet; nothing to check (pass)")
        return
    result = run_gate(models_dir)
    for line in result.checked:
        typer.echo(line)
    if result.failures:
        typer.echo(f"models gate: FAIL, {len(result.failures)} problem(s):", err=True)
        for line in result.failures:
            typer.echo(f"  {line}", err=True)
        raise typer.Exit(1)
    typer.echo(f"models gate: PASS ({len(result.checked)} checks)")


def register(app: typer.Typer) -> None:
    app.command("gate")(gate)
