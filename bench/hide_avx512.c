/* LD_PRELOAD shim (x86-64 Linux): this process and its children see a CPU without AVX-512, AMX or AVX-VNNI,
   so XNNPACK (and numpy) pick their AVX2/FMA3 kernels: a second CPU, for the estimator's transfer, on one machine.
   The CPUID instruction is made to fault (arch_prctl ARCH_SET_CPUID, kept across fork and clone, reset by
   execve, which LD_PRELOAD repeats); the SIGSEGV handler runs the real CPUID and clears the feature bits of
   leaf 7. Needs the CPU's and the kernel's CPUID faulting (`cpuid_fault` in /proc/cpuinfo's flags). Used by
   bench/hide_avx512.sh. A program that replaces the SIGSEGV handler and then executes CPUID crashes.
   Environment: HIDE_AVX512_KEEP=1 leaves the feature bits alone; HIDE_AVX512_L2_KB=N reports an L2 of N KiB
   (leaf 4's sets, leaf 0x80000006's size): XNNPACK then sizes its GEMM tiles for that L2 (the caches stay). */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

static void raw_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
  __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

static int keep_features;
static uint32_t l2_kib;

static void report_l2(uint32_t leaf, uint32_t r[4]) {
  if (leaf == 4 && ((r[0] >> 5) & 7) == 2 && (r[0] & 31) != 0) {  /* deterministic cache parameters, level 2 */
    uint32_t ways = (r[1] >> 22) + 1, parts = ((r[1] >> 12) & 0x3ff) + 1, line = (r[1] & 0xfff) + 1;
    uint32_t sets = (uint32_t)((uint64_t)l2_kib * 1024 / ((uint64_t)ways * parts * line));
    if (sets) r[2] = sets - 1;
  } else if (leaf == 0x80000006) {
    r[2] = (r[2] & 0xffff) | (l2_kib << 16);
  }
}

static void on_segv(int sig, siginfo_t *si, void *ctx) {
  (void)sig; (void)si;
  ucontext_t *uc = ctx;
  greg_t *g = uc->uc_mcontext.gregs;
  const unsigned char *ip = (const unsigned char *)g[REG_RIP];
  if (ip[0] != 0x0f || ip[1] != 0xa2) { signal(SIGSEGV, SIG_DFL); return; }
  uint32_t leaf = (uint32_t)g[REG_RAX], sub = (uint32_t)g[REG_RCX], r[4];
  syscall(SYS_arch_prctl, ARCH_SET_CPUID, 1);
  raw_cpuid(leaf, sub, r);
  syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0);
  if (l2_kib) report_l2(leaf, r);
  if (keep_features) {
  } else if (leaf == 7 && sub == 0) {
    r[1] &= ~((1u << 16) | (1u << 17) | (1u << 21) | (1u << 26) | (1u << 27) | (1u << 28) | (1u << 30) | (1u << 31));
    r[2] &= ~((1u << 1) | (1u << 6) | (1u << 11) | (1u << 12) | (1u << 14));
    r[3] &= ~((1u << 8) | (1u << 22) | (1u << 23) | (1u << 24) | (1u << 25));
  } else if (leaf == 7 && sub == 1) {
    r[0] &= ~((1u << 4) | (1u << 5));
  }
  g[REG_RAX] = r[0]; g[REG_RBX] = r[1]; g[REG_RCX] = r[2]; g[REG_RDX] = r[3];
  g[REG_RIP] += 2;
}

__attribute__((constructor)) static void mask_init(void) {
  const char *keep = getenv("HIDE_AVX512_KEEP"), *l2 = getenv("HIDE_AVX512_L2_KB");
  keep_features = keep && keep[0] == '1';
  l2_kib = l2 ? (uint32_t)strtoul(l2, 0, 10) : 0;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaction(SIGSEGV, &sa, 0);
  syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0);
}
