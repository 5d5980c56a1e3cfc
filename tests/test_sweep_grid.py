"""Grid parsing: comma lists, separable words, upsample modes, TOML files, and bad input as InputError."""

from __future__ import annotations

import pytest

from snapcheck.errors import InputError
from snapcheck.sweep.grid import (
    build_grids,
    grid_configs,
    load_grid_file,
    parse_floats,
    parse_separable,
    parse_upsample,
)

NO_OPTIONS = dict.fromkeys(("alpha_encoder", "alpha_decoder", "separable", "upsample", "size", "out_channels",
                            "in_channels"))


def build_grid(options, grid_file=None):
    """One grid block (what the command line alone always gives)."""
    grids = build_grids(options, grid_file)
    assert len(grids) == 1
    return grids[0]


def test_default_grid_is_the_seeds_16_configs_with_blog():
    configs = build_grid(NO_OPTIONS).configs()
    assert len(configs) == 16
    assert {(c.alpha_encoder, c.alpha_decoder) for c in configs} >= {(0.4, 2.0), (0.25, 0.5), (1.0, 2.0)}
    assert all(c.separable and c.upsample == "nearest" and c.size == 256 and c.out_channels == 4 for c in configs)
    assert "e0.4-d2-sep-nearest-256" in [c.name for c in configs]


def test_comma_lists_and_both():
    grid = build_grid({**NO_OPTIONS, "alpha_encoder": "0.5, 1", "alpha_decoder": "2", "separable": "both",
                       "upsample": "nearest,transpose", "size": "128"})
    configs = grid.configs()
    assert len(configs) == 2 * 1 * 2 * 2
    assert {c.separable for c in configs} == {True, False}
    assert {c.upsample for c in configs} == {"nearest", "transpose"}
    assert {c.size for c in configs} == {128}
    assert len({c.key() for c in configs}) == len(configs)


def test_duplicates_are_dropped_in_order():
    assert parse_floats("0.5,1.0,0.50,1", "--x") == [0.5, 1.0, 0.5, 1.0]
    grid = build_grid({**NO_OPTIONS, "alpha_encoder": "0.5,0.50", "alpha_decoder": "1"})
    assert [c.alpha_encoder for c in grid.configs()] == [0.5]
    assert parse_separable("true,both") == [True, False]


@pytest.mark.parametrize("option,text,needle", [
    ("alpha_encoder", "0.5,abc", "'abc' is not a number"),
    ("alpha_decoder", "0,1", "must be > 0"),
    ("alpha_encoder", "0.5,,1", "comma-separated"),
    ("separable", "maybe", "true, false, both"),
    ("upsample", "bilinear", "nearest, transpose"),
    ("size", "25.5", "whole number"),
    ("size", "6", "size must be a multiple of 4"),
])
def test_bad_values_are_one_line_input_errors(option, text, needle):
    with pytest.raises(InputError) as err:
        build_grid({**NO_OPTIONS, option: text})
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_upsample_parser():
    assert parse_upsample("transpose,nearest") == ["transpose", "nearest"]


def test_grid_file_and_command_line_override(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text('alpha_encoder = [0.25, 0.4]\nalpha_decoder = 2.0\nseparable = "both"\n'
                    'upsample = ["nearest", "transpose"]\nsize = 128\n')
    assert load_grid_file(path)[0]["separable"] == [True, False]
    configs = build_grid(NO_OPTIONS, path).configs()
    assert len(configs) == 2 * 1 * 2 * 2 and {c.size for c in configs} == {128}
    configs = build_grid({**NO_OPTIONS, "separable": "true", "size": "64"}, path).configs()
    assert len(configs) == 4 and all(c.separable and c.size == 64 for c in configs)


def test_grid_file_with_booleans(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text("separable = [true, false]\n")
    assert load_grid_file(path) == [{"separable": [True, False]}]


def test_grid_file_blocks_are_joined(tmp_path):
    path = tmp_path / "story.toml"
    path.write_text("size = 128\n"
                    "[[grid]]\nalpha_encoder = [0.5, 1.0]\nalpha_decoder = [0.5, 1.0]\nseparable = false\n"
                    "[[grid]]\nalpha_encoder = [0.4, 1.0]\nalpha_decoder = [1.0, 2.0]\n")
    configs = grid_configs(build_grids(NO_OPTIONS, path))
    assert [(c.alpha_encoder, c.alpha_decoder, c.separable) for c in configs] == [
        (0.5, 0.5, False), (0.5, 1.0, False), (1.0, 0.5, False), (1.0, 1.0, False),
        (0.4, 1.0, True), (0.4, 2.0, True), (1.0, 1.0, True), (1.0, 2.0, True)]
    assert {c.size for c in configs} == {128}
    configs = grid_configs(build_grids({**NO_OPTIONS, "size": "64", "alpha_decoder": "1"}, path))
    assert len(configs) == 4 and {c.size for c in configs} == {64}  # (1.0, 1.0, sep) once, not twice


@pytest.mark.parametrize("text,needle", [
    ("alpha_encoder = [0.5", "not valid TOML"),
    ("alphas = [1]", "unknown grid key(s) alphas"),
    ("alpha_decoder = []", "empty list"),
    ("grid = 3", "[[grid]] tables"),
    ("[[grid]]\nsize = 'big'", "[[grid]] #1: size: 'big' is not a whole number"),
    ("upsample = ['bilinear']", "'bilinear' is not one of"),
])
def test_bad_grid_files_name_the_file(tmp_path, text, needle):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_grid_file(path)
    assert str(path) in str(err.value) and needle in str(err.value)


def test_missing_grid_file(tmp_path):
    with pytest.raises(InputError, match="grid file not found"):
        load_grid_file(tmp_path / "nope.toml")
