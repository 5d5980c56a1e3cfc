// snapcheck preview: draw an outline, run the model on the local server at a fixed rate while the drawing
// changes, show the picture over a checkerboard and as a sticker. No dependencies, nothing fetched from
// elsewhere. window.snapPreview exposes the measurements the browser test reads.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const LATENCIES_KEPT = 2000;

  const state = {
    config: null,
    model: null,            // the selected entry of config.models
    strokes: [],            // {w: width as a share of the side, pts: [[x, y] in 0..1]}
    undo: [],               // earlier stroke lists
    current: null,          // the stroke being drawn
    pointer: null,          // its pointer id
    brushPx: null,          // brush width in model pixels; null follows the model's training stroke
    version: 0,             // bumped on every change of the drawing
    pending: [],            // {v, t}: changes not yet shown
    dirty: false,
    inflight: false,
    timer: null,
    lastStart: -Infinity,
    starts: [],             // when each inference started (performance.now())
    latencies: [],          // change → picture on screen, ms, one per pointer event that changed the drawing
    strokeLatencies: [],    // first change of a stroke after idle → picture, ms
    strokeEnds: [],         // {v, t}: lifted strokes whose last change is not shown yet
    strokeEndLatencies: [], // finger lifted → picture showing the whole stroke, ms
    modelMs: [],
    rtts: [],
    timeline: [],           // {start, rtt, shown} per inference
    hasOutput: false,
    trace: { on: true, example: null, image: null },
    scene: { bg: "default", image: null, cx: 0.5, cy: 0.55, size: 0.62, drag: null, border: true, raf: 0 },
    readyAt: null,
    errors: 0,
  };

  const els = {
    draw: $("draw"), trace: $("trace"), out: $("out"), scene: $("scene"), inputView: $("input-view"),
    video: $("video"),
  };
  const modelCanvas = document.createElement("canvas");   // the drawing at the model's input size
  const modelCtx = modelCanvas.getContext("2d", { willReadFrequently: true });  // read back for every inference
  const outCanvas = document.createElement("canvas");     // the model's RGBA output, native size
  const stickerCanvas = document.createElement("canvas"); // the output upscaled, with its border
  const traceSource = document.createElement("canvas");   // the example, tinted, at its own size

  // ---------------------------------------------------------------- sizing

  function fitCanvas(canvas) {
    const r = canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(r.width * dpr)), h = Math.max(1, Math.round(r.height * dpr));
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; return true; }
    return false;
  }

  function layout() {
    fitCanvas(els.draw); fitCanvas(els.trace); fitCanvas(els.out); fitCanvas(els.scene);
    redrawStrokes(); drawTrace(); drawOutput(); renderScene();
  }

  // ---------------------------------------------------------------- drawing

  const side = () => state.model.size;
  const brushPx = () => state.brushPx ?? state.model.stroke_width;

  function strokeStyle(ctx, widthPx) {
    ctx.lineCap = "round"; ctx.lineJoin = "round"; ctx.lineWidth = widthPx;
    ctx.strokeStyle = "#fff"; ctx.fillStyle = "#fff";
  }

  function segment(ctx, scale, stroke, a, b) {
    strokeStyle(ctx, stroke.w * scale);
    ctx.beginPath();
    if (a === b) {
      ctx.arc(a[0] * scale, a[1] * scale, stroke.w * scale / 2, 0, Math.PI * 2);
      ctx.fill();
    } else {
      ctx.moveTo(a[0] * scale, a[1] * scale); ctx.lineTo(b[0] * scale, b[1] * scale); ctx.stroke();
    }
  }

  function paintStroke(ctx, scale, stroke) {
    const p = stroke.pts;
    if (p.length === 1) { segment(ctx, scale, stroke, p[0], p[0]); return; }
    strokeStyle(ctx, stroke.w * scale);
    ctx.beginPath(); ctx.moveTo(p[0][0] * scale, p[0][1] * scale);
    for (let i = 1; i < p.length; i++) ctx.lineTo(p[i][0] * scale, p[i][1] * scale);
    ctx.stroke();
  }

  function clearModelCanvas() {
    modelCtx.fillStyle = "#000"; modelCtx.fillRect(0, 0, modelCanvas.width, modelCanvas.height);
  }

  function redrawStrokes() {
    if (!state.model) return;
    const d = els.draw.getContext("2d");
    d.clearRect(0, 0, els.draw.width, els.draw.height);
    clearModelCanvas();
    for (const s of state.strokes) { paintStroke(d, els.draw.width, s); paintStroke(modelCtx, modelCanvas.width, s); }
    $("draw-hint").classList.toggle("gone", state.strokes.length > 0);
  }

  function pointOf(e) {
    const r = els.draw.getBoundingClientRect();
    return [Math.min(1, Math.max(0, (e.clientX - r.left) / r.width)),
            Math.min(1, Math.max(0, (e.clientY - r.top) / r.height))];
  }

  function extend(stroke, p) {
    const last = stroke.pts[stroke.pts.length - 1];
    stroke.pts.push(p);
    segment(els.draw.getContext("2d"), els.draw.width, stroke, last, p);
    segment(modelCtx, modelCanvas.width, stroke, last, p);
  }

  function pushUndo() { state.undo.push(state.strokes.slice()); if (state.undo.length > 200) state.undo.shift(); }

  els.draw.addEventListener("pointerdown", (e) => {
    if (state.pointer !== null || !state.model || (e.pointerType === "mouse" && e.button !== 0)) return;
    e.preventDefault();
    els.draw.setPointerCapture(e.pointerId);
    state.pointer = e.pointerId;
    pushUndo();
    const p = pointOf(e);
    state.current = { w: brushPx() / side(), pts: [p] };
    state.strokes.push(state.current);
    segment(els.draw.getContext("2d"), els.draw.width, state.current, p, p);
    segment(modelCtx, modelCanvas.width, state.current, p, p);
    $("draw-hint").classList.add("gone");
    changed(e.timeStamp, true);
  });

  els.draw.addEventListener("pointermove", (e) => {
    if (e.pointerId !== state.pointer || !state.current) return;
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
    const all = events.length ? events : [e];
    for (const ev of all) extend(state.current, pointOf(ev));
    changed(all[0].timeStamp || e.timeStamp, false);
  });

  const endStroke = (e) => {
    if (e.pointerId !== state.pointer) return;
    state.pointer = null; state.current = null;
    // the finger is lifted: how long until the picture shows the whole stroke (0 if it already does)
    if (state.pending.length) state.strokeEnds.push({ v: state.version, t: e.timeStamp });
    else push(state.strokeEndLatencies, 0);
  };
  els.draw.addEventListener("pointerup", endStroke);
  els.draw.addEventListener("pointercancel", endStroke);

  function undo() {
    if (!state.undo.length) return;
    state.strokes = state.undo.pop();
    redrawStrokes(); changed(performance.now(), true);
  }

  function clearDrawing() {
    if (!state.strokes.length) return;
    pushUndo(); state.strokes = [];
    redrawStrokes(); changed(performance.now(), true);
  }

  $("undo").addEventListener("click", undo);
  $("clear").addEventListener("click", clearDrawing);
  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && !e.shiftKey && e.key.toLowerCase() === "z") { e.preventDefault(); undo(); }
  });

  const brush = $("brush");
  function showBrush() {
    brush.value = brushPx(); $("brush-val").textContent = `${brushPx()} px`;
    brush.parentElement.title = `Brush width in model pixels; the training outlines are ${state.model.stroke_width} px`;
  }
  brush.addEventListener("input", () => { state.brushPx = Number(brush.value); showBrush(); });

  // ---------------------------------------------------------------- inference at a fixed rate

  const period = () => 1000 / state.config.rate;

  function changed(t, startsStroke) {
    state.version += 1;
    const idle = !state.dirty && !state.inflight && performance.now() >= state.lastStart + period();
    state.pending.push({ v: state.version, t, first: startsStroke && idle });
    state.dirty = true;
    schedule();
  }

  function schedule() {
    if (state.timer !== null || state.inflight || !state.dirty) return;
    const wait = state.lastStart + period() - performance.now();
    if (wait <= 0) { state.timer = 0; tick(); return; }  // a free slot: run now, not a timer turn later
    state.timer = setTimeout(tick, wait);
  }

  function readInput() {
    const n = side();
    const px = modelCtx.getImageData(0, 0, n, n).data;
    const bytes = new Uint8Array(n * n);
    for (let i = 0; i < bytes.length; i++) bytes[i] = px[i * 4];
    return bytes;
  }

  function showInputView(bytes) {
    const n = side();
    els.inputView.width = n; els.inputView.height = n;
    const img = new ImageData(n, n);
    for (let i = 0; i < bytes.length; i++) {
      const v = bytes[i] > 127 ? 255 : 0;
      img.data[i * 4] = img.data[i * 4 + 1] = img.data[i * 4 + 2] = v; img.data[i * 4 + 3] = 255;
    }
    els.inputView.getContext("2d").putImageData(img, 0, 0);
  }

  // Resolves once the next frame has been painted: a task queued from requestAnimationFrame runs after it.
  const painted = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));

  // The inference channel: one WebSocket, requests answered in order (see snapcheck/preview/server.py).
  const channel = { ws: null, open: null, model: null, seq: 0, waiting: new Map() };

  function connect() {
    if (channel.open) return channel.open;
    channel.open = new Promise((resolve, reject) => {
      const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
      ws.binaryType = "arraybuffer";
      ws.onopen = () => { channel.ws = ws; channel.model = null; resolve(ws); };
      ws.onerror = () => reject(new Error("cannot reach the snapcheck preview server"));
      ws.onclose = () => {
        channel.ws = null; channel.open = null;
        for (const w of channel.waiting.values()) w.reject(new Error("the preview server closed the connection"));
        channel.waiting.clear();
      };
      ws.onmessage = (e) => {
        if (typeof e.data === "string") {
          const msg = JSON.parse(e.data);
          const key = "seq" in msg ? msg.seq : "model";
          const w = channel.waiting.get(key);
          if (!w) return;
          channel.waiting.delete(key);
          if (msg.error) w.reject(new Error(msg.error)); else w.resolve(msg);
          return;
        }
        const head = new DataView(e.data, 0, 12);
        const seq = head.getUint32(0, true);
        const w = channel.waiting.get(seq);
        if (!w) return;
        channel.waiting.delete(seq);
        w.resolve({ width: head.getUint16(4, true), height: head.getUint16(6, true), ms: head.getFloat32(8, true),
                    rgba: new Uint8ClampedArray(e.data, 12) });
      };
    });
    return channel.open;
  }

  function request(key, payload) {
    return new Promise((resolve, reject) => { channel.waiting.set(key, { resolve, reject }); channel.ws.send(payload); });
  }

  async function infer(model, bytes) {
    await connect();
    if (channel.model !== model.id) {
      await request("model", JSON.stringify({ model: model.id }));
      channel.model = model.id;
    }
    const seq = (channel.seq = (channel.seq + 1) >>> 0);
    const msg = new Uint8Array(4 + bytes.length);
    new DataView(msg.buffer).setUint32(0, seq, true);
    msg.set(bytes, 4);
    return request(seq, msg);
  }

  async function tick() {
    state.timer = null;
    if (!state.dirty || state.inflight) return;
    const now = performance.now();
    if (now < state.lastStart + period()) { schedule(); return; }  // never faster than the rate
    state.dirty = false; state.inflight = true; state.lastStart = now;
    state.starts.push(now);
    const model = state.model, version = state.version;
    const bytes = readInput();
    try {
      const out = await infer(model, bytes);
      const rtt = performance.now() - now;
      if (model !== state.model) { state.dirty = true; return; }  // switched meanwhile: run the new one
      outCanvas.width = out.width; outCanvas.height = out.height;
      outCanvas.getContext("2d").putImageData(new ImageData(out.rgba, out.width, out.height), 0, 0);
      state.hasOutput = true;
      drawOutput();
      const drawn = performance.now();
      await painted();
      const shown = performance.now();
      buildSticker(); renderScene(); showInputView(bytes);  // after the output is on screen
      const after = performance.now();
      const done = state.pending.filter((p) => p.v <= version);
      state.pending = state.pending.filter((p) => p.v > version);
      for (const p of done) {
        push(state.latencies, shown - p.t);
        if (p.first) push(state.strokeLatencies, shown - p.t);
      }
      for (const p of state.strokeEnds.filter((x) => x.v <= version)) push(state.strokeEndLatencies, shown - p.t);
      state.strokeEnds = state.strokeEnds.filter((x) => x.v > version);
      push(state.modelMs, out.ms);
      push(state.rtts, rtt);
      push(state.timeline, { start: now, rtt, drawn: drawn - now, shown: shown - now, after: after - now });
      showLatency();
    } catch (err) {
      state.errors += 1;
      toast(`Inference failed: ${err.message}`);
    } finally {
      state.inflight = false;
      schedule();
    }
  }

  function push(list, v) { list.push(v); if (list.length > LATENCIES_KEPT) list.shift(); }

  function percentile(list, q) {
    if (!list.length) return null;
    const s = list.slice().sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
  }

  function rateNow() {
    const now = performance.now();
    return state.starts.filter((t) => t > now - 1000 && t <= now).length;
  }

  function showLatency() {
    const p95 = percentile(state.latencies, 0.95), med = percentile(state.latencies, 0.5);
    if (p95 === null) return;
    $("latency").innerHTML = `Stroke → picture: median <b>${med.toFixed(0)} ms</b>, p95 <b>${p95.toFixed(0)} ms</b> ` +
      `over ${state.latencies.length} pointer events <small>(includes waiting for the next ${state.config.rate} Hz slot)</small>`;
  }

  function updateLive() {
    const r = rateNow();
    $("rate").textContent = r.toFixed(1);
    $("live-dot").classList.toggle("on", r > 0);
    const m = percentile(state.modelMs.slice(-20), 0.5), t = percentile(state.rtts.slice(-20), 0.5);
    if (m !== null) $("model-ms").textContent = m.toFixed(1);
    if (t !== null) $("rtt").textContent = t.toFixed(1);
  }

  // ---------------------------------------------------------------- output and sticker

  function drawOutput() {
    const ctx = els.out.getContext("2d");
    ctx.clearRect(0, 0, els.out.width, els.out.height);
    if (!state.hasOutput) return;
    ctx.imageSmoothingEnabled = true; ctx.imageSmoothingQuality = "high";
    ctx.drawImage(outCanvas, 0, 0, els.out.width, els.out.height);
    $("out-hint").classList.add("gone");
    $("save").disabled = false; $("save-scene").disabled = false;
  }

  // The sticker: the output upscaled, a white die-cut border (the silhouette spread in a ring, filled
  // white) and a soft shadow, baked once per output so moving it only costs one drawImage.
  function buildSticker() {
    const up = 256, pad = Math.round(up * 0.09), border = state.scene.border ? Math.round(up * 0.025) : 0;
    const full = up + 2 * pad;
    const cut = stickerCanvas.cut || (stickerCanvas.cut = document.createElement("canvas"));
    cut.width = cut.height = full;
    const c = cut.getContext("2d");
    c.imageSmoothingEnabled = true; c.imageSmoothingQuality = "high";
    if (border) {
      for (let i = 0; i < 16; i++) {
        const a = (i / 16) * Math.PI * 2;
        c.drawImage(outCanvas, pad + Math.cos(a) * border, pad + Math.sin(a) * border, up, up);
      }
      c.globalCompositeOperation = "source-in";
      c.fillStyle = "#fff"; c.fillRect(0, 0, full, full);
      c.globalCompositeOperation = "source-over";
    }
    c.drawImage(outCanvas, pad, pad, up, up);
    stickerCanvas.width = stickerCanvas.height = full;
    const ctx = stickerCanvas.getContext("2d");
    ctx.shadowColor = "rgba(0,0,0,.45)"; ctx.shadowBlur = up * 0.05; ctx.shadowOffsetY = up * 0.02;
    ctx.drawImage(cut, 0, 0);
    stickerCanvas.scale = up / full;  // the share of the canvas the picture itself fills
  }

  function coverRect(sw, sh, dw, dh) {
    const s = Math.max(dw / sw, dh / sh);
    return [(dw - sw * s) / 2, (dh - sh * s) / 2, sw * s, sh * s];
  }

  function stickerRect(w, h) {
    const sz = state.scene.size * h;
    return [state.scene.cx * w - sz / 2, state.scene.cy * h - sz / 2, sz, sz];
  }

  function paintScene(ctx, w, h) {
    const sc = state.scene;
    const src = sc.bg === "camera" ? els.video : sc.image;
    ctx.fillStyle = "#111"; ctx.fillRect(0, 0, w, h);
    const sw = src ? (src.videoWidth || src.naturalWidth || src.width) : 0;
    const sh = src ? (src.videoHeight || src.naturalHeight || src.height) : 0;
    if (sw && sh) {
      const [x, y, dw, dh] = coverRect(sw, sh, w, h);
      if (sc.bg === "camera") {  // mirrored, like a selfie camera
        ctx.save(); ctx.translate(w, 0); ctx.scale(-1, 1); ctx.drawImage(src, w - x - dw, y, dw, dh); ctx.restore();
      } else {
        ctx.drawImage(src, x, y, dw, dh);
      }
    }
    if (!state.hasOutput) return;
    const [x, y, s] = stickerRect(w, h);
    const full = s / stickerCanvas.scale, off = (full - s) / 2;
    ctx.imageSmoothingEnabled = true; ctx.imageSmoothingQuality = "high";
    ctx.drawImage(stickerCanvas, x - off, y - off, full, full);
  }

  function renderScene() { paintScene(els.scene.getContext("2d"), els.scene.width, els.scene.height); }

  function cameraLoop() {
    if (state.scene.bg !== "camera") { state.scene.raf = 0; return; }
    renderScene();
    state.scene.raf = requestAnimationFrame(cameraLoop);
  }

  function scenePoint(e) {
    const r = els.scene.getBoundingClientRect();
    return [(e.clientX - r.left) / r.width, (e.clientY - r.top) / r.height];
  }

  els.scene.addEventListener("pointerdown", (e) => {
    const [px, py] = scenePoint(e);
    const sc = state.scene, aspect = els.scene.width / els.scene.height;
    const half = sc.size / 2;
    const inside = Math.abs(px - sc.cx) * aspect < half && Math.abs(py - sc.cy) < half;
    if (!inside) { sc.cx = px; sc.cy = py; }  // a tap elsewhere places the sticker there
    sc.drag = { id: e.pointerId, dx: sc.cx - px, dy: sc.cy - py };
    els.scene.setPointerCapture(e.pointerId); els.scene.classList.add("dragging");
    renderScene();
  });
  els.scene.addEventListener("pointermove", (e) => {
    const sc = state.scene;
    if (!sc.drag || e.pointerId !== sc.drag.id) return;
    const [px, py] = scenePoint(e);
    sc.cx = Math.min(1, Math.max(0, px + sc.drag.dx)); sc.cy = Math.min(1, Math.max(0, py + sc.drag.dy));
    renderScene();
  });
  const endDrag = () => { state.scene.drag = null; els.scene.classList.remove("dragging"); };
  els.scene.addEventListener("pointerup", endDrag);
  els.scene.addEventListener("pointercancel", endDrag);
  els.scene.addEventListener("wheel", (e) => {
    e.preventDefault();
    state.scene.size = Math.min(1.4, Math.max(0.15, state.scene.size * Math.exp(-e.deltaY * 0.0015)));
    renderScene();
  }, { passive: false });

  $("border-on").addEventListener("change", (e) => {
    state.scene.border = e.target.checked;
    if (state.hasOutput) { buildSticker(); renderScene(); }
  });

  function loadImage(url) {
    return new Promise((resolve, reject) => {
      const img = new Image();
      img.onload = () => resolve(img);
      img.onerror = () => reject(new Error(`cannot load ${url}`));
      img.src = url;
    });
  }

  function setBackgroundButton(which) {
    for (const b of document.querySelectorAll("#bg-choice button")) {
      const on = b.dataset.bg === which;
      b.classList.toggle("on", on); b.setAttribute("aria-checked", String(on));
    }
  }

  function stopCamera() {
    const stream = els.video.srcObject;
    if (stream) { stream.getTracks().forEach((t) => t.stop()); els.video.srcObject = null; }
  }

  async function useBackground(which) {
    const sc = state.scene;
    if (which === "photo") { $("photo").click(); return; }
    if (which === "camera") {
      try {
        if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
          throw new Error("this browser allows the camera only on localhost or https");
        }
        const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720 }, audio: false });
        els.video.srcObject = stream; await els.video.play();
        sc.bg = "camera"; setBackgroundButton("camera");
        if (!sc.raf) cameraLoop();
      } catch (err) {
        toast(`Camera unavailable: ${err.message}`);
      }
      return;
    }
    stopCamera();
    sc.bg = "default"; sc.image = state.defaultBackground; setBackgroundButton("default"); renderScene();
  }

  for (const b of document.querySelectorAll("#bg-choice button")) {
    b.addEventListener("click", () => useBackground(b.dataset.bg));
  }
  $("photo").addEventListener("change", async (e) => {
    const file = e.target.files && e.target.files[0];
    if (!file) return;
    const url = URL.createObjectURL(file);
    try {
      const img = await loadImage(url);
      stopCamera();
      state.scene.bg = "photo"; state.scene.image = img; setBackgroundButton("photo"); renderScene();
    } catch (err) {
      toast(`Not an image the browser can read: ${file.name}`);
    }
    e.target.value = "";
  });

  // ---------------------------------------------------------------- saving

  function stamp() {
    const d = new Date(), p = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
  }

  function download(canvas, name) {
    canvas.toBlob((blob) => {
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob); a.download = name;
      document.body.appendChild(a); a.click(); a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 5000);
    }, "image/png");
  }

  const stem = () => state.model.file.replace(/\.[^.]+$/, "");
  $("save").addEventListener("click", () => { if (state.hasOutput) download(outCanvas, `${stem()}-${stamp()}.png`); });
  $("save-scene").addEventListener("click", () => {
    if (!state.hasOutput) return;
    const sc = state.scene, src = sc.bg === "camera" ? els.video : sc.image;
    const sh = src ? (src.videoHeight || src.naturalHeight || src.height) : 768;
    const c = document.createElement("canvas");  // the stage's 4:3 framing, at the background's resolution
    c.height = Math.max(480, Math.min(1536, sh));
    c.width = Math.round(c.height * els.scene.width / els.scene.height);
    paintScene(c.getContext("2d"), c.width, c.height);
    download(c, `${stem()}-sticker-${stamp()}.png`);
  });

  // ---------------------------------------------------------------- trace mode

  function tintExample(img) {
    traceSource.width = img.naturalWidth; traceSource.height = img.naturalHeight;
    const ctx = traceSource.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(img, 0, 0);
    const data = ctx.getImageData(0, 0, traceSource.width, traceSource.height);
    const px = data.data;
    for (let i = 0; i < px.length; i += 4) {  // white strokes on black → light blue strokes, alpha from ink
      const ink = px[i];
      px[i] = 124; px[i + 1] = 199; px[i + 2] = 255; px[i + 3] = Math.min(255, Math.round(ink * 0.8));
    }
    ctx.putImageData(data, 0, 0);
  }

  function drawTrace() {
    const ctx = els.trace.getContext("2d");
    ctx.clearRect(0, 0, els.trace.width, els.trace.height);
    if (!state.trace.image) return;
    ctx.imageSmoothingEnabled = true; ctx.imageSmoothingQuality = "high";
    ctx.filter = `blur(${(0.55 * els.trace.width / traceSource.width).toFixed(2)}px)`;  // soften the pixel steps
    ctx.drawImage(traceSource, 0, 0, els.trace.width, els.trace.height);
    ctx.filter = "none";
  }

  function setTraceOn(on) {
    state.trace.on = on;
    $("trace-on").checked = on;
    els.trace.classList.toggle("off", !on);
    $("thumbs").classList.toggle("disabled", !on);
    const ex = state.trace.example;
    $("trace-credit").textContent = on && ex ? `${ex.label} (${ex.credit})` : "Trace off: draw freehand";
  }

  async function chooseExample(ex) {
    state.trace.example = ex;
    for (const b of $("thumbs").children) b.classList.toggle("on", b.dataset.id === ex.id);
    try {
      const img = await loadImage(ex.url);
      if (state.trace.example !== ex) return;
      state.trace.image = img; tintExample(img); drawTrace();
    } catch (err) {
      toast(err.message);
    }
    setTraceOn(true);
  }

  function buildThumbs(examples) {
    const box = $("thumbs");
    box.textContent = "";
    for (const ex of examples) {
      const b = document.createElement("button");
      b.dataset.id = ex.id; b.title = `${ex.label} (${ex.credit})`; b.setAttribute("role", "option");
      const img = document.createElement("img"); img.src = ex.url; img.alt = ex.label;
      b.appendChild(img);
      b.addEventListener("click", () => chooseExample(ex));
      box.appendChild(b);
    }
  }

  $("trace-on").addEventListener("change", (e) => setTraceOn(e.target.checked));

  // ---------------------------------------------------------------- models and numbers

  const fmtBytes = (n) => n.toLocaleString("en-US");
  const esc = (v) => String(v).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);  // names come from model files

  function showModelFacts(m) {
    $("n-file").innerHTML = `<code>${esc(m.file)}</code> <span class="muted">${esc(m.group)}/ · ${esc(m.describe)}</span>`;
    $("n-runtime").textContent = `${m.runtime} on this computer, this exact file`;
    $("out-kind").textContent = m.alpha ? "RGBA over a checkerboard" : "RGB (no alpha)";
    $("foot-model").textContent = "";
  }

  function showReport(m, r) {
    if (state.model !== m) return;
    const share = r.fp16_bytes / r.budget_bytes;
    $("n-size").textContent = `${(r.fp16_bytes / 1e6).toFixed(2)} MB after fp16 of ${(r.budget_bytes / 1e6).toFixed(0)} MB ` +
      `(file ${fmtBytes(r.file_bytes)} bytes)`;
    const bar = $("n-size-bar");
    bar.style.width = `${Math.min(100, Math.max(1.5, share * 100)).toFixed(1)}%`;
    bar.classList.toggle("over", share > 1);
    const verdict = r.passed ? '<span class="badge pass">PASS</span>' : '<span class="badge fail">FAIL</span>';
    const issues = r.findings.slice(0, 3).map((f) => `<div class="muted">${esc(f.code)} ${esc(f.message)}</div>`).join("");
    $("n-verdict").innerHTML = `${verdict}Lens Studio ${esc(r.ls_version)} · ${r.errors} error(s), ${r.warnings} warning(s)${issues}`;
    $("check-version").textContent = `snapcheck check --ls-version ${r.ls_version}`;
    const rate = state.config.rate;
    const rows = r.estimates.map((e) => {
      const cls = e.model_fps >= rate ? "ok" : "low";
      const [lo, hi] = e.latency_range_ms;
      return `<tr><td>${esc(e.device_name)}</td><td>${esc(e.backend.replace("_", " "))}</td>` +
        `<td>${e.latency_ms.toFixed(1)} <span class="range">${lo.toFixed(0)}–${hi.toFixed(0)}</span></td>` +
        `<td class="${cls}">${e.model_fps.toFixed(0)}</td><td>${e.fps.toFixed(0)}</td></tr>`;
    });
    $("n-phones").innerHTML = rows.length ? rows.join("") :
      '<tr><td colspan="5" class="muted">no estimate for this file</td></tr>';
  }

  async function loadReport(m) {
    $("n-verdict").textContent = "checking…";
    try {
      const res = await fetch(`/api/report?model=${encodeURIComponent(m.id)}`);
      const body = await res.json();
      if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
      showReport(m, body);
    } catch (err) {
      $("n-verdict").textContent = `check failed: ${err.message}`;
    }
  }

  function selectModel(id) {
    const m = state.config.models.find((x) => x.id === id);
    if (!m) return;
    if (state.model && state.model !== m) {  // the figures describe the model on show
      for (const k of ["latencies", "strokeLatencies", "strokeEndLatencies", "modelMs", "rtts", "timeline"]) state[k] = [];
      $("latency").textContent = "Stroke → picture: draw to measure";
      $("model-ms").textContent = $("rtt").textContent = "–";
    }
    state.model = m;
    $("model").value = id;
    modelCanvas.width = modelCanvas.height = m.size;
    showBrush(); showModelFacts(m); redrawStrokes();
    state.hasOutput = false; drawOutput(); renderScene();
    $("out-hint").classList.remove("gone");
    loadReport(m);
    if (state.strokes.length) changed(performance.now(), true);
  }

  function buildPicker(models) {
    const sel = $("model");
    sel.textContent = "";
    const groups = new Map();
    for (const m of models) {
      if (!groups.has(m.group)) {
        const g = document.createElement("optgroup"); g.label = m.group; groups.set(m.group, g); sel.appendChild(g);
      }
      const o = document.createElement("option");
      o.value = m.id; o.textContent = `${m.label} (${m.runtime})`;
      groups.get(m.group).appendChild(o);
    }
    sel.addEventListener("change", () => selectModel(sel.value));
  }

  // ---------------------------------------------------------------- misc

  let toastTimer = 0;
  function toast(msg) {
    const t = $("toast");
    t.textContent = msg; t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, 4000);
  }

  async function start() {
    const res = await fetch("/api/config");
    state.config = await res.json();
    $("rate-max").textContent = String(state.config.rate);
    if (!state.config.camera) {
      const cam = $("bg-camera");
      cam.disabled = true; cam.title = "Start with snapcheck preview --camera to use the webcam";
    }
    connect().catch((err) => toast(err.message));
    buildPicker(state.config.models);
    buildThumbs(state.config.examples);
    selectModel(state.config.default);
    layout();
    new ResizeObserver(() => layout()).observe($("draw-stage"));
    setInterval(updateLive, 200);
    await painted();  // the first frame with the canvas and its handlers in place
    state.readyAt = performance.now();
    document.body.dataset.ready = "1";
    const bg = loadImage("/assets/background.jpg").then((img) => {
      state.defaultBackground = img;
      if (state.scene.bg === "default") { state.scene.image = img; renderScene(); }
    });
    const first = state.config.examples[0];
    await Promise.all([bg, first ? chooseExample(first) : null]);
  }

  window.snapPreview = {
    state,
    rateNow,
    percentile,
    inputBytes: () => Array.from(readInput()),
    outputPixels: () => (state.hasOutput ?
      { width: outCanvas.width, height: outCanvas.height,
        rgba: Array.from(outCanvas.getContext("2d").getImageData(0, 0, outCanvas.width, outCanvas.height).data) } : null),
    stats: () => ({
      readyAt: state.readyAt, rate: state.config && state.config.rate, inferences: state.starts.length,
      starts: state.starts.slice(), latencies: state.latencies.slice(), strokeLatencies: state.strokeLatencies.slice(),
      strokeEndLatencies: state.strokeEndLatencies.slice(),
      modelMs: state.modelMs.slice(), rtts: state.rtts.slice(), timeline: state.timeline.slice(), errors: state.errors, version: state.version,
      pending: state.pending.length, inflight: state.inflight, dirty: state.dirty, model: state.model && state.model.id,
      traceOn: state.trace.on, traceExample: state.trace.example && state.trace.example.id, hasOutput: state.hasOutput,
    }),
  };

  start().catch((err) => toast(`Could not start: ${err.message}`));
})();
