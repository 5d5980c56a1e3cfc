"""The gate for shipped models (``snapcheck gate models``; CI runs it as ``python -m snapcheck.models_gate models``).

Every folder under the given directory that holds a .tflite or .onnx file must declare, in its
``snapcheck.toml``, the Lens Studio versions it targets (``ls_versions = ["5.x"]``). Each model
file is checked (``snapcheck.api.check_file``) against each declared version; any error-level
finding, an unreadable file, or a folder without a declaration fails the gate. The model card
(``snapcheck.gan.card``) writes and reads the same declaration.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from snapcheck.api import check_file
from snapcheck.errors import InputError
from snapcheck.tomlread import TOMLDecodeError, read_toml

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


def declared_versions(folder: Path) -> list[str]:
    """The ``ls_versions`` list of ``folder/snapcheck.toml``; ``ValueError`` naming the problem otherwise."""
    path = folder / GATE_FILE
    if not path.is_file():
        raise ValueError(f"{path}: missing; declare the Lens Studio versions, e.g. ls_versions = [\"5.x\"]")
    try:
        data = read_toml(path)
    except (TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from None
    versions = data.get("ls_versions")
    if not isinstance(versions, list) or not versions or not all(isinstance(v, str) for v in versions):
        raise ValueError(f"{path}: ls_versions must be a non-empty list of version strings, e.g. [\"5.x\"]")
    return versions


def run_gate(models_dir: str | Path) -> GateResult:
    """Check every model under ``models_dir`` against its folder's declared versions."""
    result = GateResult()
    for folder, files in model_folders(Path(models_dir)).items():
        try:
            versions = declared_versions(folder)
        except ValueError as exc:
            result.failures.append(str(exc))
            continue
        for path in files:
            for version in versions:
                try:
                    report = check_file(path, ls_version=version)
                except InputError as exc:
                    result.failures.append(f"{path} @ {version}: unusable ({exc})")
                    continue
                errors = [f for f in report.findings if f.severity == "error"]
                warnings = sum(f.severity == "warning" for f in report.findings)
                line = f"{path} @ {version}: {'FAIL' if errors else 'PASS'} ({len(errors)} errors, {warnings} warnings)"
                result.checked.append(line)
                if errors:
                    result.failures.append(line + "".join(f"\n    {f.code} {f.message}" for f in errors))
    return result


if __name__ == "__main__":  # CI's spelling of `snapcheck gate MODELS_DIR`
    from snapcheck.cli import main

    main(["gate", *sys.argv[1:]])
