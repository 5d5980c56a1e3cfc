"""Dynamic shapes at batch 1 (``readers.tflite_shapes``) on hand-built graphs, hostile values among them; the
real-model check against LiteRT is ``test_readers_tf_models``."""

from __future__ import annotations

import dataclasses

import pytest
from cost_fixtures import GraphBuilder
from snapcheck.cost.tensors import shape_of
from snapcheck.estimate.kernels import split_kernels
from snapcheck.estimate.profiles import load_host_profile
from snapcheck.estimate.roofline import image_fill, kernel_terms
from snapcheck.readers.tflite_shapes import MAX_DIM, resolve_runtime_shapes


def _resolve(b: GraphBuilder) -> None:
    resolve_runtime_shapes(b.tensors, b.ops, b.inputs)


def _s2b(block, pads) -> tuple[GraphBuilder, int]:
    b = GraphBuilder()
    x = b.input((-1, 17, 17, 8))
    return b, b.op("SPACE_TO_BATCH_ND", [x, b.ints(block), b.ints(pads)], (-1, 5, 5, 8))


def test_space_to_batch_multiplies_the_batch_and_batch_to_space_divides_it():
    b, y = _s2b([6, 6], [[6, 7], [6, 7]])
    w = b.tensor((4, 3, 3, 8), const=True)
    z = b.op("CONV_2D", [y, w], (-1, 3, 3, 4), stride_h=1, stride_w=1, padding="VALID")
    out = b.op("BATCH_TO_SPACE_ND", [z, b.ints([6, 6]), b.ints([[0, 1], [0, 1]])], (-1, 17, 17, 4))
    _resolve(b)
    assert [shape_of(b.tensors[i]) for i in (y, z, out)] == [(36, 5, 5, 8), (36, 3, 3, 4), (1, 17, 17, 4)]
    assert b.tensors[b.inputs[0]].runtime_shape == (1, 17, 17, 8) and b.tensors[y].shape == (-1, 5, 5, 8)


def test_a_conv_over_a_batch_of_tiny_images_is_priced_by_its_per_image_tiles():
    """The 36 images of 3 x 3 output pixels that space-to-batch makes of a rate-6 dilated conv: XNNPACK tiles each
    image's 9 pixels apart, 2 tiles of 7 rows on the profile's AVX-512 host where one image of 324 pixels takes 47;
    on an AVX2 host (6 x 16 tiles) 2 of 6 rows against 54. One image, or a profile without a GEMM tile, is 1."""
    b, y = _s2b([6, 6], [[6, 7], [6, 7]])
    z = b.op("CONV_2D", [y, b.tensor((64, 3, 3, 8), const=True)], (-1, 3, 3, 64), stride_h=1, stride_w=1,
             padding="VALID")
    _resolve(b)
    conv = next(k for k in split_kernels(b.graph([z])) if k.kind == "conv")
    assert (conv.geometry.images, conv.geometry.out_pixels) == (36, 324)
    host = load_host_profile()
    assert image_fill(conv, host) == pytest.approx(36 * 2 / 47)
    assert image_fill(conv, dataclasses.replace(host, gemm_tile=16)) == pytest.approx(36 * 2 / 54)
    alone = dataclasses.replace(conv, geometry=dataclasses.replace(conv.geometry, images=1))
    assert kernel_terms(conv, host).compute == pytest.approx(kernel_terms(alone, host).compute * 36 * 2 / 47)
    assert image_fill(conv, dataclasses.replace(host, residual={}, gemm_tile=0)) == 1.0
    empty = dataclasses.replace(conv, geometry=dataclasses.replace(conv.geometry, out_pixels=0))
    assert image_fill(empty, host) == 1.0  # a zero-size output (a hostile file): no division by zero
    one = GraphBuilder()
    x = one.input((1, 18, 18, 8))
    w = one.op("CONV_2D", [x, one.tensor((64, 3, 3, 8), const=True)], (1, 16, 16, 64), stride_h=1, stride_w=1,
               padding="VALID")
    assert image_fill(next(k for k in split_kernels(one.graph([w])) if k.kind == "conv"), host) == 1.0


