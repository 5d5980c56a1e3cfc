"""Renderers of check reports: rich terminal text, JSON, JUnit XML and SARIF."""

from __future__ import annotations

from snapcheck.registry import FAMILIES


def family(code: str) -> str:
    """The check family of a finding code (``SC104`` -> ``ops``)."""
    return FAMILIES.get(code[:3], "other")
