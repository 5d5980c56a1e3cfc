"""The tiny Pix2Pix cat generator: configs (``registry``), Keras builders (``generator``,
``discriminator``), analytic size/compute (``profile``) and gated export (``export``).

Nothing here imports TensorFlow at import time; the builders import Keras when called.
"""
