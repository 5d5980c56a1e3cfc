"""The preview server without a browser: its HTTP routes, the WebSocket inference protocol, and the command."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from preview_fixtures import SIDE, expected_rgb, rgb_model
from snapcheck.preview import drive
from snapcheck.preview.model import model_choices
from snapcheck.preview.server import REPLY, REQUEST, PreviewState, bind, make_server

websockets = pytest.importorskip("websockets")
pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A server on a free port with the shipped models plus a small RGB model as the default."""
    own = rgb_model(tmp_path_factory.mktemp("m") / "rgb.onnx")
    state = PreviewState.build(own, model_choices(own), rate=5.0, camera=True)
    sock = bind("127.0.0.1", 0)
    server = make_server(state, sock)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = sock.getsockname()[:2]
    yield {"state": state, "url": f"http://{host}:{port}", "ws": f"ws://{host}:{port}/ws"}
    server.shutdown()
    thread.join(5)


def get(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers.get("Content-Type", "")


def test_page_and_assets_are_served_locally(served):
    status, body, ctype = get(served["url"] + "/")
    assert status == 200 and ctype.startswith("text/html")
    page = body.decode()
    refs = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert refs and all(r.startswith("/") for r in refs), refs  # nothing from another host
    for ref in refs:
        assert get(served["url"] + ref)[0] == 200, ref
    js = get(served["url"] + "/static/app.js")[1].decode()
    assert "http://" not in js.replace("location.protocol", "") and "https://" not in js
    status, body, ctype = get(served["url"] + "/assets/background.jpg")
    assert status == 200 and ctype == "image/jpeg" and body[:2] == b"\xff\xd8"


def test_files_outside_the_static_folders_are_not_served(served):
    for path in ("/static/../server.py", "/static/%2e%2e/server.py", "/assets/../model.py", "/nope"):
        assert get(served["url"] + path)[0] == 404, path


def test_config_lists_every_fitting_model(served):
    cfg = json.loads(get(served["url"] + "/api/config")[1])
    files = [m["file"] for m in cfg["models"]]
    assert "rgb.onnx" in files and "catface-s.tflite" in files and "catface-s.onnx" in files
    assert cfg["default"].endswith("rgb.onnx") and cfg["rate"] == 5.0 and cfg["camera"] is True
    assert len(cfg["examples"]) == 8 and all(e["credit"] for e in cfg["examples"])
    rgb = next(m for m in cfg["models"] if m["file"] == "rgb.onnx")
    assert rgb["alpha"] is False and rgb["size"] == SIDE and rgb["stroke_width"] == 2


def test_report_route(served):
    cfg = json.loads(get(served["url"] + "/api/config")[1])
    cat = next(m["id"] for m in cfg["models"] if m["file"] == "catface-s.onnx")
    report = json.loads(get(f"{served['url']}/api/report?model={cat}")[1])
    assert report["passed"] is True and report["fp16_bytes"] > 0 and report["estimates"]
    assert get(served["url"] + "/api/report?model=nope")[0] == 404


def test_websocket_inference_protocol(served):
    from websockets.sync.client import connect

    strokes = np.zeros((SIDE, SIDE), np.uint8)
    strokes[10:12, 4:28] = 255
    before = len(served["state"].starts)
    with connect(served["ws"]) as ws:
        ws.send(REQUEST.pack(7) + strokes.tobytes())
        reply = ws.recv()
        seq, w, h, ms = REPLY.unpack_from(reply)
        assert (seq, w, h) == (7, SIDE, SIDE) and ms >= 0
        rgba = np.frombuffer(reply, np.uint8, offset=REPLY.size).reshape(h, w, 4)
        assert np.array_equal(rgba, expected_rgb(strokes))

        ws.send(REQUEST.pack(8) + b"\x00" * 10)  # wrong size
        assert json.loads(ws.recv()) == {"seq": 8, "error": f"expected {SIDE}×{SIDE} = {SIDE * SIDE} bytes, got 10"}
        ws.send(json.dumps({"model": "nope"}))
        assert "unknown model" in json.loads(ws.recv())["error"]

        cat = next(i for i, e in served["state"].entries.items() if e.generator.spec.path.name == "catface-s.tflite")
        ws.send(json.dumps({"model": cat}))
        assert json.loads(ws.recv()) == {"model": cat}
        ws.send(REQUEST.pack(9) + np.zeros(128 * 128, np.uint8).tobytes())
        seq, w, h, _ = REPLY.unpack_from(ws.recv())
        assert (seq, w, h) == (9, 128, 128)
    stats = json.loads(get(served["url"] + "/api/stats")[1])
    assert stats["inferences"] == before + 2  # the refused request did not count


def test_cross_origin_websocket_is_refused(served):
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    with pytest.raises(InvalidStatus) as err:
        connect(served["ws"], origin="http://evil.example")
    assert err.value.response.status_code == 403


def test_preview_command_serves_a_given_model_and_stops_on_ctrl_c(tmp_path):
    own = rgb_model(tmp_path / "own.onnx")
    with drive.preview_process(str(own), "--rate", "4") as url:
        cfg = json.loads(get(url + "api/config")[1])
        assert cfg["default"].endswith("own.onnx") and cfg["rate"] == 4.0 and cfg["camera"] is False


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snapcheck", *args], capture_output=True, text=True, timeout=120)


def test_preview_refuses_unfit_models_and_busy_ports(tmp_path):
    bad = rgb_model(tmp_path / "two.onnx", inputs=2)
    p = run_cli("preview", str(bad))
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "one image input" in p.stderr
    p = run_cli("preview", str(tmp_path / "missing.tflite"))
    assert p.returncode == 2 and "no such model" in p.stderr
    with bind("127.0.0.1", 0) as busy:
        port = busy.getsockname()[1]
        p = run_cli("preview", "--port", str(port))
        assert p.returncode == 2 and f":{port}" in p.stderr and "--port" in p.stderr
        assert "Traceback" not in p.stderr


def test_ipv6_loopback_binds_when_available():
    try:
        sock = bind("::1", 0)
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    with sock:
        assert sock.getsockname()[0] == "::1"
