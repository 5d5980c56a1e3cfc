"""The PyTorch models `snapcheck fix` is benchmarked on, exported by the standard exporter (opset 11, static shapes).

- ``mobilenet_v2``: torchvision's MobileNetV2 written out here (torchvision from PyPI may not import beside torch
  2.13): inverted residual blocks of Conv-BN-ReLU6, widths rounded to 8, global average pooling and a linear head;
- ``unet``: the U-Net of milesial/Pytorch-UNet (DoubleConv = (Conv-BN-ReLU) x 2, MaxPool down, ConvTranspose up,
  F.pad to the skip's size, concat, a 1x1 head; 4 levels down) at ``--base`` channels (16: 7.8 MB fp32; 29:
  25.5 MB, the size of the speed target).

Weights are random (``torch.manual_seed(0)``); BatchNorm running statistics are random too, so that folding them is
not trivial. Needs torch (the ``fixtures`` extra); the benchmark and the tests read the .onnx files.

    .venv/bin/python bench/fix_models.py OUT_DIR [--base 16] [--size 256]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


def make_divisible(v: float, divisor: int = 8) -> int:
    """torchvision's _make_divisible: round to a multiple of 8, never more than 10 % down."""
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * v else new


def conv_bn(cin: int, cout: int, kernel: int = 3, *, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
                               nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, *, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        layers = [conv_bn(cin, hidden, 1)] if expand != 1 else []
        layers += [conv_bn(hidden, hidden, stride=stride, groups=hidden), conv_bn(hidden, cout, 1, act=False)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res else self.conv(x)


MNV2_BLOCKS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
               (6, 320, 1, 1)]  # (expand, channels, repeats, first stride), as torchvision


class MobileNetV2(nn.Module):
    def __init__(self, *, width: float = 1.0, classes: int = 1000) -> None:
        super().__init__()
        cin = make_divisible(32 * width)
        last = make_divisible(1280 * max(1.0, width))
        features: list[nn.Module] = [conv_bn(3, cin, stride=2)]
        for t, c, n, s in MNV2_BLOCKS:
            cout = make_divisible(c * width)
            for i in range(n):
                features.append(InvertedResidual(cin, cout, stride=s if i == 0 else 1, expand=t))
                cin = cout
        features.append(conv_bn(cin, last, 1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(last, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


class DoubleConv(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class Up(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cin // 2, 2, stride=2)
        self.conv = DoubleConv(cin, cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = self.up(x)
        dy, dx = skip.size()[2] - x.size()[2], skip.size()[3] - x.size()[3]
        x = F.pad(x, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.conv(torch.cat([skip, x], dim=1))


class UNet(nn.Module):
    def __init__(self, *, base: int = 16, depth: int = 4, channels: int = 3, classes: int = 2) -> None:
        super().__init__()
        widths = [base * 2 ** i for i in range(depth + 1)]
        self.inc = DoubleConv(channels, widths[0])
        self.downs = nn.ModuleList(nn.Sequential(nn.MaxPool2d(2), DoubleConv(a, b)) for a, b in zip(widths, widths[1:]))
        self.ups = nn.ModuleList(Up(b, a) for a, b in zip(reversed(widths[:-1]), reversed(widths[1:])))
        self.outc = nn.Conv2d(widths[0], classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.inc(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        x = skips.pop()
        for up in self.ups:
            x = up(x, skips.pop())
        return self.outc(x)


def randomise_batchnorm(model: nn.Module) -> nn.Module:
    """Running statistics and affine parameters as a trained model has them (not the identity)."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    return model.eval()


def export(model: nn.Module, shape: tuple[int, ...], path: Path) -> Path:
    """The standard (TorchScript) exporter at opset 11 with a static input shape, as Snap's PyTorch guide does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(model, (torch.rand(shape),), str(path), opset_version=11, dynamo=False,
                      input_names=["input"], output_names=["output"])
    return path


def build(out: Path, *, base: int = 16, size: int = 256) -> dict[str, Path]:
    torch.manual_seed(0)
    with torch.no_grad():
        mnv2 = export(randomise_batchnorm(MobileNetV2()), (1, 3, 224, 224), out / "mobilenet_v2.onnx")
        unet = export(randomise_batchnorm(UNet(base=base)), (1, 3, size, size), out / f"unet_{base}.onnx")
    return {"mobilenet_v2": mnv2, f"unet_{base}": unet}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--base", type=int, default=16, help="U-Net width (16: 7.8 MB; 29: 25.5 MB)")
    ap.add_argument("--size", type=int, default=256)
    args = ap.parse_args()
    for name, path in build(args.out, base=args.base, size=args.size).items():
        print(f"{name}: {path} ({path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
