"""``calibrate --quick``: the factors it fits, the profile it writes for this machine, and what it leaves alone
(phone estimates). Probe timings are synthetic here; the timing itself is the harness's (tested apart)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from cost_fixtures import GraphBuilder, conv_chain, deconv_graph, skip_chain, tflite_conv, timing_hit
from typer.testing import CliRunner

from snapcheck.calibrate import quick
from snapcheck.calibrate.micro import (DIRECT_PROBES, FC_PROBES, GROUP_PROBES, LARGE_PROBES, PROBES, WINDOW_PROBES,
                                      MicroSpec)
from snapcheck.calibrate.random_nets import NetSpec, probe_nets
from snapcheck.calibrate.shapes import lookup_specs
from snapcheck.estimate import check_estimates, host_prediction
from snapcheck.estimate.kernels import split_kernels
from snapcheck.estimate.network import cold_bytes, reads_since, working_set_bytes
from snapcheck.estimate.profiles import (NOISY, active_host_profile, host_fingerprint, host_profile_path,
                                         host_profile_status, load_host_profile, profile_from_json, profile_to_json,
                                         read_profile, write_profile)
from snapcheck.errors import InputError
from snapcheck.estimate.roofline import (cold_panel, kernel_terms, local_macs, local_ms, local_tile, predict_kernels,
                                         speed_group)
from snapcheck.rules import load_ruleset


def _eltwise(hw: int, c: int):
    b = GraphBuilder()
    x, y = b.input((1, hw, hw, c)), b.input((1, hw, hw, c))
    return b.graph([b.op("ADD", [x, y], (1, hw, hw, c))])


def _truth(speed: dict[str, float], memory: float = 1.0) -> dict:
    """Factors of a synthetic new host: compute roofs by ``speed[kind]``, every memory roof by ``memory``."""
    return {"speed": speed, "median": 1.0, "memory": memory, "kernel_us": 1.0, "overhead": 1.0, "network": 1.0}


def _rows(base, truth: dict, network: float = 1.0) -> list[quick.ProbeRow]:
    """Probe rows timed as ``base`` adapted by ``truth`` predicts them (networks ``network`` times slower)."""
    host = quick.adapt(base, truth, {})
    graphs = [(MicroSpec("conv", "conv", hw, hw, c, c, 3), conv_chain(hw, [c, c])) for hw, c in ((16, 32), (32, 64), (64, 32))]
    graphs += [(MicroSpec("eltwise", "add", hw, hw, c), _eltwise(hw, c)) for hw, c in ((8, 8), (32, 16), (64, 64))]
    rows = []
    for spec, g in graphs:
        ks = split_kernels(g)
        rows.append(quick.ProbeRow(spec, ks, predict_kernels(ks, host).latency_ms, predict_kernels(ks, base).latency_ms))
    b = GraphBuilder()
    x = b.input((1, 32, 32, 8))
    y = tflite_conv(b, x, 32, 8, 16)
    net = split_kernels(b.graph([b.op("ADD", [y, y], (1, 32, 32, 16))]))
    rows.append(quick.ProbeRow(NetSpec("net", 32, 8, (), ()), net, predict_kernels(net, host).latency_ms * network,
                               predict_kernels(net, base).latency_ms))
    return rows


def test_probes_are_calibrated_shapes_of_every_kind():
    specs = lookup_specs()
    assert all(p in specs for p in PROBES + LARGE_PROBES + WINDOW_PROBES + FC_PROBES + GROUP_PROBES)  # timed with the lookup
    assert {p.k for p in WINDOW_PROBES} == {4}  # XNNPACK's 25-tap depthwise micro-kernel, as 5x5 windows
    assert not set(DIRECT_PROBES) & set(PROBES + LARGE_PROBES + WINDOW_PROBES + FC_PROBES + GROUP_PROBES)  # apart
    assert len({p.key() for p in quick.probe_specs()}) == len(quick.probe_specs())
    assert {p.kind for p in PROBES} >= {"conv", "pointwise", "depthwise", "depthwise_large", "deconv", "fc", "matmul",
                                         "eltwise", "reduce", "copy", "pool", "concat", "resize", "resize_bilinear"}
    nets = probe_nets()
    assert nets == probe_nets() and len(nets) == 21
    small, large = nets[:12], nets[12:]
    assert all(2e7 <= n.macs <= 2.5e8 for n in small)
    assert all(4e8 <= n.macs <= 2.5e9 and n.res >= 160 for n in large)  # working sets beyond the caches
    assert {n.name.split("-")[1] for n in large} >= {"deep", "sep"}  # every family


def test_fit_recovers_each_kinds_compute_speed_and_the_memory_factor():
    """A host whose convs compute at half the time and whose memory is 1.5x slower: the compute-bound conv
    probes give the conv factor, the memory-bound adds the memory factor."""
    base = load_host_profile()
    f = quick.fit_factors(base, _rows(base, _truth({"conv": 0.5, "eltwise": 1.0}, memory=1.5)))
    assert f["speed"]["conv"] == pytest.approx(0.5, rel=0.1)
    assert f["memory"] == pytest.approx(1.5, rel=0.1)
    assert f["network"] == pytest.approx(1.0, abs=0.03)
    g = conv_chain(48, [24, 24])  # not a probe
    truth = host_prediction(g, quick.adapt(base, _truth({"conv": 0.5, "eltwise": 1.0}, memory=1.5), {}))[1].latency_ms
    assert host_prediction(g, quick.adapt(base, f, {}))[1].latency_ms == pytest.approx(truth, rel=0.05)


def test_one_probe_that_changed_unlike_its_kind_does_not_set_the_kinds_factor(monkeypatch):
    """A host whose convs all run 1.5x, one conv probe 2x (a shape this CPU runs unlike the rest): the robust fit
    follows the other conv probes and leaves that one off; least squares would let it pull the factor up."""
    base = load_host_profile()
    rows = _rows(base, _truth({"conv": 1.5, "eltwise": 1.0}))
    rows[1] = dataclasses.replace(rows[1], ms=rows[1].ms * 2.0 / 1.5)
    f = quick.fit_factors(base, rows)
    assert f["speed"]["conv"] == pytest.approx(1.5, rel=0.02)
    assert f["errors"][1] == pytest.approx(-np.log(2.0 / 1.5), abs=0.03)  # priced a quarter low, as timed
    monkeypatch.setattr(quick, "HUBER_ROUNDS", 0)  # least squares
    assert quick.fit_factors(base, rows)["speed"]["conv"] > 1.5 * 1.04


def test_networks_slower_than_their_kernels_move_the_estimates_of_networks():
    """The one network probe runs 1.2x what its kernels predict: the adapted profile predicts it so, and other
    networks move up too."""
    base = load_host_profile()
    rows = _rows(base, _truth({"conv": 0.5, "eltwise": 1.0}), network=1.2)
    adapted = quick.adapt(base, quick.fit_factors(base, rows), {})
    assert predict_kernels(rows[-1].kernels, adapted).latency_ms == pytest.approx(rows[-1].ms, rel=0.03)
    g = conv_chain(48, [24, 24])
    before = host_prediction(g, quick.adapt(base, _truth({"conv": 0.5, "eltwise": 1.0}), {}))[1].latency_ms
    assert host_prediction(g, adapted)[1].latency_ms > 1.05 * before


def test_the_in_network_factor_moves_kernels_by_the_share_their_traffic_takes():
    """A host whose kernels run as the profile's alone, and 1.2x slower in a network where their traffic bounds
    them: the fit recovers x1.2 from network probes of both kinds, and the adapted profile moves a memory-bound
    network by all of it and a network of wide 3x3 convs, bound by their arithmetic, by the share of their time
    their traffic fills (on an Ice Lake, one factor on every kernel put dense-conv networks high and MobileNets
    low: docs/bench/estimator.md, session 46)."""
    base = load_host_profile()
    host = quick.adapt(base, {**_truth({"conv": 1.0, "eltwise": 1.0}), "network": 1.2}, {})
    assert host.network["memory_factor"] == 1.2 and "kind_factor" not in host.network
    rows = _rows(base, _truth({"conv": 1.0, "eltwise": 1.0}))[:-1]  # the single layers, unchanged here
    heavy = split_kernels(conv_chain(16, [256, 256, 256]))  # 3x3 convs over 256 channels: compute-bound
    light = split_kernels(_eltwise(96, 32))  # an add: memory-bound
    share = np.mean([kernel_terms(k, base).memory_share for k in heavy])
    assert share < 0.5 and kernel_terms(light[0], base).memory_share == 1.0
    for name, g in (("heavy", conv_chain(16, [128, 256])), ("light", _eltwise(64, 64)), ("mixed", skip_chain(32, 64, 3))):
        ks = split_kernels(g)
        rows.append(quick.ProbeRow(NetSpec(name, 32, 8, (), ()), ks, predict_kernels(ks, host).latency_ms,
                                   predict_kernels(ks, base).latency_ms))
    f = quick.fit_factors(base, rows)
    assert f["network"] == pytest.approx(1.2, rel=0.02)
    adapted = quick.adapt(base, f, {})
    change = {name: (predict_kernels(ks, adapted).latency_ms - adapted.overhead_ms)
              / (predict_kernels(ks, base).latency_ms - base.overhead_ms) for name, ks in (("heavy", heavy), ("light", light))}
    assert change["light"] == pytest.approx(f["network"], rel=0.01)
    assert 1.0 < change["heavy"] < 1 + 0.2 * 0.6


def test_the_in_network_factor_stays_within_its_range():
    """Networks 1.6x or 0.6x their kernels' time where traffic bounds them (what a noisy sitting's random
    networks can say) give the in-network factor its bound, ``NETWORK_RANGE``, not their own."""
    base = load_host_profile()
    for truth, want in ((1.6, quick.NETWORK_RANGE[1]), (0.6, quick.NETWORK_RANGE[0])):
        host = quick.adapt(base, {**_truth({"conv": 1.0, "eltwise": 1.0}), "network": truth}, {})
        rows = _rows(base, _truth({"conv": 1.0, "eltwise": 1.0}))[:-1]
        for name, g in (("heavy", conv_chain(16, [128, 256])), ("light", _eltwise(64, 64)),
                        ("mixed", skip_chain(32, 64, 3))):
            ks = split_kernels(g)
            rows.append(quick.ProbeRow(NetSpec(name, 32, 8, (), ()), ks, predict_kernels(ks, host).latency_ms,
                                       predict_kernels(ks, base).latency_ms))
        assert quick.fit_factors(base, rows)["network"] == pytest.approx(want)


def test_network_factor_is_the_median_network_not_the_longest():
    """Two small networks unchanged, one long memory-bound one 15 % slower than its kernels: the in-network factor is
    the median network's, so one long probe does not move every network's estimate by its excess (on a Zen 4 EPYC
    two long probes put every real model 5-8 % high). The memory factor takes part of it, as it did when the factor
    moved every kernel's whole time (x1.12 then, x1.10 now)."""
    base = load_host_profile()
    rows = _rows(base, _truth({"conv": 1.0, "eltwise": 1.0}))
    rows.append(dataclasses.replace(rows[-1], spec=NetSpec("net2", 32, 8, (), ())))
    big = split_kernels(_eltwise(256, 64))  # 50 MB of traffic: its time is its memory's
    ref = predict_kernels(big, base).latency_ms
    assert ref > 10 * sum(r.reference_ms for r in rows if isinstance(r.spec, NetSpec))
    rows.append(quick.ProbeRow(NetSpec("big", 256, 64, (), ()), big, ref * 1.15, ref))
    f = quick.fit_factors(base, rows)
    assert f["network"] == pytest.approx(1.0, abs=0.04) and f["memory"] < 1.12
    assert predict_kernels(big, quick.adapt(base, f, {})).latency_ms < ref * 1.13


