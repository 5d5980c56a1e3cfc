"""Latency of `snapcheck preview` in Debian's headless Chromium: stroke → picture, page load, inference rate.

Runs the real command (`snapcheck preview --port 0`) and drives the page with mouse input paced like a
real mouse (snapcheck.preview.drive). Every request to another host is refused (offline). Measures:

- page load → first interactive frame (the page's own `performance.now()` when it is ready), over
  `--loads` fresh page loads;
- stroke → picture: for every pointer event that changed the drawing, the time from the event to the
  painted frame that shows a picture including it (a task queued from requestAnimationFrame, i.e.
  after the paint); the inference period (1000 / rate) is the floor it cannot beat while drawing goes
  on, and is the same-run baseline; the first event of a stroke drawn after an idle moment is reported
  apart (no wait for a rate slot);
- finger lifted → the painted picture of the whole stroke (0 when it was already shown);
- the model's own time (server side), the WebSocket round trip, the inference rate while drawing and idle.

With `--ort-web DIR` (a folder holding onnxruntime-web's `ort.wasm.min.js`, `ort-wasm-simd-threaded.mjs`
and `.wasm`, e.g. `npm install onnxruntime-web` → node_modules/onnxruntime-web/dist) it also times
the same .onnx file in the browser with onnxruntime-web (WebAssembly, 1 thread), against the server's
WebSocket round trip for that file, measured in the same page and run: the evidence for where the preview runs inference (docs/preview.md).

    bench/quiet.sh .venv/bin/python bench/preview_latency.py [--rounds 3] [--rate 8] [--ort-web DIR] [--json out.json]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import platform
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

from snapcheck.preview import drive

REPO = Path(__file__).resolve().parents[1]
ORT_FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
ORT_PAGE = """<!doctype html><script src="ort.wasm.min.js"></script><script>
window.result = null;
(async () => {
  try {
    ort.env.wasm.numThreads = 1;
    const t0 = performance.now();
    const s = await ort.InferenceSession.create("model.onnx", { executionProviders: ["wasm"] });
    const load = performance.now() - t0;
    const info = s.inputMetadata ? s.inputMetadata[0] : null;
    const fp16 = info && info.type === "float16";
    const n = 128 * 128, data = fp16 ? new Uint16Array(n).fill(0xBC00) : new Float32Array(n).fill(-1);
    for (let i = 0; i < n; i += 7) data[i] = fp16 ? 0x3C00 : 1;
    const feeds = { [s.inputNames[0]]: new ort.Tensor(fp16 ? "float16" : "float32", data, [1, 1, 128, 128]) };
    for (let i = 0; i < 5; i++) await s.run(feeds);
    const ms = [];
    for (let i = 0; i < RUNS; i++) { const a = performance.now(); await s.run(feeds); ms.push(performance.now() - a); }
    window.result = { load_ms: load, ms };
  } catch (e) { window.result = { error: String(e) }; }
})();
</script>"""


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(q * len(s) + 0.5)) - 1))]


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "median": statistics.median(values), "p95": pct(values, 0.95), "max": max(values)}


def page_loads(page, url: str, loads: int) -> list[float]:
    out = []
    for _ in range(loads):
        page.goto("about:blank")
        out.append(drive.open_page(page, url))
    return out


def drawing(page, url: str, rounds: int) -> dict:
    import urllib.request

    def server_starts() -> list[float]:
        with urllib.request.urlopen(url + "api/stats") as r:
            return json.loads(r.read())["starts"]

    drive.open_page(page, url)
    page.click("label.switch:has(#trace-on)")  # trace off: freehand, as timed
    strokes = drive.cat_strokes()
    active_s = 0.0
    for _ in range(rounds):
        page.click("#clear")
        drive.settle(page)
        t0 = time.monotonic()
        drive.draw(page, strokes)
        active_s += time.monotonic() - t0
        drive.settle(page)
    s = page.evaluate("window.snapPreview.stats()")
    before_idle = len(server_starts())
    time.sleep(3.0)
    idle_runs = len(server_starts()) - before_idle
    starts = s["starts"]
    return {
        "pointer_events": s["version"],
        "inferences": len(starts),
        "drawing_s": active_s,
        "event_to_picture_ms": summary(s["latencies"]),
        "stroke_start_to_picture_ms": summary(s["strokeLatencies"]) if s["strokeLatencies"] else None,
        "stroke_end_to_picture_ms": summary(s["strokeEndLatencies"]),
        "round_trip_ms": summary(s["rtts"]),
        "model_ms": summary(s["modelMs"]),
        "start_to_painted_ms": summary([t["shown"] for t in s["timeline"]]),
        "min_gap_ms": min(b - a for a, b in zip(starts, starts[1:])),
        "max_per_second": max(sum(1 for u in starts if t - 1000 < u <= t) for t in starts),
        "idle_runs_in_3s": idle_runs,
        "errors": s["errors"],
    }


def ws_round_trip(page, url: str, model_file: str, runs: int) -> dict:
    """The server's round trip for ``model_file`` (a file the preview offers), timed in the page: the
    like-for-like figure next to onnxruntime-web's in-browser inference of the same file."""
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']")
    ms = page.evaluate("""async ([file, runs]) => {
      const cfg = await (await fetch('/api/config')).json();
      const m = cfg.models.find((x) => x.file === file);
      const ws = new WebSocket(`ws://${location.host}/ws`); ws.binaryType = 'arraybuffer';
      await new Promise((r) => { ws.onopen = r; });
      const next = () => new Promise((r) => { ws.onmessage = (e) => r(e.data); });
      ws.send(JSON.stringify({ model: m.id })); await next();
      const body = new Uint8Array(4 + m.size * m.size);
      for (let i = 4; i < body.length; i += 7) body[i] = 255;
      const out = [];
      for (let i = 0; i < runs + 5; i++) {
        const t = performance.now(); ws.send(body); await next();
        if (i >= 5) out.push(performance.now() - t);
      }
      ws.close();
      return out;
    }""", [model_file, runs])
    return summary(ms)


