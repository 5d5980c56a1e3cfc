"""``snapcheck data``: prepare paired training data (outline → RGBA cat face)."""

from __future__ import annotations

from pathlib import Path

import typer

data_app = typer.Typer(help="Prepare paired training data for the cat generator.", no_args_is_help=True)


@data_app.command("prepare")
def prepare_cmd(
    src: Path = typer.Argument(..., help="Folder of cat photos (CAT-dataset folders with .cat files, or aligned faces)."),
    out: Path = typer.Argument(..., help="Output folder: pairs/, manifest.csv, contact_sheet.png/.html."),
    size: int = typer.Option(256, "--size", help="Side of the square pairs, in pixels."),
    source: str = typer.Option("auto", "--source", help="auto | cat (keypoints) | aligned (already aligned faces)."),
    edges: str = typer.Option("hed", "--edges", help="hed (TensorFlow, batched) | canny (fast, no TensorFlow)."),
    matte: str = typer.Option("grabcut", "--matte", help="grabcut (offline, no weights) | path to a saliency MODEL.onnx."),
    min_face: int = typer.Option(64, "--min-face", help="CAT source: discard faces smaller than this (source pixels)."),
    min_foreground: float = typer.Option(0.15, "--min-foreground", help="Discard images whose matte covers less than this share."),
    reject_list: Path = typer.Option(None, "--reject-list", help="File of ids / file names to drop (one per line)."),
    limit: int = typer.Option(None, "--limit", help="Only the first N images (sorted by name)."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Worker processes."),
) -> None:
    """Turn cat photos into (outline, RGBA face) pairs; re-runs resume and skip finished images (Ctrl-C keeps every
    finished pair)."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from snapcheck.commands._common import (
        existing_file,
        existing_folder,
        on_interrupt,
        quiet_tensorflow,
    )
    from snapcheck.fsutil import writable_folder
    from snapcheck.data.prepare import PrepareConfig, prepare
    from snapcheck.errors import InputError

    if jobs < 1:
        raise InputError(None, f"--jobs must be at least 1, not {jobs}")
    if not 0 <= min_foreground < 1:
        raise InputError(None, f"--min-foreground must be in [0, 1), not {min_foreground}")
    if limit is not None and limit < 1:
        raise InputError(None, f"--limit must be at least 1, not {limit}")
    existing_folder(src, "source folder")
    writable_folder(out, "OUT")
    if out.resolve() == src.resolve() or src.resolve() in out.resolve().parents:
        raise InputError(out, f"OUT is inside SRC ({src}): the pairs would be read back as photos; choose a folder "
                              "outside it")
    if reject_list is not None:
        existing_file(reject_list, "--reject-list file")
    if matte != "grabcut":
        from snapcheck.data.matte import OnnxSaliency

        OnnxSaliency(existing_file(Path(matte), "--matte model"))  # a wrong model fails here, before any work
    on_interrupt(f"every finished pair is kept in {out}; run the same command again to resume")
    if edges == "hed":
        quiet_tensorflow()
    cfg = PrepareConfig(size=size, source=source, edges=edges, matte=matte, min_face=min_face,
                        min_foreground=min_foreground, jobs=jobs, limit=limit, reject_list=reject_list)
    s = prepare(src, out, cfg)
    if s.total and not s.kept and not s.done_before:
        reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(s.rejected.items())) or "unreadable"
        raise InputError(src, f"no image was kept ({reasons}); check --source, --matte and --min-foreground")
    share = s.kept / s.total if s.total else 0.0
    typer.echo(f"{s.kept} of {s.total} images kept ({share:.1%}); {s.done_before} were done before this run")
    for reason, n in sorted(s.rejected.items()):
        typer.echo(f"  rejected {n}: {reason}")
    for name in s.unreadable[:10]:
        typer.echo(f"  unreadable, skipped: {name}")
    typer.echo(f"pairs: {s.out / 'pairs'}  manifest: {s.out / 'manifest.csv'}  review: {s.out / 'contact_sheet.html'}")


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
