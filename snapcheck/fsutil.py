"""Atomic file writes (a temporary file beside the target, then a rename), and the checks, made before any work,
that an output file or folder can be written."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

from snapcheck.errors import InputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``, else delete it.

    ``suffix`` keeps an extension on the temporary name for writers that look at it (e.g. ``.png``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix + ".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual mode
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def _probe_folder(folder: Path, what: str, target: Path) -> None:
    """Create and delete a file in ``folder``: the only test of writability that also holds for root and for
    read-only file systems."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".snapcheck-probe-", dir=folder)
    except OSError as exc:
        raise InputError(target, f"{what} cannot be written: {exc.strerror or exc}") from None
    os.close(fd)
    os.unlink(probe)


def _existing_ancestor(path: Path, what: str) -> Path:
    """The nearest folder of ``path`` that exists; ``InputError`` when a file stands in the way."""
    for p in [path, *path.parents]:
        if p.exists():
            if not p.is_dir():
                raise InputError(path, f"{what} cannot be created: {p} is a file, not a folder")
            return p
    return Path.cwd()


def writable_file(path: str | Path | None, what: str = "--out") -> Path | None:
    """Check that a report file can be written at ``path`` before any work (``None`` passes through)."""
    if path is None:
        return None
    p = Path(path)
    if p.is_dir():
        raise InputError(p, f"{what} is a folder; give a file name")
    if p.exists() and not os.access(p, os.W_OK):
        raise InputError(p, f"{what} is read-only")
    _probe_folder(_existing_ancestor(p.parent, what), what, p)
    return p


def writable_folder(path: str | Path, what: str = "--out") -> Path:
    """Check that ``path`` is, or can become, a folder we can write in, before any work."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise InputError(p, f"{what} is a file; give a folder")
    _probe_folder(_existing_ancestor(p, what), what, p)
    return p
