"""The codes table of ``docs/check.md`` and of ``snapcheck rules --codes``, generated from the registry."""

from __future__ import annotations

from snapcheck.registry import Code, load_codes

START = "<!-- codes:start (generated from rules/codes.toml by tools/gen_docs.py; do not edit) -->"
END = "<!-- codes:end -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _severity(c: Code) -> str:
    if c.confidence == "unconfirmed":
        return f"{c.severity} (unconfirmed rule)"
    return c.severity


def markdown() -> str:
    """One row per code: anchor, name, severity, what, why, fix, and the evidence with its confidence."""
    rows = ["| Code | Name | Severity | What | Why | Fix | Evidence |", "|---|---|---|---|---|---|---|"]
    for c in load_codes().values():
        fix = c.fix
        if c.fixes:
            fix += " " + " ".join(f"*{origin}:* {text}" for origin, text in sorted(c.fixes.items()))
        rows.append(f'| <a id="{c.anchor}"></a>{c.code} | `{c.name}` | {_severity(c)} | {_cell(c.title)} | '
                    f"{_cell(c.why)} | {_cell(fix)} | {_cell(c.evidence)} ({c.confidence}) |")
    return "\n".join(rows)


def splice(doc: str) -> str:
    """``doc`` with the text between the codes markers replaced by the generated table."""
    head, sep, rest = doc.partition(START)
    if not sep or END not in rest:
        raise ValueError(f"the document has no {START!r} ... {END!r} section")
    return f"{head}{START}\n{markdown()}\n{END}{rest.split(END, 1)[1]}"
