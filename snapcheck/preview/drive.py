"""Drive the preview page as a person would, in headless Chromium: for the browser test and the benchmark.

Chromium is Debian's (``/usr/bin/chromium``, ``apt-get install chromium``) driven by Playwright over CDP;
no browser is downloaded. ``PreviewProcess`` runs ``snapcheck preview --port 0`` as a subprocess (the real
command) and yields its URL. Strokes are dispatched as mouse input, which the page receives as pointer
events, paced like a real mouse (``MOVE_HZ``).
"""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Iterator

CHROMIUM = os.environ.get("SNAPCHECK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync"]
FAKE_CAMERA = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")  # Chromium's test camera
MOVE_HZ = 120  # pointer moves per second while a stroke is drawn (a gaming mouse; most report 60-125)
VIEWPORT = {"width": 1400, "height": 880}
Stroke = list[tuple[float, float]]  # points in [0, 1] of the drawing canvas


def _ellipse(cx: float, cy: float, rx: float, ry: float, start: float = 0.0, end: float = 2 * math.pi,
             n: int = 48) -> Stroke:
    return [(cx + rx * math.cos(start + (end - start) * i / n), cy + ry * math.sin(start + (end - start) * i / n))
            for i in range(n + 1)]


def cat_strokes() -> list[Stroke]:
    """A cat face as a person draws one: head, two ears, eyes, nose, mouth and whiskers."""
    head = _ellipse(0.5, 0.56, 0.33, 0.3)
    ears = [[(0.22, 0.42), (0.25, 0.12), (0.42, 0.29)], [(0.58, 0.29), (0.75, 0.12), (0.78, 0.42)]]
    eyes = [_ellipse(0.39, 0.5, 0.045, 0.035, n=16), _ellipse(0.61, 0.5, 0.045, 0.035, n=16)]
    nose = [[(0.47, 0.61), (0.53, 0.61), (0.5, 0.65), (0.47, 0.61)]]
    mouth = [[(0.5, 0.65), (0.5, 0.68)], _ellipse(0.46, 0.68, 0.04, 0.03, 0.0, math.pi, 10),
             _ellipse(0.54, 0.68, 0.04, 0.03, 0.0, math.pi, 10)]
    whiskers = [[(0.36, 0.63), (0.12, 0.58)], [(0.36, 0.66), (0.12, 0.69)],
                [(0.64, 0.63), (0.88, 0.58)], [(0.64, 0.66), (0.88, 0.69)]]
    return [head, *ears, *eyes, *nose, *mouth, *whiskers]


@contextmanager
def preview_process(*args: str, timeout: float = 60.0) -> Iterator[str]:
    """``snapcheck preview --port 0 ARGS`` in a subprocess; yields the page's URL; stops it with Ctrl-C."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "snapcheck", "preview", "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + timeout
        url = None
        while url is None:
            line = proc.stdout.readline() if proc.stdout else ""
            if not line:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("snapcheck preview did not start:\n" + "".join(lines))
                continue
            lines.append(line)
            match = re.search(r"open (http://\S+)", line)
            url = match.group(1) if match else None
        yield url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout:
            proc.stdout.close()


@contextmanager
def chromium(viewport: dict[str, int] | None = None, flags: tuple[str, ...] = (), pw: Any = None) -> Iterator[Any]:
    """A Playwright page in Debian's headless Chromium with a fresh, empty profile; downloads allowed.

    ``flags`` adds Chromium switches (e.g. ``FAKE_CAMERA``); ``pw`` reuses a running ``sync_playwright()``
    (one per thread), else one is started for this browser.
    """
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).is_file():
        raise FileNotFoundError(f"{CHROMIUM} not found: apt-get install chromium (make test does)")
    with ExitStack() as stack:
        if pw is None:
            pw = stack.enter_context(sync_playwright())
        profile = stack.enter_context(tempfile.TemporaryDirectory(prefix="snapcheck-chromium-"))
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=[*CHROMIUM_FLAGS, *flags], headless=True, accept_downloads=True,
            viewport=viewport or VIEWPORT)
        stack.callback(context.close)
        yield context.pages[0] if context.pages else context.new_page()


def offline(page: Any, url: str) -> list[str]:
    """Refuse every request of ``page``'s context that is not to ``url``; returns the list of those refused."""
    refused: list[str] = []

    def route(r: Any) -> None:
        if r.request.url.startswith(url):
            r.continue_()
        else:
            refused.append(r.request.url)
            r.abort()

    page.context.route("**/*", route)
    return refused


def open_page(page: Any, url: str, timeout_ms: float = 30_000) -> float:
    """Load the page and wait until it is interactive; returns the page's own load-to-ready milliseconds."""
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", timeout=timeout_ms)
    return float(page.evaluate("window.snapPreview.stats().readyAt"))


def draw(page: Any, strokes: list[Stroke], move_hz: float = MOVE_HZ, pause_s: float = 0.15) -> int:
    """Draw ``strokes`` on the canvas with the mouse, ``move_hz`` moves a second; returns the moves sent."""
    box = page.locator("#draw").bounding_box()
    step = 1.0 / move_hz
    sent = 0
    for stroke in strokes:
        pts = [(box["x"] + u * box["width"], box["y"] + v * box["height"]) for u, v in stroke]
        dense = [pts[0]]
        for (x0, y0), (x1, y1) in zip(pts, pts[1:]):  # a real hand moves a few pixels between events
            n = max(1, int(math.hypot(x1 - x0, y1 - y0) / 6))
            dense += [(x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n) for k in range(1, n + 1)]
        page.mouse.move(*dense[0])
        page.mouse.down()
        next_at = time.perf_counter()
        for x, y in dense[1:]:
            next_at += step
            delay = next_at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            page.mouse.move(x, y)
            sent += 1
        page.mouse.up()
        time.sleep(pause_s)
    return sent


def settle(page: Any, timeout_ms: float = 10_000) -> None:
    """Wait until every change of the drawing has been inferred and shown."""
    page.wait_for_function("(() => { const s = window.snapPreview.stats(); "
                           "return !s.dirty && !s.inflight && s.pending === 0; })()", timeout=timeout_ms)
