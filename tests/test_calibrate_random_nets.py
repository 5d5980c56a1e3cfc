"""The random-network generator of the network stage: seeded, spread over the held-out kinds, apart from them
(no TensorFlow, no timing)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

from snapcheck.calibrate.nets import family
from snapcheck.calibrate.random_nets import (BLOCKS, MAX_MACS, MIN_MACS, UP_BLOCKS, Layer, NetSpec, _Builder,
                                             build_net_tflite, cell_nets, is_held_out_safe, net_style, probe_nets,
                                             random_nets, weight_bytes)


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


def test_cell_nets_have_real_classifiers_motifs_and_matching_joins():
    nets = cell_nets(40)
    assert nets == cell_nets(40) and cell_nets(20) == nets[:20]
    styles = Counter(net_style(n.name) for n in nets)
    assert set(styles) == {"nas", "mbse", "dense"} and min(styles.values()) >= 8
    assert all(MIN_MACS <= n.macs <= MAX_MACS and is_held_out_safe(n) for n in nets)
    nas = [n for n in nets if net_style(n.name) == "nas"]
    # NASNet-style: hundreds of layers, branches read cell inputs long after, one concat of four or five
    assert min(len(n.layers) for n in nas) >= 300
    assert {len(ly.srcs) for n in nas for ly in n.layers if ly.op == "concat"} >= {2, 3}
    assert {ly.k for n in nas for ly in n.layers if ly.op == "dw"} == {3, 5, 7}
    assert {(ly.op, ly.stride) for n in nas for ly in n.layers if ly.op.endswith("pool")} >= {("avgpool", 1),
                                                                                               ("maxpool", 2)}
    mbse = [n for n in nets if net_style(n.name) == "mbse"]
    assert all(sum(ly.op == "se" for ly in n.layers) >= 4 for n in mbse)
    assert {ly.act for n in mbse for ly in n.layers} >= {"swish", "hswish"}
    for n in nets:
        b = _Builder(n.res, n.cin)
        for ly in n.layers:
            if ly.op in ("add", "concat"):
                others = [b.shapes[i] if i >= 0 else (n.res, n.cin) for i in (ly.src, *ly.srcs)]
                assert all(o[0] == b.side for o in others), n.name
                if ly.op == "add":
                    assert all(o[1] == b.c for o in others), n.name
                else:
                    c = b.c
            b.add(ly)
            if ly.op == "concat":
                assert b.c == c + sum(o[1] for o in others)
    assert net_style(nets[0].name) and not net_style(random_nets(3)[0].name)


def test_a_join_of_many_leaves_the_keys_of_two_input_networks_alone():
    """``Layer.srcs`` is out of the layer's repr, so the probe networks keep the keys the shipped profile's
    ``quick_reference`` was recorded under; a network with a join of many still gets a key of its own."""
    from snapcheck.estimate.profiles import load_host_profile

    assert "srcs" not in repr(Layer("concat", src=1))
    reference = load_host_profile().quick_reference
    assert all(s.key() in reference for s in probe_nets())
    one = NetSpec("n", 8, 4, (Layer("conv", 4), Layer("conv", 4), Layer("concat", src=0, srcs=(1,))), ("a", "b"))
    two = dataclasses.replace(one, layers=one.layers[:2] + (Layer("concat", src=0, srcs=(0,)),))
    assert one.key() != two.key()


def test_cell_layers_build_into_the_ops_real_classifiers_have():
    """``take``, squeeze-and-excitation, swish, a stride-1 pool and a concat of three become the TFLite ops
    Keras gives NASNet and EfficientNet (built with TensorFlow)."""
    from snapcheck.estimate.kernels import split_kernels
    from snapcheck.readers.tflite_reader import read_tflite

    layers = (Layer("conv", 12, 3, 2, "swish", True),  # 0
              Layer("dw", 0, 5, 1, "swish", True),  # 1
              Layer("se", 4),  # 2
              Layer("pw", 12, 1, 1, "", True),  # 3
              Layer("take", src=0),  # 4
              Layer("avgpool", 0, 3, 1),  # 5
              Layer("take", src=3),  # 6
              Layer("concat", src=5, srcs=(0,)),  # 7
              Layer("gap"), Layer("dense", 10))
    spec = NetSpec("cells", 16, 3, layers, ("conv", "mbse"))
    graph = read_tflite(Path("cells.tflite"), build_net_tflite(spec))
    main = graph.main
    ops = Counter(op.type for op in main.ops)
    assert ops["CONCATENATION"] == 1 and ops["AVERAGE_POOL_2D"] == 1 and ops["MUL"] >= 3 and ops["LOGISTIC"] >= 3
    concat = next(op for op in main.ops if op.type == "CONCATENATION")
    assert len(concat.inputs) == 3 and main.tensors[concat.outputs[0]].shape[-1] == 36
    pool = next(op for op in main.ops if op.type == "AVERAGE_POOL_2D")
    assert main.tensors[pool.outputs[0]].shape[1:3] == (8, 8)  # stride 1 keeps the side
    assert weight_bytes(spec) == 4.0 * (3 * 12 * 9 + 12 * 25 + 2 * 12 * 4 + 12 * 12 + 36 * 10)
    assert {k.kind for k in split_kernels(graph)} >= {"conv", "depthwise", "pointwise", "concat", "pool"}
