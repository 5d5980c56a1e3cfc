"""docs/corpus.md lists, for every third-party corpus file, the error codes snapcheck raises: keep it true."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from readers_fixtures import require_corpus
from snapcheck.api import check_file
from snapcheck.errors import InputError

DOC = Path(__file__).resolve().parents[1] / "docs" / "corpus.md"


def documented() -> dict[str, dict[str, int] | None]:
    """File -> {code: count} from the corpus table (None for a file the doc says is refused)."""
    text = DOC.read_text(encoding="utf-8").split("## Third-party corpus", 1)[1].split("\n## ", 1)[0]
    out: dict[str, dict[str, int] | None] = {}
    current = ""
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[1] or cells[1] == "Errors" or set(cells[1]) <= set("-"):
            continue
        current = cells[0].strip("`") or current
        if cells[1].startswith("refused"):
            out[current] = None
            continue
        codes = out.setdefault(current, {})
        for code, n in re.findall(r"(SC\d{3}) x(\d+)", cells[1]):
            codes[code] = int(n)  # type: ignore[index]
    return out


def test_every_corpus_file_is_in_the_table():
    files = {p.name for p in require_corpus().iterdir() if not p.name.endswith((".md", ".tsv", ".data"))}
    assert set(documented()) == files


@pytest.mark.parametrize("version", ["3.x", "4.x", "5.x"])
def test_the_table_is_what_snapcheck_raises(version):
    corpus = require_corpus()
    for name, codes in documented().items():
        if codes is None:
            with pytest.raises(InputError):
                check_file(corpus / name, version)
            continue
        r = check_file(corpus / name, version)
        assert dict(Counter(f.code for f in r.findings if f.severity == "error")) == codes, (name, version)
