"""Repeated findings as one entry, and ops named the way Netron shows them.

Findings are identical when they share code, severity, backend, why and fix and their messages differ only in the
op or tensor they name, the shapes they quote (``[1, 8, 7, 8, 7, 96]``: a Swin's window tensors) and the figures they
give (``2.5% of its non-zero values``). A group is shown once: the message with its op replaced by the first few ops
and "and N more", a shape its members do not share by "[...]" and a figure by the members' range ("1.8-3.1%").
An op is shown as ``#12 CONV_2D "conv1/Relu"``: its index and type, then its Netron name (the ONNX node name, or the
TFLite op's first output tensor name; long names are cut with an ellipsis, the JSON has them whole).
"""

from __future__ import annotations

import re

from snapcheck.findings import Finding

SHOWN = 3  # ops named in a group's line before "and N more"
NAME_WIDTH = 40
SHAPE = re.compile(r"\[-?\d+(?:, -?\d+)*\]")  # a quoted shape (or any list of integers)
# A figure standing alone: not part of a name or label (float16, #12, 2^-14, rank-3, k16x16s16), a unit may follow
FIGURE = re.compile(r"(?<![\w.^#/-])(\d+(?:,\d{3})*(?:\.\d+)?(?:e[+-]?\d+)?)(?![\w.]*\d)(?!\^)")


def display_op(f: Finding) -> str:
    """``#12 CONV_2D "conv1/Relu"`` (or the label alone when the op has no name)."""
    if not f.op:
        return f"'{f.tensor}'" if f.tensor else ""
    if not f.node:
        return f.op
    name = f.node if len(f.node) <= NAME_WIDTH else f.node[: NAME_WIDTH - 1] + "…"
    return f'{f.op} "{name}"'


def _template(f: Finding, exact: bool = True) -> str:
    """The message with its op label (and tensor name) taken out and, unless ``exact``, its quoted shapes and
    figures too: what identical findings share."""
    text = f.message
    if f.op:
        text = text.replace(f.op, "\0", 1)
    if f.tensor:
        text = text.replace(f"'{f.tensor}'", "\1").replace(f.tensor, "\1")
    return text if exact else FIGURE.sub("\3", SHAPE.sub("\2", text))


def _figures(f: Finding) -> list[str]:
    """The figures of a message in order (those ``_template`` takes out)."""
    return FIGURE.findall(SHAPE.sub("\2", _template(f)))


def _ranged(group: list[Finding]) -> str:
    """The group's template with each shape its members do not share as "[...]" and each figure they do not share
    as their range."""
    text = _template(group[0], exact=False).replace("\2", "[...]")
    columns = zip(*(_figures(g) for g in group))
    for column in columns:
        values = sorted(set(column), key=lambda v: float(v.replace(",", "")))
        text = text.replace("\3", values[0] if len(values) == 1 else f"{values[0]}-{values[-1]}", 1)
    return text


def group_findings(findings: list[Finding]) -> list[list[Finding]]:
    """Findings in order, identical ones (see the module docs) gathered at the first one's place."""
    groups: dict[tuple, list[Finding]] = {}
    for f in findings:
        key = (f.code, f.severity, f.backend, f.why, f.fix, f.inferred, _template(f, exact=False))
        groups.setdefault(key, []).append(f)
    return list(groups.values())


def located_message(group: list[Finding]) -> str:
    """The message of one finding, or of a group, with each op shown by :func:`display_op`."""
    f = group[0]
    if len(group) == 1:
        if f.op and f.node and f.op in f.message:
            return f.message.replace(f.op, display_op(f), 1)
        return f.message + (f' (at "{f.node}")' if f.node and not f.op else "")
    places = [display_op(g) for g in group[:SHOWN]]
    more = f" and {len(group) - SHOWN} more" if len(group) > SHOWN else ""
    listed = ", ".join(p for p in places if p) + more
    template = _template(f)
    if any(_template(g) != template for g in group):  # shapes or figures differ between members
        template = _ranged(group)
    if "\0" in template:
        return template.replace("\0", listed, 1).replace("\1", "...")
    if "\1" in template:
        return template.replace("\1", listed, 1).replace("\1", "...")
    return f"{f.message} ({len(group)} times: {listed})"
