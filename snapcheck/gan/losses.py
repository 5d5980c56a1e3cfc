"""Pix2Pix losses: the conditional-GAN terms (vanilla BCE or WGAN-GP), the L1 term, and their helpers.

The discriminator returns raw logits. The vanilla loss is sigmoid cross-entropy as in the TF pix2pix
tutorial, with one-sided label smoothing: real labels are drawn from U(0.8, 1.0), fake labels stay 0.
"""

from __future__ import annotations

import tensorflow as tf

L1_LAMBDA = 100.0
GP_LAMBDA = 10.0
REAL_LABEL_RANGE = (0.8, 1.0)

_bce_terms = tf.keras.losses.BinaryCrossentropy(from_logits=True, reduction=None)


def _bce(targets: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Mean sigmoid cross-entropy over the batch. (Keras's own reduction would also divide by the number of
    replicas under tf.distribute; ``distribute.replica_share`` does that once, for the total loss.)"""
    return tf.reduce_mean(_bce_terms(targets, logits))


def real_labels(shape: tf.TensorShape | tf.Tensor, smoothing: bool, rng: tf.random.Generator | None = None) -> tf.Tensor:
    """Targets for D on real pairs: U(0.8, 1.0) with one-sided smoothing, else exactly 1."""
    if not smoothing:
        return tf.ones(shape)
    low, high = REAL_LABEL_RANGE
    if rng is None:
        return tf.random.uniform(shape, low, high)
    return rng.uniform(shape, low, high)


def bce_discriminator_loss(real_logits: tf.Tensor, fake_logits: tf.Tensor, real_targets: tf.Tensor) -> tf.Tensor:
    """BCE(D(x, y), real_targets) + BCE(D(x, G(x)), 0), summed as in the TF tutorial."""
    return _bce(real_targets, real_logits) + _bce(tf.zeros_like(fake_logits), fake_logits)


def bce_generator_adversarial_loss(fake_logits: tf.Tensor) -> tf.Tensor:
    """BCE(D(x, G(x)), 1): the generator wants D to call its output real."""
    return _bce(tf.ones_like(fake_logits), fake_logits)


def l1_loss(generated: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    """Mean absolute error over all pixels and channels (RGBA in [-1, 1])."""
    return tf.reduce_mean(tf.abs(target - generated))


def wgan_discriminator_loss(real_scores: tf.Tensor, fake_scores: tf.Tensor) -> tf.Tensor:
    """Wasserstein critic loss: E[D(fake)] - E[D(real)]."""
    return tf.reduce_mean(fake_scores) - tf.reduce_mean(real_scores)


def wgan_generator_adversarial_loss(fake_scores: tf.Tensor) -> tf.Tensor:
    """Wasserstein generator loss: -E[D(fake)]."""
    return -tf.reduce_mean(fake_scores)


def gradient_penalty(discriminator: tf.keras.Model, outline: tf.Tensor, real: tf.Tensor, fake: tf.Tensor,
                     rng: tf.random.Generator | None = None) -> tf.Tensor:
    """WGAN-GP term (Gulrajani et al. 2017): E[(||∇D(x̂)||₂ - 1)²] at random points between real and fake."""
    shape = tf.stack([tf.shape(real)[0], 1, 1, 1])
    eps = rng.uniform(shape) if rng is not None else tf.random.uniform(shape)
    mixed = real + eps * (fake - real)
    with tf.GradientTape() as tape:
        tape.watch(mixed)
        scores = discriminator([outline, mixed], training=True)
    grads = tape.gradient(scores, mixed)
    norms = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]) + 1e-12)
    return tf.reduce_mean(tf.square(norms - 1.0))


def instance_noise_sigma(sigma0: float, epoch: float, anneal_epochs: float) -> float:
    """Instance-noise standard deviation: ``sigma0`` at epoch 0, linearly down to 0 at ``anneal_epochs``."""
    if sigma0 <= 0.0 or anneal_epochs <= 0.0:
        return 0.0
    return float(sigma0 * max(0.0, 1.0 - epoch / anneal_epochs))


def feature_matching_loss(real_features: list[tf.Tensor], fake_features: list[tf.Tensor]) -> tf.Tensor:
    """pix2pixHD's feature matching: mean over layers of the L1 distance between the discriminator's
    activations on the real pair (held fixed) and on the generated one."""
    terms = [tf.reduce_mean(tf.abs(tf.stop_gradient(r) - f)) for r, f in zip(real_features, fake_features)]
    return tf.add_n(terms) / len(terms)


# Weights of VGG blocks 1-5 in the perceptual loss: pix2pixHD's 1/32 ... 1 (deeper blocks count more),
# normalised over the blocks used; each block's distance is divided by its mean |difference| between
# unrelated cat faces (64 validation faces of afhq_canny_128 against the same faces reversed, over grey;
# HED's VGG takes 0-255 inputs), so the loss is about 1 for unrelated faces and 0 for equal ones.
PERCEPTUAL_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)
PERCEPTUAL_SCALES = (21.2, 4.9, 3.5, 1.5, 2.3)


def perceptual_loss(generated: tf.Tensor, target: tf.Tensor, blocks: int = 3) -> tf.Tensor:
    """Perceptual loss (Johnson et al. 2016, weights as pix2pixHD): weighted L1 distances between the VGG
    block activations (``snapcheck.gan.vgg``, run in bfloat16) of the generated and target RGBA, both
    composited over mid grey (so the matte counts as the picture shows it)."""
    from snapcheck.gan.vgg import vgg_blocks

    def rgb(x: tf.Tensor) -> tf.Tensor:
        u = (x + 1.0) / 2.0
        return u[..., :3] * u[..., 3:] + 0.5 * (1.0 - u[..., 3:])

    n = tf.shape(generated)[0]
    both = vgg_blocks(tf.concat([rgb(generated), tf.stop_gradient(rgb(target))], axis=0), blocks, "bfloat16")
    weights = PERCEPTUAL_WEIGHTS[:blocks]
    terms = [w / s * tf.reduce_mean(tf.abs(tf.cast(tf.stop_gradient(f[n:]) - f[:n], tf.float32)))
             for w, s, f in zip(weights, PERCEPTUAL_SCALES, both)]
    return tf.add_n(terms) / sum(weights)


STROKE_EDGE = 0.25  # squared Sobel magnitude of a clear edge: a 0.125 grey step (32 of 255 levels) or more
TEXTURE_EDGE = STROKE_EDGE / 4  # up to this much is texture (a 16-level step), free anywhere


def stroke_loss(outline: tf.Tensor, generated: tf.Tensor, tolerance: int) -> tf.Tensor:
    """How far the output's edges are from the drawn strokes: edge energy away from them plus strokes without an edge.

    The evaluation's edge F1 recovers lines from a generated face (strong Canny edges inside the matte plus
    the matte's contour) and matches them to the input's strokes within ``tolerance`` pixels. This is its
    differentiable counterpart, 0 to 2, per image then averaged:

    - *away* (precision): the share of edge energy where no stroke lies within ``tolerance`` (a max-pool
      dilation of the strokes). Energy is the squared Sobel magnitude of the grey face composited over white,
      weighted by the matte, plus that of the matte itself; squares let the strongest edges, the ones Canny
      keeps, decide. Only energy above ``TEXTURE_EDGE`` counts: fur and shading fainter than that are smoothed
      away by the extractor's bilateral filter before Canny, so they cost nothing here either;
    - *missing* (recall): over stroke pixels, how far the strongest energy within ``tolerance`` falls short
      of a clear edge (``STROKE_EDGE``), 0 where it reaches it.

    A traced pair's target scores low (its outline is its own edges); on a freehand outline the term asks
    for no fur patches, eyes or contours that were not drawn, and for an edge along every drawn line.
    """
    strokes = tf.cast(outline > 0.0, tf.float32)
    window = 2 * tolerance + 1
    far = 1.0 - tf.nn.max_pool2d(strokes, window, 1, "SAME")
    u = (generated + 1.0) / 2.0
    alpha = u[..., 3:]
    luma = tf.reduce_sum(u[..., :3] * tf.constant([0.299, 0.587, 0.114]), axis=-1, keepdims=True)
    grey = luma * alpha + (1.0 - alpha)
    grey_edges = tf.reduce_sum(tf.square(tf.image.sobel_edges(grey)), axis=-1) * alpha
    matte_edges = tf.reduce_sum(tf.square(tf.image.sobel_edges(alpha)), axis=-1)
    energy = grey_edges + matte_edges
    strong = tf.nn.relu(energy - TEXTURE_EDGE)
    away = tf.reduce_sum(strong * far, axis=[1, 2, 3]) / (tf.reduce_sum(strong, axis=[1, 2, 3]) + 1e-3)
    nearest = tf.nn.max_pool2d(energy, window, 1, "SAME")
    shortfall = tf.nn.relu(1.0 - nearest / STROKE_EDGE) * strokes
    missing = tf.reduce_sum(shortfall, axis=[1, 2, 3]) / (tf.reduce_sum(strokes, axis=[1, 2, 3]) + 1.0)
    return tf.reduce_mean(away + missing)


def matte_colour_statistics(images: tf.Tensor) -> tf.Tensor:
    """Per image, the matte-weighted mean and standard deviation of R, G and B in [0, 1]: [batch, 6].

    The mean says what colour the face is, the deviation how much shading and fur it has; the background
    (alpha 0) does not count, so a head that covers a quarter of the frame compares with a full-frame face.
    """
    u = (images + 1.0) / 2.0
    rgb, alpha = u[..., :3], u[..., 3:]
    weights = alpha / (tf.reduce_sum(alpha, axis=[1, 2], keepdims=True) + 1e-3)
    mean = tf.reduce_sum(rgb * weights, axis=[1, 2], keepdims=True)
    var = tf.reduce_sum(tf.square(rgb - mean) * weights, axis=[1, 2])
    return tf.concat([tf.squeeze(mean, axis=[1, 2]), tf.sqrt(var + 1e-6)], axis=-1)


def colour_statistics_loss(generated: tf.Tensor, real: tf.Tensor) -> tf.Tensor:
    """How far the colour statistics of a batch of generated faces are from those of a batch of real ones.

    An unpaired realism signal for outputs that have no target (the doodle branch): the batch mean and the
    batch spread of ``matte_colour_statistics`` (face colour and within-face contrast) of ``generated`` are
    pulled towards those of ``real`` (held fixed), as mean absolute differences over the six statistics. It
    asks for faces coloured and shaded like cats, varied as cats are, without saying which cat each is.
    """
    g = matte_colour_statistics(generated)
    r = tf.stop_gradient(matte_colour_statistics(real))
    g_mean, g_var = tf.nn.moments(g, axes=[0])
    r_mean, r_var = tf.nn.moments(r, axes=[0])
    spread = tf.abs(tf.sqrt(g_var + 1e-6) - tf.sqrt(r_var + 1e-6))
    return tf.reduce_mean(tf.abs(g_mean - r_mean)) + tf.reduce_mean(spread)
