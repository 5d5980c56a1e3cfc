"""Configs, width rounding and the analytic profile: no TensorFlow needed."""

from __future__ import annotations

import json

import pytest

from helpers import assert_not_imported
from snapcheck.errors import InputError
from snapcheck.gan.generator import unet_widths
from snapcheck.gan.layers import make_divisible
from snapcheck.gan.profile import profile_config
from snapcheck.gan.registry import CONFIGS, GeneratorConfig, get_config, num_levels, register_config


@pytest.mark.parametrize(("value", "expected"), [
    (25.6, 24),  # 64 × 0.4: nearest multiple of 8, within 10 %
    (51.2, 48),
    (102.4, 104),
    (204.8, 208),
    (12.0, 16),  # ties round up
    (3.0, 8),  # never below the divisor
    (1024.0, 1024),
])
def test_make_divisible_follows_timm(value, expected):
    assert make_divisible(value) == expected


def test_make_divisible_never_more_than_ten_percent_below():
    for tenth in range(10, 5000):
        v = tenth / 10
        r = make_divisible(v)
        assert r % 8 == 0 and r >= 0.9 * v


def test_levels_follow_the_size():
    assert [num_levels(s) for s in (256, 128, 192, 64, 6)] == [8, 7, 6, 6, 1]
    enc, dec = unet_widths(256)
    assert enc == [64, 128, 256, 512, 512, 512, 512, 512]
    assert dec == [512, 512, 512, 512, 256, 128, 64]
    enc, dec = unet_widths(128, 0.4, 2.0)
    assert enc == [24, 48, 104, 208, 208, 208, 208]
    assert dec == [1024, 1024, 1024, 512, 256, 128]


def test_registry_has_reference_blog_and_defaults():
    assert {"pix2pix", "blog", "catface-s", "catface-m"} <= set(CONFIGS)
    blog = get_config("blog")
    assert (blog.alpha_encoder, blog.alpha_decoder, blog.separable, blog.upsample) == (0.4, 2.0, True, "nearest")
    ref = get_config("pix2pix")
    assert (ref.in_channels, ref.out_channels, ref.separable, ref.upsample) == (3, 3, False, "transpose")


def test_unknown_config_lists_known_names():
    with pytest.raises(InputError) as err:
        get_config("nope")
    assert "nope" in str(err.value) and all(name in str(err.value) for name in CONFIGS)


def test_config_validation_is_one_line_input_error():
    with pytest.raises(InputError, match="upsample"):
        GeneratorConfig(name="x", alpha_encoder=1, alpha_decoder=1, upsample="bilinear")
    with pytest.raises(InputError, match="alpha_encoder"):
        get_config("blog").replace(alpha_encoder=0)
    with pytest.raises(InputError, match="size"):
        get_config("blog").replace(size=6)


def test_replace_returns_new_config_and_key_tracks_architecture():
    blog = get_config("blog")
    wider = blog.replace(alpha_encoder=0.5)
    assert wider is not blog and blog.alpha_encoder == 0.4
    assert wider.key() != blog.key()
    assert blog.replace(name="renamed", description="same net").key() == blog.key()
    assert GeneratorConfig.from_dict(json.loads(json.dumps(blog.to_dict()))) == blog
    assert len({c.key() for c in CONFIGS.values()}) == len(CONFIGS)


def test_register_config_refuses_a_conflicting_name():
    with pytest.raises(ValueError):
        register_config(get_config("blog").replace(alpha_decoder=1.0))
    assert register_config(get_config("blog")) == get_config("blog")


def test_profile_pins_the_reference():
    ref = profile_config(get_config("pix2pix"))
    assert ref.params == 54_425_859
    assert ref.fp32_bytes == pytest.approx(217.7e6, rel=0.001)
    assert ref.macs == pytest.approx(6.05e9, rel=0.002)  # reference notes §1.3: 6.05 G true MACs


def test_profile_of_blog_and_defaults():
    ref, blog = profile_config(get_config("pix2pix")), profile_config(get_config("blog"))
    assert blog.params == pytest.approx(5.1e6, rel=0.03)
    assert blog.fp32_bytes == pytest.approx(20.6e6, rel=0.03)
    assert 1 - blog.fp16_bytes / ref.fp16_bytes >= 0.90
    small = profile_config(get_config("catface-s"))
    assert 100_000 < small.params < 500_000
    assert profile_config(get_config("catface-m")).fp16_bytes < 10e6


def test_profile_at_another_size_validates_it():
    assert profile_config(get_config("blog"), size=128).macs < profile_config(get_config("blog")).macs
    with pytest.raises(InputError):
        profile_config(get_config("blog"), size=6)


def test_registry_and_models_command_do_not_import_tensorflow():
    assert_not_imported(
        "import snapcheck.gan.registry, snapcheck.gan.profile, snapcheck.gan.export, snapcheck.gan.generator, "
        "snapcheck.gan.discriminator\nfrom typer.testing import CliRunner\nfrom snapcheck.cli import app\n"
        "r = CliRunner().invoke(app, ['models', '--format', 'json'])\nassert r.exit_code == 0, r.output",
        modules=("tensorflow", "keras", "tf2onnx"))


def test_models_json_lists_every_config():
    from typer.testing import CliRunner

    from snapcheck.cli import app

    result = CliRunner().invoke(app, ["configs", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert set(rows) == set(CONFIGS)
    assert rows["pix2pix"]["params"] == 54_425_859
    assert all({"params", "fp16_bytes", "macs", "key"} <= set(r) for r in rows.values())
    table = CliRunner().invoke(app, ["models"])
    assert table.exit_code == 0 and "54,425,859" in table.output
