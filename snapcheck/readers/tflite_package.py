"""Load single classes of the ``tflite`` schema package without running its ``__init__``.

``import tflite`` imports all of its ~190 generated modules (about 25 ms, a tenth of a whole `snapcheck
check`); a model needs a dozen of them. When nothing has imported ``tflite`` yet, :func:`schema_class`
registers the package as a :class:`_LazyPackage` and imports only the modules asked for. The first access to
any other name of the package (``tflite.Model``, ``from tflite import Padding``) runs the real ``__init__``,
so code elsewhere in the process still sees the package exactly as ``import tflite`` would give it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

PACKAGE = "tflite"


class _LazyPackage(types.ModuleType):
    """The ``tflite`` package with its ``__init__`` not yet run."""

    def __setattr__(self, name: str, value: object) -> None:
        # The import system binds every loaded submodule on its parent. The real package rebinds those names to
        # the classes, so leave them unbound here: a later ``tflite.X`` then reaches __getattr__ below.
        if isinstance(value, types.ModuleType) and value.__name__ == f"{PACKAGE}.{name}":
            return
        super().__setattr__(name, value)

    def __getattr__(self, name: str) -> object:
        if name.startswith("__"):
            raise AttributeError(name)
        _complete(self)
        return getattr(self, name)


def _complete(pkg: types.ModuleType) -> None:
    """Run the package's real ``__init__`` in place: every name becomes what ``import tflite`` binds."""
    pkg.__class__ = types.ModuleType
    pkg.__spec__.loader.exec_module(pkg)


def _install() -> None:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.loader is None:
        raise ImportError(f"the {PACKAGE!r} package is not installed")
    pkg = importlib.util.module_from_spec(spec)
    pkg.__class__ = _LazyPackage
    sys.modules[PACKAGE] = pkg


def schema_class(name: str) -> type:
    """Class ``name`` of module ``tflite.<name>`` (e.g. ``Model``, ``BuiltinOperator``, ``Conv2DOptions``)."""
    if PACKAGE not in sys.modules:
        _install()
    return getattr(importlib.import_module(f"{PACKAGE}.{name}"), name)
