"""Write the PyTorch-exported .onnx fixtures of `snapcheck fix` and the numerics check under tests/data/fix/.

Each model is small (a few kB) and is what a Lens creator's export looks like when a rewrite of rules/fixes.toml
applies to it. The tests read the committed files; they never import torch. Run after changing a model here:

    .venv/bin/python tools/make_fix_fixtures.py      (needs the fixtures extra: torch)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "fix"
sys.path.insert(0, str(ROOT / "bench"))
from fix_models import UNet, randomise_batchnorm  # noqa: E402 - one U-Net for the benchmark and the fixtures


class ExpandUpsample(nn.Module):
    """Nearest 2x upsampling written as index + expand + reshape (rank-6 intermediates)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.conv(x))
        n, c, h, w = y.shape
        return y[:, :, :, None, :, None].expand(n, c, h, 2, w, 2).reshape(n, c, 2 * h, 2 * w)


class RepeatUpsample(nn.Module):
    """Nearest 2x upsampling written with repeat_interleave on both axes (Tile through rank-5 tensors)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv(x)).repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)


class DeconvBatchNorm(nn.Module):
    """A ConvTranspose followed by a BatchNorm (the exporter folds Conv+BN, not this)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.up = nn.ConvTranspose2d(8, 4, 2, stride=2)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.bn(self.up(F.relu(self.conv(x)))))


class ChannelBias(nn.Module):
    """A per-channel parameter written [C, 1, 1], added after an activation (nothing folds it)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bias = nn.Parameter(torch.linspace(-1, 1, 4).reshape(4, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv(x)) + self.bias


class PixelShuffleHead(nn.Module):
    """A super-resolution head: conv to C * r^2 channels, then PixelShuffle (DepthToSpace)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3 * 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(self.conv(x), 2)


class HardSwishBlock(nn.Module):
    """MobileNetV3's activations: Hardswish, and a squeeze-excite gate with Hardsigmoid."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.gate = nn.Conv2d(8, 8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.hardswish(self.conv(x))
        return y * F.hardsigmoid(self.gate(F.adaptive_avg_pool2d(y, 1)))


class Opset9Upsample(nn.Module):
    """An old export: opset 9, nn.Upsample (the Upsample op), a dynamic batch."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(F.relu(self.conv(x)))


class EnergyNorm(nn.Module):
    """Fine in float32, broken in float16: each channel divided by the root of its energy, a sum over H x W of
    squared activations (above 65504 for inputs in [0, 1]); no weight is above 1."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        with torch.no_grad():
            self.conv.weight.fill_(0.5)
            self.conv.bias.fill_(1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return y / torch.sqrt((y * y).sum(dim=(2, 3), keepdim=True))


class GeluBlock(nn.Module):
    """A conv block with nn.GELU, which torch.onnx writes with Erf before opset 20."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.head = nn.Conv2d(4, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(F.gelu(self.conv(x)))


def export(model: nn.Module, name: str, shape: tuple[int, ...], *, opset: int = 11,
           dynamic: dict[int, str] | None = None, fold: bool = True) -> None:
    path = OUT / f"{name}.onnx"
    torch.onnx.export(model.eval(), (torch.rand(shape),), str(path), opset_version=opset, dynamo=False,
                      input_names=["input"], output_names=["output"], do_constant_folding=fold,
                      dynamic_axes={"input": dynamic, "output": {0: dynamic[0]} if 0 in dynamic else {}}
                      if dynamic else None)
    print(f"{path.relative_to(ROOT)}: {path.stat().st_size} bytes")


FIXTURES: dict[str, Callable[[], None]] = {
    "unet_dynamic": lambda: export(randomise_batchnorm(UNet(base=4, depth=2)), "unet_dynamic", (1, 3, 32, 32),
                                   dynamic={0: "batch", 2: "height", 3: "width"}),
    "upsample_expand": lambda: export(ExpandUpsample(), "upsample_expand", (1, 3, 8, 8)),
    "upsample_repeat_interleave": lambda: export(RepeatUpsample(), "upsample_repeat_interleave", (1, 3, 8, 8)),
    "deconv_batchnorm": lambda: export(randomise_batchnorm(DeconvBatchNorm()), "deconv_batchnorm", (1, 3, 8, 8),
                                       fold=False),
    "channel_bias_rank3": lambda: export(ChannelBias(), "channel_bias_rank3", (1, 3, 8, 8)),
    "pixel_shuffle": lambda: export(PixelShuffleHead(), "pixel_shuffle", (1, 3, 8, 8)),
    "hardswish_opset14": lambda: export(HardSwishBlock(), "hardswish_opset14", (1, 3, 8, 8), opset=14),
    "opset9_upsample": lambda: export(Opset9Upsample(), "opset9_upsample", (1, 3, 8, 8), opset=9,
                                      dynamic={0: "batch"}),
    "fp16_energy_norm": lambda: export(EnergyNorm(), "fp16_energy_norm", (1, 3, 64, 64)),
    "gelu_erf_opset13": lambda: export(GeluBlock(), "gelu_erf_opset13", (1, 3, 8, 8), opset=13),
}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    with torch.no_grad():
        for build in FIXTURES.values():
            build()


if __name__ == "__main__":
    main()
