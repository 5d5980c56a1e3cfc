"""The PyTorch models `snapcheck fix` is benchmarked on, exported by the standard exporter (opset 11, static shapes).

- ``mobilenet_v2``: torchvision's MobileNetV2 written out here (torchvision from PyPI may not import beside torch
  2.13): inverted residual blocks of Conv-BN-ReLU6, widths rounded to 8, global average pooling and a linear head;
- ``unet``: the U-Net of milesial/Pytorch-UNet (DoubleConv = (Conv-BN-ReLU) x 2, MaxPool down, ConvTranspose up,
  F.pad to the skip's size, concat, a 1x1 head; 4 levels down) at ``--base`` channels (16: 7.8 MB fp32; 29:
  25.5 MB, the size of the speed target).

With ``--zoo``, six small architectures more (a MobileNetV3-like block with Hardswish and a Hardsigmoid gate, a
token-attention block with LayerNorm and GELU, a PixelShuffle super-resolution head with InstanceNorm, a bilinear
decoder, MobileNetV2 0.5 and a 3-level U-Net), each exported five ways: the TorchScript exporter at opsets 11, 13
and 17, with dynamic batch/height/width, and the dynamo exporter: what creators send, none of it in the tests.

Weights are random (``torch.manual_seed(0)``); BatchNorm running statistics are random too, so that folding them is
not trivial. Needs torch (the ``fixtures`` extra; the dynamo exports also onnxscript); the benchmark and the tests
read the .onnx files.

    .venv/bin/python bench/fix_models.py OUT_DIR [--base 16] [--size 256] [--zoo]
"""

from __future__ import annotations

import argparse
import sys
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


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.reduce, self.expand = nn.Conv2d(channels, channels // 4, 1), nn.Conv2d(channels // 4, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * F.hardsigmoid(self.expand(F.relu(self.reduce(F.adaptive_avg_pool2d(x, 1)))))


class MobileV3Block(nn.Module):
    """A MobileNetV3-like stem and block: Hardswish, a depthwise conv, a Hardsigmoid squeeze-excite gate."""

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.stem = conv_bn(3, 16, stride=2, act=False)
        self.dw = nn.Conv2d(16, 16, 3, 1, 1, groups=16)
        self.se = SqueezeExcite(16)
        self.pw = nn.Conv2d(16, 24, 1)
        self.fc = nn.Linear(24, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.se(F.hardswish(self.dw(F.hardswish(self.stem(x)))))
        return self.fc(self.pw(x).mean((2, 3)))


class TokenAttention(nn.Module):
    """Patches as tokens: LayerNorm, one attention head, GELU, back to an image, nearest upsampling."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, width, 4, 4)
        self.norm = nn.LayerNorm(width)
        self.q, self.k, self.v = (nn.Linear(width, width) for _ in range(3))
        self.out = nn.Conv2d(width, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.patch(x)
        n, c, h, w = y.shape
        t = self.norm(y.flatten(2).transpose(1, 2))
        a = torch.softmax(self.q(t) @ self.k(t).transpose(1, 2) / c ** 0.5, -1) @ self.v(t)
        y = a.transpose(1, 2).reshape(n, c, h, w)
        return F.interpolate(self.out(F.gelu(y)), scale_factor=4, mode="nearest")


class PixelShuffleSR(nn.Module):
    """Super-resolution: conv, InstanceNorm, conv to 3 x 2^2 channels, PixelShuffle."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 32, 3, 1, 1), nn.InstanceNorm2d(32, affine=True), nn.ReLU(),
                                  nn.Conv2d(32, 12, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(F.pixel_shuffle(self.body(x), 2))


class BilinearDecoder(nn.Module):
    """A strided conv and a bilinear resize back to the input size (F.interpolate(size=x.shape[-2:]))."""

    def __init__(self) -> None:
        super().__init__()
        self.down = conv_bn(3, 8, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.down(x), size=x.shape[-2:], mode="bilinear", align_corners=False)


ZOO = {"mobilev3_block": MobileV3Block, "token_attention": TokenAttention, "pixel_shuffle_sr": PixelShuffleSR,
       "bilinear_decoder": BilinearDecoder, "mobilenet_v2_050": lambda: MobileNetV2(width=0.5, classes=20),
       "unet_8x3": lambda: UNet(base=8, depth=3)}


def build_zoo(out: Path, size: int = 64) -> dict[str, Path]:
    """Each ZOO model exported five ways (opsets 11/13/17, dynamic dims, dynamo) at ``size`` x ``size``."""
    torch.manual_seed(0)
    paths = {}
    x = torch.rand(1, 3, size, size)
    for name, make in ZOO.items():
        model = randomise_batchnorm(make())
        with torch.no_grad():
            for opset in (11, 13, 17):
                paths[f"{name}_o{opset}"] = _torchscript(model, x, out / f"{name}_o{opset}.onnx", opset)
            paths[f"{name}_dynamic"] = _torchscript(model, x, out / f"{name}_dynamic.onnx", 13,
                                                    {"input": {0: "n", 2: "h", 3: "w"}, "output": {0: "n"}})
        try:
            torch.onnx.export(model, (x,), str(out / f"{name}_dynamo.onnx"), dynamo=True, input_names=["input"],
                              output_names=["output"])
            paths[f"{name}_dynamo"] = out / f"{name}_dynamo.onnx"
        except Exception as exc:  # noqa: BLE001 - the dynamo exporter needs onnxscript; the rest stands
            print(f"{name}: dynamo export failed: {' '.join(str(exc).split())[:120]}", file=sys.stderr)
    return paths


def _torchscript(model: nn.Module, x: torch.Tensor, path: Path, opset: int, dynamic: dict | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(model, (x,), str(path), opset_version=opset, dynamo=False, input_names=["input"],
                      output_names=["output"], dynamic_axes=dynamic)
    return path


def randomise_batchnorm(model: nn.Module) -> nn.Module:
    """Running statistics and affine parameters as a trained model has them (not the identity)."""
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) and m.weight is not None:
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return model.eval()


def export(model: nn.Module, shape: tuple[int, ...], path: Path) -> Path:
    """The standard (TorchScript) exporter at opset 11 with a static input shape, as Snap's PyTorch guide does."""
    return _torchscript(model, torch.rand(shape), path, 11)


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
    ap.add_argument("--zoo", action="store_true", help="also the six small architectures, five exports each")
    args = ap.parse_args()
    paths = build(args.out, base=args.base, size=args.size)
    if args.zoo:
        paths.update(build_zoo(args.out / "zoo"))
    for name, path in paths.items():
        print(f"{name}: {path} ({path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
