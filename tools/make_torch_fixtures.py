"""Write the PyTorch-exported .onnx fixtures under tests/data/torch/ (the tests read them; they never import torch).

Each model is what a Lens creator writes in PyTorch and exports as Snap's PyTorch guide says
(``torch.onnx.export`` with a batch-1 dummy input; the TorchScript exporter at opsets 11, 13, 16 and 17, and the
dynamo exporter). Run ``python tools/make_torch_fixtures.py`` (needs the ``fixtures`` extra: torch, onnxscript)
after changing a model here; the files are small and committed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "torch"


def conv_layer(cin: int, cout: int, kernel: int, stride: int = 1) -> nn.Sequential:
    """The fast-style-transfer block: reflection padding, then an unpadded convolution."""
    return nn.Sequential(nn.ReflectionPad2d(kernel // 2), nn.Conv2d(cin, cout, kernel, stride))


class Residual(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(conv_layer(channels, channels, 3), nn.InstanceNorm2d(channels, affine=True),
                                  nn.ReLU(), conv_layer(channels, channels, 3),
                                  nn.InstanceNorm2d(channels, affine=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class StyleTransfer(nn.Module):
    """A small fast-style-transfer net (Johnson et al.), as Snap's Style Transfer template trains it."""

    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.down = nn.Sequential(conv_layer(3, width, 9), nn.ReLU(), conv_layer(width, 2 * width, 3, 2), nn.ReLU())
        self.res = Residual(2 * width)
        self.up = conv_layer(2 * width, width, 3)
        self.out = conv_layer(width, 3, 9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.res(self.down(x))
        x = F.relu(self.up(F.interpolate(x, scale_factor=2, mode="nearest")))
        return torch.sigmoid(self.out(x))


class SkipUNet(nn.Module):
    """A U-Net step that resizes the decoder to the skip's size: ``F.interpolate(size=skip.shape[-2:])``."""

    def __init__(self) -> None:
        super().__init__()
        self.enc = nn.Conv2d(3, 8, 3, padding=1)
        self.down = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.dec = nn.Conv2d(24, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = F.relu(self.enc(x))
        y = F.relu(self.down(skip))
        y = F.interpolate(y, size=skip.shape[-2:], mode="nearest")
        return torch.sigmoid(self.dec(torch.cat([y, skip], dim=1)))


class Classifier(nn.Module):
    """A tiny classifier whose head flattens with ``x.view(x.size(0), -1)``."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.fc = nn.Linear(8 * 16 * 16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv(x))
        return self.fc(x.view(x.size(0), -1))


class MobileBlock(nn.Module):
    """MobileNetV3-style: depthwise and grouped convs, HardSwish, global average pooling by ``x.mean((2, 3))``."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, stride=2, padding=1)
        self.depthwise = nn.Conv2d(16, 16, 3, padding=1, groups=16)
        self.grouped = nn.Conv2d(16, 16, 1, groups=4)
        self.act = nn.Hardswish()
        self.fc = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.stem(x))
        x = self.act(self.grouped(F.relu(self.depthwise(x))))
        return self.fc(x.mean((2, 3)))


class TokenMixer(nn.Module):
    """A transformer block's LayerNorm and MLP on [1, T, C] tokens."""

    def __init__(self, channels: int = 16) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels)
        self.fc = nn.Linear(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc(self.norm(x))


class Dilated(nn.Module):
    """A context module (DeepLab-style): a 3x3 conv with dilation 4 and padding 4 keeps the spatial size."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=4, dilation=4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv(x))


class Bilinear(nn.Module):
    def __init__(self, align_corners: bool) -> None:
        super().__init__()
        self.align_corners = align_corners
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=self.align_corners))


class MaskedAttention(nn.Module):
    """Self-attention over [1, T, C] with a padding mask filled with ``finfo.min`` (as Hugging Face models do)."""

    def __init__(self, channels: int = 16, tokens: int = 8) -> None:
        super().__init__()
        self.qkv = nn.Linear(channels, 3 * channels)
        self.register_buffer("keep", torch.arange(tokens) < tokens - 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        scores = q @ k.transpose(-1, -2) / 4.0
        scores = scores.masked_fill(~self.keep, torch.finfo(scores.dtype).min)
        return scores.softmax(dim=-1) @ v


class GroupedQueryAttention(nn.Module):
    """Grouped-query attention: 2 key/value heads repeated for 4 query heads (expand + reshape through rank 5)."""

    def __init__(self, channels: int = 32, heads: int = 4, kv_heads: int = 2) -> None:
        super().__init__()
        self.heads, self.kv_heads, self.dim = heads, kv_heads, channels // heads
        self.q = nn.Linear(channels, channels)
        self.kv = nn.Linear(channels, 2 * kv_heads * self.dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        q = self.q(x).view(b, t, self.heads, self.dim).transpose(1, 2)
        k, v = self.kv(x).view(b, t, 2 * self.kv_heads, self.dim).transpose(1, 2).chunk(2, dim=1)
        rep = self.heads // self.kv_heads
        k = k[:, :, None].expand(b, self.kv_heads, rep, t, self.dim).reshape(b, self.heads, t, self.dim)
        v = v[:, :, None].expand(b, self.kv_heads, rep, t, self.dim).reshape(b, self.heads, t, self.dim)
        att = (q @ k.transpose(-1, -2)).softmax(dim=-1) @ v
        return att.transpose(1, 2).reshape(b, t, self.heads * self.dim)


def export(name: str, model: nn.Module, shape: tuple[int, ...], opset: int | None = None, dynamo: bool = False,
           dynamic_batch: bool = False, fold: bool = True) -> Path:
    torch.manual_seed(0)
    path = OUT / f"{name}.onnx"
    x = torch.randn(*shape)
    kw: dict = {"input_names": ["input"], "output_names": ["output"]}
    if dynamo:
        torch.onnx.export(model.eval(), (x,), str(path), dynamo=True, external_data=False, **kw)
    else:
        if dynamic_batch:
            kw["dynamic_axes"] = {"input": {0: "batch"}, "output": {0: "batch"}}
        torch.onnx.export(model.eval(), (x,), str(path), opset_version=opset, dynamo=False,
                          do_constant_folding=fold, **kw)
    return path


def _seeded(factory: Callable[[], nn.Module]) -> nn.Module:
    torch.manual_seed(0)
    return factory()


FIXTURES: list[tuple[str, Callable[[], nn.Module], tuple[int, ...], dict]] = [
    ("style_transfer_opset11", StyleTransfer, (1, 3, 64, 64), {"opset": 11}),
    ("style_transfer_opset13", StyleTransfer, (1, 3, 64, 64), {"opset": 13}),
    ("style_transfer_dynamo", StyleTransfer, (1, 3, 64, 64), {"dynamo": True}),
    ("skip_unet_interpolate_size", SkipUNet, (1, 3, 32, 32), {"opset": 11}),
    ("classifier_view_flatten", Classifier, (1, 3, 32, 32), {"opset": 11, "fold": False}),
    ("classifier_dynamic_axes", Classifier, (1, 3, 32, 32), {"opset": 11, "dynamic_batch": True}),
    ("mobile_block_opset13", MobileBlock, (1, 3, 32, 32), {"opset": 13}),
    ("token_layernorm_opset16", TokenMixer, (1, 8, 16), {"opset": 16}),
    ("token_layernorm_opset17", TokenMixer, (1, 8, 16), {"opset": 17}),
    ("dilated_conv", Dilated, (1, 3, 32, 32), {"opset": 13}),
    ("bilinear_default", lambda: Bilinear(False), (1, 3, 16, 16), {"opset": 11}),
    ("bilinear_align_corners", lambda: Bilinear(True), (1, 3, 16, 16), {"opset": 11}),
    ("masked_attention", MaskedAttention, (1, 8, 16), {"opset": 13}),
    ("grouped_query_attention", GroupedQueryAttention, (1, 8, 32), {"opset": 13}),
]


def main(names: list[str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, factory, shape, kw in FIXTURES:
        if names and name not in names:
            continue
        path = export(name, _seeded(factory), shape, **kw)
        print(f"{path.relative_to(OUT.parents[2])}: {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main(sys.argv[1:])
