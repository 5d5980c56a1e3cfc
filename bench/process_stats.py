"""Wall time and max RSS of one whole process, for the benches that hold memory targets.

The max RSS comes from GNU time (``/usr/bin/time -f %M``), which reads the measured process's own ``wait4``: a
process forked straight from a bench would count the bench's memory in its high-water mark.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path


def run_process(cmd: list[str], cwd: Path, timeout: float = 60.0) -> dict:
    """``{"rc", "wall_s", "cpu_s", "rss_mb", "stderr"}`` of ``cmd`` (CPU: user + system, which load on a shared
    machine does not inflate as it does wall time); rc is "timeout" when it runs past ``timeout``."""
    with tempfile.NamedTemporaryFile(suffix=".rss") as rss_file:
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", rss_file.name, *cmd], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, cwd=cwd, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"rc": "timeout", "wall_s": timeout, "cpu_s": float("nan"), "rss_mb": float("nan"), "stderr": ""}
        wall = time.perf_counter() - t0
        lines = Path(rss_file.name).read_text().split()
    return {"rc": proc.returncode, "wall_s": round(wall, 3), "cpu_s": round(float(lines[-2]) + float(lines[-1]), 2),
            "rss_mb": round(int(lines[-3]) / 1024, 1),
            "stderr": proc.stderr.decode("utf-8", "replace").strip()}
