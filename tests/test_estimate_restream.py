"""Dense convs whose GEMM re-reads its weights for every tile of output rows on one host and not on another
(``roofline.weight_passes``, ``roofline.restream_fill``) and the balance ``calibrate --quick`` measures for them
(``quick.restream_balance``, ``quick.host_balance``)."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from cost_fixtures import conv_chain, timing_hit

from snapcheck.calibrate import harness, quick
from snapcheck.calibrate.micro import MicroSpec
from snapcheck.estimate.kernels import split_kernels
from snapcheck.estimate.profiles import load_host_profile, profile_from_json, profile_to_json
from snapcheck.errors import InputError
from snapcheck.estimate.roofline import balance_at, kernel_terms, restream_fill, weight_passes

MB = 2.0**20


def _conv(hw: int, cin: int, cout: int, k: int = 4):
    return split_kernels(conv_chain(hw, [cin, cout], k=k))[0]


def _host(tile: int, cache: float, balance: float = 0.0):
    """The shipped profile adapted to a host with GEMM tile ``tile`` and an L2 of ``cache`` bytes, nothing else
    changed (``balance`` 0: the profile host's)."""
    return quick.on_host(load_host_profile(), tile, cache, balance)


def test_a_gemm_re_reads_its_weights_per_row_tile_only_when_one_tile_overflows_the_l2():
    """XNNPACK fits mr input rows of K and nr weight columns of K in the L2; a 4 x 4 conv over 1,024 channels
    (K = 16,384) overflows 2 MB with AVX-512's 7 x 32 tile (2.5 MB) but not with AVX2's 6 x 16 (1.4 MB), and a
    1 MB L2 with both. Over 16 x 16 pixels the 7-row tiles then read the weights 37 times."""
    g = _conv(16, 1024, 256).geometry
    assert weight_passes(g, 32, 2 * MB) == math.ceil(256 / 7) == 37
    assert weight_passes(g, 16, 2 * MB) == 1
    assert weight_passes(g, 16, 1 * MB) == math.ceil(256 / 6)
    half = _conv(16, 512, 256).geometry  # K = 8,192: 1.25 MB with the wide tile
    assert weight_passes(half, 32, 2 * MB) == 1 and weight_passes(half, 32, 1 * MB) == 37
    assert weight_passes(_conv(2, 1024, 256).geometry, 32, 2 * MB) == 1  # 4 pixels: one tile of rows
    assert weight_passes(g, 0, 2 * MB) == 1  # no known tile


def test_the_shipped_profile_records_its_hosts_balance_and_prices_nothing_by_it():
    base = load_host_profile()
    assert base.restream["flops_per_byte"] > 0 and base.restream["probes"]
    k = _conv(16, 1024, 256)
    assert restream_fill(k, base) == 1.0
    assert restream_fill(k, _host(32, base.feature_cache_bytes)) == pytest.approx(1.0)  # the same host


def test_a_conv_bound_by_re_reading_on_the_profiles_host_computes_faster_where_it_reads_once():
    """On the profile's host the 16 x 16 conv is bound by 37 passes over its weights: r = 37 x balance /
    (pixels / 2 FLOPs per byte), 1.4 at the shipped balance. On an AVX2 host with the same L2 it reads them once
    and its compute shrinks by that. A smaller L2 makes a conv that fitted re-read: slower. Stems and
    depthwise convs are not GEMMs of this kind."""
    base = load_host_profile()
    beta = base.restream["flops_per_byte"]
    k = _conv(16, 1024, 256)
    r = 37 * beta / (256 / 2)
    assert r > 1
    avx2 = _host(16, 2 * MB)
    assert restream_fill(k, avx2) == pytest.approx(1 / r)
    assert kernel_terms(k, avx2).compute == pytest.approx(kernel_terms(k, base).compute / r)
    fitted = _conv(16, 512, 256)  # K = 8,192: fits 2 MB with either tile, not 1 MB with the wide one
    assert restream_fill(fitted, _host(32, 1 * MB)) == pytest.approx(max(1.0, 37 * beta / 128))
    assert restream_fill(fitted, _host(32, 1 * MB, balance=beta / 10)) == 1.0  # a host that re-reads fast
    assert restream_fill(_conv(16, 3, 256), avx2) == 1.0
    assert restream_fill(_conv(16, 1024, 24), _host(32, 1 * MB)) == 1.0  # below the tile: another micro-kernel


def test_the_adapted_profile_keeps_the_hosts_l2_and_balance_through_json():
    host = _host(16, 1 * MB, balance=3.5)
    back = profile_from_json(json.loads(json.dumps(profile_to_json(host))))
    assert back.restream["host_flops_per_byte"] == 3.5 and back.restream["host_cache_bytes"] == 1 * MB
    assert back.gemm_tile == 16
    assert quick.on_host(load_host_profile(), 16, 0.0).restream == load_host_profile().restream  # no L2 known
    assert quick.on_host(load_host_profile(), 0, 1 * MB).restream == load_host_profile().restream  # no tile known


def _timed_conv(hw: int, cin: int, cout: int, ms: float) -> tuple:
    spec = MicroSpec("conv", "conv", hw, hw, cin, cout, 4)
    return spec, [_conv(hw, cin, cout)], timing_hit(ms)


def test_the_balance_is_the_conv_speed_times_the_time_over_the_bytes_re_read():
    """A probe bound by re-reading 37 passes of 16.8 MB in 25 ms re-reads at 24.9 GB/s; at 120 GFLOP/s that is
    4.8 FLOPs per byte. Probes that read their weights once say nothing and are left out."""
    base = dataclasses.replace(load_host_profile(), gflops={**load_host_profile().gflops, "conv": 120.0})
    timed = [_timed_conv(16, 1024, 256, 25.0), _timed_conv(16, 256, 256, 1.0), _timed_conv(16, 1024, 3, 9.0)]
    w = 16 * 1024 * 256 * 4
    got = quick.restream_balance(timed, base, 32, 2 * MB)  # not the conv to 3 channels: another micro-kernel
    assert got["flops_per_byte"] == pytest.approx(120e9 * 25e-3 / (37 * w), rel=1e-3)
    assert list(got["probes"]) == [timed[0][0].key()]
    assert quick.restream_balance(timed, base, 16, 2 * MB) == {}


def test_quick_measures_the_hosts_balance_where_a_probe_re_reads_and_moves_the_profiles_otherwise():
    base = load_host_profile()
    factors = {"speed": {"conv": 1.25}, "median": 1.0, "memory": 1.1, "kernel_us": 1.0, "overhead": 1.0,
               "network": 1.0, "tile": 16, "cache": 2 * MB}
    timed = [_timed_conv(16, 1024, 256, 25.0)]
    derived = quick.host_balance(timed, base, factors)  # the AVX2 tile reads the probe's weights once
    assert derived == {"host_flops_per_byte": pytest.approx(base.restream["flops_per_byte"] * 1.1 / 1.25, rel=1e-3),
                       "probes": {}}
    measured = quick.host_balance(timed, base, {**factors, "tile": 32, "cache": 1 * MB})
    assert list(measured["probes"]) == [timed[0][0].key()]
    assert quick.host_balance(timed, dataclasses.replace(base, restream={}), factors) == {}
    assert quick.host_balance(timed, base, {**factors, "tile": 0}) == {}  # a CPU whose GEMM tile is not known
    adapted = quick.adapt(base, {**factors, "restream": derived}, {})
    assert adapted.restream["host_flops_per_byte"] == pytest.approx(derived["host_flops_per_byte"], rel=1e-3)
    assert adapted.restream["host_cache_bytes"] == 2 * MB and adapted.gemm_tile == 16


def test_the_l2_can_be_given_where_sysfs_does_not_say_what_xnnpack_sees(monkeypatch):
    monkeypatch.setattr(harness, "cache_sizes", lambda *a: {2: 2.0 * MB})
    assert harness.l2_cache_bytes() == 2 * MB
    monkeypatch.setenv("SNAPCHECK_L2_BYTES", "1048576")
    assert harness.l2_cache_bytes(unknown=0.0) == 1 * MB
    for bad in ("1MB", "-5", "0"):
        monkeypatch.setenv("SNAPCHECK_L2_BYTES", bad)
        with pytest.raises(InputError, match="SNAPCHECK_L2_BYTES"):
            harness.l2_cache_bytes()


def test_the_balance_is_measured_and_priced_by_the_weights_size():
    """Weights that fit a large last-level cache re-read faster than those that do not: ``restream_balance`` keeps
    each size's median balance (``curve``), and a conv is priced at its own size, interpolated in log size and
    held beyond the probes'. A profile without a curve keeps its one balance."""
    base = dataclasses.replace(load_host_profile(), gflops={**load_host_profile().gflops, "conv": 120.0})
    timed = [_timed_conv(16, 1024, 64, 6.0), _timed_conv(16, 1024, 256, 25.0), _timed_conv(8, 1024, 256, 7.0)]
    got = quick.restream_balance(timed, base, 32, 1 * MB)
    w = 16 * 1024 * 256 * 4
    small = 120e9 * 6e-3 / (37 * w / 4)
    large = (120e9 * 25e-3 / (37 * w) + 120e9 * 7e-3 / (10 * w)) / 2  # 37 and 10 tiles of 7 rows
    assert [mb for mb, _ in got["curve"]] == [4.0, 16.0]
    assert got["curve"][0][1] == pytest.approx(small, rel=1e-3) and got["curve"][1][1] == pytest.approx(large, rel=1e-3)
    host = quick.on_host(load_host_profile(), 32, 1 * MB, got["flops_per_byte"], got["curve"])
    assert balance_at(5.0, host.restream["host_curve"], 8.0) == pytest.approx((small + large) / 2, rel=1e-3)
    assert balance_at(5.0, host.restream["host_curve"], 64.0) == pytest.approx(large, rel=1e-3)
    assert balance_at(5.0, None, 64.0) == 5.0
    k = _conv(16, 1024, 64)  # 4 MB of weights: priced at the small weights' balance, not the median
    beta = load_host_profile().restream["flops_per_byte"]
    assert restream_fill(k, host) == pytest.approx(max(1.0, 37 * small / 128) / max(1.0, 37 * beta / 128), rel=1e-3)
    assert quick.on_host(host, 32, 1 * MB, 3.0).restream.get("host_curve") is None  # a new balance drops the old curve


def test_a_probe_that_re_reads_its_weights_here_measures_the_balance_and_not_the_conv_speed():
    """On a host whose L2 makes the 4 x 4 conv over 1,024 channels re-read its weights (1 MB, the wide tile) and
    not the one over 256, the first is timed 2.5x slower than its price there: that is its re-reading, which
    ``restream_balance`` measures on it. The conv factor is the same with it in the rows as without it; on a host
    where it would not re-read, it is fitted, and the robust fit leaves it off."""
    from snapcheck.estimate.roofline import predict_kernels

    base = load_host_profile()
    assert quick.rereads(_conv(16, 1024, 256), 32, 1 * MB) == 37
    assert quick.rereads(_conv(16, 256, 256), 32, 1 * MB) == 1
    assert quick.rereads(_conv(16, 1024, 256), 0, 1 * MB) == 0  # the tile not known
    assert quick.rereads(_conv(16, 1024, 3), 32, 1 * MB) == 0  # to fewer channels than the tile: not the GEMM's

    def row(hw: int, cin: int, cout: int, slower: float) -> quick.ProbeRow:
        ks = [_conv(hw, cin, cout)]
        ms = predict_kernels(ks, base).latency_ms
        return quick.ProbeRow(MicroSpec("conv", "conv", hw, hw, cin, cout, 4), ks, 1.3 * slower * ms, ms)

    plain = [row(16, 256, 256, 1.0), row(32, 128, 128, 1.0), row(24, 192, 64, 1.0)]
    rereading = row(16, 1024, 256, 2.5)
    alone = quick.fit_factors(base, plain, tile=32, cache=1 * MB)["speed"]["conv"]
    assert quick.fit_factors(base, [*plain, rereading], tile=32, cache=1 * MB)["speed"]["conv"] == \
        pytest.approx(alone, rel=1e-6)
    kept = quick.fit_factors(base, [*plain, rereading], tile=32, cache=4 * MB)  # no re-reading there: fitted
    assert kept["errors"][-1] < -0.8  # its time is not the conv factor's (log 2.5 = 0.92), and the robust fit
    assert kept["speed"]["conv"] == pytest.approx(alone, rel=0.02)  # leaves it off rather than follow it
