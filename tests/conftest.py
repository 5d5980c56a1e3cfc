"""Shared test setup: quiet TensorFlow, the path to ../shared (read-only data beside the clone), and the ``cli``
fixture. Helpers that are not fixtures (import probes, the kill-at-step callback) are in helpers.py."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import pytest

from helpers import run_cli

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared material not found at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def cli() -> Callable[..., object]:
    """Run ``snapcheck ARGS...`` in a subprocess, as a user does: ``cli("check", path, "--format", "json")`` returns
    the ``CompletedProcess`` (``env=``, ``cwd=``, ``timeout=`` as in ``helpers.run_cli``)."""
    return run_cli