def test_a_network_bound_by_its_arithmetic_moves_the_compute_factors_not_the_network_factor():
    """The in-network factor moves a kernel by its memory share, so a long network of 3x3 convs that runs 15 % slower
    than its kernels cannot be explained by it: the fit moves the conv factor instead, less than the network's
    excess, and the in-network factor stays near the small networks' (the price of pricing dense convs in a network
    as alone: docs/bench/estimator.md, session 46)."""
    base = load_host_profile()
    rows = _rows(base, _truth({"conv": 1.0, "eltwise": 1.0}))
    rows.append(dataclasses.replace(rows[-1], spec=NetSpec("net2", 32, 8, (), ())))
    big = split_kernels(conv_chain(128, [32, 64, 64]))
    ref = predict_kernels(big, base).latency_ms
    rows.append(quick.ProbeRow(NetSpec("big", 128, 32, (), ()), big, ref * 1.15, ref))
    f = quick.fit_factors(base, rows)
    assert 1.03 < f["speed"]["conv"] < 1.15
    assert predict_kernels(big, quick.adapt(base, f, {})).latency_ms < ref * 1.15


def test_no_change_fits_identity():
    base = load_host_profile()
    f = quick.fit_factors(base, _rows(base, _truth({"conv": 1.0, "eltwise": 1.0})))
    assert all(v == pytest.approx(1.0, abs=0.02) for v in f["speed"].values())
    assert f["network"] == pytest.approx(1.0, abs=0.02) and f["median"] == pytest.approx(1.0, abs=0.02)
    assert f["memory"] == pytest.approx(1.0, abs=0.02)
    assert f["host_residual"] == {}  # nothing left to correct: no host lookup


def _pointwise(hw: int, cin: int, cout: int):
    b = GraphBuilder()
    x = b.input((1, hw, hw, cin))
    return split_kernels(b.graph([tflite_conv(b, x, hw, cin, cout, 1)]))


def test_a_host_lookup_moves_kernels_near_the_probes_one_factor_left_off():
    """A host whose 1x1 convs to at most 48 channels slow 2x and wider ones 1.5x (as on the Ice Lake Xeon against
    the profile's host): one factor for the kind follows the narrow majority and prices the wide ones a third
    high; the host lookup (``residual.fit_host``) learns what the factor left of each probe, and a wide 1x1 conv
    that is not a probe comes out near its 1.5x. The table beats the probes uncorrected in leave-one-out, or it
    would not be kept."""
    base = load_host_profile()
    rows = _rows(base, _truth({"conv": 1.5, "eltwise": 1.0}))
    shapes = [(56, 96, 24), (28, 176, 16), (64, 40, 48), (40, 392, 40), (32, 64, 32), (48, 128, 24),
              (14, 256, 256), (7, 480, 96), (28, 512, 512), (14, 1024, 256)]
    for hw, cin, cout in shapes:
        ks = _pointwise(hw, cin, cout)
        ref = predict_kernels(ks, base).latency_ms
        rows.append(quick.ProbeRow(MicroSpec("pointwise", "conv", hw, hw, cin, cout, 1), ks,
                                   ref * (2.0 if cout <= 48 else 1.5), ref))
    f = quick.fit_factors(base, rows)
    table = f["host_residual"]
    assert table and table["meta"]["loo_mean_abs_log"] < table["meta"]["uncorrected_mean_abs_log"]
    adapted = quick.adapt(base, f, {})
    without = dataclasses.replace(adapted, residual={k: v for k, v in adapted.residual.items() if k != "host"})
    wide = _pointwise(28, 256, 1024)
    truth = 1.5 * predict_kernels(wide, base).latency_ms
    assert predict_kernels(wide, without).latency_ms > 1.15 * truth  # the kind's factor alone: priced high
    assert predict_kernels(wide, adapted).latency_ms == pytest.approx(truth, rel=0.1)
    assert profile_from_json(json.loads(json.dumps(profile_to_json(adapted)))) == adapted


@pytest.fixture
def host_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SNAPCHECK_HOST_PROFILES", str(tmp_path))
    load_host_profile.cache_clear()
    yield tmp_path
    load_host_profile.cache_clear()


def test_quick_profile_moves_host_estimates_and_never_phone_estimates(host_dir):
    """A profile fitted here (2x slower kernels) becomes the active host profile; the phone rows of
    ``snapcheck check`` stay exactly as the shipped profile gives them."""
    base = load_host_profile()
    g = conv_chain(64, [3, 32, 32])
    rows_before, _ = check_estimates(g, load_ruleset("5.x"))
    host_before = host_prediction(g)[1].latency_ms
    stream = quick.stream_rate(_stream_timings(0.05))  # weights re-read here: host only too
    slow = quick.adapt(base, quick.fit_factors(base, _rows(base, _truth({"conv": 2.0, "eltwise": 2.0}, memory=2.0)),
                                               stream=stream),
                       {"calibrated_on": host_fingerprint(1), "quick": {"base": base.meta["calibrated_on"]}})
    assert slow.network["stream"]["ms_per_mb"] == 0.05
    write_profile(host_profile_path(), slow)
    assert active_host_profile() == slow
    assert host_prediction(g)[1].latency_ms == pytest.approx(2 * host_before, rel=0.1)
    rows_after, _ = check_estimates(g, load_ruleset("5.x"))
    assert rows_after == rows_before
    status = host_profile_status()
    assert status.here and status.quick and "--quick" in status.note()


def test_status_says_when_the_profile_is_from_another_cpu(host_dir, monkeypatch):
    import snapcheck.estimate.profiles as profiles

    monkeypatch.setattr(profiles, "host_fingerprint", lambda threads=1: "another-cpu")
    status = host_profile_status()
    assert not status.here and "calibrate --quick" in status.note() and "phone estimates do not change" in status.note()


def test_two_cpus_with_one_generic_name_are_told_apart():
    """A VM names a Sapphire Rapids and an Emerald Rapids alike; their family, model and stepping differ."""
    from snapcheck.estimate.profiles import cpu_name_from

    def cpuinfo(model: int) -> str:
        one = (f"processor\t: {{}}\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: {model}\n"
               "model name\t: Intel(R) Xeon(R) Processor\nstepping\t: 8\n")
        return one.format(0) + "\n" + one.format(1)

    spr, emr = cpu_name_from(cpuinfo(143)), cpu_name_from(cpuinfo(207))
    assert spr == "Intel(R) Xeon(R) Processor (cpu family 6, model 143, stepping 8)" and spr != emr
    assert cpu_name_from("processor\t: 0\nBogoMIPS\t: 50.00\n") == ""  # no name at all: platform's name instead


def test_two_arm_cores_without_a_model_name_are_told_apart():
    """aarch64 Linux lists no model name: a Neoverse N1 and a V1 differ by their part number."""
    from snapcheck.estimate.profiles import cpu_name_from

    def cpuinfo(part: str) -> str:
        return ("processor\t: 0\nBogoMIPS\t: 243.75\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32\n"
                f"CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x1\nCPU part\t: {part}\n"
                "CPU revision\t: 1\n\nprocessor\t: 1\n")

    n1, v1 = cpu_name_from(cpuinfo("0xd0c")), cpu_name_from(cpuinfo("0xd40"))
    assert n1 == "ARM (implementer 0x41, part 0xd0c, variant 0x1, revision 1)" and n1 != v1


def test_a_mac_is_named_by_its_brand_string(monkeypatch):
    """macOS has no /proc/cpuinfo and ``platform.processor()`` says "arm" for every Apple chip: sysctl names it."""
    import platform
    import subprocess

    from snapcheck.estimate.profiles import mac_cpu_name

    calls = []

    def sysctl(cmd, **kw):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, stdout="Apple M2 Pro\n", stderr="")

    monkeypatch.setattr(subprocess, "run", sysctl)
    monkeypatch.setattr(platform, "system", lambda: "Linux")
    assert mac_cpu_name() == "" and calls == []
    monkeypatch.setattr(platform, "system", lambda: "Darwin")
    assert mac_cpu_name() == "Apple M2 Pro" and calls == [["sysctl", "-n", "machdep.cpu.brand_string"]]

    def missing(cmd, **kw):
        raise FileNotFoundError(cmd[0])

    monkeypatch.setattr(subprocess, "run", missing)
    assert mac_cpu_name() == ""


def test_a_macs_caches_come_from_sysctl(monkeypatch, tmp_path):
    """No sysfs on macOS: an Apple chip's performance cores' caches, else (an Intel Mac) the machine's."""
    import platform
    import subprocess

    from snapcheck.calibrate.harness import cache_sizes

    def fake(values):
        def sysctl(cmd, **kw):
            value = values.get(cmd[-1])
            return subprocess.CompletedProcess(cmd, 0 if value else 1, stdout=f"{value or ''}\n", stderr="")
        return sysctl

    apple = {"hw.perflevel0.l1dcachesize": "131072", "hw.perflevel0.l2cachesize": "16777216",
             "hw.l1dcachesize": "65536", "hw.l2cachesize": "4194304"}
    intel = {"hw.l1dcachesize": "32768", "hw.l2cachesize": "262144", "hw.l3cachesize": "12582912"}
    monkeypatch.setattr(platform, "system", lambda: "Darwin")
    monkeypatch.setattr(subprocess, "run", fake(apple))
    assert cache_sizes(tmp_path / "none") == {1: 131072.0, 2: 16777216.0}
    monkeypatch.setattr(subprocess, "run", fake(intel))
    assert cache_sizes(tmp_path / "none") == {1: 32768.0, 2: 262144.0, 3: 12582912.0}
    monkeypatch.setattr(subprocess, "run", fake({}))
    assert cache_sizes(tmp_path / "none") == {}
    monkeypatch.setattr(platform, "system", lambda: "Linux")
    monkeypatch.setattr(subprocess, "run", fake(intel))
    assert cache_sizes(tmp_path / "none") == {}  # Linux without sysfs: nothing asked of sysctl


def test_quick_command_writes_this_machines_profile(host_dir, monkeypatch):
    from snapcheck.cli import app

    base = load_host_profile()
    rows = _rows(base, _truth({"conv": 0.8, "eltwise": 0.9}, memory=0.9))
    timed = _timed(rows)
    base = dataclasses.replace(base, quick_reference={r.spec.key(): r.reference_ms for r in rows})
    write_profile(host_dir / "base.json", base)
    monkeypatch.setattr(quick, "measure_probes", lambda *a, **k: timed)
    result = CliRunner().invoke(app, ["calibrate", "--quick", "--profile", str(host_dir / "base.json")])
    assert result.exit_code == 0, result.output
    written = json.loads(host_profile_path().read_text())
    assert written["meta"]["calibrated_on"] == host_fingerprint(1)
    assert written["meta"]["quick"]["speed"]["conv"] == pytest.approx(0.8, rel=0.15)
    assert written["meta"]["quick"]["memory"] == pytest.approx(0.9, rel=0.15)
    assert "memory roofs" in result.output
    assert "phone estimates do not change" in " ".join(result.output.split())
    assert "host lookup: none" in result.output and written["meta"]["quick"]["host_lookup"] == {}  # factors fit all


def _with_passes(timed: list[tuple], swing: float) -> list[tuple]:
    """``timed`` as three passes report it, on a host whose speed moved by ``swing`` between them."""
    return [(spec, ks, {**hit, "passes_ms": [hit["median_ms"] * f for f in (1.0, 1.0 + swing, 1.0 - swing / 2)]})
            for spec, ks, hit in timed]


def test_each_kinds_probes_are_spread_over_the_pass():
    specs = quick.probe_specs()
    order = quick.spread_kinds(specs)
    assert sorted(s.key() for s in order) == sorted(s.key() for s in specs)
    for kind in ("conv", "eltwise", "depthwise", "fc"):  # not one run of a kind: a minute's slowdown moves them all
        at = [i / len(order) for i, s in enumerate(order) if isinstance(s, MicroSpec) and s.kind == kind]
        assert at[0] < 0.25 and at[-1] > 0.75
        assert max(np.diff(at)) < 0.5


