"""The sweep grid: axis values from comma lists or a TOML file, expanded into generator configs.

Every axis is a list; the grid is their Cartesian product, in the order the values were given.
``separable`` accepts ``true``, ``false`` or ``both``. Each point is a ``GeneratorConfig`` named
by its axis values (``e0.4-d2-sep-nearest-256``), built on the registry's defaults for every
field the grid does not vary. Importing this module never imports TensorFlow.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from snapcheck.errors import InputError
from snapcheck.gan.registry import CONFIGS, UPSAMPLE_MODES, GeneratorConfig
from snapcheck.tomlread import TOMLDecodeError, read_toml

_SEPARABLE_WORDS = {"true": [True], "false": [False], "both": [True, False]}
# Fields that do not change the generator's layers (the discriminator is not exported; size is the input).
_NOT_ARCHITECTURE = frozenset({"name", "description", "alpha_discriminator", "size"})


@dataclass
class Grid:
    """The axes of a sweep. Defaults reproduce the seed's search: 4 × 4 separable nearest configs at 256."""

    alpha_encoder: list[float]
    alpha_decoder: list[float]
    separable: list[bool]
    upsample: list[str]
    size: list[int]
    out_channels: list[int]
    in_channels: list[int]

    def configs(self) -> list[GeneratorConfig]:
        """The Cartesian product of the axes as configs, duplicates removed, first occurrence kept."""
        out: dict[str, GeneratorConfig] = {}
        for sep, up, size, cin, cout, ae, ad in itertools.product(
            self.separable, self.upsample, self.size, self.in_channels, self.out_channels,
            self.alpha_encoder, self.alpha_decoder,
        ):
            cfg = GeneratorConfig(
                name=config_label(ae, ad, sep, up, size), alpha_encoder=ae, alpha_decoder=ad,
                separable=sep, upsample=up, size=size, in_channels=cin, out_channels=cout,
            )
            out.setdefault(cfg.key(), cfg)
        return list(out.values())


DEFAULT_AXES: dict[str, list[Any]] = {
    "alpha_encoder": [0.25, 0.4, 0.5, 1.0],
    "alpha_decoder": [0.5, 1.0, 1.5, 2.0],
    "separable": [True],
    "upsample": ["nearest"],
    "size": [256],
    "out_channels": [4],
    "in_channels": [1],
}
AXES = tuple(f.name for f in fields(Grid))


def config_label(alpha_encoder: float, alpha_decoder: float, separable: bool, upsample: str, size: int) -> str:
    """A short readable name for a grid point, e.g. ``e0.4-d2-sep-nearest-256``."""
    return f"e{alpha_encoder:g}-d{alpha_decoder:g}-{'sep' if separable else 'conv'}-{upsample}-{size}"


def registered_name(cfg: GeneratorConfig) -> str | None:
    """The registry name (``blog``, ``pix2pix``...) of a config with the same generator layers at any
    input size, if any."""

    def arch(c: GeneratorConfig) -> dict[str, Any]:
        return {k: v for k, v in c.to_dict().items() if k not in _NOT_ARCHITECTURE}

    for name, known in CONFIGS.items():
        if arch(known) == arch(cfg):
            return name
    return None


def _parse_numbers(text: str, option: str, cast, noun: str, ok, bound: str) -> list:
    """Comma list of numbers of type ``cast``; each must satisfy ``ok`` (``bound`` says how, in errors)."""
    values = []
    for item in _items(text, option):
        try:
            value = cast(item)
        except ValueError:
            raise InputError(None, f"{option}: {item!r} is not {noun}") from None
        if not ok(value):
            raise InputError(None, f"{option}: {item!r} must be {bound}")
        values.append(value)
    return values


def parse_floats(text: str, option: str) -> list[float]:
    return _parse_numbers(text, option, float, "a number", lambda v: v > 0, "> 0")


def parse_ints(text: str, option: str) -> list[int]:
    return _parse_numbers(text, option, int, "a whole number", lambda v: v >= 1, ">= 1")


def parse_separable(text: str, option: str = "--separable") -> list[bool]:
    """``true``, ``false``, ``both``, or a comma list of true/false."""
    values: list[bool] = []
    for item in _items(text, option):
        word = item.lower()
        if word not in _SEPARABLE_WORDS:
            raise InputError(None, f"{option}: {item!r} is not one of true, false, both")
        values.extend(_SEPARABLE_WORDS[word])
    return _unique(values)


