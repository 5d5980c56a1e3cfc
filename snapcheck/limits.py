"""Resource limits of ``snapcheck check``, and the wall-clock budget (``--timeout``).

A model file is untrusted input. The readers refuse, with ``InputError`` (exit 2, "too large to check"),
a file that declares more than these limits, so that the time and memory of a check stay in proportion
to the model: no file of a few hundred KB can make it run for minutes or take gigabytes. Real models sit
far below every limit. ``docs/readers.md`` explains each; ``snapcheck check --help`` lists them.

Kept free of heavy imports: the CLI reads this module to print its help.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from dataclasses import dataclass
from typing import Iterator

from snapcheck.errors import InputError


@dataclass(frozen=True)
class Limits:
    ops: int = 30_000  # operators, all subgraphs together (a check costs about 0.2 ms of CPU per op)
    tensors: int = 100_000  # tensors, all subgraphs together
    subgraphs: int = 4_096  # subgraphs (TFLite) or graphs, nested ones included (ONNX)
    nesting: int = 32  # depth of graphs nested in node attributes (ONNX If/Loop/Scan)
    rank: int = 32  # dims of one tensor
    tensor_elements: int = 2**40  # elements one tensor may declare (4 TB of float32: beyond any runtime)
    elements_read: int = 2**21  # dims, op input/output indices and option values, each reference counted
    weight_bytes: int = 4 * 2**30  # constant data of the model file and its external-data files
    timeout_s: float = 300.0  # default --timeout


LIMITS = Limits()


def _count(n: float) -> str:
    if n >= 2**20 and (n & (n - 1)) == 0:
        return f"2^{int(n).bit_length() - 1}"
    return f"{n:,}"


def limits_help() -> str:
    """The limits as the one paragraph ``snapcheck check --help`` shows."""
    lim = LIMITS
    return (f"Limits (a file over one is refused with exit 2, \"too large to check\"): {_count(lim.ops)} ops, "
            f"{_count(lim.tensors)} tensors, {_count(lim.subgraphs)} subgraphs, graphs nested {lim.nesting} deep, "
            f"rank {lim.rank}, {_count(lim.tensor_elements)} elements per tensor, {_count(lim.elements_read)} dims, "
            f"op inputs and outputs, {lim.weight_bytes // 2**30} GiB of weights. --timeout stops a check with exit 2 "
            f"(default {lim.timeout_s:g} s). See docs/readers.md.")


def too_large(path: object, what: str, limit: int) -> InputError:
    """The refusal of a file over one of the limits."""
    return InputError(path, f"too large to check: {what} (limit {_count(limit)})")  # type: ignore[arg-type]


class CheckTimeout(BaseException):
    """Raised in the main thread when the wall-clock budget is spent.

    A ``BaseException``, so that no ``except Exception`` on the way turns it into another error; ``deadline``
    turns it into the one-line ``InputError``.
    """


_GRACE_S = 3.0  # after the budget, how long native code (protobuf, shape inference) may delay the clean stop


@dataclass
class Stage:
    """What the check is doing, for the timeout's message."""

    what: str = ""


def _message(seconds: float, stage: Stage) -> str:
    doing = f" while checking {stage.what}" if stage.what else ""
    return f"stopped at the --timeout of {seconds:g} s{doing}; no report was written"


@contextlib.contextmanager
def deadline(seconds: float | None, what: str = "") -> Iterator[Stage]:
    """Stop the work inside after ``seconds`` of wall-clock time with ``InputError`` (exit 2, one line).

    The message names ``what`` the work is doing (the yielded ``Stage`` lets it say so as it moves on).

    A SIGALRM raises ``CheckTimeout`` where Python code runs; should native code hold the interpreter past a
    short grace period, a watchdog thread writes the same line and ends the process with exit 2. Outside the
    main thread, or with ``seconds`` None or 0, there is no budget.
    """
    stage = Stage(what)
    if not seconds or seconds <= 0 or threading.current_thread() is not threading.main_thread() \
            or not hasattr(signal, "setitimer"):
        yield stage
        return

    def on_alarm(signum: int, frame: object) -> None:
        raise CheckTimeout

    def hard_stop() -> None:
        sys.stderr.flush()
        os.write(2, f"snapcheck: error: {_message(seconds, stage)}\n".encode())
        os._exit(2)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    watchdog = threading.Timer(seconds + _GRACE_S, hard_stop)
    watchdog.daemon = True

    def disarm() -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        watchdog.cancel()

    try:
        try:
            signal.setitimer(signal.ITIMER_REAL, seconds)
            watchdog.start()
            yield stage
        finally:
            disarm()
    except CheckTimeout:  # also when the alarm comes between the end of the work and the disarm
        disarm()
        raise InputError(None, _message(seconds, stage)) from None
    finally:
        signal.signal(signal.SIGALRM, previous)
