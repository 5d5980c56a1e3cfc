"""``snapcheck preview``: draw an outline in the browser and watch a model turn it into a picture, live."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Optional

import typer

from snapcheck.errors import InputError


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def preview(
    model: Optional[Path] = typer.Argument(None, help="A .tflite/.onnx image-to-image model (one square 1-channel "
                                                      "input, RGB/RGBA output) or a folder holding one; default: "
                                                      "the shipped models/catface/."),
    port: int = typer.Option(8765, "--port", min=0, max=65535, help="Port to serve on (0: any free port)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to serve on; the default is this machine only."),
    rate: float = typer.Option(8.0, "--rate", min=0.5, max=60.0, help="Most inferences per second while drawing "
                                                                     "(the Lens's rate; none while idle)."),
    open_browser: bool = typer.Option(False, "--open", help="Open the page in the default browser."),
    camera: bool = typer.Option(False, "--camera", help="Offer the webcam as the sticker's background."),
) -> None:
    """Serve a local page to draw with mouse, touch or pen and see the model's output live, as a sticker too,
    beside snapcheck's verdict and phone estimates for the same file. Works offline; Ctrl-C stops it."""
    import webbrowser

    from snapcheck.preview.model import model_choices, resolve_model
    from snapcheck.preview.server import PreviewState, bind, make_server

    current = resolve_model(model)
    state = PreviewState.build(current, model_choices(current), rate=rate, camera=camera)
    state.current.load()  # a file the runtime refuses fails here, in one line
    try:
        sock = bind(host, port)
    except OSError as exc:
        raise InputError(None, f"cannot serve on {host}:{port} ({exc.strerror or exc}); try another --port") from None
    server = make_server(state, sock)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in str(bound_host) else bound_host
    url = f"http://{shown}:{bound_port}/"
    typer.echo(f"snapcheck preview: {current} ({state.current.spec.describe()}), "
               f"{len(state.entries)} model file(s) to switch between, inference at most {rate:g} Hz")
    for note in state.skipped:
        typer.echo(f"  not offered: {note}")
    if not _is_loopback(str(bound_host)):
        typer.echo(f"  serving on {bound_host}: anyone who can reach this machine can use the page; browsers "
                   "allow the camera only on localhost or https")
    typer.echo(f"open {url}  (Ctrl-C stops)")
    if open_browser:
        webbrowser.open(url)
    with server:  # leaving it shuts the server down
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            typer.echo("snapcheck preview: stopped")


def register(app: typer.Typer) -> None:
    app.command("preview")(preview)
