"""The ``snapcheck`` command line. Each command lives in ``snapcheck.commands.<name>`` and registers itself.

Command modules import heavy dependencies (TensorFlow, onnxruntime, LiteRT) inside the command functions only, so
that ``snapcheck check`` stays fast and never imports TensorFlow.

Exit codes are 0 (pass), 1 (failing findings), 2 (unusable input, a bad option or config, or an internal error) and
130 (interrupted); every failure is one line on stderr, ``snapcheck: error: ...``, never a traceback. An internal
error (a bug) writes its traceback to ``crash.log`` in snapcheck's cache folder and names it in that line.
``snapcheck MODEL...`` with no command runs ``snapcheck check MODEL...``.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any

import typer

from snapcheck import __version__
from snapcheck.commands import FastGroup, command_modules
from snapcheck.errors import InputError

INTERNAL_ERROR = "internal error:"  # what the one line of a bug caught here starts with, after "snapcheck: error: "

app = typer.Typer(
    name="snapcheck",
    cls=FastGroup,
    help="Check .tflite and .onnx models against Lens Studio's SnapML rules before import. "
         "`snapcheck MODEL...` is `snapcheck check MODEL...`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
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


def _readable(command: Any) -> None:
    """Plain help (no boxes, nothing cut at 80 columns) and metavars a user reads as words (``--out OUT``, not
    ``<path>``), on every command of the tree."""
    command.rich_markup_mode = None
    for param in getattr(command, "params", ()):
        if param.param_type_name == "argument":
            name = param.metavar or param.name.upper() + ("..." if param.nargs == -1 else "")
            param.metavar = name
            # typer shows an argument as {NAME} <type>; a usage line reads NAME (or [NAME] when optional)
            param._usage_display_name = lambda name=name, required=param.required: name if required else f"[{name}]"
            param.display_type_rich = lambda ctx: None
        elif param.metavar is None and not getattr(param, "is_flag", False) and not getattr(param, "count", False):
            long = max(param.opts, key=len).lstrip("-")
            param.metavar = long.upper().replace("-", "_")
    for sub in getattr(command, "commands", {}).values():
        _readable(sub)


def _default_command(args: list[str], commands: set[str]) -> list[str]:
    """``snapcheck MODEL... [OPTIONS]`` -> ``snapcheck check MODEL... [OPTIONS]`` when the first argument is not a
    command or an option but names a file or folder (or a .tflite/.onnx path, to report it missing)."""
    if not args or args[0].startswith("-") or args[0] in commands:
        return args
    first = Path(args[0])
    if first.exists() or first.suffix.lower() in (".tflite", ".onnx"):
        return ["check", *args]
    return args


def _crash_log(exc: BaseException) -> str:
    """Write the traceback of an unexpected exception to the cache folder; where it went (or why not)."""
    from snapcheck.paths import cache_dir

    try:
        path = cache_dir() / "crash.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        import traceback  # only for a crash

        path.write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
        return f"traceback in {path}"
    except Exception:  # noqa: BLE001 - the report of a crash must not crash
        return "set SNAPCHECK_DEBUG=1 to see the traceback"


def _fail(message: str, code: int = 2) -> None:
    sys.stderr.write(f"snapcheck: error: {' '.join(message.split())}\n")
    sys.exit(code)


def _click_error(exc: Exception) -> None:
    """A usage error from the parser (unknown option, missing argument, bad value): one line, exit 2."""
    ctx = getattr(exc, "ctx", None)
    where = ctx.command_path if ctx is not None else "snapcheck"
    if type(exc).__name__ == "NoArgsIsHelpError":
        typer.echo(exc.format_message())  # type: ignore[attr-defined]
        sys.exit(0)
    message = exc.format_message()  # type: ignore[attr-defined]
    _fail(f"{where}: {message.rstrip('.')} (see `{where} --help`)")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app on ``argv`` (default: the process's arguments) and turn every failure into one line
    on stderr with exit 2 (130 when interrupted), never a traceback."""
    # numpy's OpenBLAS starts one spinning thread per core when numpy is imported. No command does BLAS work
    # worth threads, and on a busy 2-core machine those threads only take CPU time from the check.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    for stream in (sys.stdout, sys.stderr):  # a character the output cannot encode (an ASCII locale, a file name
        if hasattr(stream, "reconfigure"):  # that is not UTF-8) is shown as "?", not an error
            stream.reconfigure(errors="replace")
    command = typer.main.get_command(app)
    _readable(command)
    args = _default_command(list(sys.argv[1:] if argv is None else argv), set(getattr(command, "commands", {})))
    try:
        rv = command.main(args=args, prog_name="snapcheck", standalone_mode=False)
    except InputError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        from snapcheck.commands._common import interrupted_line

        sys.stderr.write(interrupted_line() + "\n")
        sys.exit(130)
    except BrokenPipeError:  # the reader went away (`| head`): nothing more to say, and nowhere to say it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(2)
    except OSError as exc:  # a file we were told to write or read: permission, read-only, a folder, disk full
        name = exc.filename or ""
        _fail(f"{name}: {exc.strerror or exc}" if name else f"{exc.strerror or exc}")
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback, no exit 3
        if type(exc).__name__ == "Abort":  # click's "Aborted!" (an interrupted prompt)
            from snapcheck.commands._common import interrupted_line

            sys.stderr.write(interrupted_line() + "\n")
            sys.exit(130)
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
            _click_error(exc)
        if os.environ.get("SNAPCHECK_DEBUG"):
            raise
        from snapcheck.extras import missing_extra

        missing = missing_extra(exc, args[0] if args and args[0] in getattr(command, "commands", {}) else None)
        if missing:
            _fail(missing)
        _fail(f"{INTERNAL_ERROR} {type(exc).__name__}: {exc} ({_crash_log(exc)}; please report it)"[:600])
    sys.exit(rv if isinstance(rv, int) else 0)
