"""The lookup stage: the dense shape set (main, tail, heavy) and the residual samples it fits on (no
TensorFlow, no timing)."""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
import pytest
from cost_fixtures import conv_kernel as _conv

from snapcheck.calibrate import shapes
from snapcheck.calibrate.micro import PROBES, MicroSpec, macs, micro_specs
from snapcheck.calibrate.shapes import (GROUPED_SPECS, HEAVY_WEIGHT_BYTES, LARGE_WINDOW_SPECS, MAX_MACS, MIX,
                                        NARROW_DEPTHWISE_SPECS, NARROW_POINTWISE_SPECS, OFFTILE_SPECS, SOFTMAX_SPECS,
                                        STEM_SPECS, TAIL_MACS, TAIL_MIX, WIDE_WINDOW_SPECS, extra_specs, heavy_specs,
                                        lookup_specs, main_cap, residual_samples, shape_specs)
from snapcheck.cost.ops import ConvGeometry
from snapcheck.errors import InputError
from snapcheck.estimate import residual
from snapcheck.estimate.kernels import Kernel
from snapcheck.estimate.profiles import load_host_profile
from snapcheck.estimate.roofline import kernel_ms


def test_residual_samples_subtract_helper_kernels_and_overhead():
    host = dataclasses.replace(load_host_profile(), residual={}, network={})
    conv, pad = _conv(32, 32, 32, 3), Kernel(kind="copy", ops=[1], flops=0, macs=0, bytes=8192, work=0.0, label="PAD")
    pad_ms = kernel_ms(pad, host)[0]
    rows = [(None, [pad, conv], {"median_ms": 2.0 + host.overhead_ms + pad_ms}),
            (None, [conv, conv], {"median_ms": 9.0})]  # two main kernels: not a single-layer sample
    got = residual_samples(rows, dataclasses.replace(host, residual={"kinds": {"conv": {}}}))
    assert len(got) == 1
    kern, measured, roof = got[0]
    assert kern is conv and measured == pytest.approx(2.0) and roof == pytest.approx(kernel_ms(conv, host)[0])


def test_shape_specs_are_deterministic_distinct_and_spread():
    base = frozenset(micro_specs(0, 24))
    a, b = shape_specs(600, 0, base), shape_specs(600, 0, base)
    assert a == b and len(set(a)) == 600 and not set(a) & base
    assert shape_specs(600, 1, base) != a
    kinds = Counter(s.kind for s in a)
    assert set(kinds) == set(MIX)
    assert kinds["conv"] > kinds["pointwise"] > kinds["depthwise"] > kinds["deconv"]
    assert all(macs(s) <= main_cap(s.kind) <= MAX_MACS for s in a)
    convs = [s for s in a if s.kind in ("conv", "pointwise")]
    assert {s.k for s in convs} >= {1, 2, 3, 4, 5, 7} and {s.stride for s in convs} == {1, 2}
    assert min(s.h for s in convs) == 1 and max(s.h for s in convs) == 256
    widths = [s.cout for s in convs]
    assert 0.1 < np.mean([w % 8 != 0 for w in widths]) < 0.4  # mostly multiples of 8, not only


def test_macs_of_a_transposed_conv_count_its_input_pixels():
    assert macs(MicroSpec("deconv", "deconv", 16, 16, 1280, 512, 4, 2)) == 16 * 16 * 1280 * 512 * 16
    assert macs(MicroSpec("conv", "conv", 16, 16, 64, 32, 3, 2)) == 8 * 8 * 64 * 32 * 9


def test_tail_specs_lie_above_the_main_cap_and_keep_the_main_set_unchanged():
    base = frozenset(micro_specs(0, 24))
    main = shape_specs(300, 0, base)
    tail = shape_specs(60, 0, base | frozenset(main), TAIL_MIX, tail=True)
    assert len(set(tail)) == 60 and not set(tail) & (base | set(main))
    assert set(Counter(s.kind for s in tail)) == set(TAIL_MIX)
    assert all(main_cap(s.kind) < macs(s) <= TAIL_MACS[s.kind] for s in tail)
    specs = _drawn(lookup_specs(300, 0, 24, tail=60, heavy=0))
    assert specs[:len(base) + 300] == micro_specs(0, 24) + main and specs[len(base) + 300:] == tail
    assert _drawn(lookup_specs(300, 0, 24, tail=0, heavy=0)) == micro_specs(0, 24) + main