def test_host_noise_is_how_far_the_probes_passes_moved():
    timed = _timed(_rows(load_host_profile(), _truth({})))
    assert quick.host_noise(timed) == {}  # one pass: nothing to say
    quiet, shared = quick.host_noise(_with_passes(timed, 0.02)), quick.host_noise(_with_passes(timed, 0.3))
    assert quiet["spread"] == pytest.approx(1.02 / 0.99 - 1, abs=1e-3) and quiet["probes"] == len(timed)
    assert shared["spread"] > NOISY > quiet["spread"] and shared["sigma"] > 5 * quiet["sigma"]


def test_passes_that_differ_get_two_more(monkeypatch):
    """Probes whose three passes moved by over ``SETTLE_SPREAD`` are timed in two more (the first three come from
    the pass caches): each probe's time is the median of five. Passes within it are left as they are."""
    timed = _timed(_rows(load_host_profile(), _truth({})))
    for swing, want in ((0.02, [3]), (0.3, [3, 5])):
        asked = []

        def measure(threads=1, console=None, cache_path=None, passes=quick.PASSES):
            asked.append(passes)
            return _with_passes(timed, swing)
        monkeypatch.setattr(quick, "measure_probes", measure)
        assert quick.settled_probes() == _with_passes(timed, swing) and asked == want


def test_a_machine_whose_speed_changes_gets_wider_ranges_and_a_warning(host_dir, monkeypatch):
    from snapcheck.cli import app

    base = load_host_profile()
    rows = _rows(base, _truth({"conv": 0.8}))
    base = dataclasses.replace(base, quick_reference={r.spec.key(): r.reference_ms for r in rows})
    write_profile(host_dir / "base.json", base)
    errors = {}
    for swing in (0.02, 0.3):
        monkeypatch.setattr(quick, "measure_probes", lambda *a, **k: _with_passes(_timed(rows), swing))
        result = CliRunner().invoke(app, ["calibrate", "--quick", "--profile", str(host_dir / "base.json")])
        assert result.exit_code == 0, result.output
        out = " ".join(result.output.split())
        assert "passes: the median probe's timings differed by" in out
        assert ("Run `snapcheck calibrate --quick` again when the machine is idle" in out) == (swing > NOISY)
        adapted = read_profile(host_profile_path())
        errors[swing] = (adapted.residual["common_error"]["host"],
                         host_prediction(conv_chain(48, [24, 24]), adapted)[1])
        note = host_profile_status().note()  # what `snapcheck bench` prints under its host estimate
        assert ("this machine's speed changes" in note) == (swing > NOISY)
    (calm, calm_pred), (swinging, swinging_pred) = errors[0.02], errors[0.3]
    assert swinging > 5 * calm
    assert swinging_pred.sigma > swinging > calm_pred.sigma  # the host's part is the whole network's


def test_quick_needs_a_profile_with_probe_timings(host_dir):
    from snapcheck.cli import app

    base = dataclasses.replace(load_host_profile(), quick_reference={})
    write_profile(host_dir / "old.json", base)
    result = CliRunner().invoke(app, ["calibrate", "--quick", "--profile", str(host_dir / "old.json")])
    assert isinstance(result.exception, InputError) and "quick_reference" in str(result.exception)
    assert not host_profile_path().exists()


def test_check_and_bench_notes_name_the_other_cpu(host_dir, monkeypatch, capsys):
    import snapcheck.estimate.profiles as profiles
    from snapcheck.commands.check import _host_profile_note

    shipped = load_host_profile().meta["calibrated_on"]
    monkeypatch.setattr(profiles, "host_fingerprint", lambda threads=1: shipped)  # a machine like the profile's
    _host_profile_note()
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(profiles, "host_fingerprint", lambda threads=1: "another-cpu")
    _host_profile_note()
    raw = capsys.readouterr().err
    err = " ".join(raw.split())
    assert "fitted on another CPU" in err and "snapcheck calibrate --quick" in err
    # harnesses that fail on any stderr (the fuzz campaign, the hostile-file tests) drop exactly this note
    assert profiles.strip_host_note(raw + "snapcheck: error: x\n") == "snapcheck: error: x\n"


def test_adapt_scales_a_cold_cache_correction_with_the_network_factor():
    base = dataclasses.replace(load_host_profile(), network={"cold_ms_per_mb": {"cold_weights": 0.02}})
    f = quick.fit_factors(base, _rows(base, _truth({"conv": 1.0, "eltwise": 1.0}), network=1.3))
    assert f["network"] > 1.05
    adapted = quick.adapt(base, f, {})
    assert adapted.network["cold_ms_per_mb"]["cold_weights"] == pytest.approx(0.02 * f["network"], rel=1e-3)
    assert adapted.network["memory_factor"] == pytest.approx(f["network"], rel=1e-3)


def test_a_probe_without_a_recorded_timing_is_rebuilt_from_the_lookup():
    """A single-layer probe the profile has no ``quick_reference`` for: its timing on the profile's host is the
    lookup sample's measured time (``r = log(measured / roofline)``) plus the overhead and the helper kernels."""
    from snapcheck.calibrate.fit import main_kernel
    from snapcheck.estimate import residual
    from snapcheck.estimate.roofline import kernel_ms

    base = load_host_profile()
    kernels = split_kernels(conv_chain(40, [24, 56]))
    main = main_kernel(kernels)
    bare = dataclasses.replace(base, residual={}, network={})
    roofline = kernel_ms(main, bare)[0]
    table = residual.build([(main, 2.0 * roofline, roofline)])
    profile = dataclasses.replace(base, residual={**base.residual, "kinds": table}, quick_reference={})
    extra = sum(kernel_ms(k, bare)[0] for k in kernels if k is not main)
    expected = 2.0 * roofline + base.overhead_ms + extra
    assert quick.lookup_reference(kernels, profile) == pytest.approx(expected, rel=1e-3)
    spec = MicroSpec("conv", "conv", 40, 40, 24, 56, 3, 1)
    assert quick.reference_ms(spec, kernels, profile) == pytest.approx(expected, rel=1e-3)
    recorded = dataclasses.replace(profile, quick_reference={spec.key(): 1.25})
    assert quick.reference_ms(spec, kernels, recorded) == 1.25  # a recorded timing comes first
    other = split_kernels(conv_chain(40, [24, 64]))
    assert quick.lookup_reference(other, profile) is None  # a shape the table does not hold


def _timed(rows: list[quick.ProbeRow]) -> list[tuple]:
    """``measure_probes`` rows for probe rows, timed as they say."""
    return [(r.spec, r.kernels, timing_hit(r.ms)) for r in rows]


def _share(mb: float) -> float:
    """A host's share of weights re-read per inference by working set: none up to 40 MB, all from 60."""
    return float(np.clip((mb - 40.0) / 20.0, 0.0, 1.0))


def _stream_timings(rate: float, share=_share, single_ms: float = 1.0, overhead: float = 0.01) -> list[tuple]:
    """``measure_probes`` rows for ``quick.stream_probes()`` on a host that re-reads ``share(working set MB)`` of a
    network's weights per inference at ``rate`` ms per MB: each chain takes its layers' time plus that."""
    side, c = quick.STREAM_LAYER
    rows = [(quick.OVERHEAD_PROBE, [], timing_hit(overhead)),
            (quick.stream_probes()[0][1], split_kernels(conv_chain(side, [c, c], k=1)),
             timing_hit(single_ms + overhead))]
    for chain, _ in quick.stream_probes():
        n = len(chain.layers)
        kernels = split_kernels(conv_chain(side, [c] * (n + 1), k=1))
        weights = sum(k.weight_bytes for k in kernels) / 1e6
        rows.append((chain, kernels, timing_hit(overhead + n * single_ms
                                                + rate * share(working_set_bytes(kernels) / 1e6) * weights)))
    return rows


def test_stream_chains_climb_from_one_layer_to_160_megabytes():
    side, c = quick.STREAM_LAYER
    chains = quick.stream_probes()
    assert [len(chain.layers) for chain, _ in chains] == list(quick.STREAM_LADDER)
    for chain, single in chains:
        assert all(ly.op == "pw" and ly.cout == c for ly in chain.layers) and chain.res == side
        assert (single.h, single.cin, single.cout, single.k) == (side, c, c, 1)
    weights = [len(chain.layers) * 4 * c * c / 1e6 for chain, _ in chains]
    assert weights[0] < 10 and weights[-1] > 150 and weights == sorted(weights)
    keys = [s.key() for s in quick.probe_specs()]
    assert len(keys) == len(set(keys)) and sum(k.startswith("stream-") for k in keys) == len(quick.STREAM_LADDER)


def test_stream_rate_is_the_longest_chains_and_the_share_follows_the_working_set():
    s = quick.stream_rate(_stream_timings(0.05))
    assert s["ms_per_mb"] == pytest.approx(0.05, rel=1e-3)
    assert s["cold"][0] == 0.0 and s["sizes_mb"][0] == pytest.approx(4.3, abs=0.1)  # the layer alone: its own
    assert s["cold"] == pytest.approx([_share(mb) for mb in s["sizes_mb"]], abs=2e-3)
    assert len(s["chains"]) == len(quick.STREAM_LADDER) and s["sizes_mb"] == sorted(s["sizes_mb"])
    # a chain that ran slow by chance does not make the share fall after it; a few % of the rate is none
    bumpy = quick.stream_rate(_stream_timings(0.05, share=lambda mb: 0.3 if 15 < mb < 20 else _share(mb)))
    assert bumpy["cold"] == sorted(bumpy["cold"]) and bumpy["cold"][2:5] == pytest.approx([0.3] * 3, abs=2e-3)
    low = quick.stream_rate(_stream_timings(0.05, share=lambda mb: max(0.08, _share(mb)) if mb > 5 else 0.0))
    assert low["cold"] == s["cold"] and low["ms_per_mb"] == pytest.approx(0.05, rel=1e-3)
    assert quick.stream_rate(_stream_timings(0.05)[:3]) == {}  # one chain timed: no curve
    assert quick.stream_rate(_stream_timings(0.05, single_ms=0.0)) == {}  # a layer no slower than an empty model
    # a cache that keeps even the longest chain's weights: nothing to measure
    assert quick.stream_rate(_stream_timings(0.0)) == {}
    assert quick.stream_rate(_stream_timings(0.05, share=lambda mb: 0.0)) == {}


def test_streamed_weights_add_to_networks_and_never_to_single_kernels():
    base = load_host_profile()
    stream = {"ms_per_mb": 0.05, "sizes_mb": [4.0, 30.0, 60.0], "cold": [0.0, 0.0, 1.0]}
    streaming = dataclasses.replace(base, network={"stream": stream})

    def extra(kernels):
        return predict_kernels(kernels, streaming).latency_ms - predict_kernels(kernels, base).latency_ms

    chain = split_kernels(conv_chain(4, [1024] * 21, k=1))  # 20 x 4.2 MB of weights: beyond 60 MB, all re-read
    weights = sum(k.weight_bytes for k in chain) / 1e6
    assert extra(chain) == pytest.approx(0.05 * weights, rel=1e-6)
    half = split_kernels(conv_chain(4, [1024] * 11, k=1))  # 42 MB: between 30 and 60 (log), about half re-read
    share = float(np.interp(np.log(sum(k.weight_bytes for k in half) / 1e6 + 0.13), np.log([30, 60]), [0, 1]))
    assert extra(half) == pytest.approx(0.05 * share * sum(k.weight_bytes for k in half) / 1e6, rel=0.02)
    assert extra(split_kernels(conv_chain(4, [1024, 1024], k=1))) == pytest.approx(0.0)  # alone: kept
    assert extra(split_kernels(conv_chain(4, [64] * 7, k=1))) == pytest.approx(0.0)  # 100 KB of weights: all kept
    # a profile from before the curve: a step at its cache's size
    step = dataclasses.replace(base, network={"stream": {"cache_bytes": 2**21, "ms_per_mb": 0.05}})
    small = split_kernels(conv_chain(4, [512] * 7, k=1))  # 6 x 1 MB: beyond a 2 MB cache
    assert predict_kernels(small, step).latency_ms == pytest.approx(
        predict_kernels(small, base).latency_ms + 0.05 * sum(k.weight_bytes for k in small) / 1e6, rel=1e-6)


