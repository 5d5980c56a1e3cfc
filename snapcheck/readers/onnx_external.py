"""ONNX external data: resolve each tensor's ``location`` safely inside the model's folder and read it.

A location must be relative and must stay inside the folder holding the model, also after following
symlinks; anything else (absolute paths, ``..`` escapes, links pointing out) is refused, as is a
missing file or a byte range past the file's end.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from snapcheck.errors import InputError


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

    def _refuse(self, tensor: str, problem: str) -> InputError:
        return InputError(self.model_path, f"external data of tensor {tensor!r}: {problem}")

    def span(self, tensor: Any) -> ExternalSpan:
        """Check and locate ``tensor``'s external data (an ``onnx.TensorProto`` with data_location EXTERNAL)."""
        info = {e.key: e.value for e in tensor.external_data}
        location = info.get("location", "")
        if not location:
            raise self._refuse(tensor.name, "no location given")
        if "\0" in location:
            raise self._refuse(tensor.name, "location contains a NUL byte")
        portable = location.replace("\\", "/")
        if PurePosixPath(portable).is_absolute() or PureWindowsPath(location).drive:
            raise self._refuse(tensor.name, f"location {location!r} is absolute; it must be relative to the model")
        lexical = Path(os.path.normpath(self.folder / portable))
        if not lexical.is_relative_to(self.folder):
            raise self._refuse(tensor.name, f"location {location!r} points outside the model's folder")
        target = lexical.resolve()
        if not target.is_relative_to(self.folder):
            raise self._refuse(tensor.name, f"location {location!r} is a link to {target}, outside the model's folder")
        if not target.exists():
            raise self._refuse(tensor.name, f"external file {location!r} not found beside the model")
        if not target.is_file():
            raise self._refuse(tensor.name, f"{location!r} is not a regular file")
        size = self.files.get(target)
        if size is None:
            size = self.files[target] = target.stat().st_size
        try:
            offset = int(info.get("offset", 0))
            length = int(info["length"]) if "length" in info else size - offset
        except ValueError:
            raise self._refuse(tensor.name, "offset or length is not an integer") from None
        if offset < 0 or length < 0 or offset + length > size:
            raise self._refuse(tensor.name, f"bytes {offset}..{offset + length} lie outside {location!r} ({size} bytes)")
        return ExternalSpan(target, offset, length)

    def read(self, span: ExternalSpan) -> bytes:
        with open(span.file, "rb") as f:
            f.seek(span.offset)
            data = f.read(span.length)
        if len(data) != span.length:
            raise InputError(self.model_path, f"external file {span.file.name} is shorter than its tensors need")
        return data

    @property
    def total_bytes(self) -> int:
        return sum(self.files.values())
