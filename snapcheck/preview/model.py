"""What the preview can run: a .tflite or .onnx file with one square image input and an RGB or RGBA output.

A model's I/O is read with snapcheck's own readers (no runtime), so an unfit file is refused in one line
before anything is loaded. Value ranges come from the export sidecar ``NAME.json`` when there is one
(``input.range``, ``output.range``, ``output.alpha_channel``, as ``snapcheck export`` writes them), else
the pix2pix convention: [-1, 1] in and out, channel 4 is alpha.

``load_generator`` is the preview's only call into a model runtime.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from snapcheck.errors import InputError
from snapcheck.models_gate import MODEL_SUFFIXES, declared_versions, model_folders
from snapcheck.paths import repo_root

DEFAULT_RANGE = (-1.0, 1.0)
DEFAULT_LS_VERSION = "5.x"
REFERENCE_DEVICES = ("iphone6", "galaxy_s6")  # the seed's low-end phones


def load_generator(path: Path) -> Callable[[np.ndarray], np.ndarray]:
    """Batches (N, S, S, 1) in the model's input range → outputs (N, H, W, C) float32, with the runtime
    that `snapcheck evaluate` uses (LiteRT for .tflite, onnxruntime for .onnx).

    The one place the preview runs a model: swap the runtime here.
    """
    from snapcheck.gan.evaluate import load_predictor

    return load_predictor(path)


def shipped_models_dir() -> Path | None:
    """``models/`` of the source checkout, when there is one."""
    root = repo_root()
    return root / "models" if root is not None and (root / "models").is_dir() else None


def pick_file(folder: Path) -> Path:
    """The model file to show from a folder: its first .tflite (the card's estimates), else its first .onnx."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in MODEL_SUFFIXES)
    if not files:
        raise InputError(folder, "no .tflite or .onnx file in this folder")
    return next((p for p in files if p.suffix.lower() == ".tflite"), files[0])


def resolve_model(model: Path | None) -> Path:
    """``MODEL`` as given (a file, or a folder holding one), or the shipped ``models/catface/``."""
    if model is None:
        shipped = shipped_models_dir()
        if shipped is None or not (shipped / "catface").is_dir():
            raise InputError(None, "no shipped model found (models/catface/ is in the source checkout); pass MODEL")
        model = shipped / "catface"
    if model.is_dir():
        return pick_file(model)
    if not model.is_file():
        raise InputError(model, "no such model file or folder")
    return model


def _channels_last(shape: tuple[int, ...], fmt: str) -> bool:
    """Whether a 4-D image tensor is NHWC (TFLite always; ONNX when the last axis looks like channels)."""
    if fmt == "tflite":
        return True
    return not (shape[1] in (1, 3, 4) and shape[3] not in (1, 3, 4))


def _sidecar(path: Path) -> dict[str, Any]:
    side = path.with_suffix(".json")
    try:
        data = json.loads(side.read_text(encoding="utf-8")) if side.is_file() else {}
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _range(section: Any) -> tuple[float, float]:
    r = section.get("range") if isinstance(section, dict) else None
    if isinstance(r, list) and len(r) == 2 and all(isinstance(v, (int, float)) for v in r) and r[0] < r[1]:
        return float(r[0]), float(r[1])
    return DEFAULT_RANGE


@dataclass(frozen=True)
class ModelSpec:
    """The I/O of a previewable model, read from the file (and its sidecar)."""

    path: Path
    format: str
    size: int  # input side (square)
    out_height: int
    out_width: int
    out_channels: int
    in_range: tuple[float, float] = DEFAULT_RANGE
    out_range: tuple[float, float] = DEFAULT_RANGE
    alpha_channel: int | None = None

    @classmethod
    def read(cls, path: str | Path) -> "ModelSpec":
        """Read and validate ``path``; ``InputError`` saying what does not fit."""
        from snapcheck.api import load

        path = Path(path)
        graph = load(path)
        sg = graph.subgraphs[0]
        inputs = [sg.tensors[i] for i in sg.inputs if not sg.tensors[i].is_constant]
        outputs = [sg.tensors[i] for i in sg.outputs]
        if len(inputs) != 1:
            raise InputError(path, f"the preview needs one image input, the model has {len(inputs)}")
        shape = inputs[0].shape
        if shape is None or len(shape) != 4:
            raise InputError(path, f"the input {inputs[0].name!r} is not a 4-D image (shape {shape})")
        last = _channels_last(shape, graph.format)
        h, w, c = (shape[1], shape[2], shape[3]) if last else (shape[2], shape[3], shape[1])
        if c != 1 or h != w or h < 8:
            raise InputError(path, f"the preview draws a square 1-channel outline; input {inputs[0].name!r} is "
                                   f"{h}×{w}×{c}")
        out = outputs[0].shape if outputs else None
        if out is None or len(out) != 4:
            raise InputError(path, f"the preview shows a 4-D image output; the model's first output is {out}")
        oh, ow, oc = (out[1], out[2], out[3]) if last else (out[2], out[3], out[1])
        if oc not in (3, 4) or min(oh, ow) < 1:
            raise InputError(path, f"the output must be RGB or RGBA; it is {oh}×{ow}×{oc}")
        meta = _sidecar(path)
        alpha = meta.get("output", {}).get("alpha_channel", 3) if isinstance(meta.get("output"), dict) else 3
        return cls(path=path, format=graph.format, size=int(h), out_height=int(oh), out_width=int(ow),
                   out_channels=int(oc), in_range=_range(meta.get("input")), out_range=_range(meta.get("output")),
                   alpha_channel=alpha if oc == 4 and isinstance(alpha, int) and 0 <= alpha < 4 else None)

    def to_input(self, strokes: np.ndarray) -> np.ndarray:
        """Binary strokes (S, S), nonzero = ink → the model's input batch (1, S, S, 1)."""
        lo, hi = self.in_range
        return np.where(np.asarray(strokes) > 0, hi, lo).astype(np.float32)[None, ..., None]

    def to_rgba(self, output: np.ndarray) -> np.ndarray:
        """One output (H, W, C) in the model's output range → RGBA uint8 (alpha 255 for RGB models)."""
        lo, hi = self.out_range
        unit = np.clip((np.asarray(output, np.float32) - lo) / (hi - lo), 0.0, 1.0)
        if self.alpha_channel is None:
            rgb, alpha = unit[..., :3], np.ones(unit.shape[:2] + (1,), np.float32)
        else:
            rgb = np.delete(unit, self.alpha_channel, axis=-1)[..., :3]
            alpha = unit[..., self.alpha_channel:self.alpha_channel + 1]
        return (np.concatenate([rgb, alpha], axis=-1) * 255.0 + 0.5).astype(np.uint8)

    def describe(self) -> str:
        kind = "RGBA" if self.alpha_channel is not None else "RGB"
        return (f"{self.size}×{self.size} outline in [{self.in_range[0]:g}, {self.in_range[1]:g}] → "
                f"{self.out_height}×{self.out_width} {kind}")


@dataclass
class Generator:
    """A previewable model: its spec, and its runtime loaded on first use (calls are serialised)."""

    spec: ModelSpec
    _run: Callable[[np.ndarray], np.ndarray] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def open(cls, path: str | Path) -> "Generator":
        return cls(ModelSpec.read(path))

    def load(self) -> None:
        with self._lock:
            if self._run is None:
                self._run = load_generator(self.spec.path)

    def __call__(self, strokes: np.ndarray) -> tuple[np.ndarray, float]:
        """Binary strokes (S, S) → (RGBA uint8 (H, W, 4), milliseconds the model took)."""
        self.load()
        x = self.spec.to_input(strokes)
        with self._lock:
            t0 = time.perf_counter()
            y = self._run(x)
            ms = (time.perf_counter() - t0) * 1e3
        return self.spec.to_rgba(y[0]), ms

    def batch(self, strokes: list[np.ndarray]) -> list[np.ndarray]:
        """Several outlines → their RGBA images."""
        return [self(s)[0] for s in strokes]


def model_choices(current: Path) -> list[Path]:
    """``current`` and every model file shipped under ``models/*/``, each once, shipped ones first."""
    shipped = shipped_models_dir()
    files = [f for fs in model_folders(shipped).values() for f in fs] if shipped is not None else []
    resolved = {f.resolve() for f in files}
    return files + ([current] if current.resolve() not in resolved else [])


def ls_version_for(path: Path) -> str:
    """The first Lens Studio version the model's folder declares (``snapcheck.toml``), else 5.x."""
    try:
        return declared_versions(path.parent)[0]
    except ValueError:
        return DEFAULT_LS_VERSION


def check_summary(path: Path) -> dict[str, Any]:
    """snapcheck's verdict, sizes and reference-phone estimates for ``path``, as the page shows them."""
    from snapcheck.api import check_file

    version = ls_version_for(path)
    report = check_file(path, ls_version=version)
    counts = report.counts()
    return {
        "ls_version": version,
        "passed": report.passed,
        "errors": counts["error"],
        "warnings": counts["warning"],
        "findings": [{"code": f.code, "severity": f.severity, "message": f.message}
                     for f in report.findings if f.severity != "info"],
        "file_bytes": report.size.file_bytes,
        "fp16_bytes": report.size.fp16_bytes,
        "budget_bytes": report.size.budget_bytes,
        "estimates": [{k: e[k] for k in ("device", "device_name", "backend", "latency_ms", "latency_range_ms",
                                         "fps", "model_fps", "max_hz", "confidence")}
                      for e in report.estimates if e["device"] in REFERENCE_DEVICES],
    }
