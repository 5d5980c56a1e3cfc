"""The fast training kernels: same losses, gradients and BatchNorm statistics as Keras's, same exported graph."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from snapcheck.gan import fast_kernels  # noqa: E402
from snapcheck.gan.discriminator import build_discriminator_from_config  # noqa: E402
from snapcheck.gan.generator import create_generator  # noqa: E402
from snapcheck.gan.registry import get_config  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("shape,kernel,stride", [((2, 16, 16, 8), 4, 1), ((2, 16, 16, 8), 4, 2),
                                                  ((3, 15, 13, 3), 4, 2), ((2, 9, 9, 4), 3, 1)])
def test_depthwise_gradients_match_tf(shape, kernel, stride):
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=shape), tf.float32)
    w = tf.constant(rng.normal(size=(kernel, kernel, shape[-1], 1)), tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, w])
        ref = tf.nn.depthwise_conv2d(x, w, [1, stride, stride, 1], "SAME")
        fast = fast_kernels.depthwise_conv(x, w, stride)
        ref_loss, fast_loss = tf.reduce_sum(ref * tf.sin(ref)), tf.reduce_sum(fast * tf.sin(fast))
    np.testing.assert_array_equal(ref.numpy(), fast.numpy())
    for a, b in zip(tape.gradient(ref_loss, [x, w]), tape.gradient(fast_loss, [x, w])):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-4, atol=1e-4 * float(tf.reduce_max(tf.abs(a))))


def _models():
    cfg = get_config("catface-s").replace(size=32, in_channels=1, out_channels=4)
    tf.keras.utils.set_random_seed(1)
    generator, discriminator = create_generator(cfg), build_discriminator_from_config(cfg)
    for layer in fast_kernels._layers(generator):
        if type(layer).__name__ == "Dropout":
            layer.rate = 0.0  # deterministic, so the two paths see the same network
    return generator, discriminator


def _grads_and_stats(generator, discriminator, outline, target, fast):
    import contextlib

    start = [v.numpy() for v in generator.non_trainable_variables + discriminator.non_trainable_variables]
    with tf.GradientTape() as tape, (fast_kernels.active() if fast else contextlib.nullcontext()):
        fake = generator(outline, training=True)
        loss = tf.reduce_mean(tf.abs(fake - target)) + tf.reduce_mean(discriminator([outline, fake], training=True))
    variables = generator.trainable_variables + discriminator.trainable_variables
    grads = tape.gradient(loss, variables)
    stats = [v.numpy() for v in generator.non_trainable_variables + discriminator.non_trainable_variables]
    for v, value in zip(generator.non_trainable_variables + discriminator.non_trainable_variables, start):
        v.assign(value)
    return float(loss), [g.numpy() for g in grads], stats


def test_generator_and_discriminator_train_the_same_with_fast_kernels():
    generator, discriminator = _models()
    installed = fast_kernels.install(generator) + fast_kernels.install(discriminator)
    assert installed > 10
    rng = np.random.default_rng(2)
    outline = tf.constant(rng.uniform(-1, 1, (4, 32, 32, 1)), tf.float32)
    target = tf.constant(rng.uniform(-1, 1, (4, 32, 32, 4)), tf.float32)
    ref_loss, ref_grads, ref_stats = _grads_and_stats(generator, discriminator, outline, target, fast=False)
    loss, grads, stats = _grads_and_stats(generator, discriminator, outline, target, fast=True)
    assert loss == pytest.approx(ref_loss, rel=1e-4)
    for a, b in zip(ref_grads, grads):
        np.testing.assert_allclose(b, a, rtol=2e-3, atol=2e-3 * np.abs(a).max() + 1e-7)
    for a, b in zip(ref_stats, stats):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)


def test_inference_and_the_traced_graph_are_unchanged():
    generator, _ = _models()
    x = tf.constant(np.random.default_rng(3).uniform(-1, 1, (1, 32, 32, 1)), tf.float32)

    def graph_ops():
        fn = tf.function(lambda t: generator(t, training=False)).get_concrete_function(
            tf.TensorSpec([1, 32, 32, 1], tf.float32))
        return sorted(op.type for op in fn.graph.get_operations())

    before, ref = graph_ops(), generator(x, training=False).numpy()
    fast_kernels.install(generator)
    with fast_kernels.active():  # inference never takes the training kernels, even inside active()
        np.testing.assert_array_equal(generator(x, training=False).numpy(), ref)
    assert graph_ops() == before
