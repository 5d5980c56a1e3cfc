"""Play with an image-to-image model before Lens Studio: ``snapcheck preview`` (a local drawing page) and
``snapcheck generate`` (outline images in, RGBA PNGs out).

- ``model``: what a previewable model is (one image input, RGB/RGBA output), its honest numbers, and
  the one call into a model runtime.
- ``strokes``: any drawing → the binary, finger-width outline the generator was trained on.
- ``server``: the local HTTP server behind the page (``static/``), which runs the exact model file.
- ``assets``: the shipped default background and trace examples, and how they are made.
"""
