"""The gate for shipped models (``snapcheck gate models``; CI runs it as ``python -m snapcheck.models_gate models``).

Every model under the given directory must have settings that declare the Lens Studio versions it targets: its
nearest ``snapcheck.toml`` (or ``pyproject.toml`` ``[tool.snapcheck]``), read by ``snapcheck.config`` exactly as
``snapcheck check`` reads it (``ls-version = ["5.x"]``, and any select/ignore/suppress/severity/fail-on). Each
model file is checked against each declared version; any failing finding, an unreadable file, a bad config or a
model without a declaration fails the gate. The model card (``snapcheck.gan.card``) writes the same file.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from snapcheck.api import check_file
from snapcheck.config import ConfigFinder, resolve_settings
from snapcheck.errors import InputError

GATE_FILE = "snapcheck.toml"
MODEL_SUFFIXES = (".tflite", ".onnx")


@dataclass
class GateResult:
    checked: list[str] = field(default_factory=list)  # "file @ version: PASS ..." lines
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def model_folders(models_dir: Path) -> dict[Path, list[Path]]:
    """Folder → its model files (sorted), for every folder under ``models_dir`` holding one."""
    folders: dict[Path, list[Path]] = {}
    for path in sorted(models_dir.rglob("*")):
        if path.is_file() and path.suffix.lower() in MODEL_SUFFIXES:
            folders.setdefault(path.parent, []).append(path)
    return folders


def declared_versions(folder: Path, finder: ConfigFinder | None = None) -> list[str]:
    """The Lens Studio versions the settings of ``folder``'s models declare; ``ValueError`` naming the problem."""
    finder = finder or ConfigFinder()
    try:
        cfg = finder.find(folder / GATE_FILE)
    except InputError as exc:
        raise ValueError(str(exc)) from None
    if cfg is None or "ls-version" not in cfg.values:
        where = cfg.path if cfg is not None else folder / GATE_FILE
        raise ValueError(f"{where}: missing ls-version; declare the Lens Studio versions, e.g. ls-version = [\"5.x\"]")
    return list(cfg.values["ls-version"])


def run_gate(models_dir: str | Path) -> GateResult:
    """Check every model under ``models_dir`` against its declared versions, with its settings."""
    result = GateResult()
    finder = ConfigFinder()
    for folder, files in model_folders(Path(models_dir)).items():
        try:
            declared_versions(folder, finder)
        except ValueError as exc:
            result.failures.append(str(exc))
            continue
        for path in files:
            settings = resolve_settings(path, finder)
            policy = settings.policy()
            for version in settings.ls_versions:
                try:
                    report = check_file(path, ls_version=version, backend=settings.backend,
                                        max_size=settings.max_size, estimates=settings.estimates, policy=policy,
                                        fail_on=settings.fail_on)
                except InputError as exc:
                    result.failures.append(f"{path} @ {version}: unusable ({exc})")
                    continue
                failing = report.failing
                counts = report.counts()
                line = (f"{path} @ {version}: {'FAIL' if failing else 'PASS'} ({counts['error']} errors, "
                        f"{counts['warning']} warnings" + (f", {len(report.suppressed)} suppressed" if report.suppressed
                                                          else "") + ")")
                result.checked.append(line)
                if failing:
                    result.failures.append(line + "".join(f"\n    {f.code} {f.message}" for f in failing))
    return result


if __name__ == "__main__":  # CI's spelling of `snapcheck gate MODELS_DIR`
    from snapcheck.cli import main

    main(["gate", *sys.argv[1:]])
