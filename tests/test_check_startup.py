"""What keeps `snapcheck check` fast stays correct: lean shape inference, the lazy `tflite` package, the TOML cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from helpers import assert_not_imported, imports_of
from readers_fixtures import require_corpus
from snapcheck.tomlread import TOMLDecodeError, read_toml


def _shapes(model) -> dict[str, list]:
    g = model.graph
    out = {}
    for v in list(g.value_info) + list(g.output):
        dims = v.type.tensor_type.shape.dim
        out[v.name] = [d.dim_value if d.HasField("dim_value") else d.dim_param for d in dims]
    return out


def _wide_reshape_model():
    """Conv weights of 64 KiB (stripped for inference) feeding a Reshape whose shape is a small initializer."""
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(0).standard_normal((32, 16, 3, 3)).astype(np.float32)
    shape = np.array([1, -1], np.int64)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["X", "W"], ["C"], pads=[1, 1, 1, 1]),
         helper.make_node("Reshape", ["C", "S"], ["Y"])],
        "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 16, 8, 8])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(shape, "S")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _corpus_onnx() -> list:
    import onnx

    return [onnx.load(str(p)) for p in sorted(require_corpus().glob("*.onnx"))]


def test_lean_shape_inference_matches_onnx_and_keeps_the_weights() -> None:
    from onnx import shape_inference

    from snapcheck.readers.onnx_reader import infer_shapes

    models = [_wide_reshape_model(), *_corpus_onnx()]
    for model in models:
        before = [t.SerializeToString() for t in model.graph.initializer]
        lean, full = infer_shapes(model), shape_inference.infer_shapes(model)
        assert _shapes(lean) == _shapes(full), model.graph.name
        assert [t.SerializeToString() for t in model.graph.initializer] == before
        assert [t.SerializeToString() for t in lean.graph.initializer] == before
    assert _shapes(infer_shapes(models[0]))["Y"] == [1, 32 * 8 * 8]  # folded from the kept small initializer


CHECK = "from snapcheck.api import check_file\ncheck_file(sys.argv[1], ls_version='5.x')"


def test_check_loads_few_tflite_modules_and_the_package_stays_whole() -> None:
    model = require_corpus() / "tflm__mobilenet_v2_quantized_1x3x224x224.tflite"
    whole = ("import tflite\nfrom tflite import Padding\n"
             "print(isinstance(tflite.Model, type), tflite.Model.__name__, Padding.SAME, bool(tflite.__version__),\n"
             "      len([m for m in sys.modules if m.startswith('tflite.')]))")
    proc, loaded = imports_of(CHECK, model, then=whole)
    assert proc.returncode == 0, proc.stderr[-2000:]
    is_class, name, same, version, after = proc.stdout.split()
    # the package has ~190 modules; a check needs a few dozen
    assert len([m for m in loaded if m.startswith("tflite.")]) < 60 < int(after)
    assert (is_class, name, same, version) == ("True", "Model", "0", "True")


def test_check_imports_only_onnx_protobuf_and_the_package_stays_whole() -> None:
    model = require_corpus() / "ortx__pytorch_super_resolution.onnx"
    whole = ("import onnx\nmodel = onnx.load(sys.argv[1])\nonnx.checker.check_model(model)\n"
             "print(onnx.__version__ > '1', onnx.ModelProto is sys.modules['onnx.onnx_ml_pb2'].ModelProto,\n"
             "      len(model.graph.node) > 0)")
    heavy = ("onnx.helper", "onnx.numpy_helper", "onnx.checker", "onnx.compose")
    proc = assert_not_imported(CHECK, model, modules=heavy, then=whole)
    assert proc.stdout.split() == ["True", "True", "True"]


def test_toml_cache_keys_on_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNAPCHECK_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "r.toml"
    path.write_text('a = 1\nb = [1.5, inf]\n[t]\nname = "x"\n')
    first = read_toml(path)
    assert first == {"a": 1, "b": [1.5, float("inf")], "t": {"name": "x"}}
    (cached,) = (tmp_path / "cache" / "toml").iterdir()
    cached.write_text(json.dumps({"a": 99}))  # a second read of the same bytes comes from the cache
    assert read_toml(path) == {"a": 99}
    path.write_text("a = 2\n")  # new content, new key: parsed again
    assert read_toml(path) == {"a": 2}
    path.write_text("when = 2026-11-24\n")  # dates do not fit JSON: parsed, not cached
    assert str(read_toml(path)["when"]) == "2026-11-24"
    assert len(list((tmp_path / "cache" / "toml").iterdir())) == 2
    path.write_text("a = [\n")
    with pytest.raises(TOMLDecodeError):
        read_toml(path)


def test_toml_cache_unwritable_folder_still_parses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("SNAPCHECK_CACHE", str(blocker))  # a file where the folder should be
    path = tmp_path / "r.toml"
    path.write_text("a = 1\n")
    assert read_toml(path) == {"a": 1}
