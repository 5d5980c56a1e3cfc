"""``snapcheck generate``: outline pictures in, the generator's RGBA PNGs out (scripted use of a model)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer


def generate(
    outlines: List[Path] = typer.Argument(..., help="Outline pictures (any format Pillow reads; any size)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (created if missing)."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="A .tflite/.onnx file or a folder holding one "
                                                                     "(default: the shipped models/catface/)."),
    sheet: bool = typer.Option(False, "--sheet", help="Also write contact_sheet.png: outline | output over a "
                                                      "checkerboard, per picture."),
    keep_frame: bool = typer.Option(False, "--keep-frame", help="Keep each picture's frame instead of cropping "
                                                                "to the drawing."),
) -> None:
    """Run a generator on outline pictures: each becomes NAME_outline.png (what the model saw) and
    NAME_rgba.png. Pictures are binarised, squared, resized and redrawn at the training stroke width first."""
    import numpy as np

    from snapcheck.fsutil import writable_folder
    from snapcheck.preview.model import Generator, resolve_model
    from snapcheck.preview.strokes import outline_from_file
    from snapcheck.preview.write import contact_sheet, output_names, write_png

    writable_folder(out)
    gen = Generator.open(resolve_model(model))
    spec = gen.spec
    typer.echo(f"{spec.path}: {spec.describe()}")
    prepared = [outline_from_file(p, spec.size, fit=not keep_frame) for p in outlines]  # every picture is read before anything is written
    gen.load()
    names = output_names(outlines)
    written = 0
    results: list[np.ndarray] = []
    try:
        for src, name, outline in zip(outlines, names, prepared):
            rgba = gen(outline.strokes)[0]
            write_png(out / f"{name}_outline.png", outline.strokes)
            write_png(out / f"{name}_rgba.png", rgba)
            results.append(rgba)
            written += 1
            typer.echo(f"{src}: {', '.join(outline.steps)} → {out / (name + '_rgba.png')}")
        if sheet:
            write_png(out / "contact_sheet.png", contact_sheet([o.strokes for o in prepared], results))
            typer.echo(f"contact sheet → {out / 'contact_sheet.png'}")
    except KeyboardInterrupt:
        typer.echo(f"snapcheck generate: interrupted; {written} of {len(outlines)} pictures written to {out} "
                   "(each file complete); run the same command again to write them all", err=True)
        raise typer.Exit(130) from None


def register(app: typer.Typer) -> None:
    app.command("generate")(generate)
