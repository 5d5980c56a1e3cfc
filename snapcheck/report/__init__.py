"""Renderers of check reports: rich terminal text, JSON, JUnit XML and SARIF."""

from __future__ import annotations

FAMILIES: dict[str, str] = {"SC1": "ops", "SC2": "placement", "SC3": "size", "SC4": "fp16", "SC5": "io",
                            "SC6": "performance"}


def family(code: str) -> str:
    """The check family of a finding code (``SC104`` -> ``ops``)."""
    return FAMILIES.get(code[:3], "other")
