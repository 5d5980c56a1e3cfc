"""Open a model file once and tell its format by content: TFLite by its ``TFL3`` identifier."""

from __future__ import annotations

import mmap
import os
import stat
from pathlib import Path
from typing import Any, Iterator, Literal

import numpy as np

from snapcheck.errors import InputError

TFLITE_IDENTIFIER = b"TFL3"  # flatbuffers file_identifier, bytes 4..8


def read_model_file(path: Path) -> mmap.mmap | bytes:
    """Map the file read-only (or read it, where it cannot be mapped), refusing missing, non-regular,
    unreadable and empty files."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:  # e.g. an embedded NUL byte
        raise InputError(path, f"invalid path: {exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(path, "is a directory, not a model file")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(path, "is not a regular file")
    if st.st_size == 0:
        raise InputError(path, "empty file")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped for a FIFO or device since the stat above
                raise InputError(path, "is not a regular file")
            try:
                return mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError):  # a file system without mmap support
                with os.fdopen(os.dup(fd), "rb") as f:
                    return f.read()
        finally:
            os.close(fd)
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None


def sniff(buf: mmap.mmap | bytes) -> Literal["tflite"] | None:
    """``"tflite"`` when the flatbuffer identifier says so; None otherwise (maybe ONNX: parse to tell)."""
    return "tflite" if len(buf) >= 8 and buf[4:8] == TFLITE_IDENTIFIER else None


def mapped_pieces(buf: Any, start: int, count: int, dtype: np.dtype, max_elements: int) -> Iterator[np.ndarray]:
    """``count`` values of ``dtype`` stored at ``start`` of ``buf``, as views of at most ``max_elements``.

    On a mapped file, the pages of each piece are released once the next is asked for, so that reading a
    large constant through costs no more memory than one piece (they are read again from the page cache
    if needed).
    """
    for first in range(0, count, max_elements):
        n = min(max_elements, count - first)
        offset = start + first * dtype.itemsize
        yield np.frombuffer(buf, dtype=dtype, count=n, offset=offset)
        if isinstance(buf, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
            low = offset - offset % mmap.PAGESIZE
            buf.madvise(mmap.MADV_DONTNEED, low, offset + n * dtype.itemsize - low)
