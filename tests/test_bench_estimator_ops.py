"""``bench/estimator_ops.py``: ops classed by type and weight size, and scored against their time alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import load_script

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def ops():
    return load_script(BENCH / "estimator_ops.py")


@pytest.mark.parametrize("op_type, weights, expected", [
    ("CONV_2D", [512, 3, 3, 512], "CONV_2D kxk >=5 MB"),  # 9 MB: ResNet-50's last 3x3 convs
    ("CONV_2D", [256, 1, 1, 64], "CONV_2D 1x1 <0.5 MB"),
    ("CONV_2D", [1024, 1, 1, 512], "CONV_2D 1x1 <5 MB"),  # exactly 2 MB: not below 2
    ("CONV_2D", [64, 7, 7, 3], "CONV_2D stem"),
    ("FULLY_CONNECTED", [1000, 1280], "FULLY_CONNECTED <5 MB"),
    ("DEPTHWISE_CONV_2D", [1, 3, 3, 96], "DEPTHWISE_CONV_2D"),
    ("ADD", None, "ADD"),
    ("CONV_2D", None, "CONV_2D"),
])
def test_ops_are_classed_by_type_and_the_size_of_their_weights(ops, op_type, weights, expected):
    assert ops.op_class(op_type, weights) == expected


def test_a_models_error_is_over_the_ops_both_timed_and_priced(ops):
    rows = [{"ms": 2.0, "estimated_ms": 3.0}, {"ms": 2.0, "estimated_ms": 1.0},
            {"not_timed": "LiteRT failed running it alone"}, {"ms": 5.0, "estimated_ms": None}]
    assert ops.model_error(rows) == pytest.approx(0.0)
    assert ops.model_error([{"ms": 1.0, "estimated_ms": 1.5}]) == pytest.approx(0.5)
    assert ops.model_error([{"not_timed": "folded"}]) is None


def test_classes_report_the_median_and_the_time_weighted_ratio_without_ops_under_the_timers_resolution(ops):
    rows = [{"class": "ADD", "ms": 1.0, "estimated_ms": 2.0}, {"class": "ADD", "ms": 3.0, "estimated_ms": 3.0},
            {"class": "ADD", "ms": 0.001, "estimated_ms": 0.1},  # under MIN_MS: left out
            {"class": "MUL", "ms": 1.0, "estimated_ms": 0.5}]
    out = ops.class_ratios(rows)
    assert out["ADD"] == {"n": 2, "median": pytest.approx(1.5), "weighted": pytest.approx(5.0 / 4.0)}
    assert out["MUL"]["median"] == pytest.approx(0.5)
