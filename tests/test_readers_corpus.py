"""Every third-party corpus file parses (or is refused cleanly) and agrees with the reference runtimes
(LiteRT's interpreter, ``onnx.load``) and with the facts MANIFEST.tsv records."""

from __future__ import annotations

import os
from collections import Counter

import numpy as np
import pytest

from readers_fixtures import CORPUS, Facts, corpus_params
from snapcheck.errors import InputError
from snapcheck.readers import load_model

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _litert(path):
    """LiteRT's interpreter on ``path``, or None when it cannot load the file."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    try:
        return Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    except (ValueError, RuntimeError):
        return None


@pytest.mark.parametrize("facts", corpus_params("tflite"))
def test_tflite_corpus(facts: Facts) -> None:
    path = CORPUS / facts.name
    if facts.negative:
        with pytest.raises(InputError, match=facts.name):
            load_model(path)
        return
    g = load_model(path)
    assert g.format == "tflite" and g.layout == "NHWC" and g.file_bytes == path.stat().st_size
    tensors = [t for sg in g.subgraphs for t in sg.tensors]
    assert len(g.subgraphs) == facts.ints("subgraphs")
    assert dict(Counter(t.dtype for t in tensors)) == facts.dtype_counts()
    quantized, total = map(int, facts.values["quantized_tensors"].split("/"))
    assert (sum(t.is_quantized for t in tensors), len(tensors)) == (quantized, total)
    assert set(facts.ops) <= {op.type for _, op in g.all_ops()}
    assert set(facts.list("custom_ops")) == {op.custom_code for _, op in g.all_ops() if op.custom_code}
    assert sum(t.sparse for t in tensors) == (facts.ints("sparse_tensors") or 0)
    dynamic = sum(1 for t in tensors if t.shape_signature is not None and -1 in t.shape_signature)
    assert dynamic == (facts.ints("dynamic_shape_tensors") or 0)
    assert len(g.signatures) == (facts.ints("signatures") or 0)
    assert set(facts.list("metadata")) == set(g.metadata)

    interpreter = _litert(path)
    if interpreter is None:  # LiteRT refuses it (zero subgraphs): the MANIFEST facts above are the reference
        return
    ops = interpreter._get_ops_details()
    main = g.main
    assert [d["op_name"] for d in ops] == [op.custom_code or op.type for op in main.ops]
    assert [d["inputs"].tolist() for d in ops] == [op.inputs for op in main.ops]
    for d in interpreter.get_tensor_details():
        t = main.tensors[d["index"]]
        assert (d["name"], tuple(d["shape_signature"])) == (t.name, t.shape_signature or t.shape)
        assert np.dtype(d["dtype"]).name == ("int8" if t.dtype == "int4" else t.dtype)  # LiteRT shows int4 as int8
        if t.quantization is not None and t.quantization.kind == "affine":
            np.testing.assert_allclose(d["quantization_parameters"]["scales"], t.quantization.scale)
            np.testing.assert_array_equal(d["quantization_parameters"]["zero_points"], t.quantization.zero_point)


@pytest.mark.parametrize("facts", corpus_params("onnx"))
def test_onnx_corpus(facts: Facts) -> None:
    import onnx

    path = CORPUS / facts.name
    g = load_model(path)
    assert g.format == "onnx" and g.layout == "NCHW" and g.version == f"ir{facts.values['ir']}"
    assert g.opsets == {domain: int(v) for domain, v in (item.split(":") for item in facts.list("opsets"))}
    assert g.producer == facts.values["producer"]

    reference = onnx.load(str(path), load_external_data=False)

    def node_counts(graph) -> list[int]:  # depth first, in the order the reader numbers subgraphs
        out = [len(graph.node)]
        for node in graph.node:
            for a in node.attribute:
                for sub in ([a.g] if a.type == onnx.AttributeProto.GRAPH else a.graphs):
                    out += node_counts(sub)
        return out

    assert [len(sg.ops) for sg in g.subgraphs] == node_counts(reference.graph)
    assert g.op_count == facts.ints("nodes")
    assert len(g.subgraphs) - 1 == (facts.ints("subgraphs") or 0)
    for sg in g.subgraphs[1:]:
        assert sg.parent is not None and any(sg.index in op.subgraphs for op in g.subgraphs[sg.parent].ops)

    dtypes = {t.dtype for t in g.main.tensors}
    expected = {_onnx_dtype(name) for name in facts.list("io_dtypes") + facts.list("init_dtypes")}
    assert expected <= dtypes
    for item in facts.list("dynamic/non-tensor io"):
        name, dim = item.split(":")
        t = next(t for t in g.main.tensors if t.name == name)
        assert dim in t.shape_signature and -1 in t.shape
    for t in g.main.tensors:
        if t.is_constant:
            assert t.data() is not None and t.data().shape == t.shape


def _onnx_dtype(name: str) -> str:
    from onnx import TensorProto

    from snapcheck.readers.onnx_reader import DTYPES

    return DTYPES[TensorProto.DataType.Value(name)]


def test_external_data_corpus_file() -> None:
    path = CORPUS / "onnx-pr7670__simple_cnn.onnx"
    if not path.is_file():
        pytest.skip(f"corpus not found at {CORPUS}")
    data = CORPUS / "simple_cnn.onnx.data"
    g = load_model(path)
    assert g.file_bytes == path.stat().st_size + data.stat().st_size
    assert g.external_files == [data.resolve()]
    import onnx
    from onnx import numpy_helper

    reference = {t.name: t for t in onnx.load(str(path)).graph.initializer}  # onnx resolves the data itself
    stored = onnx.load(str(path), load_external_data=False).graph.initializer
    external = [t.name for t in stored if t.data_location == onnx.TensorProto.EXTERNAL]
    assert len(external) == 3
    by_name = {t.name: t for t in g.main.tensors}
    for name in external:
        np.testing.assert_array_equal(by_name[name].data(), numpy_helper.to_array(reference[name]))


@pytest.fixture(scope="module")
def corpus_graphs() -> dict:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS}")
    return {name: load_model(CORPUS / name) for name in (
        "mediapipe__face_detection_short_range.tflite", "litert-test__qwen_fc_blockwise_quantized.tflite",
        "litert-testdata__multi_subgraphs_while.bin", "onnx-node__test_loop11.onnx",
        "onnx-node__test_cast_FLOAT_to_FLOAT8E4M3FN.onnx", "onnx-node__test_dequantizelinear_int4.onnx",
        "tflite-support__coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite", "litert-testdata__0_subgraphs.bin",
        "litert-testdata__sparse_tensor.bin")}


def test_fp16_weights_feed_dequantize(corpus_graphs) -> None:
    sg = corpus_graphs["mediapipe__face_detection_short_range.tflite"].main
    consumers = sg.consumers()
    f16 = [i for i, t in enumerate(sg.tensors) if t.dtype == "float16"]
    assert len(f16) == 74
    for i in f16:
        assert sg.tensors[i].is_constant and sg.tensors[i].data().dtype == np.float16
        (op,) = [sg.ops[k] for k in consumers[i]]
        assert op.type == "DEQUANTIZE" and sg.tensors[op.outputs[0]].dtype == "float32"
    conv = next(op for op in sg.ops if op.type == "CONV_2D")
    assert conv.attrs["padding"] in ("SAME", "VALID") and conv.attrs["fused_activation_function"] in ("NONE", "RELU")
    assert {"stride_h", "stride_w", "dilation_h_factor", "dilation_w_factor"} <= set(conv.attrs)


def test_int4_blockwise(corpus_graphs) -> None:
    sg = corpus_graphs["litert-test__qwen_fc_blockwise_quantized.tflite"].main
    w = next(t for t in sg.tensors if t.dtype == "int4")
    q = w.quantization
    assert q.kind == "blockwise" and q.block_size == 32 and w.is_quantized
    assert sg.tensors[q.scale_tensor].dtype == "float16"
    values = w.data()
    assert values.shape == w.shape and values.dtype == np.int8 and -8 <= values.min() and values.max() <= 7
    assert w.nbytes == values.size // 2  # two values per stored byte


def test_control_flow(corpus_graphs) -> None:
    g = corpus_graphs["litert-testdata__multi_subgraphs_while.bin"]
    (op,) = [op for _, op in g.all_ops() if op.type == "WHILE"]
    assert op.subgraphs == [op.attrs["cond_subgraph_index"], op.attrs["body_subgraph_index"]] == [1, 2]
    g = corpus_graphs["onnx-node__test_loop11.onnx"]
    (loop,) = [op for _, op in g.all_ops() if op.type == "Loop"]
    assert loop.subgraphs == [loop.attrs["body"]] and g.subgraphs[loop.subgraphs[0]].parent == 0


def test_special_dtypes_named(corpus_graphs) -> None:
    assert "float8e4m3fn" in {t.dtype for t in corpus_graphs["onnx-node__test_cast_FLOAT_to_FLOAT8E4M3FN.onnx"].main.tensors}
    assert "int4" in {t.dtype for t in corpus_graphs["onnx-node__test_dequantizelinear_int4.onnx"].main.tensors}


def test_custom_and_sparse(corpus_graphs) -> None:
    ssd = corpus_graphs["tflite-support__coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite"].main
    post = next(op for op in ssd.ops if op.type == "CUSTOM")
    assert post.kind == "custom" and post.attrs["max_detections"] == 10  # flexbuffer custom options decoded
    assert corpus_graphs["litert-testdata__0_subgraphs.bin"].subgraphs == []
    sparse = corpus_graphs["litert-testdata__sparse_tensor.bin"].main.tensors[0]
    assert sparse.sparse and sparse.is_constant and sparse.data() is None
