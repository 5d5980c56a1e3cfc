"""``snapcheck calibrate``: fit the host profile (``snapcheck.calibrate``); ``calibrate shapes`` and ``calibrate
nets`` run one stage alone on a saved profile. Imports stay inside the functions (every command module is
imported when the CLI starts, and ``snapcheck check`` must start fast)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Optional

import typer

from snapcheck.errors import InputError

calibrate_app = typer.Typer(invoke_without_command=True, no_args_is_help=False)


@calibrate_app.callback(invoke_without_command=True)
def calibrate(
    ctx: typer.Context,
    out: Optional[Path] = typer.Option(None, "--out", help="Where to write the profile (default: the shipped host "
                                       "profile; with --quick, this machine's: ~/.config/snapcheck/hosts)."),
    threads: int = typer.Option(1, "--threads", help="CPU threads used for timing."),
    per_kind: int = typer.Option(24, "--per-kind", help="Micro-benchmark shapes per kernel kind."),
    seed: int = typer.Option(0, "--seed", help="Seed of the shape draw."),
    shapes: int = typer.Option(1600, "--shapes", help="More single layers timed for the local residual table "
                                                       "(0: none)."),
    nets: int = typer.Option(0, "--nets", help="Random whole networks timed for the opt-in in-network correction "
                                               "(0: none, the default; 600 adds about an hour: docs/estimator.md)."),
    quick: bool = typer.Option(False, "--quick", help="On a new machine: time about 130 probes (2-5 minutes) and adapt the "
                                                      "shipped profile's kernel speeds to this CPU (saved for this "
                                                      "machine; phone estimates do not change)."),
    profile: Optional[Path] = typer.Option(None, "--profile", help="With --quick: the profile to adapt (default: "
                                                                    "the shipped one)."),
) -> None:
    """Fit the host latency profile. On a new machine, `--quick` (2-5 minutes) adapts the shipped profile to
    this CPU. Without it (profile authors, about an hour): time single-kernel micro-benchmarks and a dense set
    of single layers with LiteRT (with --nets, random whole networks too), and fit the roofline profile, its
    local residual lookup (and the in-network correction). Resumable: Ctrl-C keeps every finished timing."""
    if ctx.invoked_subcommand is not None:
        return
    if quick:
        _quick(profile, out, threads)
        return
    if threads < 1 or per_kind < 3 or nets < 0 or shapes < 0:
        raise InputError(None, "--threads must be >= 1, --per-kind >= 3, --shapes >= 0 and --nets >= 0")
    from snapcheck.calibrate import run_calibration
    from snapcheck.commands._common import on_interrupt
    from snapcheck.fsutil import writable_file
    from snapcheck.estimate.profiles import HOST_PROFILE

    console = _console()
    target = writable_file(out or HOST_PROFILE)
    on_interrupt("every finished timing is cached; run the same command again to resume")
    profile, samples = run_calibration(target, threads=threads, per_kind=per_kind, seed=seed, console=console,
                                       nets=nets, shapes=shapes)
    console.print(f"fitted {len(samples)} micro-benchmarks; overhead {profile.overhead_ms * 1e3:.1f} us; wrote {target}")
    for kind, f in profile.gflops.items():
        console.print(f"  {kind:16s} {f:8.1f} GFLOP/s  {profile.bandwidth(kind):7.1f} GB/s  "
                      f"{profile.kernel_us.get(kind, 0):6.2f} us/kernel")
    if profile.residual:
        m = profile.residual["meta"]
        console.print(f"lookup: {m['samples']} single layers; roofline alone {m['roofline_within_10pct']:.0%} within "
                      f"±10% of them, with the lookup (leave-one-out) {m['loo_within_10pct']:.0%}")
    if profile.network:
        m = profile.network.get("meta", {})
        console.print(f"network correction: {m.get('variant')} (ridge {m.get('ridge')}) on {m.get('networks')} random "
                      f"networks, cross-family {m.get('transfer_within_10pct', 0):.0%} within ±10%")


def _quick(profile: Path | None, out: Path | None, threads: int) -> None:
    """``calibrate --quick``: time the probes, adapt the profile, report the fit and write it for this machine."""
    if threads < 1:
        raise InputError(None, "--threads must be >= 1")
    from snapcheck.calibrate.quick import PASSES, calibrate_quick
    from snapcheck.fsutil import writable_file
    from snapcheck.estimate.profiles import NOISY, host_profile_path, load_host_profile, noise_note
    from snapcheck.estimate.kernels import REFERENCE_COPY_TYPES, REFERENCE_DECONV_RATE, channel_pad
    from snapcheck.estimate.roofline import STEM_CHANNELS, group_kind, profile_tile, speed_group

    console = _console()
    base, _ = _stage_profile(profile, None)
    target = writable_file(out or host_profile_path(), "--out" if out else "the host profile")  # before the minutes
    try:
        adapted, factors, rows = calibrate_quick(base, threads, console)
    except ValueError as exc:
        raise InputError(profile, str(exc)) from None
    _write(target, adapted)
    load_host_profile.cache_clear()
    q = adapted.meta["quick"]
    console.print(f"{q['probes']} probes timed in {q['minutes']:.1f} min on {adapted.meta['cpu']} against the profile's "
                  f"{base.meta.get('cpu') or base.meta.get('calibrated_on')}. Time factors (x < 1: faster here; the kinds' on their compute roofs):")
    counts: dict[str, int] = {}
    for r in rows:
        for k in {speed_group(k, base) for k in r.kernels} if len(r.kernels) == 1 else ():
            counts[k] = counts.get(k, 0) + 1
    tile = profile_tile(base)
    groups = {"beyond": f"weights > {base.feature_cache_bytes / 2**20:.0f} MB", "narrow": f"to <= {tile // 4} channels",
              "offtile": f"to < {2 * tile} channels off the {tile} tile", "stem": f"from < {STEM_CHANNELS} channels",
              "window": "windows over 9 taps"}
    label = {g: f"{kind}, {groups[sub]}" if sub else g for g in factors["speed"] for kind, _, sub in [g.partition(":")]}
    width = max([16, *map(len, label.values())])
    local = factors.get("local") or {}
    for kind, f in sorted(factors["speed"].items(), key=lambda t: t[1]):
        note = "; the fit's only: priced by the model measured below" if group_kind(kind) in local else ""
        console.print(f"  {label[kind]:{width}s} x{f:5.2f}  ({counts.get(kind, 0)} probes{note})")
    console.print(f"  {'other kinds':{width}s} x{factors['median']:5.2f}  (the median)\n"
                  f"  {'memory roofs':{width}s} x{factors['memory']:5.2f}  (every kind's cache bandwidth)\n"
                  f"  {'memory beyond':{width}s} x{factors.get('memory_far', factors['memory']):5.2f}  "
                  f"(traffic beyond the profile host's {base.cache_bytes / 2**20:.0f} MB cache: "
                  f"{far_note(factors.get('far_probes', 0))})\n"
                  f"  {'per-kernel cost':{width}s} x{factors['kernel_us']:5.2f}   per-inference overhead x{factors['overhead']:5.2f}\n"
                  f"  {'in-network':{width}s} x{factors['network']:5.2f}  (kernels in a network, by the share of "
                  f"their time their traffic takes: the median of the {len(factors['network_errors'])} network "
                  f"probes')")
    stream = factors.get("stream") or {}
    if stream:
        shares = ", ".join(f"{c:.0%} at {mb:.0f}" for mb, c in zip(stream["sizes_mb"], stream["cold"]))
        console.print(f"  weights the last-level cache does not keep: +{stream['ms_per_mb']:.3f} ms per MB per "
                      f"inference; share re-read by working set (MB): {shares} (chains of 1x1 convs)")
    beyond = factors.get("beyond") or {}
    if beyond:
        console.print(f"  memory-bound kernels' own traffic beyond the last-level cache: +{beyond['ms_per_mb']:.4f} ms "
                      f"per MB (the median of what the factors leave of {beyond['probes']} element-wise layers over "
                      "33-50 MB)")
    for key, what, networks, digits in (("cold", "activations read after the {mb} MB L2 has let them go",
                                          "networks of cells and dense blocks", 3),
                                         ("weights", "weights read from beyond the {mb} MB L2",
                                          "small weight-heavy networks", 4)):
        rate = factors.get(key) or {}  # ``quick.rate_per_cold_mb``'s result
        if rate:
            figures = ", ".join(f"{r:.{digits}f}" for r in rate["probes"])
            console.print(f"  {what.format(mb=round(rate['cache_bytes'] / 2**20))}: +{rate['ms_per_mb']:.{digits}f} ms "
                          f"per MB (the median of what the factors leave of {len(rate['probes'])} {networks}: {figures})")
    rows = factors.get("rows") or {}
    if rows:
        console.print(f"  broadcasting element-wise ops: {rows['out']:.1f} ns per row, {rows['in']:.1f} in place (a "
                      "per-channel multiply over a 224-px RGB image, one call per row of 3)")
    copies = [f"{op} {rows[key]:.1f}" for op, key in REFERENCE_COPY_TYPES.items() if rows.get(key)]
    if copies:
        console.print(f"  copies LiteRT runs on its own kernels, ns per step: {', '.join(copies)}")
    if rows.get(REFERENCE_DECONV_RATE):
        console.print(f"  transposed convs with a run-time output shape (LiteRT's own kernel): "
                      f"{1 / rows[REFERENCE_DECONV_RATE]:.1f} G multiply-adds/s")
    if adapted.gemm_tile and tile and adapted.gemm_tile != tile:
        console.print(f"  dense convs: this CPU's GEMM computes {adapted.gemm_tile} output channels at a time, the "
                      f"profile's lookup learned {tile}; a conv's partial tile is priced by its fill here "
                      f"(to 76 channels: x{channel_pad(76, adapted.gemm_tile) / channel_pad(76, tile):.2f})")
    rs, balance = adapted.restream, factors.get("restream") or {}
    if balance:
        how = f"measured on {len(balance['probes'])} conv probes that re-read theirs here" if balance["probes"] \
            else "the profile host's, moved by the memory and conv factors"
        console.print(f"  dense convs whose GEMM tile overflows the {rs['host_cache_bytes'] / 2**20:.0f} MB L2 re-read "
                      f"their weights per tile of rows: {rs['host_flops_per_byte']:.2f} FLOPs per byte re-read here "
                      f"({how}), {rs['flops_per_byte']:.2f} on the profile's host")
        if len(rs.get("host_curve") or []) > 1:
            console.print("    by the weights' size: "
                          + ", ".join(f"{v:.2f} at {mb:g} MB" for mb, v in rs["host_curve"]))
    for kind, m in local.items():
        extra = m.get("ms_per_cold_mmac", 0.0)
        cold = f" (with their weights from beyond the cache {1 / (m['ms_per_mmac'] + extra):.1f})" if extra else ""
        console.print(f"  {kind} kernels: priced by a model measured here, {1 / m['ms_per_mmac']:.1f} G multiply-adds/s"
                      f"{cold} + {m['ms_per_mb']:.3f} ms per MB of weights ({m['probes']} probes), not the profile's "
                      "shape model times a factor")
    lookup = q.get("host_lookup") or {}
    if lookup:
        console.print(f"  host lookup: what the factors leave of {lookup['probes']} single-layer probes moves the "
                      f"kernels near them (leave-one-out error {lookup['loo_mean_abs_log']:.3f} against "
                      f"{lookup['uncorrected_mean_abs_log']:.3f} uncorrected, in log time)")
    else:
        console.print("  host lookup: none (the probes' errors do not predict one another's here)")
    direct = q.get("direct") or {}
    if direct:
        console.print(f"  {direct['probes']} layers at well-known networks' shapes, priced by the factors alone: "
                      f"{100 * (math.exp(direct['median_abs_log']) - 1):.0f}% off at the median "
                      f"({100 * (math.exp(direct['median_log']) - 1):+.0f}% signed); the host lookup takes them in")
    worst = sorted(factors.get("transfer_error", {}).items(), key=lambda t: -t[1])[:3]
    if worst:
        console.print("host ranges widen where one factor fits a kind's probes worst: " + ", ".join(
            f"{kind} ±{100 * (math.exp(e) - 1):.0f}%" for kind, e in worst))
    noise = factors.get("noise") or {}
    if noise:
        widen = 100 * (math.exp(noise["sigma"]) - 1)
        console.print(f"this machine between the {noise.get('passes', PASSES)} passes: the median probe's timings "
                      f"differed by {noise['spread']:.1%} (max/min; host ranges widen by ±{widen:.1f}%)")
        if noise["spread"] > NOISY:
            console.print(f"[yellow]{noise_note(noise['spread'])} No estimate can be closer. Run `snapcheck "
                          "calibrate --quick` again when the machine is idle.[/]")
    used = "host estimates (`snapcheck bench`) on this machine use it" if target == host_profile_path() else \
        f"host estimates on this machine read {host_profile_path()}, not this file"
    console.print(f"the factors explain {q['probes_within_10pct']:.0%} of the single-kernel probes' changes within ±10%. "
                  f"Wrote {target}: {used}; phone estimates do not change (they derive from the shipped profile).")


PROFILE = typer.Option(None, "--profile", help="The profile to correct (default: the shipped host profile).")
OUT = typer.Option(None, "--out", help="Where to write it (default: --profile).")
SEED = typer.Option(0, "--seed", help="Seed of the draw.")
BUILD_ONLY = typer.Option(False, "--build-only", help="Convert the models, time nothing (no quiet machine needed).")
MAX_MINUTES = typer.Option(0.0, "--max-minutes", help="Stop timing after this long; run again to resume (0: no limit).")


@calibrate_app.command("shapes")
def shapes_command(
    profile: Optional[Path] = PROFILE,
    out: Optional[Path] = OUT,
    n: int = typer.Option(1600, "--n", help="How many single layers beyond the roofline's set."),
    seed: int = SEED,
    build_only: bool = BUILD_ONLY,
    max_minutes: float = MAX_MINUTES,
    part: str = typer.Option("", "--part", help="i/k: only convert every k-th model from the i-th (parallel builds)."),
    kinds: str = typer.Option("", "--kinds", help=(
        "Comma-separated kernel kinds (fc,matmul): time only their shapes and add the ones the profile's table "
        "lacks, aligned on the ones it holds (minutes, not the hour of the whole set).")),
) -> None:
    """The lookup stage alone: time the dense set of single layers and add the local residual table to a profile."""
    from snapcheck.calibrate.shapes import calibrate_lookup, extend_lookup, lookup_specs, measure_shapes

    console = _console()
    if part:
        i, k = _part(part)
        measure_shapes(lookup_specs(n, seed)[i::k], build_only=True, console=console, passes=1)
        return
    base, target = _stage_profile(profile, out)
    if kinds:
        extended = extend_lookup(base, tuple(k.strip() for k in kinds.split(",") if k.strip()), n, seed,
                                 build_only=build_only, max_minutes=max_minutes, console=console)
        if extended is None:
            return
        _write(target, extended[0])
        for kind, r in extended[1].items():
            console.print(f"{kind}: {r['added']} shapes added to {r['held']} held ones (this sitting ran at "
                          f"{r['sitting']:.3f}x the recorded timings, the held ones within {r['spread']:.3f} of it "
                          f"in log); typical error {r['error_before']:.3f} -> {r['error_after']:.3f}")
        console.print(f"wrote {target}")
        return
    fitted = calibrate_lookup(base, n, seed, build_only=build_only, max_minutes=max_minutes, console=console)
    if fitted is None:
        return
    _write(target, fitted)
    res = fitted.residual
    m = res["meta"]
    console.print(f"{m['samples']} kernels: roofline alone {m['roofline_within_10pct']:.0%} within ±10% "
                  f"(median {m['roofline_median_abs_pct']:.1f}%), with the lookup (leave-one-out) "
                  f"{m['loo_within_10pct']:.0%} ({m['loo_median_abs_pct']:.1f}%); bandwidth {res['bandwidth']}, "
                  f"shrink {res['shrink']}, group penalty {res['group_penalty']}; wrote {target}")


@calibrate_app.command("nets")
def nets_command(
    profile: Optional[Path] = PROFILE,
    out: Optional[Path] = OUT,
    n: int = typer.Option(600, "--n", help="How many random networks."),
    seed: int = SEED,
    build_only: bool = BUILD_ONLY,
    max_minutes: float = MAX_MINUTES,
) -> None:
    """The network stage alone: time random networks and add the in-network correction to a profile."""
    from snapcheck.calibrate.nets import calibrate_network

    console = _console()
    base, target = _stage_profile(profile, out)
    net, table = calibrate_network(base, n, seed, build_only=build_only, max_minutes=max_minutes, console=console)
    if not table:
        return
    kept = {k: base.network[k] for k in ("stream", "row_ns") if k in base.network}  # measured by the probe stage
    _write(target, dataclasses.replace(base, network={**kept, **net}))
    console.print("| variant | ridge | 5-fold CV within ±10% | CV median | cross-family within ±10% | median |\n"
                  "|---|---|---|---|---|---|")
    for variant, ridge, cv, tr in table:
        console.print(f"| {variant} | {ridge:g} | {cv['within_10pct']:.0%} | {cv['median_abs_pct']:.1f}% | "
                      f"{tr['within_10pct']:.0%} | {tr['median_abs_pct']:.1f}% |")
    console.print(f"chosen: {net.get('meta', {}).get('variant', 'none')}; wrote {target}")


def _console() -> Any:
    from snapcheck.console import Console

    return Console(stderr=True)


def _part(text: str) -> tuple[int, int]:
    try:
        i, k = (int(x) for x in text.split("/"))
    except ValueError:
        raise InputError(None, f"--part must be i/k (e.g. 0/2), got {text!r}") from None
    if not 0 <= i < k:
        raise InputError(None, f"--part {text}: i must be in [0, k)")
    return i, k


def _stage_profile(profile: Path | None, out: Path | None) -> tuple[Any, Path]:
    """The profile a stage corrects and where the result goes (``InputError`` for an unreadable profile or an
    unwritable destination)."""
    from snapcheck.commands._common import on_interrupt
    from snapcheck.fsutil import writable_file
    from snapcheck.estimate.profiles import HOST_PROFILE, read_profile

    source = profile or HOST_PROFILE
    try:
        base = read_profile(source)
    except FileNotFoundError:
        raise InputError(source, "no such profile") from None
    except IsADirectoryError:
        raise InputError(source, "is a folder, not a profile") from None
    except OSError as exc:  # read_profile says what is wrong with a file it could read
        raise InputError(source, f"cannot be read ({exc.strerror or exc})") from None
    writable_file(out or source)
    on_interrupt("every finished timing is cached; run the same command again to resume")
    return base, out or source


def _write(path: Path, profile: Any) -> None:
    from snapcheck.estimate.profiles import write_profile

    write_profile(path, profile)


def register(app: typer.Typer) -> None:
    app.add_typer(calibrate_app, name="calibrate")


def far_note(probes: int) -> str:
    """How the factor of the memory beyond the cache was found, for ``--quick``'s report."""
    from snapcheck.calibrate.quick import FAR_MIN_PROBES

    if probes >= FAR_MIN_PROBES:
        return f"{probes} memory-bound probes, measured apart"
    return f"the memory roofs' ({probes} memory-bound probes, too few to measure it apart)"
