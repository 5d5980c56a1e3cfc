"""The CI gate for shipped models: every model under models/ passes snapcheck for the versions it declares."""

from __future__ import annotations

from pathlib import Path

import pytest

from snapcheck.models_gate import main, run_gate

REPO_MODELS = Path(__file__).resolve().parents[1] / "models"


def _cumsum_onnx(path: Path) -> None:
    """A one-node ONNX model whose op (CumSum) has no Lens Studio layer: an error-level finding (SC101)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("CumSum", ["x", "axis"], ["y"])], "bad",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 8, 8])],
        [numpy_helper.from_array(np.array(2, np.int64), "axis")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path)


def test_no_models_is_a_clear_pass(tmp_path, capsys):
    assert main([str(tmp_path)]) == 0
    assert "nothing to check" in capsys.readouterr().out


def test_a_model_with_an_error_finding_fails_the_gate(tmp_path, capsys):
    _cumsum_onnx(tmp_path / "bad" / "bad.onnx")
    (tmp_path / "bad" / "snapcheck.toml").write_text('ls_versions = ["5.x"]\n')
    assert main([str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "bad.onnx @ 5.x: FAIL" in err and "SC101" in err


def test_a_model_folder_must_declare_its_versions(tmp_path, capsys):
    _cumsum_onnx(tmp_path / "undeclared" / "m.onnx")
    assert main([str(tmp_path)]) == 1
    assert "snapcheck.toml: missing" in capsys.readouterr().err
    (tmp_path / "undeclared" / "snapcheck.toml").write_text("ls_versions = []\n")
    assert not run_gate(tmp_path).passed


def test_shipped_models_pass():
    if not any(REPO_MODELS.rglob("*.tflite")):
        pytest.skip("no model shipped under models/ yet")
    result = run_gate(REPO_MODELS)
    assert result.passed, "\n".join(result.failures)
    assert any("catface" in line and ".tflite" in line for line in result.checked)
