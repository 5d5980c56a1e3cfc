"""The in-network correction of the kernel model (estimate.network): the cold-cache model, the correction
applied, and the profile schema (no TensorFlow, no timing)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from snapcheck.estimate.kernels import Kernel
from snapcheck.estimate.network import cold_bytes, network_terms
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
    # the graph input is touched one inference ago: cold once the inference moves more than the cache
    assert cold[0]["cold_inputs"] == pytest.approx(1000)
    assert cold_bytes(big, 1e9)[0]["cold_weights"] == 0


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
    assert network_terms(kernels, base, {}) == base
    scaled = predict_kernels(kernels, dataclasses.replace(bare, network={"kind_factor": {"conv": 2.0}}))
    assert scaled.per_kernel_ms[0] == pytest.approx(2 * base[0]) and scaled.per_kernel_ms[1] == pytest.approx(base[1])
