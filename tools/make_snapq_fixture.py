"""Write tests/data/snapq/quantized_mobile_block.onnx: a small PyTorch net quantized by Snap's own quantizer.

``snapml-auto-quantization`` (PyPI, Snap, MIT) folds BatchNorm, calibrates each quantized tensor's range and
records it in ``QuantizeSnap`` nodes. Its ``export_quantized_model_to_onnx`` passes ``enable_onnx_checker``,
which current torch no longer takes, so the model is exported as the package's README says: the TorchScript
exporter, ``keep_initializers_as_inputs=True`` and the ATen fallback. Run ``python tools/make_snapq_fixture.py``
(needs the ``fixtures`` extra: torch and snapml-auto-quantization).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "snapq" / "quantized_mobile_block.onnx"


class MobileBlock(nn.Module):
    """A segmentation-style head: conv-BN-ReLU, a depthwise conv, a pointwise conv and a nearest upsample."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.depthwise = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1, groups=16), nn.BatchNorm2d(16), nn.ReLU())
        self.pointwise = nn.Conv2d(16, 4, 1)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.pointwise(self.depthwise(self.stem(x))))


def calibrate(model: nn.Module, config: dict) -> None:
    """The package's ``inference_loop_function``: run the calibration batches through the model."""
    with torch.no_grad():
        for batch in config["batches"]:
            model(batch)


def main() -> None:
    from snapml_auto_quantization.quant_simulator import QuantizationSimulator

    torch.manual_seed(0)
    net = MobileBlock().eval()
    sim = QuantizationSimulator(net)
    batches = [torch.rand(1, 3, 32, 32) for _ in range(4)]
    quant_model, _ = sim.post_training_quantization(calibrate, config={"batches": batches})
    OUT.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(quant_model.to("cpu").eval(), torch.rand(1, 3, 32, 32), str(OUT), dynamo=False,
                      input_names=["data"], output_names=["prob"], keep_initializers_as_inputs=True,
                      operator_export_type=torch.onnx.OperatorExportTypes.ONNX_ATEN_FALLBACK)
    print(f"{OUT}: {OUT.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
