"""Record what snapcheck outputs, to diff two checkouts after a change meant to keep behaviour (``diff -r A B``).

    .venv/bin/python tools/behaviour_snapshot.py OUT [--repo CHECKOUT] [--calibration]

Writes OUT/reports/: ``snapcheck check --ls-version all`` (JSON, and the terminal text at 110 columns) of every
file in ../shared/corpus/ and of the shipped models, each with its exit code and stderr. With ``--calibration``
(run it with ``SNAPCHECK_CACHE`` pointing at a cache of timings both checkouts share), also fits the profile on
the cached timings and reruns the accuracy benchmark on them, on a reduced set that a shared 2-core machine
times in a few minutes the first time: OUT/profile-micro.json (``snapcheck calibrate --per-kind 4 --shapes 0``),
OUT/profile-reduced.json (the same roofline, then the lookup on 40 shapes without the tail and the heavy set,
then 6 random networks) and OUT/accuracy.txt (``bench/estimator_accuracy.py`` on five held-out models).
``--repo`` runs another checkout's code (its ``snapcheck/``) with this environment.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
ACCURACY_MODELS = ("mnv2-0.35-96,mnv1-0.25-128,unet-128-w16-d3-transpose,gen-128-a0.25-sep-nearest,"
                   "resnet-128-w32-1-1-1-1")
REDUCED = """
import sys
from pathlib import Path
try:
    import snapcheck.calibrate.shapes as shapes
except ImportError:  # a checkout from before the calibrate package
    import snapcheck.calibrate_shapes as shapes
full = shapes.lookup_specs
shapes.lookup_specs = lambda n=1500, seed=0, per_kind=24, tail=0, heavy=0: full(n, seed, per_kind, tail=0, heavy=0)
from snapcheck.calibrate import run_calibration
run_calibration(Path(sys.argv[1]), per_kind=4, shapes=40, nets=6)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--repo", type=Path, default=HERE, help="the checkout whose code runs (default: this one)")
    ap.add_argument("--calibration", action="store_true", help="also refit the profile and rerun the accuracy bench")
    args = ap.parse_args()
    repo = args.repo.resolve()
    # run in the checkout, so that its snapcheck/ is the one imported (python -m and -c put the cwd first)
    env = {**os.environ, "PYTHONPATH": str(repo), "COLUMNS": "110", "NO_COLOR": "1", "TERM": "dumb",
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    reports = args.out / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    corpus = HERE.parent / "shared" / "corpus"
    files = sorted(p for p in corpus.iterdir() if p.is_file()) if corpus.is_dir() else []
    files += sorted(p for p in (HERE / "models").rglob("*") if p.suffix in (".tflite", ".onnx"))
    for f in files:
        for fmt, ext in (("json", "json"), ("terminal", "txt")):
            done = subprocess.run([sys.executable, "-m", "snapcheck", "check", str(f), "--ls-version", "all",
                                   "--format", fmt], capture_output=True, text=True, env=env, cwd=repo)
            (reports / f"{f.name}.{ext}").write_text(done.stdout)
            (reports / f"{f.name}.{ext}.meta").write_text(f"exit {done.returncode}\n{done.stderr}")
    print(f"{len(files)} files checked -> {reports}")
    if not args.calibration:
        return
    quiet = {"capture_output": True, "text": True, "env": env, "cwd": repo, "check": True}
    subprocess.run([sys.executable, "-m", "snapcheck", "calibrate", "--out", str(args.out / "profile-micro.json"),
                    "--per-kind", "4", "--shapes", "0"], **quiet)
    subprocess.run([sys.executable, "-c", REDUCED, str(args.out / "profile-reduced.json")], **quiet)
    done = subprocess.run([sys.executable, str(repo / "bench" / "estimator_accuracy.py"), "--only", ACCURACY_MODELS],
                          **quiet)
    (args.out / "accuracy.txt").write_text(done.stdout)
    print(f"profiles and accuracy -> {args.out}")


if __name__ == "__main__":
    main()
