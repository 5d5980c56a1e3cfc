"""The local server behind ``snapcheck preview``: the page, its assets and the model, all from this machine.

One port, one ``websockets`` server. Plain HTTP GETs (answered in ``process_request``) serve everything
the page loads; nothing is fetched from elsewhere:

- ``/``, ``/static/*``, ``/assets/*``: the page, its script and style, the background and trace examples;
- ``/api/config``: the models to choose from, the inference rate, the trace examples, camera on or off;
- ``/api/report?model=ID``: snapcheck's verdict, sizes and phone estimates for that file (cached);
- ``/api/stats``: when each inference started (server clock), for tests and the benchmark.

``/ws`` is the inference channel (a WebSocket: in Chromium a round trip costs about half a ``fetch``'s,
docs/preview.md). Messages:

- text ``{"model": ID}`` selects the model for this connection; the answer is ``{"model": ID}`` or ``{"error": ...}``;
- binary ``seq`` (u32) + the outline as S×S grey bytes (ink > 127) → binary ``seq`` (u32), width (u16),
  height (u16), the model's own milliseconds (f32), then the RGBA image (H×W×4 bytes); little-endian.
  A failed inference answers text ``{"seq": N, "error": ...}``.

The page throttles inference to the configured rate; the server runs what it is sent, one call at a time
per model.
"""

from __future__ import annotations

import json
import mimetypes
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import numpy as np

from snapcheck import __version__
from snapcheck.data.outline import stroke_width
from snapcheck.errors import InputError
from snapcheck.preview.assets import ASSETS_DIR, examples
from snapcheck.preview.model import Generator, ModelSpec, check_summary

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATS_KEPT = 5000  # inference start times remembered for /api/stats
REQUEST = struct.Struct("<I")  # seq
REPLY = struct.Struct("<IHHf")  # seq, width, height, model ms


@dataclass
class Entry:
    """One model file the page can switch to."""

    id: str
    generator: Generator
    label: str
    group: str
    report: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        s = self.generator.spec
        return {"id": self.id, "label": self.label, "group": self.group, "file": s.path.name, "path": str(s.path),
                "format": s.format, "runtime": "LiteRT" if s.format == "tflite" else "onnxruntime",
                "size": s.size, "out_width": s.out_width, "out_height": s.out_height,
                "alpha": s.alpha_channel is not None, "describe": s.describe(), "stroke_width": stroke_width(s.size)}


@dataclass
class PreviewState:
    """What the server holds: the models, the settings the page reads, and when inferences ran."""

    entries: dict[str, Entry]
    default: str
    rate: float
    camera: bool
    skipped: list[str] = field(default_factory=list)
    starts: deque = field(default_factory=lambda: deque(maxlen=STATS_KEPT))
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def build(cls, current: Path, choices: list[Path], rate: float, camera: bool) -> "PreviewState":
        """Entries for ``current`` (must fit: ``InputError`` otherwise) and every other choice that fits."""
        entries: dict[str, Entry] = {}
        skipped: list[str] = []
        default = ""
        for path in dict.fromkeys([*choices, current]):
            try:
                gen = Generator(ModelSpec.read(path))
            except InputError as exc:
                if path == current:
                    raise
                skipped.append(str(exc))
                continue
            ident = f"{path.parent.name}/{path.name}"
            if ident in entries:
                ident = str(path)
            entries[ident] = Entry(ident, gen, label=f"{path.stem} · {path.suffix.lstrip('.')}",
                                   group=path.parent.name)
            if path == current:
                default = ident
        return cls(entries=entries, default=default, rate=rate, camera=camera, skipped=skipped)

    @property
    def current(self) -> Generator:
        return self.entries[self.default].generator

    def config(self) -> dict[str, Any]:
        return {"version": __version__, "rate": self.rate, "camera": self.camera, "default": self.default,
                "models": [e.to_dict() for e in self.entries.values()], "examples": examples()}

    def report(self, ident: str) -> dict[str, Any]:
        entry = self.entries[ident]
        if entry.report is None:
            entry.report = check_summary(entry.generator.spec.path)
        return entry.report

    def stats(self) -> dict[str, Any]:
        with self.lock:
            starts = list(self.starts)
        return {"now": time.monotonic(), "inferences": len(starts), "starts": starts}

    def infer(self, ident: str, outline: bytes) -> tuple[np.ndarray, float]:
        """Grey S×S bytes → (RGBA uint8, model ms); ``ValueError`` for a wrong size."""
        gen = self.entries[ident].generator
        side = gen.spec.size
        if len(outline) != side * side:
            raise ValueError(f"expected {side}×{side} = {side * side} bytes, got {len(outline)}")
        with self.lock:
            self.starts.append(time.monotonic())
        return gen(np.frombuffer(outline, np.uint8).reshape(side, side) > 127)


