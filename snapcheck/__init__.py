"""snapcheck: check neural networks against Lens Studio's SnapML rules before import."""

__version__ = "0.1.0"
