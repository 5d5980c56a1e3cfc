"""The Pix2Pix pair: generator, discriminator, their optimisers and the compiled ``train_step``.

Follows the TF pix2pix tutorial (two ``GradientTape``s, one D step and one G step per batch,
BCE + λ·L1 with λ = 100, Adam 2e-4 β1 = 0.5) with the changes that made the cat lens train:
one-sided label smoothing (real labels ~ U(0.8, 1.0)), optional instance noise annealed to 0,
and an optional WGAN-GP loss.
"""

from __future__ import annotations

import contextlib
from typing import Any

from snapcheck.gan.train_config import TrainConfig


class Pix2Pix:
    """The generator/discriminator pair with their optimisers and a compiled ``train_step``.

    ``train_step(outline, target, noise_sigma, lr)`` runs one D update and one G update on a batch (on
    every replica of ``strategy``, each on its slice of the global batch: ``snapcheck.gan.distribute``),
    both optimisers at learning rate ``lr`` (from ``TrainConfig.learning_rate_at``), and returns a dict of
    scalars: ``g_loss``, ``g_gan``, ``g_l1``, ``d_loss``, ``d_real`` and ``d_fake`` (mean sigmoid(D) for
    BCE, the mean critic score for WGAN-GP). With ``cfg.fast_kernels`` the forward passes use
    ``snapcheck.gan.fast_kernels`` (faster depthwise-filter gradients and fused BatchNorm, same maths); the
    models themselves, and so their export, are unchanged.
    """

    def __init__(self, generator: Any, discriminator: Any, cfg: TrainConfig, strategy: Any = None) -> None:
        import keras
        import tensorflow as tf

        from snapcheck.gan.distribute import GlobalBatchRandom

        self.generator = generator
        self.discriminator = discriminator
        self.cfg = cfg
        self.strategy = strategy or tf.distribute.get_strategy()  # the models were built in its scope
        self.rng = GlobalBatchRandom(tf.random.Generator.from_seed(cfg.seed))  # outside the scope: one stream
        with self.strategy.scope():
            self.g_optimizer = keras.optimizers.Adam(cfg.learning_rate, beta_1=cfg.beta_1)
            self.d_optimizer = keras.optimizers.Adam(cfg.learning_rate, beta_1=cfg.beta_1)
            self.g_optimizer.build(generator.trainable_variables)
            self.d_optimizer.build(discriminator.trainable_variables)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        if cfg.fast_kernels:
            from snapcheck.gan import fast_kernels

            fast_kernels.install(generator)
            fast_kernels.install(discriminator)
        self.checkpoint = tf.train.Checkpoint(
            generator=generator, discriminator=discriminator, g_optimizer=self.g_optimizer,
            d_optimizer=self.d_optimizer, step=self.step, rng=self.rng.generator,
        )
        self.train_step = tf.function(self._distributed_step, jit_compile=cfg.xla, reduce_retracing=True)

    def _noisy(self, x, sigma):
        """Instance noise on a discriminator input (traced only when the run uses instance noise)."""
        import tensorflow as tf

        if self.cfg.instance_noise <= 0:
            return x
        return x + sigma * self.rng.normal(tf.shape(x))

    def _kernels(self) -> contextlib.AbstractContextManager:
        """The fast training kernels (``fast_kernels.active()``) when the run uses them."""
        from snapcheck.gan import fast_kernels

        return fast_kernels.active() if self.cfg.fast_kernels else contextlib.nullcontext()

    def _distributed_step(self, outline, target, noise_sigma, lr=None):
        """One step of every replica on its slice of the global batch (``snapcheck.gan.distribute``); the
        scalars are their means over the global batch."""
        if lr is not None:
            self.g_optimizer.learning_rate.assign(lr)
            self.d_optimizer.learning_rate.assign(lr)
        scalars = self.strategy.run(self._train_step, args=(outline, target, noise_sigma))
        self.step.assign_add(1)
        return {k: self.strategy.reduce("MEAN", v, axis=None) for k, v in scalars.items()}

    def _train_step(self, outline, target, noise_sigma):
        """One replica's D and G updates; losses are local means, ``replica_share`` makes them the global ones."""
        import tensorflow as tf

        from snapcheck.gan import losses
        from snapcheck.gan.distribute import replica_share

        G, D, cfg = self.generator, self.discriminator, self.cfg
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape, self._kernels():
            fake = G(outline, training=True)
            d_outline = self._noisy(outline, noise_sigma)
            real_logits = D([d_outline, self._noisy(target, noise_sigma)], training=True)
            fake_logits = D([d_outline, self._noisy(fake, noise_sigma)], training=True)
            g_l1 = losses.l1_loss(fake, target)
            if cfg.loss == "bce":
                labels = losses.real_labels(tf.shape(real_logits), cfg.label_smoothing, self.rng)
                d_loss = losses.bce_discriminator_loss(real_logits, fake_logits, labels)
                g_gan = losses.bce_generator_adversarial_loss(fake_logits)
                d_real, d_fake = tf.reduce_mean(tf.sigmoid(real_logits)), tf.reduce_mean(tf.sigmoid(fake_logits))
            else:
                gp = losses.gradient_penalty(D, d_outline, target, fake, self.rng)
                d_loss = losses.wgan_discriminator_loss(real_logits, fake_logits) + losses.GP_LAMBDA * gp
                g_gan = losses.wgan_generator_adversarial_loss(fake_logits)
                d_real, d_fake = tf.reduce_mean(real_logits), tf.reduce_mean(fake_logits)
            g_loss = g_gan + cfg.l1_lambda * g_l1
            d_share, g_share = replica_share(d_loss), replica_share(g_loss)
        d_grads = d_tape.gradient(d_share, D.trainable_variables)
        g_grads = g_tape.gradient(g_share, G.trainable_variables)
        self.d_optimizer.apply_gradients(zip(d_grads, D.trainable_variables))
        self.g_optimizer.apply_gradients(zip(g_grads, G.trainable_variables))
        return {"g_loss": g_loss, "g_gan": g_gan, "g_l1": g_l1, "d_loss": d_loss, "d_real": d_real,
                "d_fake": d_fake}


def build_models(cfg: TrainConfig) -> tuple[Any, Any, Any]:
    """(generator config, generator, discriminator) for ``cfg.config`` at ``cfg.size``, 1 → 4 channels."""
    from snapcheck.gan.discriminator import build_discriminator_from_config
    from snapcheck.gan.generator import create_generator
    from snapcheck.gan.registry import resolve_config

    gen_cfg = resolve_config(cfg.config, size=cfg.size, in_channels=1, out_channels=4)
    return gen_cfg, create_generator(gen_cfg), build_discriminator_from_config(gen_cfg)