def _json_response(obj: Any, status: int = HTTPStatus.OK) -> Any:
    return _response(status, json.dumps(obj).encode(), "application/json")


def _response(status: int, body: bytes, ctype: str) -> Any:
    from websockets.datastructures import Headers
    from websockets.http11 import Response

    headers = Headers({"Content-Type": ctype, "Content-Length": str(len(body)), "Cache-Control": "no-store",
                       "X-Content-Type-Options": "nosniff", "Connection": "close"})
    return Response(int(status), HTTPStatus(status).phrase, headers, body)


def _file(root: Path, rel: str) -> Any:
    path = (root / rel).resolve()
    if root.resolve() not in path.parents or not path.is_file():
        return _json_response({"error": f"no such file: {rel}"}, HTTPStatus.NOT_FOUND)
    ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if ctype.startswith("text/") or ctype.endswith(("javascript", "svg+xml")):
        ctype += "; charset=utf-8"
    return _response(HTTPStatus.OK, path.read_bytes(), ctype)


def _same_origin(request: Any) -> bool:
    """A WebSocket opened by this server's own page (browsers send Origin; other sites' pages differ)."""
    origin, host = request.headers.get("Origin"), request.headers.get("Host")
    return origin is None or urlsplit(origin).netloc == host


def http_routes(state: PreviewState) -> Callable[[Any, Any], Any]:
    """``process_request`` for websockets: answer plain GETs, let ``/ws`` upgrade."""

    def process_request(connection: Any, request: Any) -> Any:
        url = urlsplit(request.path)
        route, query = url.path, parse_qs(url.query)
        if route == "/ws":
            if not _same_origin(request):
                return _json_response({"error": "cross-origin WebSocket refused"}, HTTPStatus.FORBIDDEN)
            return None
        if route in ("/", "/index.html"):
            return _file(STATIC_DIR, "index.html")
        if route.startswith("/static/"):
            return _file(STATIC_DIR, route[len("/static/"):])
        if route.startswith("/assets/"):
            return _file(ASSETS_DIR, route[len("/assets/"):])
        if route == "/favicon.ico":
            return _file(STATIC_DIR, "favicon.svg")
        if route == "/api/config":
            return _json_response(state.config())
        if route == "/api/stats":
            return _json_response(state.stats())
        if route == "/api/report":
            ident = (query.get("model") or [state.default])[0]
            if ident not in state.entries:
                return _json_response({"error": f"unknown model {ident!r}"}, HTTPStatus.NOT_FOUND)
            try:
                return _json_response(state.report(ident))
            except InputError as exc:
                return _json_response({"error": str(exc)}, HTTPStatus.UNPROCESSABLE_ENTITY)
        return _json_response({"error": f"no such page: {route}"}, HTTPStatus.NOT_FOUND)

    return process_request


def inference_handler(state: PreviewState) -> Callable[[Any], None]:
    """The ``/ws`` handler: model selection (text) and outlines (binary), answered in order."""

    from websockets.exceptions import ConnectionClosed

    def handler(ws: Any) -> None:
        try:
            serve_connection(ws)
        except ConnectionClosed:  # the tab was closed or reloaded mid-message: nothing to report
            pass

    def serve_connection(ws: Any) -> None:
        model = state.default
        for message in ws:
            if isinstance(message, str):
                try:
                    wanted = json.loads(message).get("model")
                except (ValueError, AttributeError):
                    wanted = None
                if wanted in state.entries:
                    model = wanted
                    ws.send(json.dumps({"model": model}))
                else:
                    ws.send(json.dumps({"error": f"unknown model {wanted!r}"}))
                continue
            if len(message) < REQUEST.size:
                ws.send(json.dumps({"seq": None, "error": "message too short"}))
                continue
            (seq,) = REQUEST.unpack_from(message)
            try:
                rgba, ms = state.infer(model, message[REQUEST.size:])
            except (ValueError, InputError) as exc:
                ws.send(json.dumps({"seq": seq, "error": str(exc)}))
                continue
            h, w = rgba.shape[:2]
            ws.send(REPLY.pack(seq, w, h, ms) + rgba.tobytes())

    return handler


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (IPv4 or IPv6; port 0 picks a free one); ``OSError`` if taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(64)
    except OSError:
        sock.close()
        raise
    return sock


def make_server(state: PreviewState, sock: socket.socket) -> Any:
    """The preview server on a bound socket (``serve_forever()`` runs it, ``shutdown()`` stops it)."""
    from websockets.sync.server import serve

    max_side = max(e.generator.spec.size for e in state.entries.values())
    return serve(inference_handler(state), sock=sock, process_request=http_routes(state), compression=None,
                 max_size=REQUEST.size + max_side * max_side, server_header=f"snapcheck-preview/{__version__}")
