"""Keras builders: parameter counts, shapes, asymmetric alphas, the nearest-resize layer, the discriminator."""

from __future__ import annotations

import numpy as np
import pytest

from gan_fixtures import random_outline
from snapcheck.errors import InputError
from snapcheck.gan.profile import profile_config
from snapcheck.gan.registry import CONFIGS, GeneratorConfig, get_config

pytestmark = pytest.mark.slow


def test_pix2pix_reference_has_exactly_the_tutorial_parameter_count():
    from snapcheck.gan.generator import build_generator

    model = build_generator(size=256, in_channels=3, out_channels=3, separable=False, upsample="transpose")
    assert model.count_params() == 54_425_859
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == 54_414_979  # + 10,880 BatchNorm moving statistics
    assert model.output_shape == (None, 256, 256, 3)


@pytest.mark.parametrize("name", [n for n in CONFIGS if n != "pix2pix"])
def test_registered_configs_match_the_analytic_profile(name):
    from snapcheck.gan.generator import create_generator

    cfg = get_config(name)
    model = create_generator(cfg)
    assert model.count_params() == profile_config(cfg).params
    assert model.output_shape == (None, cfg.size, cfg.size, cfg.out_channels)


def test_create_generator_takes_a_name_and_overrides():
    from snapcheck.gan.generator import create_generator

    model = create_generator("catface-m", size=64, alpha_decoder=0.5, upsample=None)  # None: keep the config's
    cfg = get_config("catface-m").replace(size=64, alpha_decoder=0.5)
    assert model.count_params() == profile_config(cfg).params
    assert model.input_shape == (None, 64, 64, 1) and model.name == "catface_m"
    with pytest.raises(InputError, match="unknown generator config"):
        create_generator("nope")


@pytest.mark.parametrize(("size", "a_enc", "a_dec", "separable", "upsample"), [
    (128, 0.3, 1.7, True, "nearest"),
    (64, 2.0, 0.25, True, "transpose"),
    (192, 0.5, 0.5, False, "nearest"),  # 6 levels down to 3×3
    (32, 1.0, 1.0, False, "transpose"),
])
def test_any_alphas_join_skips_at_equal_resolution(size, a_enc, a_dec, separable, upsample):
    from snapcheck.gan.generator import create_generator

    cfg = GeneratorConfig(name="t", alpha_encoder=a_enc, alpha_decoder=a_dec, separable=separable,
                          upsample=upsample, size=size)
    model = create_generator(cfg)
    assert model.count_params() == profile_config(cfg).params
    y = np.asarray(model(random_outline(size, 1), training=False))
    assert y.shape == (1, size, size, 4)
    assert np.all(np.abs(y) <= 1.0)  # tanh head


def test_generator_blocks_read_like_pix2pix():
    from snapcheck.gan.generator import build_generator

    model = build_generator(size=64, alpha_encoder=0.25, alpha_decoder=0.25)
    names = [layer.name for layer in model.layers]
    assert names[1:7] == [f"down{i}" for i in range(1, 7)]
    down1 = model.get_layer("down1")
    assert [type(l).__name__ for l in down1.layers] == ["Conv2D", "LeakyReLU"]  # plain stem, no BN
    down2 = model.get_layer("down2")
    assert [type(l).__name__ for l in down2.layers] == ["SeparableConv2D", "BatchNormalization", "LeakyReLU"]
    up1 = model.get_layer("up1")
    assert [type(l).__name__ for l in up1.layers] == [
        "NearestUpsample2D", "SeparableConv2D", "BatchNormalization", "Dropout", "ReLU"]
    assert not any(type(l).__name__ == "Dropout" for l in model.get_layer("up4").layers)


def test_nearest_upsample_matches_keras_upsampling2d():
    import keras

    from snapcheck.gan.layers import nearest_upsample

    x = np.random.default_rng(0).normal(size=(1, 5, 7, 3)).astype(np.float32)
    ours = np.asarray(nearest_upsample()(x))
    reference = np.asarray(keras.layers.UpSampling2D(interpolation="nearest")(x))
    np.testing.assert_array_equal(ours, reference)


def test_saved_generator_round_trips(tmp_path):
    import keras

    from snapcheck.gan.generator import build_generator
    from snapcheck.gan.layers import custom_objects

    model = build_generator(size=32, alpha_encoder=0.25, alpha_decoder=0.25)
    path = tmp_path / "g.keras"
    model.save(path)
    loaded = keras.models.load_model(path, custom_objects=custom_objects(), compile=False)
    x = random_outline(32, 1)
    np.testing.assert_allclose(np.asarray(loaded(x, training=False)), np.asarray(model(x, training=False)), atol=1e-6)


def test_discriminator_is_the_70x70_patchgan():
    from snapcheck.gan.discriminator import build_discriminator, build_discriminator_from_config

    reference = build_discriminator(in_channels=3, target_channels=3)
    assert reference.count_params() == 2_770_433  # TF tutorial
    assert reference.output_shape == (None, 30, 30, 1)
    cfg = get_config("catface-s").replace(size=64)
    d = build_discriminator_from_config(cfg)
    logits = np.asarray(d([random_outline(64, 1), random_outline(64, 4, seed=1)], training=False))
    assert logits.shape == (1, 6, 6, 1)
    assert d.count_params() < reference.count_params() / 10  # alpha 0.25
    assert d.get_layer("logits").activation.__name__ == "linear"  # raw logits for a from-logits BCE


def test_discriminator_variants_spectral_norm_features_and_scales():
    from snapcheck.gan.discriminator import build_discriminator_from_config, downsample_pair, with_features

    cfg = get_config("catface-s").replace(size=64)
    outline, image = random_outline(64, 1), random_outline(64, 4, seed=1)
    plain = build_discriminator_from_config(cfg)
    sn = build_discriminator_from_config(cfg, spectral_norm=True)
    layer_types = {type(l).__name__ for l in sn._flatten_layers()}
    assert "SpectralNormalization" in layer_types and "BatchNormalization" not in layer_types
    assert np.asarray(sn([outline, image], training=True)).shape == (1, 6, 6, 1)

    feats = with_features(plain)
    *blocks, logits = feats([outline, image], training=False)
    np.testing.assert_allclose(np.asarray(logits), np.asarray(plain([outline, image], training=False)), atol=1e-6)
    assert [b.shape[1] for b in blocks] == [32, 16, 8, 7]  # down1-3 then C512
    assert feats.count_params() == plain.count_params()  # the same layers, not a copy

    coarse = build_discriminator_from_config(get_config("catface-s").replace(size=128), scale=1)
    small = downsample_pair(random_outline(128, 1), random_outline(128, 4), 1)
    assert small[0].shape[1] == 64 and np.asarray(coarse(list(small), training=False)).shape == (1, 6, 6, 1)
