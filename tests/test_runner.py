"""The one model runner: the runtime is picked by content, the NHWC adapter, bytes or files, bad input."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from cost_fixtures import shared_tiny_files

from snapcheck.errors import InputError
from snapcheck.runner import open_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def files():
    return shared_tiny_files()


def test_runtime_is_picked_by_content_and_both_agree(files, tmp_path):
    x = np.random.default_rng(3).uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32)
    outputs = {}
    for name, runtime in (("fp32", "litert"), ("onnx", "onnxruntime")):
        renamed = tmp_path / f"model-{name}.bin"  # no telling extension
        shutil.copy(files[name], renamed)
        runner = open_model(renamed)
        assert runner.runtime == runtime and runner.load_ms > 0
        assert runner.image_shape == (1, 32, 32, 3) and runner.channels_first == (name == "onnx")
        outputs[name] = runner.run_nhwc(x)
        assert outputs[name].shape == (1, 10) and outputs[name].dtype == np.float32
    np.testing.assert_allclose(outputs["fp32"], outputs["onnx"], atol=1e-4)


def test_bytes_run_like_the_file_and_random_inputs_repeat(files):
    from_file, from_bytes = open_model(files["int8"]), open_model(files["int8"].read_bytes())
    assert from_bytes.path is None and from_file.inputs == from_bytes.inputs
    assert from_file.inputs[0].dtype == np.int8
    for runner in (from_file, from_bytes):
        runner.feed_random(seed=1)
        runner.invoke()
    a, b = from_file.results(), from_bytes.results()
    assert len(a) == 1 and a[0].shape == tuple(from_file.outputs[0].shape)
    np.testing.assert_array_equal(a[0], b[0])


def test_unusable_files_are_one_line_input_errors(tmp_path):
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a model at all")
    with pytest.raises(InputError, match="no TFL3 identifier") as err:
        open_model(junk)
    assert str(junk) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(InputError, match="no such file"):
        open_model(tmp_path / "missing.onnx")
    with pytest.raises(InputError, match="is a directory"):
        open_model(tmp_path)
