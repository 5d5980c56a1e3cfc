"""What every check emits: a linter-style finding with a stable code, a severity, why, and a fix.

Checks build findings with ``snapcheck.registry.emit``, which takes the code's texts from the registry.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
SEVERITY_ORDER: dict[str, int] = {"error": 0, "warning": 1, "info": 2}


@dataclass
class Finding:
    code: str  # stable, e.g. "SC101"
    severity: Severity
    message: str  # one line that names the op or tensor
    why: str = ""  # why it is a problem in a Lens
    fix: str = ""  # a concrete fix
    op: str | None = None  # e.g. "#12 TRANSPOSE_CONV" (subgraph 0) or "sg1#3 WHILE"
    subgraph: int | None = None
    op_index: int | None = None
    tensor: str | None = None
    backend: str | None = None  # cpu | iphone_gpu | iphone_npu | android_gpu, where it applies to one
    inferred: bool = False  # True when the verdict rests on a rule that Snap does not document
    confidence: str | None = None  # documented | inferred | unconfirmed (the rule's evidence)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}