def _drawn(specs: list[MicroSpec]) -> list[MicroSpec]:
    """The lookup set without what every set ends with: ``extra_specs`` and the quick probes."""
    end = set(extra_specs(0)) | set(PROBES)
    cut = len(specs)
    while cut and specs[cut - 1] in end:
        cut -= 1
    return specs[:cut]


def test_the_set_ends_with_the_extra_shapes_and_the_quick_probes():
    specs = lookup_specs(300, 0, 24, tail=0, heavy=0)
    end = specs[len(_drawn(specs)):]
    assert set(end) <= set(extra_specs(0)) | set(PROBES) and set(PROBES) <= set(specs)
    extra = extra_specs(0)
    assert extra == extra_specs(0) and {s.op for s in extra} == {"conv", "reshape", "slice", "depthwise", "softmax",
                                                          "dense", "matmul"}
    narrow = [s for s in extra if s.kind == "pointwise"]
    assert narrow == NARROW_POINTWISE_SPECS and {s.cout for s in narrow} == {1, 2, 3, 4} and all(s.k == 1 for s in narrow)
    wide = [s for s in extra if s.op == "depthwise" and s.k == 7]
    assert wide == WIDE_WINDOW_SPECS and all(s.kind == "depthwise_large" and s.h >= 96 for s in wide)
    large = [s for s in extra if s.op == "depthwise" and s.k > 7]
    assert large == LARGE_WINDOW_SPECS and {s.k for s in large} == {9, 11} and all(macs(s) <= 45e6 for s in large)
    few = [s for s in extra if s.kind == "depthwise"]
    assert few == NARROW_DEPTHWISE_SPECS and {s.cin for s in few} == {3, 4, 6} and {s.k for s in few} == {3, 5}
    softmax = [s for s in extra if s.op == "softmax"]
    assert softmax == SOFTMAX_SPECS and {s.cin for s in softmax} >= {16, 49, 64, 197, 1024}
    assert all(25_000 <= s.h * s.w * s.cin <= 460_000 for s in softmax)
    grouped = [s for s in extra if s.groups > 1]
    assert set(GROUPED_SPECS) <= set(grouped) and all(s.cin % s.groups == 0 for s in grouped)
    assert {s.cin // s.groups for s in GROUPED_SPECS} == {4, 8, 16}
    dense = [s for s in extra if s.op == "conv" and s.kind == "conv" and s.groups == 1 and not s.kw]
    assert dense == STEM_SPECS + OFFTILE_SPECS and all(s.cin <= 4 for s in STEM_SPECS)
    assert all(s.cout & (s.cout - 1) for s in OFFTILE_SPECS) and all(macs(s) <= MAX_MACS for s in dense)
    assert {(s.k, s.kw) for s in extra if s.kw} >= {(1, 7), (7, 1), (1, 3), (3, 1)}


def test_heavy_specs_are_wide_transposed_convs_beyond_the_cache_and_come_last():
    first = _drawn(lookup_specs(300, 0, 24, tail=60, heavy=0))
    specs = _drawn(lookup_specs(300, 0, 24, tail=60, heavy=20))
    heavy = specs[len(first):]
    assert specs[:len(first)] == first and len(set(heavy)) == 20 and not set(heavy) & set(first)
    assert heavy == heavy_specs(20, 0, frozenset(first))  # a fixed seed
    for s in heavy:
        assert s.kind == "deconv" and s.stride == 2 and 256 <= min(s.cin, s.cout)
        assert 4 * s.cin * s.cout * s.k ** 2 >= HEAVY_WEIGHT_BYTES and macs(s) <= TAIL_MACS["deconv"]
    assert len({s.h for s in heavy}) >= 6  # input sizes spread, not one corner


def test_transformer_fc_and_attention_shapes_are_in_the_set():
    from snapcheck.calibrate.shapes import ATTENTION_SPECS, TRANSFORMER_FC_SPECS
    assert TRANSFORMER_FC_SPECS == shapes._transformer_fc_specs() and len(set(TRANSFORMER_FC_SPECS)) == 120
    assert all(s.kind == "fc" and 2e6 <= macs(s) <= MAX_MACS for s in TRANSFORMER_FC_SPECS)
    ratios = Counter(round(s.cout / s.cin, 2) for s in TRANSFORMER_FC_SPECS)
    assert {4.0, 0.25, 3.0, 1.0} <= set(ratios)  # up- and down-projections, qkv, output projections
    assert max(s.cin for s in TRANSFORMER_FC_SPECS) > 1024 and max(s.cout for s in TRANSFORMER_FC_SPECS) > 1024
    assert all(s.kind == "matmul" and (s.h in (s.cin, s.cout)) for s in ATTENTION_SPECS)  # T x T scores either side
    assert {s.w for s in ATTENTION_SPECS} >= {1, 12, 192}  # heads, and window attention's windows x heads
    specs = set(lookup_specs(300, 0, 24, tail=0, heavy=0))
    assert set(TRANSFORMER_FC_SPECS) <= specs and set(ATTENTION_SPECS) <= specs


def _fc(m: int, cin: int, cout: int) -> Kernel:
    return Kernel(kind="fc", ops=[0], flops=2 * m * cin * cout, macs=m * cin * cout, work=2.0 * m * cin * cout,
                  bytes=4 * (m * cin + cin * cout + m * cout), reduction=cin, channels=cout, label="FULLY_CONNECTED",
                  geometry=ConvGeometry(1, 1, cin, cout, 1, m, m), weight_bytes=4 * cin * cout)


def _extend(monkeypatch, held: int, added: int, sitting: float):
    """``extend_lookup`` on a profile whose fc table holds ``held`` of the timed shapes, ``added`` more timed with
    log residuals of their own, the whole sitting ``sitting`` times slower than the recorded one."""
    base = load_host_profile()
    bare = dataclasses.replace(base, residual={}, network={})
    kernels = [_fc(m, cin, cout) for m in (64, 256, 1024, 4096) for cin in (64, 256, 1024) for cout in (96, 384, 1536)]
    rng = np.random.default_rng(0)
    true_r = rng.normal(0, 0.2, len(kernels)).round(4)
    table = {kind: base.residual["kinds"][kind] for kind in ("conv", "pointwise")}
    table["fc"] = {"group": [], "x": [], "r": []}
    for k, r in list(zip(kernels, true_r))[:held]:
        group, x = residual.sample_key(k)
        table["fc"]["group"].append(group)
        table["fc"]["x"].append(x)
        table["fc"]["r"].append(float(r))
    base = dataclasses.replace(base, residual={**base.residual, "kinds": table})
    specs = [MicroSpec("fc", "dense", i, 1, 8, 8) for i in range(held + added)]
    rows = [(s, [k], {"median_ms": kernel_ms(k, bare)[0] * np.exp(r) * sitting + base.overhead_ms})
            for s, k, r in zip(specs, kernels, true_r)]
    monkeypatch.setattr(shapes, "lookup_specs", lambda *a, **kw: specs)
    monkeypatch.setattr(shapes, "measure_shapes", lambda got, *a, **kw: rows if got == specs else [])
    return shapes.extend_lookup(base, ("fc",)), base, true_r


def test_extend_lookup_aligns_the_sitting_on_the_held_samples_and_keeps_them(monkeypatch):
    (profile, report), base, true_r = _extend(monkeypatch, held=24, added=12, sitting=1.3)
    fc = profile.residual["kinds"]["fc"]
    assert fc["r"][:24] == base.residual["kinds"]["fc"]["r"] and fc["x"][:24] == base.residual["kinds"]["fc"]["x"]
    assert np.allclose(fc["r"][24:], true_r[24:36], atol=2e-4)  # the sitting's 1.3x taken out
    assert report["fc"]["held"] == 24 and report["fc"]["added"] == 12
    assert report["fc"]["sitting"] == pytest.approx(1.3, abs=1e-3) and report["fc"]["spread"] < 1e-3
    assert profile.residual["meta"]["samples"] == sum(len(e["r"]) for e in profile.residual["kinds"].values())
    assert "calibrate shapes --kinds" in profile.residual["meta"]["set"]
    assert profile.residual["error_shared"] == base.residual["error_shared"]


def test_extend_lookup_refuses_too_few_held_samples_and_refitted_kinds(monkeypatch):
    with pytest.raises(InputError, match="too few"):
        _extend(monkeypatch, held=5, added=12, sitting=1.0)
    with pytest.raises(InputError, match="deconv"):
        shapes.extend_lookup(load_host_profile(), ("deconv",))
