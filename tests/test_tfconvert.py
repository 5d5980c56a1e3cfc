"""One conversion path for every Keras model: frozen weights, BatchNorm folded, the batch fixed at 1 unless asked,
inputs in their declared order, and no log chatter."""

from __future__ import annotations

import pytest

from snapcheck.readers import load_model

pytestmark = pytest.mark.slow


def _graph(data: bytes, tmp_path):
    path = tmp_path / "m.tflite"
    path.write_bytes(data)
    return load_model(path).subgraphs[0]


def test_weights_are_frozen_and_batchnorm_folds_into_the_conv(tmp_path):
    pytest.importorskip("tensorflow")
    import keras

    from snapcheck.tfconvert import keras_tflite

    x = keras.Input((8, 8, 3))
    y = keras.layers.BatchNormalization()(keras.layers.Conv2D(16, 3, padding="same", use_bias=False)(x))
    model = keras.Model(x, keras.layers.Dense(32)(keras.layers.Flatten()(y)))
    sg = _graph(keras_tflite(model), tmp_path)
    assert [op.type for op in sg.ops] == ["CONV_2D", "RESHAPE", "FULLY_CONNECTED"]
    constants = {sg.tensors[i].nbytes for op in sg.ops for i in op.inputs if i >= 0 and sg.tensors[i].is_constant}
    assert 16 * 3 * 3 * 3 * 4 in constants and 8 * 8 * 16 * 32 * 4 in constants  # weights stored, not variables
    assert [sg.tensors[i].shape for i in sg.inputs] == [(1, 8, 8, 3)]


def test_dynamic_batch_and_input_order_are_kept(tmp_path):
    pytest.importorskip("tensorflow")
    import keras

    from snapcheck.tfconvert import keras_tflite

    b, a = keras.Input((4, 6), name="b"), keras.Input((4, 6), name="a")
    model = keras.Model([b, a], keras.layers.Subtract()([b, a]))
    sg = _graph(keras_tflite(model, fixed_batch=False), tmp_path)
    assert [op.type for op in sg.ops] == ["SUB"]
    assert [sg.tensors[i].shape_signature[0] for i in sg.inputs] == [-1, -1]
    assert sg.ops[0].inputs == sg.inputs  # b - a, in the order the model declares them


def test_conversion_prints_nothing(tmp_path, capfd):
    pytest.importorskip("tensorflow")
    import keras

    from snapcheck.tfconvert import keras_tflite

    x = keras.Input((4,), batch_size=1)
    keras_tflite(keras.Model(x, keras.layers.Dense(2)(x)))
    out, err = capfd.readouterr()
    assert out == "" and "WARNING" not in err and "deprecated" not in err
