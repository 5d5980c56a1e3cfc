"""A command run without the optional extra it needs says what to install (one line, exit 2), not an internal error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer

from snapcheck.cli import app
from snapcheck.extras import COMMAND_EXTRAS, DISTRIBUTIONS, extras_listing, missing_extra

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "catface" / "catface-l.tflite"


def _without(modules: list[str], *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``snapcheck ARGS`` in a fresh interpreter where importing any of ``modules`` fails, as where not installed."""
    code = (f"import sys\nfor m in {modules!r}: sys.modules[m] = None\n"
            "from snapcheck.cli import main\nmain(sys.argv[1:])")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_bench_without_litert_names_the_runtime_extra(tmp_path):
    proc = _without(["ai_edge_litert"], "bench", str(MODEL), "--runs", "1", cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "internal error" not in lines[0] and "Traceback" not in proc.stderr
    assert "`snapcheck bench` needs ai-edge-litert" in lines[0] and "pip install 'snapcheck[runtime]'" in lines[0]


def test_a_local_sweep_without_tensorflow_is_refused_before_any_work(tmp_path):
    out = tmp_path / "sweep"
    proc = _without(["tensorflow"], "sweep", "--alpha-encoder", "0.25", "--alpha-decoder", "0.5", "--out", str(out),
                    cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "needs tensorflow-cpu" in proc.stderr and "snapcheck[runtime,tf]" in proc.stderr
    assert not (out / "results.json").exists() and not (out / "cache").exists()


def test_the_extra_named_is_the_commands_own_or_the_smallest_that_provides_the_package():
    def missing(module: str) -> ModuleNotFoundError:
        return ModuleNotFoundError(f"No module named {module!r}", name=module)

    assert "pip install 'snapcheck[runtime,tf]'" in missing_extra(missing("keras"), "calibrate")
    assert "pip install 'snapcheck[tf]'" in missing_extra(missing("cv2.ximgproc"), "data")  # cv2 is in preview too
    assert "pip install 'snapcheck[runtime]'" in missing_extra(missing("onnxruntime"), None)  # not fix or preview
    assert missing_extra(missing("snapcheck.nowhere"), "check") is None  # our own module: an internal error
    assert missing_extra(ImportError("cannot import name 'x'", name="onnxruntime"), "check") is None


def test_the_commands_and_extras_named_exist():
    commands = set(typer.main.get_command(app).commands)
    assert set(COMMAND_EXTRAS) <= commands
    listing = extras_listing()
    assert listing, "snapcheck's metadata lists no extras: is it installed (make setup)?"
    extras = set().union(*listing.values())
    assert {e for needed in COMMAND_EXTRAS.values() for e in needed} <= extras
    assert set(DISTRIBUTIONS.values()) <= set(listing)  # every package named is in an extra