def parse_upsample(text: str, option: str = "--upsample") -> list[str]:
    values = []
    for item in _items(text, option):
        if item not in UPSAMPLE_MODES:
            raise InputError(None, f"{option}: {item!r} is not one of {', '.join(UPSAMPLE_MODES)}")
        values.append(item)
    return _unique(values)


_PARSERS = {
    "alpha_encoder": parse_floats,
    "alpha_decoder": parse_floats,
    "separable": parse_separable,
    "upsample": parse_upsample,
    "size": parse_ints,
    "out_channels": parse_ints,
    "in_channels": parse_ints,
}


def load_grid_file(path: str | Path) -> list[dict[str, list[Any]]]:
    """Axes from a TOML file, one dict per grid block.

    Either top-level keys named like the axes (``alpha_encoder = [0.25, 0.5]``, ``separable = "both"``,
    ``upsample = ["nearest", "transpose"]``; a scalar is a one-value axis), or several ``[[grid]]``
    tables of such keys, whose configurations are joined (top-level keys then apply to every block).
    """
    path = Path(path)
    try:
        data = read_toml(path)
    except FileNotFoundError:
        raise InputError(path, "grid file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read grid file: {exc}") from None
    except TOMLDecodeError as exc:
        raise InputError(path, f"not valid TOML: {exc}") from None
    blocks = data.pop("grid", [{}])
    if not isinstance(blocks, list) or not blocks or not all(isinstance(b, dict) for b in blocks):
        raise InputError(path, "grid must be one or more [[grid]] tables")
    common = _file_axes(path, data, "")
    return [{**common, **_file_axes(path, block, f"[[grid]] #{i + 1}: ")} for i, block in enumerate(blocks)]


def _file_axes(path: Path, data: dict[str, Any], where: str) -> dict[str, list[Any]]:
    unknown = sorted(set(data) - set(AXES))
    if unknown:
        raise InputError(path, f"{where}unknown grid key(s) {', '.join(unknown)}; known: {', '.join(AXES)}")
    axes: dict[str, list[Any]] = {}
    for axis, value in data.items():
        items = value if isinstance(value, list) else [value]
        if not items:
            raise InputError(path, f"{where}{axis} is an empty list")
        if any(isinstance(v, (list, dict)) for v in items):
            raise InputError(path, f"{where}{axis} must be a value or a list of values")
        text = ",".join(str(v).lower() if isinstance(v, bool) else str(v) for v in items)
        try:
            axes[axis] = _PARSERS[axis](text, axis)
        except InputError as exc:
            raise InputError(path, where + exc.problem) from None
    return axes


def build_grids(options: dict[str, str | None], grid_file: str | Path | None = None) -> list[Grid]:
    """The grid blocks: the defaults, then each block of the grid file, then the options given on the
    command line (which apply to every block).

    ``options`` maps an axis name to its comma-list text, or ``None`` where the option was not given.
    """
    blocks = load_grid_file(grid_file) if grid_file is not None else [{}]
    given = {axis: _PARSERS[axis](text, "--" + axis.replace("_", "-"))
             for axis, text in options.items() if text is not None}
    grids = [Grid(**{axis: _unique(values) for axis, values in {**DEFAULT_AXES, **block, **given}.items()})
             for block in blocks]
    grid_configs(grids)  # validates every point (e.g. a size the U-Net cannot halve) before any work starts
    return grids


def grid_configs(grids: list[Grid]) -> list[GeneratorConfig]:
    """Every block's configurations, in order, each architecture once."""
    out: dict[str, GeneratorConfig] = {}
    for grid in grids:
        for cfg in grid.configs():
            out.setdefault(cfg.key(), cfg)
    return list(out.values())


def _items(text: str, option: str) -> list[str]:
    items = [t.strip() for t in str(text).split(",")]
    if not items or any(not t for t in items):
        raise InputError(None, f"{option}: expected a comma-separated list, got {text!r}")
    return items


def _unique(values: list[Any]) -> list[Any]:
    return list(dict.fromkeys(values))
