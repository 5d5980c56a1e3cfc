"""``snapcheck models`` (alias ``configs``): the generator configurations; ``snapcheck export``: gated export."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Optional

import typer


class ExportFormat(str, Enum):
    tflite = "tflite"
    onnx = "onnx"
    both = "both"


def models(
    fmt: str = typer.Option("text", "--format", "--output-format", "-f", metavar="FORMAT",
                            help="text (default) or json."),
    size: Optional[int] = typer.Option(None, "--size", min=4, help="Profile every config at this input side."),
) -> None:
    """List the generator configurations with parameters, fp16 weight size and MACs (computed, no TensorFlow)."""
    from rich import box
    from rich.table import Table

    from snapcheck.commands._common import report_format
    from snapcheck.console import Console
    from snapcheck.gan.profile import profile_config
    from snapcheck.gan.registry import CONFIGS

    fmt = report_format(fmt)
    rows = [(cfg, profile_config(cfg, size=size)) for cfg in CONFIGS.values()]
    if fmt == "json":
        typer.echo(json.dumps([{**cfg.to_dict(), "key": cfg.key(), **prof.to_dict()} for cfg, prof in rows], indent=2))
        return
    table = Table(title="Generator configurations", caption="fp16 MB: BN-folded weights; GMACs: per image at that size",
                  box=box.SIMPLE_HEAD, show_edge=False)
    for col in ("name", "size", "α enc/dec", "arch"):
        table.add_column(col, no_wrap=True)
    for col in ("params", "fp16 MB", "GMACs"):
        table.add_column(col, justify="right", no_wrap=True)
    for cfg, prof in rows:
        table.add_row(
            cfg.name, str(prof.size),
            f"{cfg.alpha_encoder:g}/{cfg.alpha_decoder:g}", f"{'sep' if cfg.separable else 'plain'}+{cfg.upsample}",
            f"{prof.params:,}", f"{prof.fp16_bytes / 1e6:.2f}", f"{prof.macs / 1e9:.2f}",
        )
    Console().print(table)


def export(
    config: str = typer.Option(..., "--config", "-c", help="Registered configuration (see `snapcheck models`)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder for NAME.tflite, NAME.onnx and NAME.json."),
    weights: Optional[Path] = typer.Option(
        None, "--weights", help="Trained weights: .weights.h5, .keras or a TF checkpoint. Default: random init."),
    size: Optional[int] = typer.Option(None, "--size", min=4, help="Input side (default: the config's)."),
    fmt: ExportFormat = typer.Option(ExportFormat.both, "--model-format", "--format", metavar="FORMAT",
                                     help="Model files to write: tflite, onnx or both."),
    fp16: bool = typer.Option(
        False, "--fp16", help="Float16 weights (.tflite: fp16 constants + DEQUANTIZE; .onnx: a float16 graph)."),
    ls_version: str = typer.Option("5.x", "--ls-version", help="Lens Studio version the gate checks against."),
    no_gate: bool = typer.Option(False, "--no-gate", help="Write the files even if snapcheck rejects them."),
    name: Optional[str] = typer.Option(None, "--name", help="File stem (default: the config name)."),
) -> None:
    """Export a generator to .tflite/.onnx + a JSON sidecar; if snapcheck fails a file, exit 1 and write nothing.

    Weights from a training run take the run's --size and config from its run.json; every argument is checked
    before TensorFlow starts."""
    from rich.markup import escape

    from snapcheck.commands._common import ls_version as one_version
    from snapcheck.commands._common import on_interrupt, quiet_tensorflow
    from snapcheck.fsutil import writable_folder
    from snapcheck.console import Console
    from snapcheck.errors import InputError
    from snapcheck.gan.export import ExportGateError, export_config
    from snapcheck.gan.registry import get_config

    cfg = get_config(config)
    ls_version = one_version(ls_version)
    # A TF checkpoint is named by its prefix (``.../ckpt-48``), which is not itself a file.
    if weights is not None and not (weights.exists() or Path(f"{weights}.index").is_file()):
        raise InputError(weights, "weights file not found")
    if weights is not None:
        size = _size_from_run(weights, cfg.name, size)
    if name is not None and (not name or "/" in name or name.startswith(".")):
        raise InputError(None, f"--name {name!r} must be a plain file stem")
    writable_folder(out)
    on_interrupt(f"nothing was written to {out} (an export lands whole or not at all); run the same command again")
    quiet_tensorflow()
    formats = ("tflite", "onnx") if fmt is ExportFormat.both else (fmt.value,)
    console = Console(stderr=True)
    try:
        with console.status(f"exporting {cfg.name}") as status:
            sidecar = export_config(cfg, out, weights=weights, formats=formats, fp16=fp16, gate=not no_gate,
                                    ls_version=ls_version, name=name, size=size,
                                    progress=lambda msg: status.update(f"{cfg.name}: {msg}")).sidecar
    except ExportGateError as exc:
        _print_files(Console(), exc.sidecar)
        for filename, report in exc.reports.items():
            for f in report.findings:
                if f.severity in ("error", "warning"):
                    where = f" [{f.op}]" if f.op else ""
                    console.print(escape(f"{filename}: {f.code} {f.severity}: {f.message}{where}"), highlight=False,
                                  soft_wrap=True)
        console.print(f"[red]export refused:[/] {escape(str(exc))}; nothing written (use --no-gate to write anyway)",
                      soft_wrap=True)
        raise typer.Exit(1) from None
    _print_files(Console(), sidecar)
    console.print(f"wrote {', '.join(str(out / f) for f in [*sidecar['file_bytes'], sidecar['name'] + '.json'])}")
    if not sidecar["snapcheck"]["passed"]:
        console.print("[yellow]warning:[/] snapcheck rejected the export; written anyway because of --no-gate")


def _size_from_run(weights: Path, config: str, size: Optional[int]) -> Optional[int]:
    """The input side the weights were trained at, from the run.json of their training run (beside them or up to
    two folders above); ``InputError`` when the run trained another config or at another --size."""
    from snapcheck.errors import InputError

    start = weights if weights.is_dir() else weights.parent
    run = next((d / "run.json" for d in (start, *list(start.parents)[:2]) if (d / "run.json").is_file()), None)
    if run is None:
        return size
    try:
        train = json.loads(run.read_text(encoding="utf-8")).get("train", {})
    except (OSError, ValueError):
        return size
    trained, side = train.get("config"), train.get("size")
    if trained and trained != config:
        raise InputError(weights, f"these weights were trained as --config {trained} ({run}), not {config}")
    if side and size is not None and size != side:
        raise InputError(weights, f"these weights were trained at --size {side} ({run}), not {size}")
    return side or size


def _print_files(console, sidecar: dict) -> None:
    from rich.table import Table

    table = Table(title=f"{sidecar['name']}: {sidecar['params']:,} params, {sidecar['macs'] / 1e9:.2f} GMACs")
    for col, justify in (("file", "left"), ("precision", "left"), ("bytes", "right"), ("snapcheck", "left"),
                         ("vs Keras: max|Δ| / PSNR", "right")):
        table.add_column(col, justify=justify)
    for filename, info in sidecar["files"].items():
        tol = info["tolerance"]
        verdict = "pass" if info["snapcheck"]["passed"] else "FAIL " + " ".join(info["snapcheck"]["errors"])
        table.add_row(filename, info["precision"], f"{info['bytes']:,}", verdict,
                      f"{tol['max_abs_diff']:.1e} / {tol['psnr_db']} dB")
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("models")(models)
    app.command("configs", help="Alias of `models`.")(models)
    app.command("export")(export)
