"""The ``snapcheck`` command line. Each command lives in ``snapcheck.commands.<name>`` and registers itself.

Command modules import heavy dependencies (TensorFlow, onnxruntime, LiteRT) inside the command
functions only, so that ``snapcheck check`` stays fast and never imports TensorFlow.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer

from snapcheck import __version__
from snapcheck.errors import InputError
from snapcheck.commands import FastGroup, command_modules

app = typer.Typer(
    name="snapcheck",
    cls=FastGroup,
    help="Check .tflite and .onnx models against Lens Studio's SnapML rules before import.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"snapcheck {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version_callback, is_eager=True, help="Print the version."),
) -> None:
    """snapcheck: the pre-import checker for Snapchat Lens ML models."""


def _register_commands() -> None:
    for name in command_modules():
        importlib.import_module(f"snapcheck.commands.{name}").register(app)


_register_commands()


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app on ``argv`` (default: the process's arguments); bad input becomes one line on
    stderr and exit 2, never a traceback."""
    # numpy's OpenBLAS starts one spinning thread per core when numpy is imported. No command does BLAS work
    # worth threads, and on a busy 2-core machine those threads only take CPU time from the check.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        app(args=argv, prog_name="snapcheck")
    except InputError as exc:
        sys.stderr.write(f"snapcheck: error: {exc}\n")
        sys.exit(2)
    except KeyboardInterrupt:
        sys.stderr.write("snapcheck: interrupted\n")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - last line of defence: no traceback for users
        if os.environ.get("SNAPCHECK_DEBUG"):
            raise
        msg = " ".join(f"{type(exc).__name__}: {exc}".split())
        sys.stderr.write(f"snapcheck: internal error: {msg} (set SNAPCHECK_DEBUG=1 for a traceback)\n")
        sys.exit(3)