def test_shape_arithmetic_sizes_a_computed_reshape_and_its_fully_connected():
    """Keras 3's Dense on tokens: SHAPE, GATHER, REDUCE_PROD, CONCATENATION, PACK, then RESHAPE to [-1, -1]."""
    b = GraphBuilder()
    x = b.input((-1, 196, 192))
    shape = b.op("SHAPE", [x], (3,), "int32")
    lead = b.op("REDUCE_PROD", [b.op("GATHER", [shape, b.ints([0, 1])], (2,), "int32", axis=0), b.ints([0])],
                (), "int32", keep_dims=False)
    last = b.op("REDUCE_PROD", [b.op("GATHER", [shape, b.ints([2])], (1,), "int32", axis=0), b.ints([0])],
                (), "int32", keep_dims=False)
    flat = b.op("RESHAPE", [x, b.op("PACK", [lead, last], (2,), "int32", axis=0)], (-1, -1))
    w = b.tensor((768, 192), const=True)
    y = b.op("FULLY_CONNECTED", [flat, w], (-1, 768), keep_num_dims=False)
    _resolve(b)
    assert shape_of(b.tensors[flat]) == (196, 192) and shape_of(b.tensors[y]) == (196, 768)
    fc = next(k for k in split_kernels(b.graph([y])) if k.kind == "fc")
    assert fc.geometry.out_pixels == 196 and fc.macs == 196 * 192 * 768


def test_a_reshape_folding_windows_into_the_batch():
    b = GraphBuilder()
    x = b.input((-1, 56, 56, 96))
    y = b.op("RESHAPE", [x, b.ints([-1, 7, 7, 96])], (-1, 7, 7, 96))
    t = b.op("TRANSPOSE", [y, b.ints([0, 2, 1, 3])], (-1, 7, 7, 96))
    _resolve(b)
    assert shape_of(b.tensors[y]) == shape_of(b.tensors[t]) == (64, 7, 7, 96)


def test_hostile_values_leave_shapes_unresolved():
    for block, pads in (([0, 6], [[0, 0], [0, 0]]), ([-2, 2], [[0, 0], [0, 0]]), ([6, 6], [[0, 0]]),
                        ([MAX_DIM, MAX_DIM], [[0, 0], [0, 0]])):  # a batch past MAX_DIM
        b, y = _s2b(block, pads)
        _resolve(b)
        assert b.tensors[y].runtime_shape is None and shape_of(b.tensors[y]) == (1, 5, 5, 8)
    b = GraphBuilder()
    x = b.input((-1, 10, 10, 3))
    odd = b.op("RESHAPE", [x, b.ints([-1, 7])], (-1, 7))  # 300 elements do not split into rows of 7
    wild = b.op("RESHAPE", [x, b.ints([-1, -1])], (-1, -1))
    gather = b.op("GATHER", [b.op("SHAPE", [x], (4,), "int32"), b.ints([9])], (1,), "int32", axis=0)
    _resolve(b)
    assert all(b.tensors[i].runtime_shape is None for i in (odd, wild, gather))


def test_a_static_graph_is_left_alone():
    b = GraphBuilder()
    x = b.input((1, 8, 8, 3))
    y = b.op("RESHAPE", [x, b.ints([1, 64, 3])], (1, 64, 3))
    _resolve(b)
    assert all(t.runtime_shape is None for t in b.tensors) and shape_of(b.tensors[y]) == (1, 64, 3)



def test_a_conv_whose_weights_are_computed_takes_its_batch_from_its_input():
    """Keras' patch extraction (gMLP, MLP-Mixer, ViT of keras.io) builds an identity kernel in the graph
    (``MATRIX_DIAG``, ``RESHAPE``, ``TRANSPOSE``): the conv's weights are an activation of 192 x 8 x 8 x 3, and their
    192 is not the batch. Taken as one, every later token layer was priced 192 times over."""
    b = GraphBuilder()
    x = b.input((-1, 64, 64, 3))
    eye = b.op("MATRIX_DIAG", [b.tensor((192,), const=True)], (192, 192))
    kernel = b.op("TRANSPOSE", [b.op("RESHAPE", [eye, b.ints([8, 8, 3, 192])], (8, 8, 3, 192)), b.ints([3, 0, 1, 2])],
                  (192, 8, 8, 3))
    y = b.op("CONV_2D", [x, kernel], (-1, 8, 8, 192), stride_h=8, stride_w=8, padding="VALID")
    up = b.op("TRANSPOSE_CONV", [b.ints([-1, 16, 16, 192]), b.tensor((192, 2, 2, 192), const=True), y],
              (-1, 16, 16, 192), stride_h=2, stride_w=2, padding="SAME")
    _resolve(b)
    assert shape_of(b.tensors[y]) == (1, 8, 8, 192) and shape_of(b.tensors[up]) == (1, 16, 16, 192)
