"""Replay recorded sittings with the code as it is and with each variant kept in ``bench/variants/``, side by side.

A variant left out on one CPU may be what another CPU needs (docs/bench/estimator.md: the memory share of
session 46 was first left out, then landed). On a new machine, after a same-sitting record
(``bench/estimator_accuracy.py --same-sitting``, then ``bench/estimator_replay.py --save``), this scores every
variant on it in one command: each patch is applied to a scratch copy of the committed ``snapcheck`` and ``bench``
(``git archive HEAD``, the working tree's ``rules/`` linked in) and ``bench/estimator_replay.py`` runs there on the
same records. Prints per variant and set the share within ±10 % and the mean absolute log error; a patch that no
longer applies is reported and skipped. Records of an emulated CPU (``bench/records/avx2/``) need the whole
command under ``bench/hide_avx512.sh``, whose preload the replays inherit.

    .venv/bin/python bench/replay_variants.py [RECORD.json ...] [--variants PATCH ...] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = ROOT / "bench" / "variants"


def committed_code() -> bytes:
    """The committed ``snapcheck`` and ``bench``, as a tar archive (``git archive HEAD``)."""
    return subprocess.run(["git", "-C", str(ROOT), "archive", "HEAD", "snapcheck", "bench"], capture_output=True,
                          check=True).stdout


def scratch_tree(dest: Path, patch: Path | None, archive: bytes) -> str:
    """``archive`` (``committed_code``) unpacked under ``dest`` with ``patch`` applied; '' or why it failed."""
    dest.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    (dest / "rules").symlink_to(ROOT / "rules")
    if patch is None:
        return ""
    done = subprocess.run(["git", "apply", "-p1", str(patch)], cwd=dest, capture_output=True, text=True)
    return "" if done.returncode == 0 else ((done.stdout + done.stderr).strip().splitlines() or ["git apply failed"])[0]


def replay(tree: Path, records: list[str]) -> dict:
    """``bench/estimator_replay.py``'s scores over ``records`` with the code under ``tree``."""
    out = tree / "replay.json"
    env = {**os.environ, "PYTHONPATH": str(tree)}
    subprocess.run([sys.executable, str(tree / "bench" / "estimator_replay.py"), *records, "--json", str(out)],
                   env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())["all"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("records", nargs="*", help="record files (default: every one in bench/records/)")
    ap.add_argument("--variants", nargs="*", default=None, help="patches (default: every bench/variants/*.patch)")
    ap.add_argument("--json", default=None, help="write each variant's scores here")
    args = ap.parse_args()
    records = [str(Path(r).resolve()) for r in args.records]
    patches = [Path(p).resolve() for p in args.variants] if args.variants is not None \
        else sorted(VARIANTS.glob("*.patch"))
    results: dict[str, dict] = {}
    archive = committed_code()
    with tempfile.TemporaryDirectory(prefix="snapcheck-variants-") as tmp:
        for i, patch in enumerate([None, *patches]):
            name = "HEAD" if patch is None else patch.stem
            tree = Path(tmp) / f"v{i}"
            why = scratch_tree(tree, patch, archive)
            if why:
                print(f"{name}: does not apply to HEAD ({why}); skipped", file=sys.stderr)
                continue
            print(f"replaying {name} ...", file=sys.stderr, flush=True)
            results[name] = replay(tree, records)
    sets = sorted({s for r in results.values() for s in r}, key=lambda s: (s == "all", s))
    print("| variant | " + " | ".join(sets) + " |\n|---|" + "---|" * len(sets))
    for name, scores in results.items():
        cells = [f"{scores[s]['within_10pct']:.0%}, {scores[s]['mean_abs_log']:.4f}" if s in scores else ""
                 for s in sets]
        print(f"| {name} | " + " | ".join(cells) + " |")
    if args.json:
        from snapcheck.fsutil import atomic_write_json

        atomic_write_json(args.json, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