def test_activations_re_read_after_the_cache_turned_over_add_to_networks():
    """A 4 x 4 depthwise conv writing 40 MB that a 1x1 conv then reads: the distinct bytes from the depthwise conv's
    start to the 1x1 conv's end (its 40 MB input, the 40 MB it writes, which the 1x1 conv reads again, and the 1 MB
    out: 81 MB, at most the 80 MB of arena and weights; the traffic is 121) are well up the curve, the 1x1 conv's
    own 41 MB below it, so it re-reads most of the 40 MB; alone neither pays, nor does a layer reading the graph
    input."""
    base = load_host_profile()
    stream = {"ms_per_mb": 0.1, "sizes_mb": [50.0, 100.0], "cold": [0.0, 1.0]}
    streaming = dataclasses.replace(base, network={"stream": stream})
    b = GraphBuilder()
    x = b.input((1, 256, 256, 152))
    w = b.tensor((1, 4, 4, 152), const=True)
    y = b.op("DEPTHWISE_CONV_2D", [x, w, -1], (1, 256, 256, 152), padding="SAME", stride_h=1, stride_w=1,
             depth_multiplier=1, fused_activation_function="RELU")
    ks = split_kernels(b.graph([tflite_conv(b, y, 256, 152, 4, 1)]))
    assert [k.kind for k in ks] == ["depthwise", "pointwise"]
    with_stream, without = predict_kernels(ks, streaming).per_kernel_ms, predict_kernels(ks, base).per_kernel_ms
    extra = [s - u for s, u in zip(with_stream, without)]
    assert extra[0] == pytest.approx(0.0, abs=1e-6)  # reads the graph input (and 10 KB of weights)
    act, out = 256 * 256 * 152 * 4, 256 * 256 * 4 * 4
    distinct = 2 * act + out + ks[0].weight_bytes + ks[1].weight_bytes
    assert reads_since(ks) == [(1, act, pytest.approx(distinct))]  # the 40 MB read again counts once
    # at most the working set: the weights and the 80 MB arena (the 1 MB output may reuse the input's memory)
    reach = min(distinct, working_set_bytes(ks))
    assert reach == pytest.approx(2 * act + ks[0].weight_bytes + ks[1].weight_bytes)
    share = float(np.interp(np.log(reach / 1e6), np.log([50.0, 100.0]), [0.0, 1.0]))
    assert 0.6 < share < 0.8 and extra[1] == pytest.approx(0.1 * share * act / 1e6, rel=1e-4)
    small = split_kernels(conv_chain(64, [32, 32, 32]))  # 0.5 MB activations: kept
    assert predict_kernels(small, streaming).latency_ms == pytest.approx(predict_kernels(small, base).latency_ms)


def test_quick_fit_takes_the_measured_stream_apart_from_the_factors():
    """Network probes that re-read their weights here: the fit leaves the factors at 1 (the streaming is
    measured, not fitted), and the adapted profile carries the stream and predicts the networks."""
    base = load_host_profile()
    stream = quick.stream_rate(_stream_timings(0.05))
    rows = _rows(base, _truth({"conv": 1.0, "eltwise": 1.0}))
    chain = split_kernels(conv_chain(4, [1024] * 21, k=1))
    ref = predict_kernels(chain, base).latency_ms
    weights = sum(k.weight_bytes for k in chain) / 1e6
    rows.append(quick.ProbeRow(NetSpec("wide", 4, 1024, (), ()), chain, ref + 0.05 * weights, ref))
    f = quick.fit_factors(base, rows, stream=stream)
    assert f["network"] == pytest.approx(1.0, abs=0.02) and f["median"] == pytest.approx(1.0, abs=0.02)
    adapted = quick.adapt(base, f, {})
    assert adapted.network["stream"] == {k: stream[k] for k in ("ms_per_mb", "sizes_mb", "cold")}
    assert predict_kernels(chain, adapted).latency_ms == pytest.approx(ref + 0.05 * weights, rel=0.02)
    # without the measured stream the same timings read as slower 1x1 convs (the chain's, no probe of their own)
    plain = quick.fit_factors(base, rows)
    assert plain["speed"]["pointwise"] > 1.5
    assert "stream" not in quick.adapt(base, plain, {}).network


def test_cache_sizes_read_sysfs(tmp_path):
    from snapcheck.calibrate.harness import cache_sizes

    for i, (level, kind, size) in enumerate(((1, "Data", "32K"), (1, "Instruction", "32K"), (2, "Unified", "512K"),
                                             (3, "Unified", "16384K"))):
        d = tmp_path / f"index{i}"
        d.mkdir()
        (d / "level").write_text(f"{level}\n")
        (d / "type").write_text(f"{kind}\n")
        (d / "size").write_text(f"{size}\n")
    assert cache_sizes(tmp_path) == {1: 32768.0, 2: 524288.0, 3: 16777216.0}
    (tmp_path / "index3" / "type").unlink()  # no type file: a unified cache
    assert cache_sizes(tmp_path)[3] == 16777216.0
    assert cache_sizes(tmp_path / "missing") == {}


def test_quick_command_reports_the_stream(host_dir, monkeypatch):
    from snapcheck.cli import app

    base = load_host_profile()
    host = quick.adapt(base, _truth({"conv": 1.0, "eltwise": 1.0, "conv:narrow": 0.5}), {})
    rows = _rows(base, _truth({"conv": 1.0, "eltwise": 1.0})) + _group_rows(base, host, ((56, 320, 4), (32, 512, 8),
                                                                                      (28, 256, 3)))
    timed = _timed(rows)
    timed += _stream_timings(0.04) + _cold_timings(base, 0.3, 2**21) + _row_timings(3.0, 8.0, mirror_ns=6.5)
    timed += _weight_timings(base, 0.01, 2**21)
    base = dataclasses.replace(base, quick_reference={r.spec.key(): r.reference_ms for r in rows})
    write_profile(host_dir / "base.json", base)
    monkeypatch.setattr(quick, "measure_probes", lambda *a, **k: timed)
    monkeypatch.setattr(quick, "l2_cache_bytes", lambda unknown=0.0: 2**21)
    monkeypatch.setattr(quick, "COLD_MIN_MB", 0.1)
    result = CliRunner().invoke(app, ["calibrate", "--quick", "--profile", str(host_dir / "base.json")])
    assert result.exit_code == 0, result.output
    written = json.loads(host_profile_path().read_text())
    assert written["network"]["stream"]["ms_per_mb"] == pytest.approx(0.04, rel=1e-3)
    out = " ".join(result.output.split())
    assert "weights the last-level cache does not keep: +0.040 ms per MB" in out and "on this machine use it" in out
    assert "0% at 4, 0% at 9, 0% at 17, 0% at 25, 0% at 34, 53% at 51, 100% at 67, 100% at 101" in out
    assert written["network"]["cold_ms_per_mb"] == {"cold_inputs": pytest.approx(0.3, rel=0.05),
                                                    "cold_weights": pytest.approx(0.01, rel=0.05)}
    assert "activations read after the 2 MB L2 has let them go: +0.30" in out
    assert "broadcasting element-wise ops: 3.0 ns per row, 8.0 in place" in out
    assert "copies LiteRT runs on its own kernels, ns per step: MIRROR_PAD 6.5" in out
    assert "weights read from beyond the 2 MB L2: +0.01" in out
    assert "host ranges widen where one factor fits a kind's probes worst:" in out
    assert "conv, to <= 8 channels x 0.50 (3 probes)" in out  # a conv group, measured apart
    # no probe here re-reads its weights: the profile host's balance, moved by the factors
    assert "dense convs whose GEMM tile overflows the 2 MB L2 re-read their weights per tile of rows:" in out
    assert "(the profile host's, moved by the memory and conv factors)" in out
    assert written["restream"]["host_cache_bytes"] == 2**21 and written["restream"]["host_flops_per_byte"] > 0
    elsewhere = host_dir / "elsewhere.json"
    result = CliRunner().invoke(app, ["calibrate", "--quick", "--profile", str(host_dir / "base.json"),
                                      "--out", str(elsewhere)])
    assert result.exit_code == 0 and elsewhere.is_file()
    assert "not this file" in " ".join(result.output.split())


def test_quick_fits_probes_timed_elsewhere_without_timing_them_again(monkeypatch):
    """``calibrate_quick(timed=...)``: the bench's same-sitting fit from probes timed among the models."""
    base = load_host_profile()
    rows = _rows(base, _truth({"conv": 1.3, "eltwise": 1.0}))
    timed = _timed(rows)
    base = dataclasses.replace(base, quick_reference={r.spec.key(): r.reference_ms for r in rows})
    monkeypatch.setattr(quick, "measure_probes", lambda *a, **k: pytest.fail("the probes were timed again"))
    adapted, factors, got = quick.calibrate_quick(base, timed=timed)
    assert [r.spec for r in got] == [r.spec for r in rows]
    assert factors["speed"]["conv"] == pytest.approx(1.3, rel=0.05)
    assert adapted.meta["quick"]["timings"] == {r.spec.key(): round(r.ms, 5) for r in rows}


def test_direct_probes_move_real_shapes_through_the_host_lookup_not_the_factors():
    """``micro.DIRECT_PROBES`` have no reference on the profile's host: a host whose fitted probes all run 1.3x
    while the 1x1 convs of real networks run as on the profile's host gets factors of 1.3 (the direct probes stay
    out of them), the factors alone price those convs 30 % high (the direct summary says so), and with the direct
    probes in the host lookup a 1x1 conv that is none of them comes out near its true time."""
    base = load_host_profile()
    rows = _rows(base, _truth({"conv": 1.3, "eltwise": 1.3}, memory=1.3))
    base = dataclasses.replace(base, quick_reference={r.spec.key(): r.reference_ms for r in rows})
    direct = [s for s in DIRECT_PROBES if s.kind == "pointwise"]
    timed = _timed(rows) + [(s, ks, timing_hit(predict_kernels(ks, base).latency_ms))
                            for s in direct for ks in [_pointwise(s.h, s.cin, s.cout)]]
    adapted, factors, got = quick.calibrate_quick(base, timed=timed)
    assert {r.spec for r in got}.isdisjoint(direct)  # not in the fit
    assert factors["median"] == pytest.approx(1.3, rel=0.05)
    summary = adapted.meta["quick"]["direct"]
    assert summary["probes"] == len(direct) and summary["median_log"] == pytest.approx(-np.log(1.3), abs=0.06)
    without = quick.calibrate_quick(base, timed=_timed(rows))[0]
    wide = _pointwise(28, 256, 1024)
    truth = predict_kernels(wide, base).latency_ms
    assert predict_kernels(wide, without).latency_ms > 1.2 * truth
    assert predict_kernels(wide, adapted).latency_ms == pytest.approx(truth, rel=0.1)


def test_quick_prices_weight_re_reading_only_with_the_hosts_l2_and_tile_known(monkeypatch):
    """``--quick`` keeps this host's L2 (sysfs) and GEMM tile for ``roofline.restream_fill``; with either unknown
    the adapted profile keeps the profile's own record only, and no conv changes for it."""
    from snapcheck.calibrate import harness

    base = load_host_profile()
    rows = _rows(base, _truth({"conv": 1.3, "eltwise": 1.0}))
    base = dataclasses.replace(base, quick_reference={r.spec.key(): r.reference_ms for r in rows})
    monkeypatch.setattr(quick, "gemm_tile", lambda: 16)
    monkeypatch.setattr(harness, "cache_sizes", lambda *a: {1: 48 * 1024.0, 2: 2.0**20})
    adapted = quick.calibrate_quick(base, timed=_timed(rows))[0]
    assert adapted.restream["host_cache_bytes"] == 2.0**20 and adapted.gemm_tile == 16
    assert adapted.restream["host_flops_per_byte"] > 0 and adapted.meta["quick"]["restream"]["probes"] == {}
    monkeypatch.setattr(harness, "cache_sizes", lambda *a: {})
    assert quick.calibrate_quick(base, timed=_timed(rows))[0].restream == base.restream
    monkeypatch.setattr(harness, "cache_sizes", lambda *a: {2: 2.0**20})
    monkeypatch.setattr(quick, "gemm_tile", lambda: 0)
    assert quick.calibrate_quick(base, timed=_timed(rows))[0].restream == base.restream


