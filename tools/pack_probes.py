"""Rebuild ``snapcheck/calibrate/probes.zip``, the weightless probes ``calibrate --quick`` ships
(``calibrate.probe_pack``): every probe of ``quick.probe_specs`` converted afresh with TensorFlow (the ``tf`` extra,
about a minute) into a scratch folder, then packed. Run it when the probe specs change;
``tests/test_probe_pack.py`` fails until the pack and the specs agree.

    .venv/bin/python tools/pack_probes.py [--out PATH]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from snapcheck.calibrate.harness import build_missing, build_workers
from snapcheck.calibrate.probe_pack import PACK, pack
from snapcheck.calibrate.quick import build_probe, probe_specs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=PACK, help=f"where to write the pack (default: {PACK})")
    args = ap.parse_args()
    specs = probe_specs()
    with tempfile.TemporaryDirectory() as td:
        folder = Path(td)
        build_missing(specs, key=lambda s: s.key(), build=build_probe, folder=folder, workers=build_workers())
        cut = pack({s.key(): folder / f"{s.key()}.tflite" for s in specs}, out=args.out)
    print(f"packed {len(cut)} probes into {args.out} ({args.out.stat().st_size / 1e3:.0f} KB): "
          f"{sum(cut.values()) / 1e6:.0f} MB of weights left out")


if __name__ == "__main__":
    main()
