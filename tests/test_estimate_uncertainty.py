"""The estimate's range: each kernel's measured error, and the calibrated envelope (hand-built graphs)."""

from __future__ import annotations

import math

import pytest
from cost_fixtures import GraphBuilder, conv_chain, tflite_conv

from snapcheck.estimate.kernels import split_kernels
from snapcheck.estimate.profiles import load_host_profile
from snapcheck.estimate.roofline import predict_kernels
from snapcheck.estimate.uncertainty import (
    OUTSIDE_ERROR, SHARED_GRID, Z, KernelError, choose_shared, kernel_errors, spread, why_outside,
)


def test_spread_adds_within_a_kind_and_in_quadrature_across_kinds():
    g = conv_chain(32, [8, 16, 16])
    ks = split_kernels(g)
    assert [k.kind for k in ks] == ["conv", "conv"]
    same = spread(ks, [1.0, 1.0], [KernelError(0.1, True), KernelError(0.1, True)])
    assert same == pytest.approx(0.1)  # one kind: its error is shared, not averaged away
    ks[1].kind = "pointwise"
    mixed = spread(ks, [1.0, 1.0], [KernelError(0.1, True), KernelError(0.1, True)])
    assert mixed == pytest.approx(math.sqrt(2) * 0.1 / 2)



def test_an_unshared_error_averages_out_over_a_kinds_kernels():
    ks = split_kernels(conv_chain(32, [8, 16, 16]))
    errs = [KernelError(0.1, True), KernelError(0.1, True)]
    assert spread(ks, [1.0, 1.0], errs, shared=0.0) == pytest.approx(0.1 / math.sqrt(2))
    half = spread(ks, [1.0, 1.0], errs, shared=0.5)
    assert half == pytest.approx(math.sqrt(0.5 * 0.2 ** 2 + 0.5 * 2 * 0.1 ** 2) / 2)
    assert spread(ks, [1.0, 1.0], errs, shared=0.0) < half < spread(ks, [1.0, 1.0], errs, shared=1.0)


def test_a_hosts_common_errors_never_average_out():
    """On a profile adapted by ``--quick``: a kind's transfer error is every kernel of the kind's (one factor prices
    them all), and the host's noise the whole network's, however many kernels share the time."""
    ks = split_kernels(conv_chain(32, [8, 16, 16, 16, 16]))
    errs = [KernelError(0.0, True)] * len(ks)
    per = [1.0] * len(ks)
    assert spread(ks, per, errs, shared=0.0, common={"kinds": {"conv": 0.2}, "host": 0.0}) == pytest.approx(0.2)
    ks[1].kind = "pointwise"  # a quarter of the time in a kind without a transfer error of its own here
    assert spread(ks, per, errs, shared=0.0, common={"kinds": {"conv": 0.2}}) == pytest.approx(0.75 * 0.2)
    assert spread(ks, per, errs, shared=0.0, common={"kinds": {"conv": 0.2}, "host": 0.1}) == \
        pytest.approx(math.hypot(0.75 * 0.2, 0.1))
    lone = spread(ks, per, [KernelError(0.2, True)] * len(ks), shared=0.0)  # the same size, folded per kernel
    assert lone < 0.75 * 0.2


def test_choose_shared_takes_the_smallest_share_whose_ranges_hold_the_networks():
    ks = split_kernels(conv_chain(32, [8, 16, 16]))
    errs = [KernelError(0.1, True), KernelError(0.1, True)]

    def net(log_err: float) -> tuple:
        return ks, [1.0, 1.0], 2.0 * math.exp(log_err), 2.0, errs

    assert choose_shared([net(0.0)] * 10) == SHARED_GRID[0]  # exact predictions: the narrowest ranges do
    # errors just inside the fully shared range (Z x 0.1) need every kernel's error shared
    assert choose_shared([net(0.99 * Z * 0.1)] * 10) == 1.0
    # an error that only a share of 0.5 covers, on every network
    need = Z * spread(ks, [1.0, 1.0], errs, 0.5) * 0.999
    assert choose_shared([net(need)] * 10) == 0.5
    # one network in ten outside every range still leaves 90% covered at the smallest share
    assert choose_shared([net(0.0)] * 9 + [net(1.0)]) == SHARED_GRID[0]

def test_an_uncalibrated_window_is_outside_and_widens_the_range():
    host = load_host_profile()
    b = GraphBuilder()
    x = b.input((1, 128, 128, 8))
    y = tflite_conv(b, x, 128, 8, 16, k=15)  # no calibrated conv has a 15x15 window
    ks = split_kernels(b.graph([y]))
    errors = kernel_errors(ks, host.residual)
    assert not errors[0].inside and errors[0].sigma == OUTSIDE_ERROR
    assert "15x15" in why_outside(ks[0], host.residual)
    wide = predict_kernels(ks, host)
    assert wide.outside == [0] and wide.outside_share == pytest.approx(1.0)
    inside = predict_kernels(split_kernels(conv_chain(64, [32, 32])), host)
    assert inside.outside == [] and wide.worst_ms / wide.latency_ms > 1.5 * inside.worst_ms / inside.latency_ms


def test_an_unknown_kind_is_outside():
    b = GraphBuilder()
    x = b.input((1, 64, 64, 8))
    y = b.op("CUMSUM", [x, b.tensor((1,), "int32", const=True)], (1, 64, 64, 8))
    ks = split_kernels(b.graph([y]))
    assert ks[0].kind == "other"
    assert kernel_errors(ks, load_host_profile().residual) == [KernelError(OUTSIDE_ERROR, False)]


def test_sc603_names_a_slow_kernel_outside_the_envelope_but_not_a_tiny_one():
    from snapcheck.estimate import check_estimates
    from snapcheck.rules import load_ruleset

    def graph(side: int, cin: int, cout: int):
        b = GraphBuilder()
        x = b.input((1, side, side, cin))
        return b.graph([tflite_conv(b, x, side, cin, cout, k=15)])  # no calibrated conv has a 15x15 window

    big = [f for f in check_estimates(graph(128, 8, 16), load_ruleset("5.x"))[1] if f.code == "SC603"]
    assert len(big) == 1 and "15x15" in big[0].message
    tiny = graph(8, 4, 4)  # as far outside, but microseconds: a 2x error changes no frame rate
    host = load_host_profile()
    pred = predict_kernels(split_kernels(tiny), host)
    assert pred.outside_share == pytest.approx(1.0) and pred.latency_ms < 0.1
    assert not [f for f in check_estimates(tiny, load_ruleset("5.x"))[1] if f.code == "SC603"]
