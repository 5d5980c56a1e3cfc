"""The preview page in a real browser: Debian's headless Chromium, driven by Playwright with mouse input.

`snapcheck preview` runs as a subprocess on a free port, exactly as a user starts it. Every request the
page makes to another host is refused and recorded: the page must work offline. The last test saves the
screenshot the docs use (to out/preview/; with SNAPCHECK_UPDATE_DOCS=1 also to docs/img/preview.png).
"""

from __future__ import annotations

import io
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from snapcheck.preview import drive

REPO = Path(__file__).resolve().parents[1]
RATE = 8.0

pytestmark = pytest.mark.skipif(not Path(drive.CHROMIUM).is_file(),
                                reason=f"{drive.CHROMIUM} missing: `make test` installs it (apt-get install chromium)")
playwright = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def pw():
    with playwright.sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def session(pw):
    """(page, url, foreign requests) on one preview server and one browser for the whole module."""
    with drive.preview_process("--rate", str(RATE)) as url, drive.chromium(pw=pw) as page:
        foreign = drive.offline(page, url)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        drive.open_page(page, url)
        yield {"page": page, "url": url, "foreign": foreign, "errors": errors}


def stats(page) -> dict:
    return page.evaluate("window.snapPreview.stats()")


def server_starts(page, url: str) -> list[float]:
    return page.evaluate(f"fetch('{url}api/stats').then(r => r.json())")["starts"]


def shot(locator) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(locator.screenshot())).convert("RGB")).astype(np.int16)


def output(page) -> np.ndarray:
    out = page.evaluate("window.snapPreview.outputPixels()")
    assert out is not None, "no output yet"
    return np.array(out["rgba"], np.uint8).reshape(out["height"], out["width"], 4)


def clear(page) -> None:
    page.click("#clear")
    drive.settle(page)


def max_in_window(times_ms: list[float], window_ms: float = 1000.0, slack_ms: float = 0.0) -> int:
    """The most events in any half-open window (t - window + slack, t]."""
    t = sorted(times_ms)
    return max((sum(1 for u in t if s - window_ms + slack_ms < u <= s) for s in t), default=0)


def test_page_loads_offline_with_snapchecks_numbers(session):
    page = session["page"]  # load time is a target for bench/preview_latency.py, not a timed test
    page.wait_for_function("document.querySelector('#n-verdict .badge') !== null", timeout=20_000)
    assert "PASS" in page.inner_text("#n-verdict")
    assert page.locator("#n-phones tr").count() >= 2  # iPhone 6 and Galaxy S6 rows
    assert "iPhone 6" in page.inner_text("#n-phones") and "Galaxy S6" in page.inner_text("#n-phones")
    assert session["foreign"] == [], f"the page reached outside: {session['foreign']}"
    assert session["errors"] == []


def test_trace_mode_shows_and_hides_the_outline(session):
    page = session["page"]
    clear(page)
    page.wait_for_function("window.snapPreview.stats().traceExample !== null")
    stage = page.locator("#draw-stage")

    def trace_pixels() -> int:  # the trace is light blue; strokes are white and the canvas black
        img = shot(stage)
        return int(np.count_nonzero((img[..., 2] - img[..., 0] > 40) & (img[..., 2] > 60)))

    assert stats(page)["traceOn"] is True
    shown = trace_pixels()
    page.click("label.switch:has(#trace-on)")
    page.wait_for_timeout(400)  # the fade
    assert stats(page)["traceOn"] is False
    hidden = trace_pixels()
    assert shown > 500 and hidden == 0, (shown, hidden)
    page.click("label.switch:has(#trace-on)")
    page.wait_for_timeout(400)
    assert trace_pixels() > 500
    # another example shows another outline; the trace is never part of the model's input
    before = shot(stage)
    page.locator("#thumbs button").nth(5).click()
    page.wait_for_function("window.snapPreview.stats().traceExample !== null && "
                           "window.snapPreview.stats().traceExample.startsWith('quickdraw')")
    page.wait_for_timeout(200)
    assert np.abs(shot(stage) - before).mean() > 1.0
    assert max(page.evaluate("window.snapPreview.inputBytes()")) == 0


