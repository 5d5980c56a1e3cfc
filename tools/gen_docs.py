"""Regenerate the codes table of docs/check.md from rules/codes.toml: ``python tools/gen_docs.py``.

``--check`` exits 1 (writing nothing) when the table is out of date, as the test suite does.
"""

from __future__ import annotations

import sys
from pathlib import Path

from snapcheck.fsutil import atomic_write_text
from snapcheck.report.codes_table import splice

DOC = Path(__file__).resolve().parents[1] / "docs" / "check.md"


def main(argv: list[str]) -> int:
    text = DOC.read_text(encoding="utf-8")
    new = splice(text)
    if "--check" in argv:
        if new != text:
            print(f"{DOC}: the codes table is out of date; run python tools/gen_docs.py", file=sys.stderr)
            return 1
        return 0
    if new != text:
        atomic_write_text(DOC, new)
        print(f"updated {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
