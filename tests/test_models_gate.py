"""The gate for shipped models (``snapcheck gate``): every model under models/ passes snapcheck for the versions
it declares."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from snapcheck.cli import app
from snapcheck.models_gate import run_gate

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


def gate(folder: Path):
    return CliRunner().invoke(app, ["gate", str(folder)])


def test_no_models_is_a_clear_pass(tmp_path):
    result = gate(tmp_path)
    assert result.exit_code == 0 and "nothing to check" in result.stdout


def test_a_model_with_an_error_finding_fails_the_gate(tmp_path):
    _cumsum_onnx(tmp_path / "bad" / "bad.onnx")
    (tmp_path / "bad" / "snapcheck.toml").write_text('ls_versions = ["5.x"]\n')
    result = gate(tmp_path)
    assert result.exit_code == 1
    assert "bad.onnx @ 5.x: FAIL" in result.stderr and "SC101" in result.stderr


def test_a_model_folder_must_declare_its_versions(tmp_path):
    _cumsum_onnx(tmp_path / "undeclared" / "m.onnx")
    result = gate(tmp_path)
    assert result.exit_code == 1 and "snapcheck.toml: missing" in result.stderr
    (tmp_path / "undeclared" / "snapcheck.toml").write_text("ls_versions = []\n")
    assert not run_gate(tmp_path).passed


def test_shipped_models_pass():
    if not any(REPO_MODELS.rglob("*.tflite")):
        pytest.skip("no model shipped under models/ yet")
    result = run_gate(REPO_MODELS)
    assert result.passed, "\n".join(result.failures)
    assert any("catface" in line and ".tflite" in line for line in result.checked)
