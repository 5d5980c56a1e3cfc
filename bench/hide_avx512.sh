#!/bin/bash
# Run a command on this machine as if its CPU had no AVX-512 (nor AMX or AVX-VNNI): XNNPACK runs its AVX2/FMA3
# kernels, a CPU of another kind for calibrate --quick and the estimator to transfer to (docs/bench/estimator.md,
# session 33). Builds bench/hide_avx512.c once (gcc) and preloads it. The host fingerprint stays the same, so
# measurements and host profiles go to their own folders unless SNAPCHECK_CACHE / SNAPCHECK_HOST_PROFILES are set.
# HIDE_AVX512_KEEP=1 keeps AVX-512; HIDE_AVX512_L2_KB=N reports an L2 of N KiB to CPUID (XNNPACK sizes its GEMM
# tiles for it; snapcheck reads sysfs, so give it SNAPCHECK_L2_BYTES too): a Zen 4-like 1 MB L2 as XNNPACK sees it.
#   bench/hide_avx512.sh .venv/bin/python bench/estimator_accuracy.py --quick --fresh --json work/noavx512.json
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
grep -qw cpuid_fault /proc/cpuinfo || { echo "hide_avx512: this CPU or kernel has no CPUID faulting" >&2; exit 2; }
lib=${HIDE_AVX512_LIB:-${XDG_CACHE_HOME:-$HOME/.cache}/snapcheck-noavx512/hide_avx512.so}
if [ ! -f "$lib" ] || [ "$here/hide_avx512.c" -nt "$lib" ]; then
  mkdir -p "$(dirname "$lib")"
  gcc -O2 -shared -fPIC -o "$lib.tmp" "$here/hide_avx512.c" && mv "$lib.tmp" "$lib"
fi
export SNAPCHECK_CACHE=${SNAPCHECK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/snapcheck-noavx512/cache}
export SNAPCHECK_HOST_PROFILES=${SNAPCHECK_HOST_PROFILES:-${XDG_CACHE_HOME:-$HOME/.cache}/snapcheck-noavx512/hosts}
LD_PRELOAD="$lib${LD_PRELOAD:+:$LD_PRELOAD}" exec "$@"
