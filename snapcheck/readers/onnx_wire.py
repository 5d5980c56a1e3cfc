"""Take the large ``raw_data`` of an ONNX model's initializers out of the protobuf before parsing it.

The protobuf runtime copies every byte it parses, and ``raw_data`` is most of a model: parsing a 189 MB
file costs 189 MB more, and each read of ``TensorProto.raw_data`` another copy. Protobuf has no lazy or
aliasing parse in Python, so this module walks the wire format (tags and lengths only, not the payloads)
of ``ModelProto.graph.initializer[*].raw_data`` and writes the model again without the payloads of at
least ``min_bytes``; what was left out is then read in place from the mapped file, by its offset.

Any structure it does not expect (a group, a truncated length) makes it give up: the caller parses the
file as it is, and the protobuf runtime reports what is wrong.
"""

from __future__ import annotations

from typing import Any

# Field numbers of onnx.proto3 on the way to the data.
_MODEL_GRAPH = 7
_GRAPH_INITIALIZER = 5
_TENSOR_RAW_DATA = 9
_LEN = 2  # wire type of length-delimited fields


class _Unexpected(Exception):
    pass


def _varint(buf: Any, pos: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise _Unexpected
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _fields(buf: Any, start: int, end: int):
    """Yield (field number, wire type, field start, payload start, payload end) of a message's fields."""
    pos = start
    while pos < end:
        field_start = pos
        tag, pos = _varint(buf, pos, end)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            _, pos = _varint(buf, pos, end)
            yield number, wire, field_start, pos, pos
            continue
        if wire == 1:
            size = 8
        elif wire == 5:
            size = 4
        elif wire == _LEN:
            size, pos = _varint(buf, pos, end)
        else:  # groups: not in ONNX
            raise _Unexpected
        if pos + size > end:
            raise _Unexpected
        yield number, wire, field_start, pos, pos + size
        pos += size


class _Writer:
    """The rewritten message: pieces of the original buffer, with the rewritten submessages between them."""

    def __init__(self) -> None:
        self.parts: list[Any] = []
        self.size = 0

    def copy(self, buf: Any, start: int, end: int) -> None:
        if end > start:
            self.parts.append(buf[start:end])
            self.size += end - start

    def message(self, number: int, body: _Writer) -> None:
        head = _encode_varint(number << 3 | _LEN) + _encode_varint(body.size)
        self.parts.append(head)
        self.parts.extend(body.parts)
        self.size += len(head) + body.size


def strip_initializer_data(buf: Any, min_bytes: int) -> tuple[bytes, dict[int, tuple[int, int]]] | None:
    """The model without the ``raw_data`` of initializers of ``min_bytes`` or more, and where each was.

    Returns ``(model bytes, {initializer position: (offset, length)})``, the position counting the main
    graph's initializers in order as ``GraphProto.initializer`` lists them; None when nothing is that large
    or the structure is not the expected one.
    """
    try:
        return _strip(memoryview(buf), min_bytes)
    except _Unexpected:
        return None


def _strip(buf: memoryview, min_bytes: int) -> tuple[bytes, dict[int, tuple[int, int]]] | None:
    spans: dict[int, tuple[int, int]] = {}
    count = [0]
    model = _Writer()
    copied = 0
    for number, wire, start, body, end in _fields(buf, 0, len(buf)):
        if number == _MODEL_GRAPH and wire == _LEN:
            graph = _graph(buf, body, end, min_bytes, spans, count)
            if graph is not None:
                model.copy(buf, copied, start)
                model.message(number, graph)
                copied = end
    if not spans:
        return None
    model.copy(buf, copied, len(buf))
    return b"".join(model.parts), spans


def _graph(buf: memoryview, start: int, end: int, min_bytes: int, spans: dict[int, tuple[int, int]],
           count: list[int]) -> _Writer | None:
    out = _Writer()
    copied = start
    changed = False
    for number, wire, field_start, body, field_end in _fields(buf, start, end):
        if number != _GRAPH_INITIALIZER or wire != _LEN:
            continue
        position = count[0]
        count[0] += 1
        tensor, span = _tensor(buf, body, field_end, min_bytes)
        if tensor is None:
            continue
        out.copy(buf, copied, field_start)
        out.message(number, tensor)
        copied = field_end
        changed = True
        if span is not None:
            spans[position] = span
    if not changed:
        return None
    out.copy(buf, copied, end)
    return out


def _tensor(buf: memoryview, start: int, end: int, min_bytes: int) -> tuple[_Writer | None, tuple[int, int] | None]:
    """The tensor without its large raw_data fields, and the span of the one that counts (the last)."""
    out = _Writer()
    copied = start
    last: tuple[int, int] | None = None
    stripped = False
    for number, wire, field_start, body, field_end in _fields(buf, start, end):
        if number != _TENSOR_RAW_DATA or wire != _LEN:
            continue
        last = (body, field_end - body)
        if field_end - body >= min_bytes:
            out.copy(buf, copied, field_start)
            copied = field_end
            stripped = True
    if not stripped:
        return None, None
    out.copy(buf, copied, end)
    # The parser keeps the last raw_data: when that one stayed in the message, nothing needs reading here.
    return out, last if last is not None and last[1] >= min_bytes else None