def ort_web(page, ort_dir: Path, model: Path, runs: int) -> dict:
    """onnxruntime-web (wasm, 1 thread) on ``model`` in this browser, served from a temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        for name in ORT_FILES:
            shutil.copy(ort_dir / name, tmp)
        shutil.copy(model, Path(tmp) / "model.onnx")
        (Path(tmp) / "index.html").write_text(ORT_PAGE.replace("RUNS", str(runs)))
        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=tmp))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/index.html")
            page.wait_for_function("window.result !== null", timeout=120_000)
            res = page.evaluate("window.result")
        finally:
            server.shutdown()
    if "error" in res:
        raise RuntimeError(f"onnxruntime-web failed: {res['error']}")
    version = json.loads((ort_dir.parent / "package.json").read_text()).get("version", "?") \
        if (ort_dir.parent / "package.json").is_file() else "?"
    return {"version": version, "session_ms": res["load_ms"], "inference_ms": summary(res["ms"]),
            "wasm_bytes": (ort_dir / ORT_FILES[2]).stat().st_size}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", nargs="?", help="MODEL for snapcheck preview (default: the shipped one)")
    ap.add_argument("--rate", type=float, default=8.0)
    ap.add_argument("--rounds", type=int, default=3, help="cat faces drawn")
    ap.add_argument("--loads", type=int, default=5, help="fresh page loads timed")
    ap.add_argument("--ort-web", type=Path, help="onnxruntime-web dist folder (see the docstring)")
    ap.add_argument("--ort-model", type=Path, default=REPO / "models" / "catface-s" / "catface-s.onnx")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    extra = [args.model] if args.model else []
    result: dict = {"host": f"{platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}",
                    "chromium": drive.CHROMIUM, "rate": args.rate}
    with drive.preview_process(*extra, "--rate", str(args.rate)) as url, drive.chromium() as page:
        result["chromium_version"] = page.context.browser.version if page.context.browser else "?"
        foreign = drive.offline(page, url)
        result["load_to_interactive_ms"] = summary(page_loads(page, url, args.loads))
        result["drawing"] = drawing(page, url, args.rounds)
        if args.ort_web:
            result["server_round_trip_ms"] = ws_round_trip(page, url, args.ort_model.name, 60)
            page.context.unroute("**/*")
            result["ort_web"] = ort_web(page, args.ort_web, args.ort_model, 60)
    result["foreign_requests"] = foreign
    result["load_after"] = os.getloadavg()[0]
    d = result["drawing"]
    period = 1000.0 / args.rate
    p95 = d["event_to_picture_ms"]["p95"]
    print(f"host {result['host']} (after: {result['load_after']:.2f}), Chromium {result['chromium_version']}")
    print("| figure | median | p95 | max | baseline (same run) | ratio |")
    print("|---|---:|---:|---:|---|---:|")
    row = lambda name, s, base, ratio: print(  # noqa: E731
        f"| {name} | {s['median']:.1f} | {s['p95']:.1f} | {s['max']:.1f} | {base} | {ratio} |")
    row(f"pointer event → painted picture, ms ({d['event_to_picture_ms']['n']} events)", d["event_to_picture_ms"],
        f"inference period {period:.0f} ms", f"{p95 / period:.2f}× at p95")
    if d["stroke_start_to_picture_ms"]:
        s = d["stroke_start_to_picture_ms"]
        row(f"stroke start after idle → painted picture, ms ({s['n']})", s, "model alone",
            f"{s['median'] / d['model_ms']['median']:.1f}× at median")
    s = d["stroke_end_to_picture_ms"]
    row(f"finger lifted → picture of the whole stroke, ms ({s['n']} strokes)", s, f"inference period {period:.0f} ms",
        f"{s['p95'] / period:.2f}× at p95")
    row("inference start → painted, ms", d["start_to_painted_ms"], "", "")
    row("WebSocket round trip, ms", d["round_trip_ms"], "model alone (server)",
        f"{d['round_trip_ms']['median'] / d['model_ms']['median']:.1f}×")
    row("model alone (server), ms", d["model_ms"], "", "")
    row(f"page load → interactive, ms ({args.loads} loads)", result["load_to_interactive_ms"], "target 2000 ms",
        f"{result['load_to_interactive_ms']['max'] / 2000:.2f}× at max")
    print(f"inferences {d['inferences']} for {d['pointer_events']} pointer events in {d['drawing_s']:.1f} s of drawing; "
          f"at most {d['max_per_second']} in any second (rate {args.rate:g}); smallest gap {d['min_gap_ms']:.1f} ms; "
          f"{d['idle_runs_in_3s']} inferences in 3 s idle; {d['errors']} errors; foreign requests {len(foreign)}")
    if "ort_web" in result:
        o = result["ort_web"]
        print(f"onnxruntime-web {o['version']} (wasm, 1 thread) on {args.ort_model.name}: session {o['session_ms']:.0f} ms, "
              f"inference median {o['inference_ms']['median']:.2f} ms p95 {o['inference_ms']['p95']:.2f} ms "
              f"({o['wasm_bytes'] / 1e6:.1f} MB wasm) vs the server's WebSocket round trip for the same file, median "
              f"{result['server_round_trip_ms']['median']:.2f} ms p95 {result['server_round_trip_ms']['p95']:.2f} ms: "
              f"{o['inference_ms']['median'] / result['server_round_trip_ms']['median']:.2f}×")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
