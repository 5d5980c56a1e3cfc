"""What every command shares: the report formats' names, the Lens Studio version option, notes on stderr, and the
up-front checks of output paths (so that a bad ``--out`` is one line before any work, not an error after it)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable

import typer

from snapcheck.errors import InputError

TEXT, JSON = "text", "json"
# Every command calls its human-readable report "text" and its machine-readable one "json"; the older names
# are accepted as aliases.
FORMAT_ALIASES = {"terminal": TEXT, "table": TEXT}


_ON_INTERRUPT: list[str | Callable[[], str]] = []


def on_interrupt(kept: str | Callable[[], str]) -> None:
    """What Ctrl-C leaves behind from here on, and how to resume (``interrupted_line`` says it); a callable is
    asked when the interrupt comes (what was kept may have changed meanwhile)."""
    _ON_INTERRUPT[:] = [kept]


def interrupted_line() -> str:
    if not _ON_INTERRUPT:
        return "snapcheck: interrupted; stopped before finishing; files are written whole or not at all"
    kept = _ON_INTERRUPT[0]
    return "snapcheck: interrupted; " + (kept() if callable(kept) else kept)


def note(message: str) -> None:
    """A one-line note on stderr (``snapcheck: note: ...``)."""
    typer.echo(f"snapcheck: note: {message}", err=True)


def report_format(value: str | None, allowed: Iterable[str] = (TEXT, JSON), option: str = "--format") -> str:
    """The report format ``value`` names (``terminal``/``table`` read as ``text``); ``InputError`` otherwise."""
    allowed = tuple(allowed)
    chosen = FORMAT_ALIASES.get((value or TEXT).lower(), (value or TEXT).lower())
    if chosen not in allowed:
        raise InputError(None, f"unknown {option} {value!r} (choose {', '.join(allowed[:-1])} or {allowed[-1]})")
    return chosen


def ls_versions(values: str | Iterable[str], option: str = "--ls-version", allow_all: bool = True) -> list[str]:
    """The rules versions named by ``values`` (``5``, ``5.18``, ``5.X`` read as ``5.x``, with a note)."""
    from snapcheck.versions import expand_versions, normalise_version

    out: list[str] = []
    for text in [values] if isinstance(values, str) else list(values):
        version, message = normalise_version(text, option)
        if version == "all" and not allow_all:
            raise InputError(None, f"{option}: give one version (3.x, 4.x or 5.x), not all")
        if message:
            note(message)
        out += [v for v in expand_versions(version) if v not in out]
    return out


def ls_version(value: str, option: str = "--ls-version") -> str:
    """One rules version (``all`` refused)."""
    return ls_versions(value, option, allow_all=False)[0]


def existing_folder(path: Path, what: str) -> Path:
    if not path.exists():
        raise InputError(path, f"no such {what}")
    if not path.is_dir():
        raise InputError(path, f"{what} must be a folder, not a file")
    return path


def existing_file(path: Path, what: str) -> Path:
    if not path.exists():
        raise InputError(path, f"no such {what}")
    if path.is_dir():
        raise InputError(path, f"{what} must be a file, not a folder")
    return path


def quiet_tensorflow() -> None:
    """Import TensorFlow and Keras with their start-up lines silenced (oneDNN, CUDA stubs, absl's "All log messages
    before absl::InitializeLog()"), and their Python loggers at ERROR from then on. The commands that use
    TensorFlow call this before any of their own work imports it."""
    import logging

    from snapcheck.runner import quiet_native_logs

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with quiet_native_logs():
        import absl.logging
        import keras  # noqa: F401
        import tensorflow as tf
    absl.logging.set_verbosity(absl.logging.ERROR)
    tf.get_logger().setLevel(logging.ERROR)
    for name in ("tensorflow", "keras", "absl", "h5py"):
        logging.getLogger(name).setLevel(logging.ERROR)
