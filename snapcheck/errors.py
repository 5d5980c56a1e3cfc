"""Errors that the CLI turns into one line on stderr and exit code 2."""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """Unusable input: a missing, unreadable, corrupt or unsupported file, or a bad option value.

    The message names the file (when there is one) and the problem, on one line.
    """

    def __init__(self, path: str | Path | None, problem: str) -> None:
        self.path = None if path is None else str(path)
        self.problem = " ".join(str(problem).split())  # always one line
        super().__init__(f"{self.path}: {self.problem}" if self.path else self.problem)


def one_line(exc: BaseException, limit: int = 300) -> str:
    """A library exception's message on one line, cut at ``limit`` characters (for an ``InputError``)."""
    return " ".join(str(exc).split())[:limit]
