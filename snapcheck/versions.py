"""Lens Studio versions as people write them: ``5``, ``5.0``, ``5.18`` and ``5.X`` all mean the 5.x rules.

The rules cover a Lens Studio major version as one set (``rules/5.x.toml``), so any release of a major version
reads as that set; :func:`normalise_version` says when it read a name that way, so a command can tell the user.
"""

from __future__ import annotations

import re

from snapcheck.errors import InputError

VERSIONS: tuple[str, ...] = ("3.x", "4.x", "5.x")
_RELEASE = re.compile(r"v?(\d+)(?:\.(?:\d+|x|\*))*", re.IGNORECASE)


def normalise_version(text: str, what: str = "--ls-version") -> tuple[str, str | None]:
    """``(version, note)``: the rules version ``text`` names (``3.x``, ``4.x``, ``5.x`` or ``all``) and, when the
    text was not that name, a note saying how it was read. ``InputError`` for a version with no rules."""
    raw = str(text).strip()
    if raw in (*VERSIONS, "all"):
        return raw, None
    if raw.lower() == "all":
        return "all", None
    m = _RELEASE.fullmatch(raw)
    version = f"{int(m.group(1))}.x" if m else None
    if version not in VERSIONS:
        raise InputError(None, f"{what}: unknown Lens Studio version {raw!r} (choose one of {', '.join(VERSIONS)} "
                               "or all; any release such as 5.18 means its major version's rules)")
    return version, f"{what} {raw} read as {version} (the rules cover each major Lens Studio version as one set)"


def expand_versions(value: str) -> list[str]:
    """A normalised version as the list it checks: ``all`` is every version."""
    return list(VERSIONS) if value == "all" else [value]