def test_full_calibration_records_its_own_hosts_stream(monkeypatch):
    """The probe stage of a full calibration measures the stream on the profile's host, so that ``--quick``
    elsewhere compares like with like; a network correction that prices cold weights itself keeps it out."""
    monkeypatch.setattr(quick, "measure_probes", lambda *a, **k: _stream_timings(0.03))
    base = dataclasses.replace(load_host_profile(), network={})
    assert quick.reference(base).network["stream"]["ms_per_mb"] == pytest.approx(0.03, rel=1e-3)
    priced = dataclasses.replace(base, network={"cold_ms_per_mb": {"cold_weights": 0.02}})
    assert "stream" not in quick.reference(priced).network


def test_kinds_whose_probes_disagree_widen_the_range_on_this_host():
    """Two eltwise probes that changed unlike each other (one 1.5x slower than the factor explains): the eltwise
    kind's transfer error is large, the convs' small; the adapted profile's range for an add-heavy network
    widens, a conv network's barely. The transfer error is common to every kernel of its kind (one factor prices
    them all), so many adds do not average it out."""
    base = load_host_profile()
    rows = _rows(base, _truth({"conv": 1.0, "eltwise": 1.0}))
    rows[3] = dataclasses.replace(rows[3], ms=rows[3].ms * 1.5)  # an eltwise probe
    rows[4] = dataclasses.replace(rows[4], ms=rows[4].ms / 1.5)
    f = quick.fit_factors(base, rows)
    assert f["transfer_error"]["eltwise"] > 0.15 > 0.05 > f["transfer_error"]["conv"]  # the 68th percentile of
    # three: the robust fit follows two of them and leaves the third 0.5 (log) off
    adapted = quick.adapt(base, f, {})
    common = adapted.residual["common_error"]["kinds"]
    assert common["eltwise"] == pytest.approx(f["transfer_error"]["eltwise"], abs=1e-4)
    assert common["deconv"] == pytest.approx(float(np.median(list(f["transfer_error"].values()))), abs=1e-4)
    assert adapted.residual["kind_error"] == base.residual["kind_error"]  # the lookup's own errors stay its own
    assert adapted.residual["kinds"] is base.residual["kinds"]  # the lookup itself is the profile's
    many_adds = host_prediction(_eltwise(64, 64), adapted)[1]
    assert many_adds.sigma >= 0.9 * common["eltwise"]

    def width(graph, profile):
        p = host_prediction(graph, profile)[1]
        return p.worst_ms / p.best_ms

    adds = _eltwise(64, 64)
    convs = conv_chain(48, [24, 24])
    assert width(adds, adapted) > 1.2 * width(adds, quick.adapt(base, {**f, "transfer_error": {}}, {}))
    assert width(convs, adapted) < 1.1 * width(convs, quick.adapt(base, {**f, "transfer_error": {}}, {}))


def _fc(rows: int, cin: int, cout: int):
    b = GraphBuilder()
    x = b.input((1, rows, cin))
    return b.graph([b.op("FULLY_CONNECTED", [x, b.tensor((cout, cin), const=True), -1], (1, rows, cout),
                         keep_num_dims=True)])


def test_fully_connected_layers_with_weights_beyond_the_l2_get_their_own_factor():
    """A host on which fully connected layers whose weights exceed the profile host's L2 slow 1.4x and the
    others 2x: the fit tells them apart, and a layer of either size that is not a probe moves by its own."""
    base = load_host_profile()
    truth = _truth({"conv": 1.0, "eltwise": 1.0, "fc": 2.0, "fc:beyond": 1.4})
    host = quick.adapt(base, truth, {})
    assert set(host.group_gflops) == {"fc:beyond"}
    rows = _rows(base, truth)
    for shape in ((196, 96, 384), (64, 192, 768), (196, 768, 1024), (724, 2408, 664)):
        ks = split_kernels(_fc(*shape))
        rows.append(quick.ProbeRow(MicroSpec("fc", "dense", shape[0], 1, shape[1], shape[2]), ks,
                                   predict_kernels(ks, host).latency_ms, predict_kernels(ks, base).latency_ms))
    f = quick.fit_factors(base, rows)
    assert f["speed"]["fc"] == pytest.approx(2.0, rel=0.1)
    assert f["speed"]["fc:beyond"] == pytest.approx(1.4, rel=0.1)
    adapted = quick.adapt(base, f, {})
    for shape in ((98, 256, 256), (98, 1024, 1536)):  # 0.26 MB and 6.3 MB of weights
        ks = split_kernels(_fc(*shape))
        assert quick.speed_group(ks[0], base) == ("fc:beyond" if shape[1] == 1024 else "fc")
        assert predict_kernels(ks, adapted).latency_ms == pytest.approx(predict_kernels(ks, host).latency_ms, rel=0.05)
    assert profile_from_json(json.loads(json.dumps(profile_to_json(adapted)))) == adapted


OVERHEAD_HERE = 0.01


