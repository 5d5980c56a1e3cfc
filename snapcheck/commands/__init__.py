"""CLI command modules. Each defines ``register(app)`` and keeps heavy imports inside its functions.

Every module in this package is registered by ``snapcheck.cli``, in name order.
"""

from __future__ import annotations

import pkgutil


def command_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
