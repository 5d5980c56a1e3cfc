"""Names from a model file, made safe to show: every report format can carry them on one line.

A file may hold any bytes in a name. Invalid UTF-8 becomes U+FFFD (the replacement character), and so do
control characters (line breaks would split a one-line message; XML 1.0, hence JUnit, forbids most of
them) and the two non-characters U+FFFE/U+FFFF. Everything else is kept as written, as Netron shows it,
up to ``MAX_NAME`` characters.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff]")
MAX_NAME = 1024  # characters shown of a name; a longer one ends in "..."


def text(value: str | bytes | None) -> str:
    """``value`` (a protobuf/flatbuffer string, or bytes holding invalid UTF-8) as a displayable str."""
    if not value:
        return ""
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = bytes(value[:4 * MAX_NAME + 4]).decode("utf-8", "replace")  # enough bytes for MAX_NAME characters
    if len(value) > MAX_NAME:
        value = value[:MAX_NAME] + "..."
    return value if value.isprintable() else _UNSAFE.sub("\ufffd", value)
