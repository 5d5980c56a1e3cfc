"""The benchmark sets of real architectures by name (``estimator_accuracy --set``'s names), and where each set's
.tflite files are kept (``SNAPCHECK_CACHE``: ``zoo/`` for the held-out 44, a folder per other set)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from zoo import Arch, architectures, tflite_file, unseen, validation
from zoo_ar import ar
from zoo_blind import blind, kio, lens
from zoo_hub import hub

SETS: dict[str, Callable[[], list[Arch]]] = {"heldout": architectures, "validation": validation, "unseen": unseen,
                                             "blind": blind, "kio": kio, "lens": lens, "ar": ar, "hub": hub}


def set_folder(name: str) -> Path:
    """The folder set ``name``'s .tflite files are converted into and kept (created)."""
    from snapcheck.paths import cache_dir

    folder = cache_dir() / ("zoo" if name == "heldout" else name)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def set_file(arch: Arch, name: str) -> Path:
    """``arch``'s .tflite in set ``name``'s folder, converted the first time (``zoo.tflite_file``)."""
    return tflite_file(arch, set_folder(name))
