"""Helpers every test may use: the CLI in a subprocess (also the ``cli`` fixture of conftest.py), a probe of what a
piece of code imports, a script of bench/ or tools/ loaded as a module, and a training callback that stands in for
``kill -9`` at a given step."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterable

# The optional, heavy runtimes the check path and the light commands must never import.
HEAVY = ("tensorflow", "keras", "tf2onnx", "onnxruntime", "ai_edge_litert")
# ``python -c CLI ARGS...`` runs ``snapcheck ARGS...`` (for probes of what a command imports).
CLI = "from snapcheck.cli import main\nmain()"


def load_script(path: Path) -> ModuleType:
    """A script (``bench/``, ``tools/``) imported as a module named for its file, with its folder on ``sys.path``
    while it loads (scripts import their siblings, as ``bench/zoo.py``)."""
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(path.parent))


def run_cli(*args: str | Path, env: dict[str, str] | None = None, cwd: str | Path | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m snapcheck ARGS...`` as a user runs it: text output captured, TensorFlow's logging quiet,
    ``SNAPCHECK_DEBUG`` unset (so errors are the user's one line); ``env`` adds or overrides variables."""
    base = {k: v for k, v in os.environ.items() if k != "SNAPCHECK_DEBUG"}
    return subprocess.run([sys.executable, "-m", "snapcheck", *map(str, args)], capture_output=True, text=True,
                          env={**base, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}, cwd=cwd, timeout=timeout)


def imports_of(code: str, *argv: str | Path, then: str = "", env: dict[str, str] | None = None,
               timeout: float = 120) -> tuple[subprocess.CompletedProcess, set[str]]:
    """Run ``code`` in a fresh interpreter (``sys.argv[1:]`` = ``argv``) and return the process and the modules
    imported by the end of ``code`` (even when it exits, as a CLI does); ``then`` runs after that snapshot."""
    with tempfile.TemporaryDirectory() as td:
        listing = Path(td) / "modules.txt"
        script = (f"import sys\ntry:\n{textwrap.indent(code, '    ')}\nfinally:\n"
                  f"    open({str(listing)!r}, 'w').write('\\n'.join(sorted(sys.modules)))\n{then}")
        proc = subprocess.run([sys.executable, "-c", script, *map(str, argv)], capture_output=True, text=True,
                              env={**os.environ, **(env or {})}, timeout=timeout)
        loaded = set(listing.read_text().split("\n")) if listing.is_file() else set()
    return proc, loaded


def assert_not_imported(code: str, *argv: str | Path, modules: Iterable[str] = HEAVY, then: str = "",
                        env: dict[str, str] | None = None,
                        returncodes: Iterable[int] = (0,)) -> subprocess.CompletedProcess:
    """Run ``code`` as ``imports_of`` does and assert that it exits with one of ``returncodes`` having imported
    none of ``modules`` (nor a submodule of one); returns the process for further checks of its output."""
    proc, loaded = imports_of(code, *argv, then=then, env=env)
    assert proc.returncode in tuple(returncodes), (proc.returncode, proc.stdout[-1000:], proc.stderr[-2000:])
    assert loaded, "the probe did not run to its end"
    bad = sorted(m for m in loaded for name in modules if m == name or m.startswith(name + "."))
    assert not bad, f"imported: {bad[:10]}"
    return proc


class Killed(Exception):
    """Stands in for ``kill -9``: not a KeyboardInterrupt, so nothing is saved on the way out."""


def kill_at(step: int, each: Callable[[int, Any], None] | None = None) -> Callable[[int, Any], None]:
    """A training ``on_step`` callback: ``each(step, model)`` at every step (when given), then ``Killed`` at
    ``step``."""

    def on_step(s: int, model: Any) -> None:
        if each is not None:
            each(s, model)
        if s == step:
            raise Killed

    return on_step
