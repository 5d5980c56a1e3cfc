"""One row per finding code: a model that raises it, checked end to end. Adding a rule means adding a row.

Each row names the code, builds its own model (``code_models``, a committed PyTorch fixture, or an IR graph for
what no converter writes), the Lens Studio version, and the severity expected when it differs from the
registry's (evidence can lower it). A row may patch a copy of the rules (for codes that today's rules data never
raises, such as a layer no backend runs).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

import code_models as M
from check_fixtures import ir_graph
from readers_fixtures import tiny_tflite
from snapcheck.api import check_file, check_graph
from snapcheck.registry import load_codes

TORCH = Path(__file__).resolve().parent / "data" / "torch"
FIX = Path(__file__).resolve().parent / "data" / "fix"
SNAPQ = Path(__file__).resolve().parent / "data" / "snapq"
F32 = "float32"


@dataclass
class Row:
    code: str
    build: Callable[[Path], Any]  # folder -> model path, or an IR graph
    version: str = "5.x"
    severity: str | None = None  # None: the registry's severity
    estimates: bool = False
    rules: Callable[[Path], None] | None = None  # edits a copy of rules/ for this row
    target: str | None = None  # rules/targets.toml (None: the default)
    numerics: bool = False  # run the model (check --numerics)


def _tflite(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _fused_sign_bit(_: Path):
    w = np.ones((4, 3, 3, 4), np.float32)
    return ir_graph("tflite", [("x", (1, 8, 8, 4), F32, None), ("w", w.shape, F32, w), ("y", (1, 8, 8, 4), F32, None)],
                    [("CONV_2D", [0, 1], [2], {"padding": "SAME", "fused_activation_function": "SIGN_BIT"})], [0], [2])


def _densify(_: Path):
    w = np.ones((4, 3, 3, 4), np.float32)
    return ir_graph("tflite", [("x", (1, 8, 8, 4), F32, None), ("w_sparse", w.shape, F32, w),
                               ("w", w.shape, F32, None), ("y", (1, 8, 8, 4), F32, None)],
                    [("DENSIFY", [1], [2], {}), ("CONV_2D", [0, 2], [3], {"padding": "SAME"})], [0], [3])


def _channels_first_tflite(_: Path):
    return ir_graph("tflite", [("x", (1, 3, 16, 16), F32, None), ("y", (1, 3, 16, 16), F32, None)],
                    [("RELU", [0], [1], {})], [0], [1])


def _relu_tflite(_: Path):
    return ir_graph("tflite", [("x", (1, 8, 8, 3), F32, None), ("y", (1, 8, 8, 3), F32, None)],
                    [("RELU", [0], [1], {})], [0], [1])


def _empty(_: Path):
    return ir_graph("tflite", [("x", (1, 4), F32, None)], [], [0], [0])


def _weights(nbytes: int, file_bytes: int):
    def build(_: Path):
        w = np.zeros((nbytes // 4,), np.float32)
        return ir_graph("onnx", [("x", (1, 4), F32, None), ("w", w.shape, F32, w), ("y", (1, 4), F32, None)],
                        [("Relu", [0], [2], {})], [0], [2], file_bytes=file_bytes)
    return build


def _cancellation(folder: Path) -> Path:
    """(x + 1000) - 1000: exact in float32; float16 holds 1000 + x only to 0.5 (no overflow, large drift)."""
    return M.onnx_file(folder, "cancellation", [M.node("Add", ["x", "k"], ["s"]), M.node("Sub", ["s", "k"], ["y"])],
                       [("x", "FLOAT", [1, 4, 8, 8])], [("y", "FLOAT", [1, 4, 8, 8])], [M.init("k", [1000.0])])


def _edit(file: str, old: str, new: str) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        p = folder / file
        text = p.read_text()
        assert old in text, old
        p.write_text(text.replace(old, new, 1))
    return edit


_RNG = np.random.default_rng(0)
_BIG = np.full((4, 4, 3, 3), 0.1, np.float32)
_BIG[0, 0, 0, 0] = 1e5
_TINY = np.where(np.arange(144).reshape(4, 4, 3, 3) % 2 == 0, 1e-9, 0.1).astype(np.float32)
_SUBNORMAL = np.full((4, 4, 3, 3), 1e-6, np.float32)

ROWS = [
    Row("SC101", lambda d: M.unary(d, "depth_to_space", "DepthToSpace", out_shape=(1, 1, 16, 16), blocksize=2)),
    Row("SC102", lambda d: _tflite(d / "sinh.tflite", tiny_tflite(np.ones((1, 8, 8, 4), np.float32),
                                                                  custom_code="Sinh"))),
    Row("SC103", M.if_branches),
    Row("SC104", M.upsampling_tile),
    Row("SC105", lambda d: M.unary(d, "hard_swish", "HardSwish", opset=14)),
    Row("SC106", lambda d: M.unary(d, "tanh", "Tanh"),
        rules=_edit("5.x.toml", '[layers."Tanh"]\nsupport = { cpu = true, iphone_gpu = true, iphone_npu = true, '
                                'android_gpu = true }',
                    '[layers."Tanh"]\nsupport = { cpu = false, iphone_gpu = false, iphone_npu = false, '
                    'android_gpu = false }')),
    Row("SC107", _fused_sign_bit),
    Row("SC108", M.function_call),
    Row("SC109", lambda d: _tflite(d / "edgetpu.tflite", tiny_tflite(np.ones((1, 8, 8, 4), np.uint8),
                                                                     custom_code="edgetpu-custom-op"))),
    Row("SC110", lambda d: M.conv(d, strides=(2, 1), out_size=4)),
    Row("SC111", lambda d: M.conv(d, channels=4, group=2)),
    Row("SC112", lambda d: M.eltwise(d, "sub", "Sub", (1, 4, 8, 8))),
    Row("SC113", M.shape_chain),
    Row("SC114", M.runtime_reshape_softmax),
    Row("SC115", lambda _: TORCH / "bilinear_default.onnx"),
    Row("SC116", lambda _: TORCH / "token_layernorm_opset16.onnx"),
    Row("SC117", _densify),
    Row("SC118", lambda d: M.onnx_file(d, "conv_transpose", [M.node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2],
                                                                     kernel_shape=[2, 2])],
                                       [("x", "FLOAT", [1, 4, 8, 8])], [("y", "FLOAT", [1, 4, 16, 16])],
                                       [M.init("w", np.full((4, 4, 2, 2), 0.1))]), version="3.x"),
    Row("SC119", lambda _: TORCH / "dilated_conv.onnx"),
    Row("SC120", lambda d: M.eltwise(d, "bias_rank3", "Add", (4, 1, 1), np.ones((4, 1, 1), np.float32))),
    Row("SC121", lambda d: M.eltwise(d, "along_w", "Add", (1, 1, 1, 8))),
    Row("SC201", lambda d: M.conv(d)),
    Row("SC202", lambda d: M.eltwise(d, "sub", "Sub", (1, 4, 8, 8))),
    Row("SC301", _weights(24_000_000, 25_000_000)),
    Row("SC302", _weights(12_000_000, 15_000_000)),
    Row("SC303", lambda d: M.conv(d), estimates=True, target="spectacles"),
    Row("SC401", lambda d: M.conv(d, weight=_BIG)),
    Row("SC402", lambda d: M.conv(d, weight=_TINY)),
    Row("SC403", lambda d: M.conv(d, weight=_SUBNORMAL)),
    Row("SC404", lambda _: FIX / "fp16_energy_norm.onnx", numerics=True),
    Row("SC405", _cancellation, numerics=True),
    Row("SC406", lambda d: M.conv(d), numerics=True),
    Row("SC407", lambda _: FIX / "unet_dynamic.onnx", numerics=True),
    Row("SC410", M.where_mask),
    Row("SC411", M.int4_weights),
    Row("SC412", lambda _: SNAPQ / "quantized_mobile_block.onnx"),
    Row("SC413", lambda d: M.quantize_snap(d, lo=1.0, hi=1.0)),
    Row("SC501", lambda d: M.conv(d, batch=2)),
    Row("SC502", lambda _: TORCH / "classifier_dynamic_axes.onnx"),
    Row("SC503", lambda d: M.onnx_file(d, "rank5", [M.node("Reshape", ["x", "s"], ["r"]),
                                                    M.node("Reshape", ["r", "s4"], ["y"])],
                                       [("x", "FLOAT", [1, 4, 8, 8])], [("y", "FLOAT", [1, 4, 8, 8])],
                                       [M.init("s", [1, 2, 2, 8, 8], np.int64), M.init("s4", [1, 4, 8, 8], np.int64)])),
    Row("SC504", lambda d: M.conv(d, out=8)),
    Row("SC505", lambda d: M.conv(d)),
    Row("SC506", _channels_first_tflite),
    Row("SC507", lambda d: M.onnx_file(d, "argmax", [M.node("ArgMax", ["x"], ["y"], axis=1)],
                                       [("x", "FLOAT", [1, 4, 8, 8])], [("y", "INT64", [1, 1, 8, 8])])),
    Row("SC508", _empty),
    Row("SC509", lambda d: M.conv(d),
        rules=_edit("5.x.toml", 'formats = { tflite = "documented", onnx = "documented" }',
                    'formats = { tflite = "documented" }')),
    Row("SC510", _relu_tflite, version="3.x"),
    Row("SC511", M.string_identity),
    Row("SC512", lambda _: TORCH / "style_transfer_opset11.onnx"),
    Row("SC601", M.heavy_conv, estimates=True),
    Row("SC602", M.heavy_conv, estimates=True),
]


def test_every_code_of_the_registry_has_a_row():
    assert sorted(r.code for r in ROWS) == sorted(load_codes())


@pytest.fixture
def patched_rules(tmp_path, monkeypatch):
    """Point snapcheck at an edited copy of rules/ (caches cleared before and after)."""
    import snapcheck.paths
    import snapcheck.registry
    import snapcheck.rules

    caches = [snapcheck.rules.load_ruleset, snapcheck.rules.load_mapping, snapcheck.rules.load_sources,
              snapcheck.rules.load_shared_layers, snapcheck.registry.load_codes]

    def apply(edit: Callable[[Path], None]) -> None:
        folder = tmp_path / "rules"
        shutil.copytree(snapcheck.paths.rules_dir(), folder)
        edit(folder)
        for module in (snapcheck.rules, snapcheck.registry):
            monkeypatch.setattr(module, "rules_dir", lambda: folder)
        for cache in caches:
            cache.cache_clear()

    yield apply
    for cache in caches:
        cache.cache_clear()


@pytest.mark.parametrize("row", ROWS, ids=[r.code for r in ROWS])
def test_code(row: Row, tmp_path, patched_rules):
    if row.rules is not None:
        patched_rules(row.rules)
    model = row.build(tmp_path)
    if isinstance(model, Path):
        report = check_file(model, row.version, estimates=row.estimates, target=row.target, numerics=row.numerics)
    else:
        report = check_graph(model, row.version, estimates=row.estimates, target=row.target, numerics=row.numerics)
    hits = [f for f in report.findings if f.code == row.code]
    assert hits, f"{row.code} not raised; got {sorted(report.codes)}"
    expected = row.severity or load_codes()[row.code].severity
    assert {f.severity for f in hits} == {expected}
    for f in hits:
        assert f.message and f.why and f.fix
        assert "{" not in f.message, f.message  # every template field was filled
