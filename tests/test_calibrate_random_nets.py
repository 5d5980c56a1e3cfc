"""The random-network generator of the network stage: seeded, spread over the held-out kinds, apart from them
(no TensorFlow, no timing)."""

from __future__ import annotations

import dataclasses
from collections import Counter

from snapcheck.calibrate.nets import family
from snapcheck.calibrate.random_nets import (BLOCKS, MAX_MACS, MIN_MACS, UP_BLOCKS, _Builder, is_held_out_safe,
                                             random_nets)


def test_random_nets_are_deterministic_and_seeded():
    a, b, c = random_nets(40, 0), random_nets(40, 0), random_nets(40, 1)
    assert a == b
    assert [s.key() for s in a] == [s.key() for s in b]
    assert len({s.key() for s in a} & {s.key() for s in c}) == 0
    assert len({s.layers for s in a}) == len(a)


def test_random_nets_cover_the_held_out_kinds_and_stay_apart():
    nets = random_nets(160, 0)
    recipes = Counter(r for n in nets for r in n.recipes)
    ops = Counter(ly.op for n in nets for ly in n.layers)
    assert set(recipes) == set(BLOCKS) | set(UP_BLOCKS)
    assert min(recipes.values()) >= 20
    for op in ("conv", "pw", "dw", "deconv", "nearest", "bilinear", "maxpool", "avgpool", "add", "concat", "dense"):
        assert ops[op] >= 20, op
    assert {ly.act for n in nets for ly in n.layers} >= {"relu", "relu6", "leaky", "hswish", "tanh", "sigmoid", ""}
    assert {ly.k for n in nets for ly in n.layers if ly.op == "deconv"} == {2, 3, 4}
    res = [n.res for n in nets]
    assert min(res) == 32 and max(res) == 256 and len(set(res)) >= 12
    assert all(MIN_MACS <= n.macs <= MAX_MACS for n in nets)
    assert all(is_held_out_safe(n) for n in nets)
    # a net with one recipe and widths that are multiples of 8 (every held-out architecture) is rejected
    one = dataclasses.replace(nets[0], recipes=("conv",) * 4)
    assert not is_held_out_safe(one)


def test_separable_family_is_mobile_style_and_families_keep_their_streams():
    nets = random_nets(600, 0)
    assert Counter(family(n) for n in nets) == {"mixed": 320, "deep": 160, "sep": 120}
    sep = [n for n in nets if "-sep-" in n.name]
    assert all(set(n.recipes) <= {"conv", "sep", "inv"} and n.recipes.count("conv") == 1 for n in sep)
    assert {ly.op for n in sep for ly in n.layers} == {"conv", "pw", "dw", "add", "gap", "dense"}
    assert max(ly.cout for n in sep for ly in n.layers if ly.op == "pw") >= 1024
    # a family's first networks do not depend on how many are drawn
    small = random_nets(300, 0)
    for label in ("-deep-", "-sep-"):
        few = [n for n in small if label in n.name]
        assert few == [n for n in nets if label in n.name][:len(few)]
    assert small[:20] == nets[:20]


def test_random_net_joins_have_matching_shapes():
    for n in random_nets(60, 3):
        b = _Builder(n.res, n.cin)
        for ly in n.layers:
            if ly.op in ("add", "concat"):
                side, c = b.side, b.c
                other = b.shapes[ly.src] if ly.src >= 0 else (n.res, n.cin)
                assert other[0] == side, n.name
                if ly.op == "add":
                    assert other[1] == c, n.name
            b.add(ly)