def test_drawing_updates_output_at_the_capped_rate_and_idles(session):
    page, url = session["page"], session["url"]
    clear(page)
    strokes = drive.cat_strokes()
    drive.draw(page, strokes[:1])  # the head
    drive.settle(page)
    head = output(page)
    n0, v0 = len(server_starts(page, url)), stats(page)["version"]
    t0 = time.monotonic()
    drive.draw(page, strokes[1:], pause_s=0.0)  # ears, eyes, nose, mouth, whiskers, without a break
    drawing_s = time.monotonic() - t0
    drive.settle(page)
    face = output(page)

    # the output is a picture, and it follows the drawing
    for img in (head, face):
        assert img[..., 3].std() > 20, "alpha is flat: a blank output"
        assert np.ptp(img[..., :3].astype(int)) > 60, "colours are flat: a blank output"
    assert np.abs(face.astype(int) - head.astype(int)).mean() > 2.0

    # at most RATE inferences in any second, on the page's clock and on the server's; not one per event
    s = stats(page)
    period = 1000.0 / RATE
    starts = s["starts"]
    assert max_in_window(starts) <= RATE
    assert min(b - a for a, b in zip(starts, starts[1:])) >= period - 1.0
    server = [t * 1e3 for t in server_starts(page, url)[n0:]]
    assert max_in_window(server, slack_ms=20.0) <= RATE  # slack: network jitter on a loaded machine
    changes = s["version"] - v0  # pointer events that changed the drawing
    assert len(server) < changes / 2, f"{len(server)} inferences for {changes} pointer events"
    # ...and it ran while drawing went on, not once at the end (loose: the machine may be loaded)
    assert len(server) >= 0.3 * RATE * drawing_s, f"{len(server)} inferences in {drawing_s:.1f} s of drawing"

    # idle: nothing runs when nothing changes
    drive.settle(page)
    idle_from = len(server_starts(page, url))
    time.sleep(2.0)
    assert len(server_starts(page, url)) == idle_from
    assert page.evaluate("window.snapPreview.rateNow()") == 0
    assert page.inner_text("#rate") == "0.0"
    assert s["errors"] == 0


def test_undo_and_clear_change_the_picture(session):
    page = session["page"]
    if not stats(page)["hasOutput"]:
        drive.draw(page, drive.cat_strokes())
        drive.settle(page)
    before = output(page)
    page.keyboard.press("Control+z")
    drive.settle(page)
    assert not np.array_equal(output(page), before)
    clear(page)
    assert max(page.evaluate("window.snapPreview.inputBytes()")) == 0
    page.keyboard.press("Control+z")  # undo the clear
    drive.settle(page)
    assert max(page.evaluate("window.snapPreview.inputBytes()")) == 255


def test_saving_gives_a_valid_rgba_png(session, tmp_path):
    from PIL import Image

    page = session["page"]
    clear(page)
    drive.draw(page, drive.cat_strokes())
    drive.settle(page)
    shown = output(page)
    with page.expect_download() as info:
        page.click("#save")
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    assert path.suffix == ".png" and path.name.startswith("catface-l")  # the shipped default
    with Image.open(path) as im:
        assert im.format == "PNG" and im.mode == "RGBA" and im.size == (shown.shape[1], shown.shape[0])
        saved = np.asarray(im)
    assert np.array_equal(saved[..., 3], shown[..., 3])
    opaque = shown[..., 3] == 255
    assert opaque.any() and np.array_equal(saved[opaque, :3], shown[opaque, :3])

    with page.expect_download() as info:
        page.click("#save-scene")
    scene = tmp_path / info.value.suggested_filename
    info.value.save_as(scene)
    with Image.open(scene) as im:
        assert im.format == "PNG" and im.size[0] > im.size[1] >= 480


def test_switching_models_runs_the_other_file(session):
    page = session["page"]
    models = page.evaluate("fetch('/api/config').then(r => r.json())")["models"]
    assert {m["file"] for m in models} >= {"catface-s.tflite", "catface-s.onnx"}
    drive.draw(page, drive.cat_strokes())  # something to run on, whichever tests ran before
    drive.settle(page)
    current = stats(page)["model"]
    other = next(m["id"] for m in models if m["id"] != current)
    n = stats(page)["inferences"]
    page.select_option("#model", other)
    drive.settle(page)
    s = stats(page)
    assert s["model"] == other and s["inferences"] > n and s["hasOutput"]
    page.wait_for_function("document.querySelector('#n-verdict .badge') !== null", timeout=20_000)
    assert other.rsplit("/", 1)[-1] in page.inner_text("#n-file")
    page.select_option("#model", current)
    drive.settle(page)


def test_screenshot_for_the_docs(session):
    page = session["page"]
    clear(page)
    page.locator("#thumbs button").last.click()  # a round Quick, Draw! face, close to the drawn one
    drive.draw(page, drive.cat_strokes())
    drive.settle(page)
    page.wait_for_timeout(300)
    out = REPO / "out" / "preview" / "preview.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out), full_page=True)
    assert out.stat().st_size > 50_000
    if os.environ.get("SNAPCHECK_UPDATE_DOCS"):
        shutil.copyfile(out, REPO / "docs" / "img" / "preview.png")
    assert session["foreign"] == [] and session["errors"] == []


def test_camera_background_with_chromiums_fake_camera(pw):
    with drive.preview_process("--camera") as url, drive.chromium(flags=drive.FAKE_CAMERA, pw=pw) as page:
        drive.open_page(page, url)
        scene = page.locator("#scene")
        page.wait_for_timeout(300)  # the default background
        before = shot(scene)
        page.click("#bg-camera")
        page.wait_for_function("window.snapPreview.state.scene.bg === 'camera'", timeout=10_000)
        page.wait_for_timeout(500)
        assert np.abs(shot(scene) - before).mean() > 10  # the fake camera's frames replace the background
        page.click("#bg-choice button[data-bg='default']")
        page.wait_for_timeout(300)
        assert page.evaluate("document.getElementById('video').srcObject") is None  # the camera is released


def test_camera_is_offered_only_with_the_flag(session):
    assert session["page"].evaluate("document.getElementById('bg-camera').disabled") is True
