"""The in-network correction of the kernel model (estimate.network): the cold-cache model, the correction
applied, and the profile schema (no TensorFlow, no timing)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from cost_fixtures import GraphBuilder

from snapcheck.estimate import host_prediction
from snapcheck.estimate.kernels import Kernel, split_kernels
from snapcheck.estimate.network import cold_bytes, network_terms, peak_live_bytes, row_floor_ms, working_set_bytes
from snapcheck.estimate.profiles import HOST_PROFILE, load_host_profile, profile_from_json, profile_to_json
from snapcheck.estimate.roofline import predict_kernels

L2 = 2 ** 21


def _k(kind: str, ins, outs, w: int = 0) -> Kernel:
    total = sum(s for _, s in ins) + sum(s for _, s in outs) + w
    return Kernel(kind=kind, ops=[0], flops=1000, macs=500, bytes=total, work=1000.0, inputs=list(ins),
                  outputs=list(outs), weight_bytes=w)


def test_cold_bytes_follow_an_lru_cache():
    small = [_k("conv", [(0, 1000)], [(1, 1000)], 500), _k("eltwise", [(1, 1000)], [(2, 1000)])]
    assert all(c[f] == 0 for c in cold_bytes(small, L2) for f in ("cold_weights", "cold_inputs"))
    # a 1.5 MB weight read once per inference, with 3 MB of other traffic between: cold in the network
    big = [_k("conv", [(0, 1000)], [(1, 1000)], 1_500_000), _k("eltwise", [(1, 1000)], [(2, 3_000_000)]),
           _k("eltwise", [(2, 3_000_000)], [(3, 1000)])]
    cold = cold_bytes(big, L2)
    assert cold[0]["cold_weights"] == pytest.approx(1_500_000)
    assert cold[2]["cold_inputs"] == 0  # read right after it was written: warm up to the cache size
    assert cold[1]["cold_inputs"] == 0
    assert cold[0]["cold_inputs"] == 0  # a graph input is never counted cold
    assert cold_bytes(big, 1e9)[0]["cold_weights"] == 0


def test_weights_stay_warm_while_the_working_set_fits_whatever_the_traffic():
    """The runtime reuses its arena: 20 MB of activations written and read in turn, never more than 2 MB of
    them alive, leave 1.5 MB of weights in a 4 MB cache; in a 3 MB cache they are cold (as much of them as the
    kernel alone kept: 1 MB beside its 2 MB of activations)."""
    mb = 1_000_000
    kernels = [_k("conv", [(0, mb)], [(1, mb)], 1_500_000)]
    kernels += [_k("eltwise", [(i, mb)], [(i + 1, mb)]) for i in range(1, 20)]
    assert sum(k.bytes for k in kernels) > 40 * mb
    assert peak_live_bytes(kernels) == 2 * mb
    assert working_set_bytes(kernels) == 3.5 * mb
    assert cold_bytes(kernels, 4 * mb)[0]["cold_weights"] == 0
    assert cold_bytes(kernels, 3 * mb)[0]["cold_weights"] == pytest.approx(mb)
    # a skip connection keeps its tensor alive until its last reader
    skip = [_k("eltwise", [(0, mb)], [(1, mb)]), _k("eltwise", [(1, mb)], [(2, mb)]),
            _k("concat", [(2, mb), (0, mb)], [(3, 2 * mb)])]
    assert peak_live_bytes(skip) == 4 * mb


def test_profile_round_trip_and_old_profiles_still_load(tmp_path):
    host = load_host_profile()
    net = {"kind_factor": {"conv": 1.2, "all": 1.0}, "kind_coef": {"conv": {"lcout": 0.1}},
           "feature_range": {"conv": {"lcout": [-1.0, 1.0]}}, "cold_ms_per_mb": {"cold_weights": 0.02},
           "kernel_us": 1.0, "cache_bytes": float(L2), "meta": {"variant": "test"}}
    p = dataclasses.replace(host, network=net)
    path = tmp_path / "host.json"
    path.write_text(json.dumps(profile_to_json(p)))
    again = load_host_profile(str(path))
    assert again == p
    old = json.loads(HOST_PROFILE.read_text())
    old.pop("network", None)
    assert profile_from_json(old).network == {}
    kernels = [_k("conv", [(0, 4096)], [(1, 4096)], 8192), _k("eltwise", [(1, 4096)], [(2, 4096)])]
    for k in kernels:
        k.reduction, k.channels = 64, 16
    bare = dataclasses.replace(host, network={})
    base = predict_kernels(kernels, bare).per_kernel_ms
    assert network_terms(kernels, base, {}, [1.0, 1.0]) == base
    scaled = predict_kernels(kernels, dataclasses.replace(bare, network={"kind_factor": {"conv": 2.0}}))
    assert scaled.per_kernel_ms[0] == pytest.approx(2 * base[0]) and scaled.per_kernel_ms[1] == pytest.approx(base[1])


def test_a_skip_read_after_the_cache_has_turned_over_is_cold_and_a_graph_input_is_not():
    """A 0.5 MB activation read again after 2 MB of other traffic is cold in a 2 MB L2 but for the 97 KB the L2
    has beyond those 2 MB (its micro-benchmark kept it warm); the 1.2 MB graph input of a model whose inference
    moves 6 MB is not counted."""
    mb = 1_000_000
    net = [_k("eltwise", [(0, 1_200_000)], [(1, mb // 2)]), _k("eltwise", [(1, mb // 2)], [(2, 1_500_000)]),
           _k("eltwise", [(2, 1_500_000)], [(3, mb // 2)]), _k("eltwise", [(3, mb // 2), (1, mb // 2)], [(4, mb // 2)])]
    cold = cold_bytes(net, L2)
    assert [c["cold_inputs"] for c in cold[:3]] == [0, 0, 0]
    assert cold[3]["cold_inputs"] == pytest.approx(mb // 2 - (L2 - 2 * mb))


def test_a_broadcasting_kernel_takes_at_least_its_rows_at_the_profiles_per_row_cost():
    """50,176 rows of 3 at 2.5 ns (out of place) or 6.6 ns (in place): 0.13 or 0.33 ms, whatever the traffic
    says; a flat kernel and a wide-row one stay priced as they were."""
    rows = {"out": 2.5, "in": 6.6}
    narrow = dataclasses.replace(_k("eltwise", [(0, 602_112)], [(1, 602_112)]), rows=50_176)
    assert row_floor_ms(narrow, rows) == pytest.approx(0.12544)
    assert row_floor_ms(dataclasses.replace(narrow, inplace=True), rows) == pytest.approx(0.3311616)
    assert row_floor_ms(dataclasses.replace(narrow, rows=0), rows) == 0
    assert row_floor_ms(narrow, {}) == 0
    net = {"row_ns": rows}
    assert network_terms([narrow], [0.02], net, [1.0]) == [pytest.approx(0.12544)]
    assert network_terms([narrow], [0.5], net, [1.0]) == [pytest.approx(0.5)]  # its traffic takes longer than its rows
    assert network_terms([dataclasses.replace(narrow, rows=0)], [0.02], net, [1.0]) == [pytest.approx(0.02)]


def test_the_memory_factor_moves_each_kernel_by_the_share_its_traffic_takes():
    """x1.2 in a network where traffic bounds a kernel: a memory-bound kernel (share 1) by all of it, one whose
    traffic fills a quarter of its compute time by a quarter of it."""
    a, b = _k("eltwise", [(0, 100)], [(1, 100)]), _k("conv", [(1, 100)], [(2, 100)])
    net = {"memory_factor": 1.2}
    assert network_terms([a, b], [1.0, 2.0], net, [1.0, 0.25]) == [pytest.approx(1.2), pytest.approx(2.1)]
    assert network_terms([a, b], [1.0, 2.0], net, [1.0, 1.0]) == [pytest.approx(1.2), pytest.approx(2.4)]
    with pytest.raises(ValueError):  # a share for every kernel
        network_terms([a, b], [1.0, 2.0], net, [1.0])
    assert network_terms([a, b], [1.0, 2.0], {"row_ns": {}}, [1.0, 0.25]) == [1.0, 2.0]


def test_the_shipped_host_profile_prices_rows_and_nothing_else_in_the_network():
    p = load_host_profile()
    assert set(p.network) == {"row_ns"} and p.network["row_ns"]["in"] > p.network["row_ns"]["out"] > 0


def test_weights_larger_than_the_cache_are_as_cold_alone_as_in_the_network():
    """A 3 MB weight streams through a 2 MB L2 in its micro-benchmark too: nothing extra in a network; a 1.5 MB
    one is warm alone and cold in a network whose working set passes the cache."""
    mb = 1_000_000
    net = [_k("conv", [(0, 1000)], [(1, 1000)], 3 * mb), _k("conv", [(1, 1000)], [(2, 1000)], 1_500_000)]
    cold = cold_bytes(net, L2)
    assert cold[0]["cold_weights"] == 0
    assert cold[1]["cold_weights"] == pytest.approx(1_500_000)


def test_a_reflection_pad_is_priced_per_output_element_at_the_hosts_rate():
    b = GraphBuilder()
    pads = b.tensor((4, 2), "int32", const=True)
    y = b.op("MIRROR_PAD", [b.op("RELU", [b.input((1, 64, 64, 128))], (1, 64, 64, 128)), pads], (1, 66, 66, 128))
    g = b.graph([b.op("RELU", [y], (1, 66, 66, 128))])
    pad = split_kernels(g)[1]
    assert (pad.kind, pad.rows, pad.row_rate) == ("copy", 66 * 66 * 128, "mirror")
    base = load_host_profile()
    assert host_prediction(g, base)[1].per_kernel_ms[1] == pytest.approx(
        66 * 66 * 128 * base.network["row_ns"]["mirror"] / 1e6, rel=0.01)  # 3.5 ms timed on the profile's Xeon
    free = dataclasses.replace(base, network={**base.network, "row_ns": {"out": 2.0, "in": 7.0}})
    assert host_prediction(g, free)[1].per_kernel_ms[1] < 0.5  # no rate: its traffic, as before


def _copy_graph(op: str, shape: tuple[int, ...], out: tuple[int, ...], const: list[int] | None = None, **attrs):
    b = GraphBuilder()
    extra = []
    if const is not None:
        t = b.ints(const)
        extra = [b.tensor((4,), "int32", const=True), b.tensor((4,), "int32", const=True), t] if op == "STRIDED_SLICE" \
            else [t]
    y = b.op(op, [b.op("RELU", [b.input(shape)], shape), *extra], out, **attrs)
    return split_kernels(b.graph([b.op("RELU", [y], out)]))[1]


def test_copies_xnnpack_does_not_run_count_their_steps():
    s2 = _copy_graph("STRIDED_SLICE", (1, 128, 128, 32), (1, 64, 64, 32), [1, 2, 2, 1])
    assert (s2.rows, s2.row_rate) == (64 * 64 * 32, "strided")
    crop = _copy_graph("STRIDED_SLICE", (1, 128, 128, 32), (1, 126, 126, 32), [1, 1, 1, 1])
    assert (crop.rows, crop.row_rate) == (0, "")  # stride 1: XNNPACK's slice, priced by its traffic
    last = _copy_graph("GATHER", (1, 64, 64, 64), (1, 64, 64, 64), list(range(64)), axis=3)
    assert (last.rows, last.row_rate) == (64 * 64 * 64, "gather")  # one element per gathered slice
    rows = _copy_graph("GATHER", (1, 64, 64, 64), (1, 64, 64, 64), list(range(64)), axis=1)
    assert rows.rows == 64  # whole rows: 64 slices of 64 x 64
