"""Unusable inputs raise ``InputError`` naming the file, never anything else; external data stays in its folder."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from helpers import assert_not_imported
from readers_fixtures import CORPUS, onnx_with_initializer, save_with_external
from snapcheck.errors import InputError
from snapcheck.readers import load_model

REAL_TFLITE = CORPUS / "mediapipe__face_detection_short_range.tflite"
WEIGHTS = np.arange(12, dtype=np.float32).reshape(3, 4)


def refused(path: Path, match: str) -> InputError:
    with pytest.raises(InputError) as info:
        load_model(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    assert match in message
    return info.value


def real_tflite() -> bytes:
    if not REAL_TFLITE.is_file():
        pytest.skip(f"corpus not found at {CORPUS}")
    return REAL_TFLITE.read_bytes()


def test_missing(tmp_path: Path) -> None:
    refused(tmp_path / "nope.tflite", "no such file")


def test_directory(tmp_path: Path) -> None:
    refused(tmp_path, "directory")


def test_empty(tmp_path: Path) -> None:
    (tmp_path / "empty.tflite").write_bytes(b"")
    refused(tmp_path / "empty.tflite", "empty")


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "random.onnx"
    path.write_bytes(bytes(random.Random(7).randrange(256) for _ in range(10)))
    refused(path, "not an ONNX model")


def test_text_named_tflite(tmp_path: Path) -> None:
    path = tmp_path / "model.tflite"
    path.write_text("This is not a model.\nJust some text.\n")
    refused(path, "no 'TFL3' identifier")


def test_truncated_tflite(tmp_path: Path) -> None:
    data = real_tflite()
    path = tmp_path / "half.tflite"
    path.write_bytes(data[: len(data) // 2])
    refused(path, "corrupt TFLite")


def test_broken_corpus_file_and_data_blob() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS}")
    refused(CORPUS / "litert-testdata__test_model_broken.bin", "not a TFLite model")
    refused(CORPUS / "simple_cnn.onnx.data", "not an ONNX model")


def test_tflite_with_corrupt_offsets(tmp_path: Path) -> None:
    data = bytearray(real_tflite())
    data[0:4] = (len(data) + 100).to_bytes(4, "little")  # root table offset past the end
    path = tmp_path / "bad_root.tflite"
    path.write_bytes(bytes(data))
    refused(path, "corrupt TFLite")


def test_onnx_without_graph(tmp_path: Path) -> None:
    from onnx import ModelProto

    path = tmp_path / "nograph.onnx"
    path.write_bytes(ModelProto(ir_version=8).SerializeToString())
    refused(path, "not an ONNX model")


def test_onnx_zero_nodes_parses(tmp_path: Path) -> None:
    from onnx import helper

    path = tmp_path / "empty_graph.onnx"
    path.write_bytes(helper.make_model(helper.make_graph([], "g", [], [])).SerializeToString())
    g = load_model(path)
    assert g.format == "onnx" and len(g.subgraphs) == 1 and g.op_count == 0


# -- external data ------------------------------------------------------------------------------


def test_external_escape_with_dotdot(tmp_path: Path) -> None:
    model = tmp_path / "model" / "m.onnx"
    save_with_external(model, WEIGHTS, "../escape.bin", tmp_path / "escape.bin")
    refused(model, "outside the model's folder")


def test_external_absolute_location(tmp_path: Path) -> None:
    model = tmp_path / "model" / "m.onnx"
    outside = tmp_path / "escape.bin"
    save_with_external(model, WEIGHTS, str(outside), outside)
    refused(model, "absolute")


def test_external_symlink_outside(tmp_path: Path) -> None:
    model = tmp_path / "model" / "m.onnx"
    outside = tmp_path / "elsewhere" / "weights.bin"
    save_with_external(model, WEIGHTS, "weights.bin", outside)
    (model.parent / "weights.bin").symlink_to(outside)
    refused(model, "outside the model's folder")


def test_external_through_symlinked_folder(tmp_path: Path) -> None:
    model = tmp_path / "model" / "m.onnx"
    outside = tmp_path / "elsewhere" / "weights.bin"
    save_with_external(model, WEIGHTS, "linked/weights.bin", outside)
    (model.parent / "linked").symlink_to(outside.parent, target_is_directory=True)
    refused(model, "outside the model's folder")


def test_external_missing_file(tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    save_with_external(model, WEIGHTS, "weights.bin", None)
    refused(model, "not found")


def test_external_range_past_end(tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    save_with_external(model, WEIGHTS, "weights.bin", tmp_path / "weights.bin")
    (tmp_path / "weights.bin").write_bytes(b"\0" * 8)  # shorter than the 48 bytes the tensor needs
    refused(model, "outside")


@pytest.mark.parametrize("location", ["weights.bin", "sub/../weights.bin", "inner_link.bin"])
def test_external_inside_folder_loads(tmp_path: Path, location: str) -> None:
    model = tmp_path / "m.onnx"
    save_with_external(model, WEIGHTS, location, tmp_path / "weights.bin")
    (tmp_path / "sub").mkdir()
    (tmp_path / "inner_link.bin").symlink_to(tmp_path / "weights.bin")
    g = load_model(model)
    w = next(t for t in g.main.tensors if t.name == "W")
    assert w.is_constant and w.nbytes == WEIGHTS.nbytes
    np.testing.assert_array_equal(w.data(), WEIGHTS)
    assert g.file_bytes == model.stat().st_size + WEIGHTS.nbytes
    assert g.external_files == [(tmp_path / "weights.bin").resolve()]


def test_inline_initializer_roundtrip(tmp_path: Path) -> None:
    path = tmp_path / "inline.bin"  # content, not the extension, tells the format
    path.write_bytes(onnx_with_initializer(WEIGHTS).SerializeToString())
    g = load_model(path)
    assert g.format == "onnx" and g.external_files == [] and g.file_bytes == path.stat().st_size
    np.testing.assert_array_equal(next(t for t in g.main.tensors if t.is_constant).data(), WEIGHTS)
    assert g.main.inputs == [0] and g.main.tensors[0].name == "X"


# -- robustness ---------------------------------------------------------------------------------


def test_mutated_files_only_raise_input_error(tmp_path: Path) -> None:
    """Random truncations and byte flips of real models: parsing and decoding raise nothing but InputError."""
    seeds = [real_tflite(), onnx_with_initializer(WEIGHTS).SerializeToString()]
    small = sorted(CORPUS.glob("litert-testdata__*.bin"))
    seeds += [p.read_bytes() for p in small]
    rng = random.Random(1234)
    path = tmp_path / "mutant.bin"
    for _ in range(300):
        data = bytearray(rng.choice(seeds))
        if rng.random() < 0.3:
            data = data[: rng.randrange(1, len(data))]
        else:
            for _ in range(rng.randrange(1, 12)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        path.write_bytes(bytes(data))
        try:
            g = load_model(path)
            for sg in g.subgraphs:
                for t in sg.tensors:
                    t.data()
        except InputError as exc:
            assert str(path) in str(exc)


def test_tflite_does_not_import_onnx_or_tensorflow() -> None:
    real_tflite()
    out = assert_not_imported("from snapcheck.readers import load_model\nprint(len(load_model(sys.argv[1]).main.ops))",
                              REAL_TFLITE, modules=("onnx", "tensorflow", "ai_edge_litert"))
    assert out.stdout.strip() == "164"
