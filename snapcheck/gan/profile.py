"""Parameters, weight bytes and MACs of a generator config, computed from the layer formulas (no TF).

Conventions (those of docs/generator.md and the reference notes, §6):

- ``params`` counts what Keras counts: conv weights, biases and 4 values per BatchNorm channel
  (γ, β, moving mean, moving variance). The tests pin it to ``keras.Model.count_params()``.
- ``deployed_params`` is what an exported file stores: BatchNorm folded into one bias per channel.
- MACs are true multiply-accumulates: a conv at its output resolution, a stride-2 transposed conv
  at its input resolution (torchprofile counts it at its output resolution, 4× more); a separable
  conv is depthwise (C_in·k²) + pointwise (C_in·C_out) per output pixel. Resize, BN, activations
  and concatenations are not counted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from snapcheck.gan.registry import GeneratorConfig, num_levels


@dataclass(frozen=True)
class Profile:
    name: str
    size: int
    params: int
    deployed_params: int
    macs: int

    @property
    def fp32_bytes(self) -> int:
        return 4 * self.deployed_params

    @property
    def fp16_bytes(self) -> int:
        return 2 * self.deployed_params

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fp32_bytes": self.fp32_bytes, "fp16_bytes": self.fp16_bytes}


@dataclass
class _Tally:
    params: int = 0
    deployed: int = 0
    macs: int = 0

    def conv(self, cin: int, cout: int, k: int, out_res: int, *, separable: bool, transpose: bool = False,
             bias: bool = False, batchnorm: bool = False) -> None:
        weights = cin * k * k + cin * cout if separable else cin * cout * k * k
        mac_res = out_res // 2 if transpose else out_res  # a stride-2 ConvT works at its input resolution
        self.macs += mac_res * mac_res * weights
        self.params += weights + (cout if bias else 0) + (4 * cout if batchnorm else 0)
        self.deployed += weights + (cout if bias or batchnorm else 0)


def profile_config(cfg: GeneratorConfig, *, size: int | None = None) -> Profile:
    """The generator's parameter count, deployed (BN-folded) parameter count and MACs at ``size``."""
    from snapcheck.gan.generator import unet_widths

    if size is not None and size != cfg.size:
        cfg = cfg.replace(size=size)  # validates the size
    size = cfg.size
    enc, dec = unet_widths(size, cfg.alpha_encoder, cfg.alpha_decoder)
    levels, k, sep = num_levels(size), cfg.kernel_size, cfg.separable
    transpose = cfg.upsample == "transpose"
    t = _Tally()

    cin = cfg.in_channels
    for i, cout in enumerate(enc):  # stride-2 convs; the stem is plain and has no BN
        t.conv(cin, cout, k, size >> (i + 1), separable=sep and i > 0, batchnorm=i > 0)
        cin = cout
    for j, cout in enumerate(dec):  # ×2 blocks, each followed by a skip concat
        t.conv(cin, cout, k, size >> (levels - 1 - j), separable=sep and not transpose, transpose=transpose,
               batchnorm=True)
        cin = cout + enc[levels - 2 - j]
    t.conv(cin, cfg.out_channels, k, size, separable=sep and not transpose, transpose=transpose, bias=True)
    return Profile(name=cfg.name, size=size, params=t.params, deployed_params=t.deployed, macs=t.macs)