def _measured_here(ks, gmacs: float, ms_per_mb: float) -> float:
    """A single-layer probe's time on a host that runs its kernel at ``gmacs`` G multiply-adds/s (output channels
    padded to 16) plus ``ms_per_mb`` per MB of weights, whatever the profile's shape model says."""
    k = ks[0]
    padded = k.macs * (-(-k.geometry.cout // 16) * 16) / k.geometry.cout
    return OVERHEAD_HERE + padded / (gmacs * 1e6) + k.weight_bytes / 2**20 * ms_per_mb


def _deconv_here(ks) -> float:
    """A transposed conv's time on a host that runs them at 8 G multiply-adds/s plus 0.05 ms per MB of weights."""
    return _measured_here(ks, 8.0, 0.05)


def _in_network(ks, profile, alone: float) -> float:
    """A one-kernel model's price on ``profile`` whose kernel alone takes ``alone`` ms: the in-network factor
    (``network["memory_factor"]``) moves it by its memory share."""
    slower = (profile.network.get("memory_factor", 1.0) - 1) * kernel_terms(ks[0], profile).memory_share
    return profile.overhead_ms + alone * (1 + slower)


def _deconv_rows(base, timing=lambda ks, ref: _deconv_here(ks), overhead: float = OVERHEAD_HERE) -> list[quick.ProbeRow]:
    """``_rows`` plus the per-inference overhead and five transposed-conv probes timed ``timing(kernels,
    reference)`` here (default: as ``_deconv_here``)."""
    rows = _rows(base, _truth({"conv": 1.0, "eltwise": 1.0}))
    rows.append(quick.ProbeRow(quick.OVERHEAD_PROBE, split_kernels(_eltwise(1, 4)), overhead, base.overhead_ms))
    for shape in ((4, 1024, 512), (16, 128, 64), (28, 64, 32), (64, 160, 4), (8, 640, 256)):
        ks = split_kernels(deconv_graph(*shape))
        assert [k.kind for k in ks] == ["deconv"]
        ref = predict_kernels(ks, base).latency_ms
        rows.append(quick.ProbeRow(MicroSpec("deconv", "deconv", shape[0], shape[0], shape[1], shape[2], 4, 2), ks,
                                   timing(ks, ref), ref))
    return rows


def test_transposed_convs_take_the_model_measured_on_this_host():
    """On a host whose transposed convs run as ``_deconv_here`` says, the quick calibration measures the two
    rates from the single-layer probes and the adapted profile prices a transposed conv that is not a probe by
    them."""
    base = load_host_profile()
    rows = _deconv_rows(base)
    f = quick.fit_factors(base, rows)
    model = f["local"]["deconv"]
    assert 1 / model["ms_per_mmac"] == pytest.approx(8.0, rel=1e-3) and model["ms_per_mb"] == pytest.approx(0.05, rel=1e-3)
    assert f["transfer_error"]["deconv"] < 1e-3  # the model's own error on its probes
    adapted = quick.adapt(base, f, {})
    for shape in ((2, 512, 512), (32, 96, 3)):  # a 16 MB one from a 2x2 input; one to 3 channels
        ks = split_kernels(deconv_graph(*shape))
        here = _deconv_here(ks) - OVERHEAD_HERE
        assert predict_kernels(ks, adapted).latency_ms == pytest.approx(_in_network(ks, adapted, here), rel=5e-3)
        assert predict_kernels(ks, base).latency_ms != pytest.approx(predict_kernels(ks, adapted).latency_ms, rel=0.1)
    assert json.loads(json.dumps(profile_to_json(adapted)))["local_models"]["deconv"] == model  # saved with the profile
    assert profile_from_json(profile_to_json(adapted)).local_models == adapted.local_models
    assert "deconv" not in quick.fit_factors(base, rows[:-2])["local"]  # 3 probes are too few: the factor stays


COLD_CURVE = {"ms_per_mb": 0.02, "sizes_mb": [1.0, 9.0, 16.0], "cold": [0.0, 0.0, 1.0]}  # cold from 9 to 16 MB


def test_transposed_convs_with_cold_sub_convolution_weights_get_a_rate_of_their_own():
    """Transposed convs whose sub-convolution weights (16.8 and 21 MB: XNNPACK re-reads them per tile of output
    pixels) the host's weight-streaming curve counts cold ran 0.04 ms per padded M multiply-adds over the two rates
    of the rest: given as probes without a reference on the profile's host, the measured model takes that third
    rate, keeps the other two, and prices a cold layer that is no probe by it; without them it has no third rate,
    however cold the curve counts the other probes."""
    base = load_host_profile()
    rows = _deconv_rows(base)
    cold = []
    for shape in ((4, 1280, 1024), (6, 1024, 1024)):
        ks = split_kernels(deconv_graph(*shape))
        assert cold_panel(ks[0], COLD_CURVE) == 1.0
        cold.append((MicroSpec("deconv", "deconv", shape[0], shape[0], shape[1], shape[2], 4, 2), ks,
                     _deconv_here(ks) + local_macs(ks[0], 16) / 1e6 * 0.04))
    model = quick.fit_factors(base, rows, stream=COLD_CURVE, unreferenced=cold)["local"]["deconv"]
    assert model["ms_per_cold_mmac"] == pytest.approx(0.04, rel=1e-3) and model["probes"] == 7
    assert 1 / model["ms_per_mmac"] == pytest.approx(8.0, rel=1e-3) and model["ms_per_mb"] == pytest.approx(0.05, rel=1e-3)
    layer = split_kernels(deconv_graph(8, 1280, 1024))[0]  # the 256-px generator's 20 MB sub-convolutions
    here = dataclasses.replace(base, local_models={"deconv": model}, network={"stream": COLD_CURVE}, gemm_tile=16)
    assert kernel_terms(layer, here).compute == pytest.approx(_deconv_here([layer]) - OVERHEAD_HERE
                                                              + local_macs(layer, 16) / 1e6 * 0.04, rel=1e-3)
    assert "ms_per_cold_mmac" not in quick.fit_factors(base, rows, stream=COLD_CURVE)["local"]["deconv"]
    everything_cold = {**COLD_CURVE, "sizes_mb": [0.01, 0.02, 0.03]}  # a noisy sitting's curve: the other probes cold
    assert "ms_per_cold_mmac" not in quick.fit_factors(base, rows, stream=everything_cold)["local"]["deconv"]
    assert cold_panel(split_kernels(deconv_graph(16, 128, 64))[0], COLD_CURVE) == 0.0  # 0.5 MB: held


def test_a_transposed_conv_to_few_channels_costs_a_whole_gemm_tile():
    """The measured models pad output channels to the host's GEMM tile (``local_tile``: 32 with AVX-512), not its
    SIMD width: a generator's output layer to 4 channels costs what one to 32 does, one to 40 what one to 64 does."""
    model = {"ms_per_mmac": 0.04, "ms_per_mb": 0.0}
    base = load_host_profile()
    here = dataclasses.replace(base, gemm_tile=32)
    assert local_tile(here) == 32 and local_tile(dataclasses.replace(base, gemm_tile=0)) == base.simd
    ms = {c: local_ms(split_kernels(deconv_graph(64, 160, c))[0], model, local_tile(here)) for c in (4, 32, 40, 64)}
    assert ms[4] == pytest.approx(ms[32]) and ms[40] == pytest.approx(ms[64]) == pytest.approx(2 * ms[32])


def test_a_kernel_priced_by_a_measured_model_takes_the_in_network_factor_on_its_weights_share():
    """The weights' part of a measured model's time is its traffic (``KernelTerms.memory_share``), as the fit
    prices it on its roofline: a slower memory in a network moves a one-row classifier head, nearly all weights,
    by nearly all of the factor and a layer over many rows by little of it; alone, each is the model's time."""
    model = {"ms_per_mmac": 0.02, "ms_per_mb": 0.1}
    base = load_host_profile()
    here = dataclasses.replace(base, local_models={"fc": model}, network={"memory_factor": 1.5})
    for rows, least, most in ((1, 0.9, 1.0), (3136, 0.0, 0.05)):
        k = split_kernels(_fc(rows, 1024, 1000))[0]
        t = kernel_terms(k, here)
        assert t.ms == pytest.approx(local_ms(k, model, local_tile(here)))
        assert least < t.memory_share < most
        assert predict_kernels([k], here).per_kernel_ms[0] == pytest.approx(t.ms * (1 + 0.5 * t.memory_share))


def test_a_transposed_conv_model_without_a_rate_is_not_kept():
    """Probes whose times fall as their multiply-adds grow give no sensible rate: the kind keeps its factor."""
    base = load_host_profile()
    rows = [quick.ProbeRow(quick.OVERHEAD_PROBE, split_kernels(_eltwise(1, 4)), 0.01, base.overhead_ms)]
    for i, shape in enumerate(((4, 64, 64), (8, 64, 64), (16, 64, 64), (32, 64, 64))):
        ks = split_kernels(deconv_graph(*shape))
        rows.append(quick.ProbeRow(MicroSpec("deconv", "deconv", shape[0], shape[0], 64, 64, 4, 2), ks, 1.0 / (i + 1), 1.0))
    models, _ = quick.local_models([(r.spec, r.kernels, r.ms) for r in rows], base.simd)
    assert models == {}


def test_a_host_whose_transposed_convs_change_by_one_factor_keeps_the_factor():
    """Transposed-conv probes that all slowed 1.5x, as the profile's shape model predicts them: a factor explains
    them exactly and two measured rates do not, so no measured model is kept."""
    base = load_host_profile()
    rows = _deconv_rows(base, lambda ks, ref: 1.5 * ref, overhead=base.overhead_ms)
    assert "deconv" in quick.local_models([(r.spec, r.kernels, r.ms) for r in rows], base.simd)[0]  # can be fitted ...
    f = quick.fit_factors(base, rows)
    assert "deconv" not in f["local"] and f["speed"]["deconv"] == pytest.approx(1.5, rel=0.05)  # ... the factor wins
    assert quick.adapt(base, f, {}).local_models == {}


def test_quick_command_reports_the_measured_transposed_conv_model(host_dir, monkeypatch):
    from snapcheck.cli import app

    base = load_host_profile()
    rows = _deconv_rows(base)
    timed = _timed(rows)
    write_profile(host_dir / "base.json", dataclasses.replace(base, quick_reference={r.spec.key(): r.reference_ms
                                                                                      for r in rows}))
    monkeypatch.setattr(quick, "measure_probes", lambda *a, **k: timed)
    monkeypatch.setattr(quick, "gemm_tile", lambda: 16)  # the tile ``_measured_here`` pads to, whatever runs this
    result = CliRunner().invoke(app, ["calibrate", "--quick", "--profile", str(host_dir / "base.json")])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "deconv kernels: priced by a model measured here, 8.0 G multiply-adds/s + 0.050 ms per MB of weights (5 probes)" in out
    assert "the fit's only: priced by the model measured below" in out
    assert json.loads(host_profile_path().read_text())["local_models"]["deconv"]["probes"] == 5


def _conv(hw: int, cin: int, cout: int):
    return split_kernels(conv_chain(hw, [cin, cout]))


def test_stems_and_dense_convs_to_few_or_off_tile_channels_form_groups_of_their_own():
    """The shipped profile's host computes 32 output channels at a time (its lookup's tile): convs to at most 8
    are ``narrow``, those to fewer than 64 that are not 32 ``offtile``, those from fewer than 8 channels stems;
    a pointwise conv and a profile without a lookup keep their kind."""
    base = load_host_profile()
    assert base.residual["align"] == 32
    groups = {c: speed_group(_conv(32, 32, c)[0], base) for c in (1, 4, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96)}
    assert groups == {1: "conv:narrow", 4: "conv:narrow", 8: "conv:narrow", 16: "conv:offtile", 24: "conv:offtile",
                      32: "conv", 40: "conv:offtile", 48: "conv:offtile", 56: "conv:offtile", 64: "conv", 80: "conv",
                      96: "conv"}
    assert speed_group(_conv(32, 3, 16)[0], base) == speed_group(_conv(32, 4, 64)[0], base) == "conv:stem"
    assert speed_group(_conv(32, 32, 4)[0], base, conv_groups=False) == "conv"
    assert speed_group(_conv(32, 32, 4)[0], dataclasses.replace(base, residual={})) == "conv"
    b = GraphBuilder()
    x = b.input((1, 32, 32, 32))
    pointwise = split_kernels(b.graph([tflite_conv(b, x, 32, 32, 4, 1)]))
    assert [k.kind for k in pointwise] == ["pointwise"] and speed_group(pointwise[0], base) == "pointwise"
    assert {speed_group(quick.main_kernel(split_kernels(conv_chain(p.h, [p.cin, p.cout], p.k))), base)
            for p in GROUP_PROBES if p.stride == 1 and not p.kw} == {"conv:narrow", "conv:offtile", "conv:stem"}


def _group_rows(base, host, shapes) -> list[quick.ProbeRow]:
    rows = []
    for hw, cin, cout in shapes:
        ks = _conv(hw, cin, cout)
        rows.append(quick.ProbeRow(MicroSpec("conv", "conv", hw, hw, cin, cout, 3), ks,
                                   predict_kernels(ks, host).latency_ms, predict_kernels(ks, base).latency_ms))
    return rows


def test_conv_groups_are_measured_against_their_kinds_factor_and_stay_out_of_the_fit():
    """A host on which convs to few channels slow 0.75x, off-tile ones 1.2x and stems 2x where the others slow
    1.5x (as on an AMD EPYC without AVX-512 against the Intel profile host): each group gets its own speed from
    its probes, the conv factor is the other probes' alone, and a conv of any group that is not a probe moves by
    its own."""
    base = load_host_profile()
    host = quick.adapt(base, _truth({"conv": 1.5, "eltwise": 1.0, "conv:narrow": 0.75, "conv:offtile": 1.2,
                                     "conv:stem": 2.0}), {})
    assert set(host.group_gflops) == {"conv:narrow", "conv:offtile", "conv:stem"}
    rows = _rows(base, _truth({"conv": 1.5, "eltwise": 1.0}))
    narrow = _group_rows(base, host, ((56, 320, 4), (32, 512, 8), (28, 256, 3)))
    offtile = _group_rows(base, host, ((64, 168, 16), (24, 200, 24), (16, 384, 48)))
    stems = _group_rows(base, host, ((128, 3, 32), (64, 3, 64), (80, 3, 112)))
    f = quick.fit_factors(base, rows + narrow + offtile + stems)
    assert f["speed"]["conv"] == pytest.approx(quick.fit_factors(base, rows)["speed"]["conv"], rel=1e-6)
    assert f["speed"]["conv:narrow"] == pytest.approx(0.75, rel=0.05)
    assert f["speed"]["conv:offtile"] == pytest.approx(1.2, rel=0.05)
    assert f["speed"]["conv:stem"] == pytest.approx(2.0, rel=0.05)
    adapted = quick.adapt(base, f, {})
    for cin, cout in ((64, 4), (128, 40), (96, 128), (3, 24)):
        ks = _conv(48, cin, cout)
        assert predict_kernels(ks, adapted).latency_ms == pytest.approx(predict_kernels(ks, host).latency_ms, rel=0.05)
    assert profile_from_json(json.loads(json.dumps(profile_to_json(adapted)))) == adapted
    assert "conv:narrow" not in quick.fit_factors(base, rows + narrow[:2] + offtile)["speed"]  # 2 probes: too few


def test_a_profile_written_before_the_conv_groups_reads_its_fully_connected_group():
    d = profile_to_json(load_host_profile())
    d.pop("group_gflops")
    d["beyond_cache_gflops"] = {"fc": 40.0}
    assert profile_from_json(d).group_gflops == {"fc:beyond": 40.0}


def test_transposed_convs_whose_weight_panel_leaves_the_l2_get_their_own_factor():
    """A host on which transposed convs re-reading a weight panel beyond the profile host's L2 run as before
    and the others 1.3x slower: the fit tells them apart by the panel (a quarter of a 4 x 4, stride-2 one's
    weights), not by the weights."""
    base = load_host_profile()
    truth = _truth({"conv": 1.0, "eltwise": 1.0, "deconv": 1.3, "deconv:beyond": 1.0})
    host = quick.adapt(base, truth, {})
    assert set(host.group_gflops) == {"deconv:beyond"}
    rows = _rows(base, truth)
    for shape in ((16, 128, 64), (28, 64, 32), (16, 320, 128), (4, 1024, 512), (8, 896, 688), (12, 480, 712)):
        ks = split_kernels(deconv_graph(*shape))
        rows.append(quick.ProbeRow(MicroSpec("deconv", "deconv", shape[0], shape[0], shape[1], shape[2], 4, 2), ks,
                                   predict_kernels(ks, host).latency_ms, predict_kernels(ks, base).latency_ms))
    f = quick.fit_factors(base, rows)
    assert f["speed"]["deconv"] == pytest.approx(1.3, rel=0.1)
    assert f["speed"]["deconv:beyond"] == pytest.approx(1.0, rel=0.1)
    adapted = quick.adapt(base, f, {})
    for shape, group in (((16, 512, 128), "deconv"), ((8, 1280, 512), "deconv:beyond")):  # 4 MB of weights: 1 MB panel
        ks = split_kernels(deconv_graph(*shape))
        assert quick.speed_group(ks[0], base) == group
        assert predict_kernels(ks, adapted).latency_ms == pytest.approx(predict_kernels(ks, host).latency_ms, rel=0.05)


def _fc_here(ks) -> float:
    """A fully connected layer's time on a host that runs them at 50 G multiply-adds/s plus 0.02 ms per MB of
    weights, over many rows or one."""
    return _measured_here(ks, 50.0, 0.02)


def test_fully_connected_layers_can_take_the_model_measured_on_this_host():
    """On a host whose fully connected layers run as ``_fc_here`` says (one rate over many rows, weight streaming
    over one), the quick calibration keeps the measured model for them, one-row heads and wide MLPs alike."""
    base = load_host_profile()
    rows = _rows(base, _truth({"conv": 1.0, "eltwise": 1.0}))
    rows.append(quick.ProbeRow(quick.OVERHEAD_PROBE, split_kernels(_eltwise(1, 4)), OVERHEAD_HERE, base.overhead_ms))
    for shape in ((1, 512, 512), (1, 2048, 512), (64, 96, 384), (196, 192, 768), (196, 768, 1024), (724, 2408, 664)):
        ks = split_kernels(_fc(*shape))
        rows.append(quick.ProbeRow(MicroSpec("fc", "dense", shape[0], 1, shape[1], shape[2]), ks, _fc_here(ks),
                                   predict_kernels(ks, base).latency_ms))
    f = quick.fit_factors(base, rows)
    assert 1 / f["local"]["fc"]["ms_per_mmac"] == pytest.approx(50.0, rel=1e-3)
    adapted = quick.adapt(base, f, {})
    for shape in ((1, 1280, 1000), (196, 384, 1536)):  # a classifier head; a ViT-S MLP
        ks = split_kernels(_fc(*shape))
        here = _fc_here(ks) - OVERHEAD_HERE
        assert predict_kernels(ks, adapted).latency_ms == pytest.approx(_in_network(ks, adapted, here), rel=5e-3)


def test_dense_convs_off_the_hosts_gemm_tile_are_priced_by_their_fill():
    """The shipped profile's lookup learned a 32-wide GEMM tile; on a host computing 16 output channels at a
    time a conv to 76 channels computes 80 where the lookup priced 96: its work scales by 80/96. Convs to a
    multiple of 32, to fewer than 32 channels (another micro-kernel on the profile's host: their group's factor
    prices them) and stems do not change, nor does any conv on a profile not adapted to a host of another tile."""
    from snapcheck.estimate.roofline import tile_fill

    base = load_host_profile()
    here = dataclasses.replace(base, gemm_tile=16)
    fills = {c: tile_fill(_conv(32, 64, c)[0], here) for c in (4, 8, 16, 40, 64, 76, 96, 100)}
    assert fills == pytest.approx({4: 1.0, 8: 1.0, 16: 1.0, 40: 0.75, 64: 1.0, 76: 80 / 96, 96: 1.0, 100: 112 / 128})
    assert tile_fill(_conv(32, 3, 76)[0], here) == 1.0
    assert tile_fill(_conv(32, 64, 76)[0], base) == tile_fill(_conv(32, 64, 76)[0], dataclasses.replace(
        base, gemm_tile=32)) == 1.0
    k = _conv(32, 64, 76)[0]
    assert kernel_terms(k, here).compute == pytest.approx(kernel_terms(k, base).compute * 80 / 96)


def test_the_fit_takes_the_hosts_tile_so_off_tile_networks_do_not_bend_the_conv_factor():
    """A 16-tile host whose convs all run 1.5x slower than the profile's on their compute roofs, off-tile ones
    by their fill less: given the tile, the fit recovers x1.5 and an in-network factor of 1 from networks of
    off-tile convs; without it, their partial tiles read as convs faster than the conv probes say (the networks,
    bound by their arithmetic, pull the conv factor down and are still left off), and the adapted profile keeps the
    tile."""
    base = load_host_profile()
    truth = {**_truth({"conv": 1.5, "eltwise": 1.0}), "tile": 16}
    host = quick.adapt(base, truth, {})
    assert host.gemm_tile == 16
    rows = _rows(base, truth)
    for widths in ((32, 76, 100), (24, 40, 72), (64, 88, 44)):
        ks = split_kernels(conv_chain(48, list(widths)))
        rows.append(quick.ProbeRow(NetSpec(f"off{widths}", 48, widths[0], (), ()), ks,
                                   predict_kernels(ks, host).latency_ms, predict_kernels(ks, base).latency_ms))
    f = quick.fit_factors(base, rows, tile=16)
    assert f["speed"]["conv"] == pytest.approx(1.5, rel=0.02) and f["network"] == pytest.approx(1.0, abs=0.02)
    assert f["tile"] == 16 and quick.adapt(base, f, {}).gemm_tile == 16
    blind = quick.fit_factors(base, rows)  # the networks, bound by their arithmetic, bend the conv factor
    assert blind["speed"]["conv"] < 1.5 * 0.9 and np.abs(blind["network_errors"]).max() > 0.05
    adapted = quick.adapt(base, f, {})
    assert profile_from_json(json.loads(json.dumps(profile_to_json(adapted)))).gemm_tile == 16


def test_gemm_tile_reads_the_cpus_flags(tmp_path):
    from snapcheck.calibrate.harness import gemm_tile

    info = tmp_path / "cpuinfo"
    for flags, tile in (("fpu sse2 avx avx2 fma", 16), ("avx2 fma avx512f avx512bw", 32), ("fpu sse2", 0)):
        info.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
        assert gemm_tile(info) == tile
    info.write_text("processor\t: 0\nFeatures\t: fp asimd evtstrm aes\nCPU part\t: 0xd0c\n")  # aarch64: 6x8
    assert gemm_tile(info) == 8
    assert gemm_tile(tmp_path / "missing") == 0
    # this machine: numpy's view of the CPU (CPUID and the OS's register state) agrees with the flags Linux lists
    if Path("/proc/cpuinfo").is_file():
        assert gemm_tile() == gemm_tile(Path("/proc/cpuinfo"))


def _cold_timings(profile, rate: float, cache: float) -> list[tuple]:
    """``measure_probes`` rows for ``quick.cold_probes()`` on a host where ``profile`` prices every kernel right
    and each MB of cold inputs (at a ``cache``-byte L2) costs ``rate`` ms more. The kernels are a stand-in: a
    chain of 0.6 MB activations whose first one a skip reads again after the others have passed the cache."""
    rows = []
    for i, spec in enumerate(quick.cold_probes()):
        ks = split_kernels(skip_chain(48, 64, 3 + i))
        cold = sum(c["cold_inputs"] for c in cold_bytes(ks, cache)) / 1e6
        ms = predict_kernels(ks, profile).latency_ms + rate * cold
        rows.append((spec, ks, timing_hit(ms)))
    return rows


def test_cold_probes_are_cell_networks_of_each_style_at_a_classifiers_scale():
    from snapcheck.calibrate.random_nets import net_style

    cells = quick.cold_probes()
    assert sorted(net_style(s.name) for s in cells) == sorted(
        style for style, n in quick.COLD_STYLES.items() for _ in range(n))
    assert all(1e8 <= s.macs <= 5e8 and s.res >= 160 for s in cells)
    keys = [s.key() for s in quick.probe_specs()]
    assert len(keys) == len(set(keys)) and {s.key() for s in cells} <= set(keys)


def test_cold_rate_is_what_the_profile_leaves_of_the_cell_networks_per_cold_megabyte(monkeypatch):
    monkeypatch.setattr(quick, "COLD_MIN_MB", 0.1)
    base, cache = load_host_profile(), 2**21
    r = quick.cold_rate(_cold_timings(base, 0.3, cache), base, cache)
    assert r["ms_per_mb"] == pytest.approx(0.3, rel=1e-3) and r["cache_bytes"] == cache
    n = len(quick.cold_probes())
    assert r["probes"] == pytest.approx([0.3] * n, rel=1e-3) and len(r["timings"]) == n
    assert quick.cold_rate(_cold_timings(base, -0.2, cache), base, cache)["ms_per_mb"] == 0.0  # never a discount
    timed = _cold_timings(base, 0.3, cache)
    timed[0] = (timed[0][0], timed[0][1], timing_hit(10 * timed[0][2]["median_ms"]))  # one probe far off
    assert quick.cold_rate(timed, base, cache)["ms_per_mb"] == pytest.approx(0.3, rel=1e-3)  # the median holds
    assert len(quick.cold_rate(timed[1:], base, cache)["probes"]) == n - 1
    slowed = [(spec, ks, timing_hit(hit["median_ms"] * (1.3 if i < n // 2 else 1.0)))  # half of them in a slow phase
              for i, (spec, ks, hit) in enumerate(_cold_timings(base, 0.3, cache))]
    rates = sorted(quick.cold_rate(slowed, base, cache)["probes"])
    assert quick.cold_rate(slowed, base, cache)["ms_per_mb"] == pytest.approx(rates[(n - 1) // 2], abs=1e-5)
    assert n % 2 == 0 and quick.cold_rate(slowed, base, cache)["ms_per_mb"] == pytest.approx(0.3, rel=1e-3)
    assert quick.cold_rate([], base, cache) == {}
    monkeypatch.setattr(quick, "COLD_MIN_MB", 100.0)  # no probe reads enough cold inputs to measure
    assert quick.cold_rate(_cold_timings(base, 0.3, cache), base, cache) == {}


def test_cold_inputs_add_to_networks_here_and_single_kernels_keep_their_price():
    base = load_host_profile()
    plain = quick.adapt(base, _truth({}), {})
    cold = quick.adapt(base, {**_truth({}), "cold": {"cache_bytes": 2**21, "ms_per_mb": 0.3}}, {})
    assert cold.network["cold_ms_per_mb"] == {"cold_inputs": 0.3} and cold.network["cache_bytes"] == 2**21
    net = split_kernels(skip_chain(48, 64, 5))
    mb = sum(c["cold_inputs"] for c in cold_bytes(net, 2**21)) / 1e6
    assert mb > 0.5
    assert predict_kernels(net, cold).latency_ms == pytest.approx(predict_kernels(net, plain).latency_ms + 0.3 * mb)
    single = split_kernels(conv_chain(16, [32, 32]))
    assert predict_kernels(single, cold).latency_ms == pytest.approx(predict_kernels(single, plain).latency_ms)


def test_quick_measures_cold_inputs_on_the_cells_and_keeps_them_out_of_the_fit(monkeypatch):
    monkeypatch.setattr(quick, "COLD_MIN_MB", 0.1)
    monkeypatch.setattr(quick, "l2_cache_bytes", lambda unknown=0.0: 2**21)
    base = load_host_profile()
    rows = _rows(base, _truth({"conv": 1.0, "eltwise": 1.0}))
    timed = _timed(rows)
    cells = _cold_timings(base, 0.3, 2**21)
    # a reference for the cells (as a full calibration would record) still leaves them out of the factors' fit
    reference = {r.spec.key(): r.reference_ms for r in rows} | {s.key(): 1.0 for s, _, _ in cells}
    base = dataclasses.replace(base, quick_reference=reference)
    adapted, factors, got = quick.calibrate_quick(base, timed=timed + cells)
    assert [r.spec for r in got] == [r.spec for r in rows]
    assert factors["cold"]["ms_per_mb"] == pytest.approx(0.3, rel=0.02)
    assert adapted.network["cold_ms_per_mb"] == {"cold_inputs": factors["cold"]["ms_per_mb"]}
    assert adapted.meta["quick"]["cold"]["cache_bytes"] == 2**21
    priced = dataclasses.replace(base, network={"cold_ms_per_mb": {"cold_weights": 0.02}})
    adapted, factors, _ = quick.calibrate_quick(priced, timed=timed + cells)
    assert "cold" not in factors and adapted.network["cold_ms_per_mb"] == {"cold_weights": pytest.approx(0.02, rel=0.05)}


def _row_timings(out_ns: float, in_ns: float, relu_ms: float = 0.013, mirror_ns: float | None = None) -> list[tuple]:
    """``measure_probes`` rows for ``micro.ROW_PROBES`` on a host whose broadcasting multiply costs ``out_ns`` per
    row out of place and ``in_ns`` in place, after a ReLU of ``relu_ms``; with ``mirror_ns``, the reflection pad's
    probe too, at that cost per output element."""
    from snapcheck.calibrate.micro import ROW_PROBES

    b = GraphBuilder()
    y = b.op("RELU", [b.input((1, 224, 224, 3))], (1, 224, 224, 3))
    ks = split_kernels(b.graph([b.op("MUL", [y, b.tensor((1, 1, 1, 3), const=True)], (1, 224, 224, 3))]))
    relu, out, inplace, mirror, *_ = ROW_PROBES
    rows = [(relu, ks[:1], timing_hit(relu_ms)), (out, ks, timing_hit(relu_ms + 50_176 * out_ns / 1e6)),
            (inplace, ks, timing_hit(relu_ms + 50_176 * in_ns / 1e6))]
    if mirror_ns is not None:
        b = GraphBuilder()
        pads = b.tensor((4, 2), "int32", const=True)
        padded = split_kernels(b.graph([b.op("MIRROR_PAD", [b.input((1, 64, 64, 32)), pads], (1, 66, 66, 32))]))
        rows.append((mirror, padded, timing_hit(relu_ms + 66 * 66 * 32 * mirror_ns / 1e6)))
    return rows


def test_row_rates_are_each_multiplys_time_past_the_relu_per_row():
    assert quick.row_rates(_row_timings(2.9, 7.5)) == {"out": pytest.approx(2.9), "in": pytest.approx(7.5)}
    assert quick.row_rates(_row_timings(2.9, 7.5, mirror_ns=6.0)) == {
        "out": pytest.approx(2.9), "in": pytest.approx(7.5), "mirror": pytest.approx(6.0)}
    assert quick.row_rates(_row_timings(2.9, 7.5)[:2]) == {}  # the in-place probe was not timed
    assert quick.row_rates([]) == {}


def test_per_row_costs_measured_here_replace_the_profiles_and_follow_the_kernel_cost_otherwise():
    base = load_host_profile()
    measured = quick.adapt(base, {**_truth({}), "rows": {"out": 4.0, "in": 9.0}}, {})
    assert measured.network["row_ns"] == {**base.network["row_ns"], "out": 4.0, "in": 9.0}  # "mirror" not timed
    measured = quick.adapt(base, {**_truth({}), "rows": {"out": 4.0, "in": 9.0, "mirror": 5.0}}, {})
    assert measured.network["row_ns"] == {**base.network["row_ns"], "out": 4.0, "in": 9.0, "mirror": 5.0}
    slower = quick.adapt(base, {**_truth({}), "kernel_us": 2.0}, {})
    assert slower.network["row_ns"] == {k: pytest.approx(2 * v) for k, v in base.network["row_ns"].items()}


def test_quick_measures_rows_and_keeps_their_probes_out_of_the_fit(monkeypatch):
    base = load_host_profile()
    rows = _rows(base, _truth({"conv": 1.3, "eltwise": 1.0}))
    timed = _timed(rows) + _row_timings(3.0, 8.0, mirror_ns=6.5)
    base = dataclasses.replace(base, quick_reference={**{r.spec.key(): r.reference_ms for r in rows},
                                                      **{s.key(): 0.001 for s, _, _ in timed[len(rows):]}})
    adapted, factors, got = quick.calibrate_quick(base, timed=timed)
    assert [r.spec for r in got] == [r.spec for r in rows]  # a reference would have put them in; they stay apart
    measured = {k: adapted.network["row_ns"][k] for k in ("out", "in", "mirror")}
    assert measured == {"out": pytest.approx(3.0), "in": pytest.approx(8.0), "mirror": pytest.approx(6.5)}
    assert set(adapted.network["row_ns"]) == set(base.network["row_ns"])  # the rest: the profile host's, scaled
    assert adapted.meta["quick"]["rows"] == factors["rows"]


def _weight_timings(profile, rate: float, cache: float) -> list[tuple]:
    """``measure_probes`` rows for ``quick.weight_probes()`` on a host where ``profile`` prices every kernel right and
    each MB of weights read from beyond a ``cache``-byte L2 costs ``rate`` ms more. The kernels are a stand-in: a
    chain of 1x1 convs with 1 MB of weights each, 3-4 MB in all."""
    rows = []
    for i, spec in enumerate(quick.weight_probes()):
        ks = split_kernels(conv_chain(8, [512] * (4 + i % 2), k=1))
        cold = sum(c["cold_weights"] for c in cold_bytes(ks, cache)) / 1e6
        rows.append((spec, ks, timing_hit(predict_kernels(ks, profile).latency_ms + rate * cold)))
    return rows


def test_weight_probes_are_small_networks_heavy_in_weights_and_apart_from_the_others():
    from snapcheck.calibrate.random_nets import weight_bytes

    heavy = quick.weight_probes()
    assert len(heavy) == quick.WEIGHT_PROBES
    for spec in heavy:
        w = weight_bytes(spec) / 1e6
        assert 2 <= w <= 16 and spec.macs <= 3e8 and w / (spec.macs / 1e9) >= quick.WEIGHT_MB_PER_GMAC
    keys = {s.key() for s in heavy}
    assert keys <= {s.key() for s in quick.probe_specs()}
    assert not keys & {s.key() for s in quick.probe_nets() + quick.cold_probes()}


def test_weight_rate_is_what_the_profile_leaves_per_megabyte_of_weights_beyond_the_l2():
    base, cache = load_host_profile(), 2**21
    r = quick.weight_rate(_weight_timings(base, 0.01, cache), base, cache)
    assert r["ms_per_mb"] == pytest.approx(0.01, rel=1e-3) and r["cache_bytes"] == cache
    assert len(r["probes"]) == quick.WEIGHT_PROBES and len(r["timings"]) == quick.WEIGHT_PROBES
    assert quick.weight_rate(_weight_timings(base, -0.01, cache), base, cache)["ms_per_mb"] == 0.0
    assert quick.weight_rate(_weight_timings(base, 0.01, 64 * 2**20), base, 64 * 2**20) == {}  # all kept
    assert quick.weight_rate([], base, cache) == {}


def test_both_cold_rates_go_into_the_network_correction():
    base = load_host_profile()
    both = quick.adapt(base, {**_truth({}), "cold": {"cache_bytes": 2**21, "ms_per_mb": 0.3},
                              "weights": {"cache_bytes": 2**21, "ms_per_mb": 0.01}}, {})
    assert both.network["cold_ms_per_mb"] == {"cold_inputs": 0.3, "cold_weights": 0.01}
    weights = quick.adapt(base, {**_truth({}), "weights": {"cache_bytes": 2**21, "ms_per_mb": 0.01}}, {})
    assert weights.network["cold_ms_per_mb"] == {"cold_weights": 0.01} and weights.network["cache_bytes"] == 2**21
    net = split_kernels(conv_chain(8, [512] * 5, k=1))
    mb = sum(c["cold_weights"] for c in cold_bytes(net, 2**21)) / 1e6
    plain = quick.adapt(base, _truth({}), {})
    assert predict_kernels(net, weights).latency_ms == pytest.approx(predict_kernels(net, plain).latency_ms + 0.01 * mb)


def test_memory_beyond_the_cache_is_measured_apart_from_the_rest():
    """A host whose memory beyond the profile host's 2 MB cache streams at 0.4x the time and whose caches run
    1.2x (a Zen 4 EPYC's large, fast L3 against the Xeon's): the memory-bound probes beyond the cache stay out of
    the fit and give the far factor, the rest the memory factor; a large element-wise op that is not a probe
    moves by the far one. With fewer than ``FAR_MIN_PROBES`` such probes the far memory keeps the memory factor."""
    base = load_host_profile()
    truth = {**_truth({"conv": 1.0, "eltwise": 1.0}, memory=1.2), "memory_far": 0.4}
    host = quick.adapt(base, truth, {})
    far = []
    for hw in (96, 128):
        ks = split_kernels(_eltwise(hw, 64))
        far.append(quick.ProbeRow(MicroSpec("eltwise", "add", hw, hw, 64), ks, predict_kernels(ks, host).latency_ms,
                                  predict_kernels(ks, base).latency_ms))
    rows = _rows(base, truth) + far  # with _rows' 64 x 64 x 64 add (3 MB): three beyond the cache
    mains = [quick.main_kernel(r.kernels) for r in rows if isinstance(r.spec, MicroSpec)]
    assert sum(quick.beyond_share(m, base) >= quick.FAR_SHARE for m in mains) == 3
    f = quick.fit_factors(base, rows)
    assert f["far_probes"] == 3
    assert f["memory_far"] == pytest.approx(0.4, rel=0.05) and f["memory"] == pytest.approx(1.2, rel=0.05)
    big = split_kernels(_eltwise(112, 32))  # 4.6 MB, not a probe
    assert predict_kernels(big, quick.adapt(base, f, {})).latency_ms == \
        pytest.approx(predict_kernels(big, host).latency_ms, rel=0.05)
    tied = quick.fit_factors(base, rows[:-1])
    assert tied["memory_far"] == tied["memory"]


def test_depthwise_windows_beyond_nine_taps_are_a_group_measured_apart():
    """XNNPACK runs 4 x 4 and 5 x 5 depthwise windows on its 25-tap micro-kernel, 3 x 3 ones on the 9-tap one; a
    CPU changes the two unlike each other, so the wide windows are a speed group with probes of their own."""
    base = load_host_profile()

    def dw(hw: int, c: int, k: int):
        b = GraphBuilder()
        x, w = b.input((1, hw, hw, c)), b.tensor((1, k, k, c), const=True)
        y = b.op("DEPTHWISE_CONV_2D", [x, w, -1], (1, hw, hw, c), padding="SAME", stride_h=1, stride_w=1,
                 depth_multiplier=1, fused_activation_function="NONE")
        return split_kernels(b.graph([y]))[0]

    assert speed_group(dw(28, 64, 3), base) == "depthwise"
    assert speed_group(dw(28, 64, 4), base) == speed_group(dw(14, 240, 5), base) == "depthwise:window"
    assert speed_group(dw(28, 64, 5), base, conv_groups=False) == "depthwise"
    windows = [p for p in quick.probe_specs() if isinstance(p, MicroSpec) and p.op == "depthwise" and p.k in (4, 5)]
    assert len(windows) >= quick.GROUP_MIN_PROBES


def test_a_cache_that_does_not_hold_large_tensors_gets_a_rate_for_their_traffic():
    """The beyond probes ran 0.03 ms per MB of their cold traffic over their price (the far probes, whose traffic
    the weight-streaming curve counts partly cold already, at theirs): ``beyond_rate`` gives that rate back, the
    adapted profile charges a large memory-bound layer by it and leaves a small one and a compute-bound conv alone;
    probes at their price give none."""
    from snapcheck.calibrate.micro import BEYOND_PROBES, FAR_PROBES
    from snapcheck.estimate.network import beyond_ms, stream_share

    base = load_host_profile()
    stream = {"ms_per_mb": 0.02, "sizes_mb": [4.0, 8.0, 16.0, 32.0], "cold": [0.0, 0.0, 0.5, 1.0]}
    host = dataclasses.replace(base, network={**base.network, "stream": stream})
    far = {s.key(): split_kernels(_eltwise(s.h, s.cin)) for s in FAR_PROBES}
    held = float(max(stream_share(stream, [ks[0].bytes for ks in far.values()])))
    assert 0.0 < held < 1.0
    beyond = {s.key(): split_kernels(_eltwise(s.h, s.cin)) for s in BEYOND_PROBES}

    def timed(rate: float) -> list[tuple]:
        rows = [(s, far[s.key()], timing_hit(predict_kernels(far[s.key()], host).latency_ms)) for s in FAR_PROBES]
        for s in BEYOND_PROBES:
            ks = beyond[s.key()]
            ms = predict_kernels(ks, host).latency_ms + rate * ks[0].bytes / 1e6  # all of it cold: 100+ MB
            rows.append((s, ks, timing_hit(ms)))
        return rows

    got = quick.beyond_rate(timed(0.03), host)
    assert got["ms_per_mb"] == pytest.approx(0.03, rel=1e-3) and got["held"] == pytest.approx(held, abs=1e-4)
    assert got["probes"] == len(BEYOND_PROBES)
    assert quick.beyond_rate(timed(0.0), host) == {}
    assert quick.beyond_rate(timed(0.03), base) == {}  # no weight-streaming curve: nothing to say what is cold
    net = {**host.network, "beyond": {"ms_per_mb": 0.03, "held": held}}
    big, small = split_kernels(_eltwise(128, 192))[0], split_kernels(_eltwise(16, 16))[0]
    conv = split_kernels(conv_chain(64, [256, 256]))[0]
    out = beyond_ms([big, small, conv], net, [1.0, 1.0, 0.2])
    assert out[0] == pytest.approx(0.03 * big.bytes / 1e6) and out[1] == 0.0  # 37.7 MB: all of it cold
    assert out[2] == pytest.approx(0.03 * 0.2 * conv.bytes / 1e6 * float(np.clip(
        (stream_share(stream, [conv.bytes])[0] - held) / (1 - held), 0, 1)))
    assert beyond_ms([big], {**net, "beyond": {}}, [1.0]) == [0.0]
