"""Import single modules of a big package without running its ``__init__``.

``import tflite`` imports all of its ~190 generated schema modules (about 25 ms, a tenth of a whole `snapcheck
check`), and ``import onnx`` its helpers, checker, compose, reference and serialisation code (about 50 ms beyond
numpy); a check needs the flatbuffer classes of one and the protobuf classes and C++ shape inference of the other.
When nothing has imported the package yet, :func:`submodule` registers it as a :class:`_LazyPackage` and imports
only the modules asked for. The first access to any other name of the package (``tflite.Model``,
``from onnx import helper``) runs the real ``__init__``, so code elsewhere in the process still sees the package
exactly as a plain ``import`` would give it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types


class _LazyPackage(types.ModuleType):
    """A package with its ``__init__`` not yet run."""

    def __setattr__(self, name: str, value: object) -> None:
        # The import system binds every loaded submodule on its parent. A real ``__init__`` may rebind such a
        # name (``tflite.Model`` is the class), so leave them unbound here: a later access reaches __getattr__.
        if isinstance(value, types.ModuleType) and value.__name__ == f"{self.__name__}.{name}":
            return
        super().__setattr__(name, value)

    def __getattr__(self, name: str) -> object:
        _complete(self)
        return getattr(self, name)


def _complete(pkg: types.ModuleType) -> None:
    """Run the package's real ``__init__`` in place: every name becomes what ``import`` binds."""
    pkg.__class__ = types.ModuleType
    pkg.__spec__.loader.exec_module(pkg)


def _install(package: str) -> None:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        raise ImportError(f"the {package!r} package is not installed")
    pkg = importlib.util.module_from_spec(spec)
    pkg.__class__ = _LazyPackage
    sys.modules[package] = pkg


def submodule(package: str, name: str) -> types.ModuleType:
    """Module ``package.name``, importing the package's ``__init__`` only if something else already did."""
    if package not in sys.modules:
        _install(package)
    return importlib.import_module(f"{package}.{name}")
