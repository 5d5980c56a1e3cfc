"""The CLI's commands: every module here defines ``register(app)`` and is registered by ``snapcheck.cli``, in
name order (modules starting with ``_`` are not). Command modules keep their imports inside the command
functions: every one of them is imported when the CLI starts, and ``snapcheck check`` must start fast.

``FastCommand`` and ``FastGroup`` are the typer classes of the commands whose start-up time matters.
"""

from __future__ import annotations

import pkgutil
from typing import Any

from typer.core import TyperCommand, TyperGroup


def command_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


class _RawValue:
    """Hands click's already-parsed value through unchanged."""

    @staticmethod
    def coerce(value: Any, param: Any = None, ctx: Any = None) -> Any:
        return value


def skip_pydantic(params: list) -> None:
    """Let typer parameters hand click's parsed values through instead of building Pydantic adapters.

    Recent typer builds a Pydantic ``TypeAdapter`` for each option as it parses a command line, which
    imports Pydantic (about 0.1 s of CPU) even for ``str`` and ``bool`` options. Click has already parsed
    these; where a typer version lacks the ``_runtime_param`` hook, this changes nothing.
    """
    for p in params:
        if getattr(p, "_runtime_param", 0) is None:
            p._runtime_param = _RawValue()


class FastCommand(TyperCommand):
    """A typer command whose options (all ``str``, ``bool`` or ``None``) skip the Pydantic adapters."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        skip_pydantic(self.params)

    def get_help_option(self, ctx: Any) -> Any:
        opt = super().get_help_option(ctx)
        if opt is not None:
            skip_pydantic([opt])
        return opt


class FastGroup(TyperGroup):
    """For ``snapcheck.cli``: the root group's ``--help`` also skips the Pydantic adapter (``typer.Typer(cls=...)``)."""

    def get_help_option(self, ctx: Any) -> Any:
        opt = super().get_help_option(ctx)
        if opt is not None:
            skip_pydantic([opt])
        return opt
