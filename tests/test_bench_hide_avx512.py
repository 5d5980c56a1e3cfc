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
def _shim_env(tmp_path, **extra: str) -> dict[str, str]:
    return {**os.environ, "HIDE_AVX512_LIB": str(tmp_path / "hide.so"), "SNAPCHECK_CACHE": str(tmp_path / "cache"),
            **extra}


def _python(code: str, env: dict[str, str], shim: bool = True) -> list[str]:
    """What ``code`` prints in a fresh interpreter, under bench/hide_avx512.sh or not."""
    cmd = ([str(ROOT / "bench" / "hide_avx512.sh")] if shim else []) + [sys.executable, "-c", code]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout.split()


def test_a_command_under_hide_avx512_gets_the_avx2_tile(tmp_path):
    code = ("from snapcheck.calibrate.harness import gemm_tile; import os; "
            "print(gemm_tile(), os.environ['SNAPCHECK_CACHE'])")
    env = _shim_env(tmp_path)
    assert _python(code, env) == ["16", str(tmp_path / "cache")]  # XNNPACK's AVX2 tile; the caller's cache kept
    assert _python(code, env, shim=False)[0] == "32"


_CPUID_L2 = """
import ctypes, mmap
# push rbx; mov r8, rdx; mov eax, edi; mov ecx, esi; cpuid; mov [r8], eax/ebx/ecx/edx; pop rbx; ret
code = bytes([0x53, 0x49, 0x89, 0xd0, 0x89, 0xf8, 0x89, 0xf1, 0x0f, 0xa2, 0x41, 0x89, 0x00, 0x41, 0x89, 0x58, 0x04,
              0x41, 0x89, 0x48, 0x08, 0x41, 0x89, 0x50, 0x0c, 0x5b, 0xc3])
buf = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
buf.write(code)
cpuid = ctypes.CFUNCTYPE(None, ctypes.c_uint32, ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint32 * 4))(
    ctypes.addressof(ctypes.c_char.from_buffer(buf)))
r = (ctypes.c_uint32 * 4)()
for sub in range(8):
    cpuid(4, sub, ctypes.byref(r))
    if r[0] & 31 and (r[0] >> 5) & 7 == 2:
        print(((r[1] >> 22) + 1) * (((r[1] >> 12) & 0x3ff) + 1) * ((r[1] & 0xfff) + 1) * (r[2] + 1) // 1024)
from snapcheck.calibrate.harness import gemm_tile
print(gemm_tile())
"""


@pytest.mark.skipif(not {"cpuid_fault", "avx512f", "avx2"} <= cpu_flags() or shutil.which("gcc") is None
                    or "GenuineIntel" not in Path("/proc/cpuinfo").read_text(),
                    reason="needs an Intel AVX-512 CPU with CPUID faulting (leaf 4), and gcc")
def test_hide_avx512_can_keep_the_isa_and_report_a_smaller_l2(tmp_path):
    env = _shim_env(tmp_path, HIDE_AVX512_KEEP="1", HIDE_AVX512_L2_KB="1024")
    l2_kib, tile = _python(_CPUID_L2, env)  # CPUID's L2 as XNNPACK reads it; AVX-512 kept
    # leaf 4 gives the L2 as ways x partitions x line x sets, so the shim reports the most whole sets under the
    # request: 1024 KiB on a 16-way L2, 1023 (819 sets of 20 ways x 64 B) on an Ice Lake's 20-way one
    assert 1020 <= int(l2_kib) <= 1024 and tile == "32"
