"""Hand-built .tflite files: buffers stored outside the flatbuffer, Flex ops, corrupt indices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from readers_fixtures import tiny_tflite
from snapcheck.errors import InputError
from snapcheck.readers import load_model

WEIGHTS = np.arange(6, dtype=np.float32).reshape(2, 3)


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "tiny.tflite"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("external", [False, True])
def test_constant_buffer(tmp_path: Path, external: bool) -> None:
    path = write(tmp_path, tiny_tflite(WEIGHTS, external=external))
    g = load_model(path)
    w = g.main.tensors[1]
    assert w.is_constant and w.nbytes == WEIGHTS.nbytes and g.file_bytes == path.stat().st_size
    np.testing.assert_array_equal(w.data(), WEIGHTS)
    assert not g.main.tensors[0].is_constant and g.main.ops[0].type == "ADD"

    from ai_edge_litert.interpreter import Interpreter  # the reference runtime reads the same values

    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    np.testing.assert_array_equal(interpreter.get_tensor(1), WEIGHTS)


def test_external_buffer_past_end_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, tiny_tflite(WEIGHTS, external=True)[:-8])
    with pytest.raises(InputError, match="buffer 1 ends at byte"):
        load_model(path)


def test_flex_op(tmp_path: Path) -> None:
    op = load_model(write(tmp_path, tiny_tflite(WEIGHTS, custom_code="FlexErf"))).main.ops[0]
    assert (op.type, op.custom_code, op.kind, op.display_type) == ("CUSTOM", "FlexErf", "flex", "FLEX(FlexErf)")


def test_tensor_index_out_of_range(tmp_path: Path) -> None:
    path = write(tmp_path, tiny_tflite(WEIGHTS, inputs=(0, 7)))
    with pytest.raises(InputError, match=r"operator input index 7 out of range") as info:
        load_model(path)
    assert str(path) in str(info.value)


def test_omitted_optional_input(tmp_path: Path) -> None:
    g = load_model(write(tmp_path, tiny_tflite(WEIGHTS, inputs=(0, -1), custom_code="Foo")))
    assert g.main.ops[0].inputs == [0, -1]


def test_omitted_required_input_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"op #0 ADD leaves required input 1 empty"):
        load_model(write(tmp_path, tiny_tflite(WEIGHTS, inputs=(0, -1))))
