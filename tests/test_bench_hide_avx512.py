"""bench/hide_avx512.sh: a command under it sees the CPU without AVX-512 (where CPUID faulting and gcc exist)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from snapcheck.calibrate.harness import cpu_flags

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(not {"cpuid_fault", "avx512f", "avx2"} <= cpu_flags() or shutil.which("gcc") is None,
                    reason="needs an AVX-512 CPU with CPUID faulting, and gcc")
def test_a_command_under_hide_avx512_gets_the_avx2_tile(tmp_path):
    code = "from snapcheck.calibrate.harness import gemm_tile; import os; print(gemm_tile(), os.environ['SNAPCHECK_CACHE'])"
    env = {**os.environ, "HIDE_AVX512_LIB": str(tmp_path / "hide.so"), "SNAPCHECK_CACHE": str(tmp_path / "cache")}
    out = subprocess.run([str(ROOT / "bench" / "hide_avx512.sh"), sys.executable, "-c", code], env=env,
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["16", str(tmp_path / "cache")]  # XNNPACK's AVX2 tile; the caller's cache folder kept
    plain = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert plain.stdout.split()[0] == "32"
