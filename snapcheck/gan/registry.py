"""Named generator configurations: a frozen dataclass per architecture and a name → config registry.

The light version of timm's registry: ``CONFIGS`` maps a name to a ``GeneratorConfig``;
``get_config(name)`` looks it up and ``register_config(cfg)`` adds one. Importing this module never
imports TensorFlow.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from snapcheck.errors import InputError

Upsample = Literal["nearest", "transpose"]
UPSAMPLE_MODES: tuple[str, ...] = ("nearest", "transpose")

# Fields that name or describe a config without changing the network; ``key()`` leaves them out.
_LABEL_FIELDS = frozenset({"name", "description"})


@dataclass(frozen=True)
class GeneratorConfig:
    """One generator architecture (and the width of the discriminator trained with it).

    ``alpha_encoder`` / ``alpha_decoder`` scale the Pix2Pix widths (64, 128, 256, 512, ...) and
    (512, ..., 128, 64); ``separable`` makes every convolution but the stem depthwise-separable;
    ``upsample`` picks the decoder: ``nearest`` (2× nearest resize + conv) or ``transpose``
    (Conv2DTranspose). ``size`` is the square input side; the U-Net has one level per factor of 2.
    """

    name: str
    alpha_encoder: float
    alpha_decoder: float
    alpha_discriminator: float = 1.0
    separable: bool = True
    upsample: Upsample = "nearest"
    size: int = 256
    in_channels: int = 1
    out_channels: int = 4
    kernel_size: int = 4
    description: str = ""

    def __post_init__(self) -> None:
        problems = []
        for field in ("alpha_encoder", "alpha_decoder", "alpha_discriminator"):
            if not getattr(self, field) > 0:
                problems.append(f"{field} must be > 0, got {getattr(self, field)}")
        if self.upsample not in UPSAMPLE_MODES:
            problems.append(f"upsample must be one of {', '.join(UPSAMPLE_MODES)}, got {self.upsample!r}")
        if num_levels(self.size) < 2:
            problems.append(f"size must be a multiple of 4 (one U-Net level per factor of 2), got {self.size}")
        for field in ("in_channels", "out_channels", "kernel_size"):
            if getattr(self, field) < 1:
                problems.append(f"{field} must be >= 1, got {getattr(self, field)}")
        if problems:
            raise InputError(None, f"generator config {self.name!r}: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GeneratorConfig:
        """Inverse of ``to_dict``; unknown keys are an error (they would be silently dropped)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(None, f"generator config: unknown field(s) {', '.join(unknown)}")
        return cls(**data)

    def replace(self, **changes: Any) -> GeneratorConfig:
        """A new config with ``changes`` applied (validated like any other)."""
        return dataclasses.replace(self, **changes)

    def key(self) -> str:
        """A stable 12-hex-digit hash of the architecture (every field except name and description)."""
        arch = {k: v for k, v in self.to_dict().items() if k not in _LABEL_FIELDS}
        blob = json.dumps(arch, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


def num_levels(size: int) -> int:
    """U-Net depth for a square input: how many times ``size`` halves evenly (256 → 8, 128 → 7, 192 → 6)."""
    if size < 1:
        return 0
    levels = 0
    while size % 2 == 0:
        size //= 2
        levels += 1
    return levels


CONFIGS: dict[str, GeneratorConfig] = {}


def register_config(cfg: GeneratorConfig) -> GeneratorConfig:
    """Add ``cfg`` under ``cfg.name``; re-registering a name with a different config is an error."""
    existing = CONFIGS.get(cfg.name)
    if existing is not None and existing != cfg:
        raise ValueError(f"generator config {cfg.name!r} is already registered with different settings")
    CONFIGS[cfg.name] = cfg
    return cfg


def get_config(name: str) -> GeneratorConfig:
    """The registered config called ``name``; ``InputError`` listing the known names otherwise."""
    try:
        return CONFIGS[name]
    except KeyError:
        raise InputError(None, f"unknown generator config {name!r}; known: {', '.join(CONFIGS)}") from None


def resolve_config(config: str | GeneratorConfig, **overrides: Any) -> GeneratorConfig:
    """A registered config by name (or ``config`` itself) with ``overrides`` applied (``None`` values ignored)."""
    cfg = get_config(config) if isinstance(config, str) else config
    changes = {k: v for k, v in overrides.items() if v is not None}
    return cfg.replace(**changes) if changes else cfg


register_config(GeneratorConfig(
    name="pix2pix",
    alpha_encoder=1.0,
    alpha_decoder=1.0,
    separable=False,
    upsample="transpose",
    in_channels=3,
    out_channels=3,
    description="Reference: the TF pix2pix tutorial's U-Net-256 generator (54,425,859 params).",
))
register_config(GeneratorConfig(
    name="blog",
    alpha_encoder=0.4,
    alpha_decoder=2.0,
    description="The seed blog's cat-face net: thin separable encoder, wide nearest+separable decoder.",
))
register_config(GeneratorConfig(
    name="catface-s",
    alpha_encoder=0.25,
    alpha_decoder=0.25,
    alpha_discriminator=0.25,
    description="Our small default: a few hundred K params, trains on a CPU, runs on an old phone.",
))
register_config(GeneratorConfig(
    name="catface-m",
    alpha_encoder=0.5,
    alpha_decoder=0.75,
    alpha_discriminator=0.5,
    description="Our medium default: more decoder width for detail, still a few MB in fp16.",
))
register_config(GeneratorConfig(
    name="catface-l",
    alpha_encoder=1.0,
    alpha_decoder=1.0,
    alpha_discriminator=0.5,
    size=128,
    description="Our large default at 128: the pix2pix widths, separable; the widest on the 128×128 sweep's "
                "Pareto front that keeps the estimated iPhone 6 rate at 8 Hz or more.",
))

