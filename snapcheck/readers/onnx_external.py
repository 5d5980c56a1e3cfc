"""ONNX external data: resolve each tensor's ``location`` safely inside the model's folder and read it.

A location must be relative and must stay inside the folder holding the model, also after following
symlinks; anything else (absolute paths, ``..`` escapes, links pointing out) is refused, as is a
missing file, one that is not a regular file, or a byte range past the file's end.

Each file is opened once, however many tensors it holds, and checked again when opened: it must still be
the regular file that was checked when the model was read (no FIFO, device or other file swapped in).
Tensors are read with ``pread``, whole or in pieces through one reused buffer.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Iterator

from snapcheck.errors import InputError
from snapcheck.limits import LIMITS, too_large
from snapcheck.readers.names import text

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True)
class ExternalSpan:
    """Where one tensor's bytes live."""

    file: Path
    offset: int
    length: int


class ExternalData:
    """Resolves and reads the external data of the tensors of one model file."""

    def __init__(self, model_path: Path) -> None:
        self.model_path = model_path
        self.folder = model_path.absolute().parent.resolve()
        self.files: dict[Path, int] = {}  # resolved file -> size, in first-use order
        self._identity: dict[Path, tuple[int, int]] = {}  # resolved file -> (device, inode) when checked
        self._fds: dict[Path, int] = {}

    def _refuse(self, tensor: str, problem: str) -> InputError:
        return InputError(self.model_path, f"external data of tensor {tensor!r}: {problem}")

    def span(self, tensor: Any) -> ExternalSpan:
        """Check and locate ``tensor``'s external data (an ``onnx.TensorProto`` with data_location EXTERNAL)."""
        name = text(tensor.name)
        info = {text(e.key): e.value for e in tensor.external_data}
        location = info.get("location", "")
        if isinstance(location, bytes):
            raise self._refuse(name, f"location {text(location)!r} is not valid UTF-8")
        if not location:
            raise self._refuse(name, "no location given")
        if "\0" in location:
            raise self._refuse(name, "location contains a NUL byte")
        portable = location.replace("\\", "/")
        if PurePosixPath(portable).is_absolute() or PureWindowsPath(location).drive:
            raise self._refuse(name, f"location {location!r} is absolute; it must be relative to the model")
        lexical = Path(os.path.normpath(self.folder / portable))
        if not lexical.is_relative_to(self.folder):
            raise self._refuse(name, f"location {location!r} points outside the model's folder")
        try:
            target = lexical.resolve()
        except (OSError, RuntimeError) as exc:  # a symlink loop
            raise self._refuse(name, f"location {location!r} cannot be resolved ({exc})") from None
        if not target.is_relative_to(self.folder):
            raise self._refuse(name, f"location {location!r} is a link to {target}, outside the model's folder")
        size = self.files.get(target)
        if size is None:
            try:
                st = target.stat()
            except FileNotFoundError:
                raise self._refuse(name, f"external file {location!r} not found beside the model") from None
            except OSError as exc:
                raise self._refuse(name, f"external file {location!r} cannot be read ({exc.strerror})") from None
            if not stat.S_ISREG(st.st_mode):
                raise self._refuse(name, f"{location!r} is not a regular file")
            size = self.files[target] = st.st_size
            self._identity[target] = (st.st_dev, st.st_ino)
            if self.total_bytes > LIMITS.weight_bytes:
                raise too_large(self.model_path, f"{self.total_bytes:,} bytes of external data",
                                LIMITS.weight_bytes)
        try:
            offset = int(info.get("offset", 0))
            length = int(info["length"]) if "length" in info else size - offset
        except (ValueError, TypeError):
            raise self._refuse(name, "offset or length is not an integer") from None
        if offset < 0 or length < 0 or offset + length > size:
            raise self._refuse(name, f"bytes {offset}..{offset + length} lie outside {location!r} ({size} bytes)")
        return ExternalSpan(target, offset, length)

    def _fd(self, file: Path) -> int:
        """The file's descriptor, opened on first use and checked to be the regular file seen at load."""
        fd = self._fds.get(file)
        if fd is not None:
            return fd
        try:
            fd = os.open(file, _OPEN_FLAGS)
        except OSError as exc:
            raise InputError(self.model_path, f"external file {file.name} cannot be opened ({exc.strerror})") from None
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != self._identity.get(file) \
                or st.st_size < self.files.get(file, 0):
            os.close(fd)
            raise InputError(self.model_path, f"external file {file.name} changed since the model was read "
                                              "(no longer the same regular file)")
        self._fds[file] = fd
        return fd

    def _pread(self, span: ExternalSpan, offset: int, into: memoryview) -> None:
        fd = self._fd(span.file)
        got = 0
        while got < len(into):
            n = os.preadv(fd, [into[got:]], offset + got)
            if n <= 0:
                raise InputError(self.model_path, f"external file {span.file.name} is shorter than its tensors need")
            got += n

    def read(self, span: ExternalSpan) -> bytearray:
        """A tensor's bytes, whole."""
        data = bytearray(span.length)
        self._pread(span, span.offset, memoryview(data))
        return data

    def stream(self, span: ExternalSpan, piece_bytes: int) -> Iterator[memoryview]:
        """A tensor's bytes in pieces of at most ``piece_bytes``; each piece is overwritten by the next."""
        piece_bytes = max(1, min(piece_bytes, span.length))
        buf = memoryview(bytearray(piece_bytes))
        done = 0
        while done < span.length:
            n = min(piece_bytes, span.length - done)
            self._pread(span, span.offset + done, buf[:n])
            yield buf[:n]
            done += n

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def __del__(self) -> None:
        self.close()

    @property
    def total_bytes(self) -> int:
        return sum(self.files.values())
