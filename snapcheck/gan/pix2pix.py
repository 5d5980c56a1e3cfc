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
    """The generator, its discriminator(s), their optimisers and a compiled ``train_step``.

    ``train_step(outline, target, noise_sigma, lr)`` runs one D update and one G update on a batch (on
    every replica of ``strategy``, each on its slice of the global batch: ``snapcheck.gan.distribute``),
    both optimisers at learning rate ``lr`` (from ``TrainConfig.learning_rate_at``), and returns a dict of
    scalars: ``g_loss``, ``g_gan``, ``g_l1``, ``d_loss``, ``d_real`` and ``d_fake`` (mean sigmoid(D) for
    BCE, the mean critic score for WGAN-GP), plus ``g_fm``, ``g_vgg``, ``g_stroke``, ``g_doodle_gan``,
    ``g_doodle_stroke`` and ``g_doodle_colour`` when the run has those terms.

    The generator's loss is ``g_gan + l1_lambda·L1 + feature_matching·FM + perceptual·VGG + stroke·S``,
    plus ``GAN_d + stroke·S_d + doodle_colour·C_d`` on a batch of training doodles when the run has one:

    - FM (pix2pixHD): the mean L1 distance between the discriminator's activations on the real pair and
      on the generated one, over its four blocks and every scale;
    - VGG: the perceptual loss of ``losses.perceptual_loss`` (``snapcheck.gan.vgg``'s offline network);
    - S: ``losses.stroke_loss``, output edges away from the drawn lines and drawn lines without an edge;
    - on doodles (``snapcheck.data.doodles``, no targets): the adversarial term against the same
      discriminators (which do not learn from doodles), the stroke loss and, optionally, C: the distance of
      the doodle outputs' colour statistics from the batch's real faces' (``losses.colour_statistics_loss``).

    With several ``discriminators`` (a multi-scale set, finest first) the k-th sees both inputs halved k
    times, and the adversarial and FM terms are averaged over the scales. With ``cfg.fast_kernels`` the
    forward passes use ``snapcheck.gan.fast_kernels`` (faster depthwise-filter gradients and fused
    BatchNorm, same maths); the models themselves, and so their export, are unchanged.
    """

    def __init__(self, generator: Any, discriminators: Any, cfg: TrainConfig, strategy: Any = None) -> None:
        import keras
        import tensorflow as tf

        from snapcheck.gan.discriminator import with_features
        from snapcheck.gan.distribute import GlobalBatchRandom

        discriminators = list(discriminators) if isinstance(discriminators, (list, tuple)) else [discriminators]
        self.generator = generator
        self.discriminators = discriminators
        self.cfg = cfg
        # with feature matching each discriminator also returns its block activations (same layers and weights)
        self._judges = [with_features(d) if cfg.feature_matching > 0 else d for d in discriminators]
        self.strategy = strategy or tf.distribute.get_strategy()  # the models were built in its scope
        self.rng = GlobalBatchRandom(tf.random.Generator.from_seed(cfg.seed))  # outside the scope: one stream
        with self.strategy.scope():
            self.g_optimizer = keras.optimizers.Adam(cfg.learning_rate, beta_1=cfg.beta_1)
            self.d_optimizer = keras.optimizers.Adam(cfg.learning_rate, beta_1=cfg.beta_1)
            self.g_optimizer.build(generator.trainable_variables)
            self.d_optimizer.build(self.d_variables)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        if cfg.fast_kernels:
            from snapcheck.gan import fast_kernels

            fast_kernels.install(generator)
            for d in discriminators:
                fast_kernels.install(d)
        extra = {f"discriminator_s{k}": d for k, d in enumerate(discriminators[1:], start=1)}
        # Keras keeps each Dropout's random state in a variable that the models' checkpoints leave out; saving
        # it too makes a resumed run draw the same dropout masks as an uninterrupted one
        seeds = [v for m in (generator, *discriminators) for v in m.variables if v.path.endswith("seed_generator_state")]
        self.checkpoint = tf.train.Checkpoint(
            generator=generator, discriminator=discriminators[0], g_optimizer=self.g_optimizer,
            d_optimizer=self.d_optimizer, step=self.step, rng=self.rng.generator, dropout_seeds=seeds, **extra,
        )
        self.train_step = tf.function(self._distributed_step, jit_compile=cfg.xla, reduce_retracing=True)

    @property
    def discriminator(self) -> Any:
        """The finest-scale discriminator."""
        return self.discriminators[0]

    @property
    def d_variables(self) -> list[Any]:
        return [v for d in self.discriminators for v in d.trainable_variables]

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

    def _judge(self, k: int, outline, image):
        """(block activations, logits) of the k-th discriminator on a pair (activations empty without FM)."""
        from snapcheck.gan.discriminator import downsample_pair

        out = self._judges[k](list(downsample_pair(outline, image, k)), training=True)
        if self.cfg.feature_matching > 0:
            return out[:-1], out[-1]
        return [], out

    def _doodle_adversarial(self, doodle, fake_doodle):
        """The generator's adversarial loss on doodles, averaged over the scales. The discriminators judge
        but do not learn from doodles: no doodle has a real image, and a discriminator that also learned the
        doodle outputs as fake wrecked them within 250 steps (docs/training.md, the stroke-loss ablation)."""
        from snapcheck.gan import losses

        total = 0.0
        for k in range(len(self.discriminators)):
            logits = self._judge(k, doodle, fake_doodle)[1]
            total += (losses.bce_generator_adversarial_loss(logits) if self.cfg.loss == "bce"
                      else losses.wgan_generator_adversarial_loss(logits))
        return total / len(self.discriminators)

    def _distributed_step(self, outline, target, noise_sigma, lr=None, doodle=None):
        """One step of every replica on its slice of the global batch (``snapcheck.gan.distribute``); the
        scalars are their means over the global batch."""
        if lr is not None:
            self.g_optimizer.learning_rate.assign(lr)
            self.d_optimizer.learning_rate.assign(lr)
        scalars = self.strategy.run(self._train_step, args=(outline, target, noise_sigma, doodle))
        self.step.assign_add(1)
        return {k: self.strategy.reduce("MEAN", v, axis=None) for k, v in scalars.items()}

    def _train_step(self, outline, target, noise_sigma, doodle=None):
        """One replica's D and G updates; losses are local means, ``replica_share`` makes them the global ones.
        ``doodle``: outlines without targets, run through G in the same batch (one BatchNorm statistic)."""
        import tensorflow as tf

        from snapcheck.data.outline import edge_tolerance
        from snapcheck.gan import losses
        from snapcheck.gan.discriminator import downsample_pair
        from snapcheck.gan.distribute import replica_share

        G, cfg = self.generator, self.cfg
        scales = len(self.discriminators)
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape, self._kernels():
            if doodle is None:
                fake = G(outline, training=True)
            else:
                both = G(tf.concat([outline, doodle], axis=0), training=True)
                fake, fake_doodle = both[:tf.shape(outline)[0]], both[tf.shape(outline)[0]:]
            d_outline, d_target, d_fake_in = (self._noisy(x, noise_sigma) for x in (outline, target, fake))
            d_loss = g_gan = g_fm = d_real = d_fake = 0.0
            for k in range(scales):
                real_feats, real_logits = self._judge(k, d_outline, d_target)
                fake_feats, fake_logits = self._judge(k, d_outline, d_fake_in)
                if cfg.loss == "bce":
                    labels = losses.real_labels(tf.shape(real_logits), cfg.label_smoothing, self.rng)
                    d_loss += losses.bce_discriminator_loss(real_logits, fake_logits, labels)
                    g_gan += losses.bce_generator_adversarial_loss(fake_logits)
                    d_real += tf.reduce_mean(tf.sigmoid(real_logits))
                    d_fake += tf.reduce_mean(tf.sigmoid(fake_logits))
                else:
                    o_k, t_k = downsample_pair(d_outline, target, k)
                    f_k = downsample_pair(d_outline, fake, k)[1]
                    gp = losses.gradient_penalty(self.discriminators[k], o_k, t_k, f_k, self.rng)
                    d_loss += losses.wgan_discriminator_loss(real_logits, fake_logits) + losses.GP_LAMBDA * gp
                    g_gan += losses.wgan_generator_adversarial_loss(fake_logits)
                    d_real += tf.reduce_mean(real_logits)
                    d_fake += tf.reduce_mean(fake_logits)
                if real_feats:
                    g_fm += losses.feature_matching_loss(real_feats, fake_feats)
            d_loss, g_gan, g_fm, d_real, d_fake = (v / scales for v in (d_loss, g_gan, g_fm, d_real, d_fake))
            g_l1 = losses.l1_loss(fake, target)
            g_loss = g_gan + cfg.l1_lambda * g_l1
            scalars = {}
            if cfg.feature_matching > 0:
                g_loss += cfg.feature_matching * g_fm
                scalars["g_fm"] = g_fm
            if cfg.perceptual > 0:
                g_vgg = losses.perceptual_loss(fake, target, cfg.perceptual_blocks)
                g_loss += cfg.perceptual * g_vgg
                scalars["g_vgg"] = g_vgg
            tolerance = edge_tolerance(cfg.size)
            if cfg.stroke > 0:
                scalars["g_stroke"] = losses.stroke_loss(outline, fake, tolerance)
                g_loss += cfg.stroke * scalars["g_stroke"]
            if doodle is not None:
                scalars["g_doodle_gan"] = self._doodle_adversarial(self._noisy(doodle, noise_sigma), fake_doodle)
                scalars["g_doodle_stroke"] = losses.stroke_loss(doodle, fake_doodle, tolerance)
                g_loss += scalars["g_doodle_gan"] + cfg.stroke * scalars["g_doodle_stroke"]
                if cfg.doodle_colour > 0:
                    scalars["g_doodle_colour"] = losses.colour_statistics_loss(fake_doodle, target)
                    g_loss += cfg.doodle_colour * scalars["g_doodle_colour"]
            d_share, g_share = replica_share(d_loss), replica_share(g_loss)
        d_vars = self.d_variables
        d_grads = d_tape.gradient(d_share, d_vars)
        g_grads = g_tape.gradient(g_share, G.trainable_variables)
        self.d_optimizer.apply_gradients(zip(d_grads, d_vars))
        self.g_optimizer.apply_gradients(zip(g_grads, G.trainable_variables))
        return {"g_loss": g_loss, "g_gan": g_gan, "g_l1": g_l1, "d_loss": d_loss, "d_real": d_real,
                "d_fake": d_fake, **scalars}


def build_models(cfg: TrainConfig) -> tuple[Any, Any, list[Any]]:
    """(generator config, generator, discriminators) for ``cfg.config`` at ``cfg.size``, 1 → 4 channels;
    ``cfg.discriminator_scales`` PatchGANs, finest first."""
    from snapcheck.gan.discriminator import build_discriminator_from_config
    from snapcheck.gan.generator import create_generator
    from snapcheck.gan.registry import resolve_config

    gen_cfg = resolve_config(cfg.config, size=cfg.size, in_channels=1, out_channels=4)
    discriminators = [build_discriminator_from_config(gen_cfg, spectral_norm=cfg.spectral_norm, scale=k)
                      for k in range(cfg.discriminator_scales)]
    return gen_cfg, create_generator(gen_cfg), discriminators
