"""The daily tool's targets: `pre-commit run` on a repository with two models (<= 2 s), and the grouped terminal
report of a model with 40 identical findings (<= 25 rows at 80 columns).

The repository is the one docs/ci.md sets up: the shipped catface-s.tflite and catface-s.onnx, a pyproject.toml
selecting 5.x and suppressing one code with a reason, and the `snapcheck-installed` hook of this checkout. Each
round times, interleaved: `pre-commit run --all-files` (the target), `snapcheck check --quiet` on the same two
files (the hook's own work, the baseline), and `snapcheck --version` (a bare start). Medians are reported, with
the ratio hook / bare check of the same run. A second figure times the ONNX check path's import of `onnx` with the
installed ml_dtypes (the constraints pin it below 0.6).

    bench/quiet.sh .venv/bin/python bench/ci_kit.py [--rounds 7] [--out out/bench/ci_kit.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "tests"))

PYPROJECT = """[tool.snapcheck]
ls-version = "5.x"

[[tool.snapcheck.suppress]]
code = "SC505"
reason = "NCHW input: Lens Studio converts it"
"""


def _timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}): {p.stdout[-500:]} {p.stderr[-500:]}")
    return dt


def setup(folder: Path) -> tuple[Path, dict[str, str]]:
    repo = folder / "lens"
    (repo / "models").mkdir(parents=True)
    for name in ("catface-s.tflite", "catface-s.onnx"):
        shutil.copy(ROOT / "models" / "catface-s" / name, repo / "models" / name)
    (repo / "pyproject.toml").write_text(PYPROJECT)
    rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n- repo: {ROOT}\n  rev: {rev.stdout.strip()}\n  hooks:\n  - id: snapcheck-installed\n")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "PRE_COMMIT_HOME": str(folder / "home"),
           "PRE_COMMIT_COLOR": "never"}
    for args in (["init", "-q"], ["add", "-A"]):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "pre_commit", "run", "--all-files"], cwd=repo, env=env,
                   capture_output=True)  # the first run clones the hook repository
    return repo, env


def grouped_rows(folder: Path) -> tuple[int, int]:
    from daily_fixtures import hardswish_chain

    model = hardswish_chain(folder / "hs40.onnx", n=40)
    p = subprocess.run([str(BIN / "snapcheck"), "check", str(model)], capture_output=True, text=True,
                       env={**os.environ, "COLUMNS": "80"})
    lines = p.stdout.splitlines()
    return len(lines), sum(max(1, math.ceil(len(x) / 80)) for x in lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "bench" / "ci_kit.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as td:
        repo, env = setup(Path(td))
        cmds = {"pre-commit run": [sys.executable, "-m", "pre_commit", "run", "--all-files"],
                "snapcheck check --quiet": [str(BIN / "snapcheck"), "check", "--quiet", "models/catface-s.tflite",
                                            "models/catface-s.onnx"],
                "snapcheck --version": [str(BIN / "snapcheck"), "--version"]}
        times: dict[str, list[float]] = {k: [] for k in cmds}
        for _ in range(args.rounds):
            for k, cmd in cmds.items():
                times[k].append(_timed(cmd, repo, env))
        lines, rows = grouped_rows(Path(td))
    onnx_import = subprocess.run([sys.executable, "-c", "import time; t=time.perf_counter(); import onnx; "
                                  "print(time.perf_counter()-t)"], capture_output=True, text=True, check=True)
    import ml_dtypes

    med = {k: statistics.median(v) for k, v in times.items()}
    result = {"rounds": args.rounds, "load_average": os.getloadavg(), "median_s": med,
              "hook_over_check": med["pre-commit run"] / med["snapcheck check --quiet"],
              "grouped_report_40_findings": {"lines": lines, "rows_at_80_columns": rows},
              "import_onnx_s": float(onnx_import.stdout), "ml_dtypes": ml_dtypes.__version__}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
