"""``snapcheck calibrate``: fit the host's latency profile from timings of single kernels (and, opt-in, of
random networks) on this machine.

Three stages, each a module, each taking the profile so far and returning its part; the profile is written
once, at the end, by ``snapcheck.estimate.profiles.write_profile``:

1. the roofline (``fit.calibrate_roofline``): time the single-layer models of ``micro.micro_specs`` (every
   kernel kind of ``micro.KINDS``, fixed seed) and fit each kind's roofline;
2. the lookup (``shapes.calibrate_lookup``, ``shapes`` > 0): time ~2,000 more single layers, refit on them the
   roofline of the kinds whose own set is too small for it (``micro.Kind.lookup_roofline``: transposed convs)
   and fit the local residual table (``estimate.residual``);
3. the network correction (``nets.calibrate_network``, ``nets`` > 0, off by default): time random networks
   (``random_nets``) and fit an in-network correction (``estimate.network``). Off by default: on the median
   statistic the correction it picks does not carry over from random networks to real ones
   (docs/estimator.md);
4. the probes (``quick.reference``): time the probe set of ``--quick`` in this session, so that ``snapcheck
   calibrate --quick`` on another machine can compare its timings with these (``Profile.quick_reference``),
   and choose on its networks how widely to draw the estimate's range (``estimate.uncertainty``).

``quick.calibrate_quick`` (``snapcheck calibrate --quick``) is the other entry point: it adapts a profile
made by the stages above to a new CPU from the probes alone.

``harness`` holds what every stage shares: the timing statistic, the measurement cache (so an interrupted
stage resumes), the host fingerprint and the progress bar.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from snapcheck.calibrate import quick
from snapcheck.calibrate.fit import Sample, calibrate_roofline
from snapcheck.calibrate.nets import calibrate_network
from snapcheck.calibrate.shapes import SHAPES, calibrate_lookup
from snapcheck.estimate.profiles import write_profile
from snapcheck.estimate.roofline import Profile

__all__ = ["run_calibration"]


def run_calibration(out: Path, threads: int = 1, per_kind: int = 24, seed: int = 0, console: Any = None,
                    nets: int = 0, shapes: int = SHAPES) -> tuple[Profile, list[Sample]]:
    """Run the stages (resuming from their caches) and write the profile to ``out``: the roofline on the
    single-kernel set (``per_kind`` shapes of each kind), then the lookup on ``shapes`` more single layers,
    then the network correction on ``nets`` random networks, then the probes of ``--quick``. Returns the profile
    and the roofline's samples."""
    profile, samples = calibrate_roofline(threads, per_kind, seed, console)
    if shapes > 0:
        profile = calibrate_lookup(profile, shapes, seed, per_kind, threads, console=console) or profile
    if nets > 0:
        network, _ = calibrate_network(profile, nets, seed, threads, console=console)
        profile = dataclasses.replace(profile, network=network)
    profile = quick.reference(profile, threads, console)
    write_profile(out, profile)
    return profile, samples
