"""The row probes ``calibrate --quick`` times build the kernels their rates price: each copy probe and the
dynamic-batch transposed conv land on the ``Kernel.row_rate`` that ``quick.row_rates`` files them under."""

from __future__ import annotations

import pytest

from snapcheck.calibrate.micro import ROW_PROBES, build_micro_tflite
from snapcheck.estimate.kernels import REFERENCE_COPY_TYPES, REFERENCE_DECONV_RATE

pytestmark = pytest.mark.slow


def test_each_rate_probe_builds_the_kernel_it_prices():
    pytest.importorskip("tensorflow")
    from snapcheck.calibrate.harness import micro_kernels

    mains = [max(micro_kernels(build_micro_tflite(spec)), key=lambda k: k.rows)
             for spec in ROW_PROBES[3:]]
    assert all(main.rows > 0 for main in mains), [spec.key() for spec in ROW_PROBES[3:]]
    assert [main.row_rate for main in mains] == [*REFERENCE_COPY_TYPES.values(), REFERENCE_DECONV_RATE]
    deconv = mains[-1]
    assert deconv.kind == "deconv" and deconv.rows == deconv.macs == 16 * 16 * 128 * 64 * 4 * 4
