"""The row probes ``calibrate --quick`` times build the kernels their rates price: each copy probe and the
dynamic-batch transposed conv land on the ``Kernel.row_rate`` that ``quick.row_rates`` files them under."""

from __future__ import annotations

import pytest

from snapcheck.calibrate.micro import ROW_PROBES, build_micro_tflite
from snapcheck.estimate.kernels import REFERENCE_COPY_TYPES, REFERENCE_DECONV_RATE

pytestmark = pytest.mark.slow


def test_each_rate_probe_builds_the_kernel_it_prices(tmp_path):
    pytest.importorskip("tensorflow")
    from snapcheck.calibrate.harness import micro_kernels

    rates = []
    for spec in ROW_PROBES[3:]:
        kernels = micro_kernels(build_micro_tflite(spec), tmp_path / "probe.tflite")
        main = max(kernels, key=lambda k: k.rows)
        assert main.rows > 0, spec.key()
        rates.append(main.row_rate)
    assert rates == [*REFERENCE_COPY_TYPES.values(), REFERENCE_DECONV_RATE]
    deconv = max(micro_kernels(build_micro_tflite(ROW_PROBES[-1]), tmp_path / "d.tflite"), key=lambda k: k.rows)
    assert deconv.kind == "deconv" and deconv.rows == deconv.macs == 16 * 16 * 128 * 64 * 4 * 4
