"""Device profiles: the host (the shipped ``snapcheck/profiles/host.json``, and the profile fitted on this
machine, if any: paths, reader, writer, the CPU fingerprint that keys them) and the phones of
``rules/devices.toml``.

Host profiles: ``load_host_profile()`` is the shipped one, fitted by a full calibration on the profile author's
machine (``meta.cpu``); ``snapcheck calibrate --quick`` (or a full ``snapcheck calibrate --out``) on another machine
writes ``host_profile_path()``, keyed by that machine's fingerprint, and ``active_host_profile()`` (host
estimates: ``snapcheck bench``, the accuracy benchmark) prefers it. Phone profiles always derive from the
shipped host profile, so a user's calibration never moves a phone estimate.

A phone backend is described by spec figures (peak GFLOP/s, memory bandwidth) and a dense-conv
efficiency fitted to published latencies (see ``docs/estimator.md``). Its per-kind throughputs keep
the host's *relative* efficiencies between kinds:

    F_phone[kind] = peak x thread_speedup x efficiency x min(1, E_host[kind] / E_host["conv"]) / U_host[kind]
    E_host[kind] = F_host[kind] x U_host[kind]: the host throughput of the kind at the reference shape
    (features.REFERENCE, with ``REFERENCE_REDUCTION``), U_host its utilisation terms there; so at the
    reference shape a phone kind runs at the host's relative efficiency (capped at dense conv's)
    BW_phone[kind] = bandwidth x memory_efficiency x DRAM_host[kind] / DRAM_host["other"]  (no cache term)
    k_half, cc_half, c_half: the host's utilisation terms (short reductions, thin rows, cost per pixel)
    no log-linear shape slopes, miss_exp or cache tier: those correct the host's AVX-512 tiles and L2 and were
        fitted at the host's noise level; phones keep the utilisation terms only (as the anchors check)
    kernel_us_phone[kind] = kernel_us_host[kind] x kernel_us_scale + dispatch_us
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import platform
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from snapcheck.errors import InputError, one_line
from snapcheck.estimate.features import REFERENCE, utilisation
from snapcheck.estimate.roofline import Profile
from snapcheck.fsutil import atomic_write_json
from snapcheck.paths import rules_dir
from snapcheck.tomlread import read_toml

HOST_PROFILE = Path(__file__).resolve().parents[1] / "profiles" / "host.json"  # committed: CI needs no calibration

# Multiply-adds per output element at the reference shape (3x3 window, 64 input channels).
REFERENCE_REDUCTION = {"conv": 9 * REFERENCE["cin"], "pointwise": REFERENCE["cin"], "fc": REFERENCE["cin"],
                       "deconv": 9 * REFERENCE["cin"] // 4, "depthwise": 9, "pool": 9, "matmul": REFERENCE["cin"],
                       "depthwise_large": 49}


def reference_utilisation(host: Profile, kind: str) -> float:
    """The host's utilisation terms of ``kind`` at the reference shape."""
    return utilisation(REFERENCE_REDUCTION.get(kind, 1), host.k_half.get(kind, 0.0)) * \
        utilisation(REFERENCE["channels"], host.cc_half.get(kind, 0.0))


def profile_from_json(d: dict[str, Any]) -> Profile:
    """A profile from its JSON document (a profile written before a key existed gets that key's default)."""
    d = dict(d)
    d["range_factors"] = tuple(d.get("range_factors", (0.85, 1.2)))
    if "beyond_cache_gflops" in d:  # a --quick profile written before groups other than ``fc:beyond`` existed
        d["group_gflops"] = {f"{k}:beyond": v for k, v in d.pop("beyond_cache_gflops").items()}
    return Profile(**d)


def profile_to_json(p: Profile) -> dict[str, Any]:
    """The JSON document of a profile (the inverse of ``profile_from_json``)."""
    d = asdict(p)
    d["range_factors"] = list(p.range_factors)
    return d


def read_profile(path: str | Path) -> Profile:
    """The profile saved at ``path`` (InputError naming the file when it is not one: edited, cut short, or
    written by another version)."""
    path = Path(path)
    try:
        return profile_from_json(json.loads(path.read_text()))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # JSON, UTF-8, missing or unknown fields
        fitted_here = path.parent == host_profile_dir()
        raise InputError(path, f"not a snapcheck profile ({type(exc).__name__}: {one_line(exc, 120)})"
                         + ("; run `snapcheck calibrate --quick` again to rewrite it, or delete it" if fitted_here
                            else "")) from None


def write_profile(path: str | Path, profile: Profile) -> None:
    """Save ``profile`` at ``path``, atomically (``snapcheck calibrate`` and its stages)."""
    atomic_write_json(path, profile_to_json(profile))


@lru_cache(maxsize=4)
def load_host_profile(path: str | None = None) -> Profile:
    """The shipped host profile (committed data; a full ``snapcheck calibrate`` rewrites it), read once per path.
    Phone profiles derive from it."""
    return read_profile(path or HOST_PROFILE)


CPU_ID_FIELDS = ("cpu family", "model", "stepping")  # with the model name, what tells two x86 CPUs apart
# What tells two ARM cores apart where Linux lists no model name (aarch64): the designer and its part number
# (0x41 0xd0c: Arm's Neoverse N1; 0xd40: Neoverse V1), its variant and revision.
ARM_ID_FIELDS = ("CPU implementer", "CPU part", "CPU variant", "CPU revision")


@lru_cache(maxsize=1)
def cpu_name() -> str:
    """This machine's CPU as ``/proc/cpuinfo`` names it, with its family, model and stepping (virtual machines
    often report a generic name, "Intel(R) Xeon(R) Processor", for CPUs of different generations and speeds);
    else macOS's (``mac_cpu_name``); else ``platform``'s name."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    return cpu_name_from(text) or mac_cpu_name() or platform.processor() or platform.machine()


def mac_sysctl(key: str) -> str:
    """macOS's ``sysctl -n key`` (whitespace folded); "" elsewhere, or when it fails or the key is unknown."""
    if platform.system() != "Darwin":
        return ""
    import subprocess  # macOS only: kept off the check path's imports elsewhere

    try:
        out = subprocess.run(["sysctl", "-n", key], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return ""
    return " ".join(out.stdout.split()) if out.returncode == 0 else ""


def mac_cpu_name() -> str:
    """macOS's name for its CPU ("Apple M2 Pro", "Intel(R) Core(TM) i7-9750H CPU @ 2.60GHz"), which has no
    /proc/cpuinfo and whose ``platform.processor()`` says only "arm" or "i386"; "" elsewhere."""
    return mac_sysctl("machdep.cpu.brand_string")


def cpu_name_from(cpuinfo: str) -> str:
    """The CPU's name in ``/proc/cpuinfo`` text, with its ``CPU_ID_FIELDS``; an ARM core without a model name
    by its ``ARM_ID_FIELDS`` ("" with neither)."""
    fields: dict[str, str] = {}
    for line in cpuinfo.split("\n\n", 1)[0].splitlines():  # the first processor
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    name = fields.get("model name", "")
    ids = [f"{k} {fields[k]}" for k in CPU_ID_FIELDS if fields.get(k)]
    if not name and fields.get("CPU part"):
        name, ids = "ARM", [f"{k.removeprefix('CPU ')} {fields[k]}" for k in ARM_ID_FIELDS if fields.get(k)]
    return f"{name} ({', '.join(ids)})" if name and ids else name


def _litert_version() -> str:
    """The installed LiteRT's version from its wheel's ``.dist-info`` folder name ("?" without one): what
    ``importlib.metadata.version`` says, without importing importlib.metadata (email, zipfile, socket: 10 ms
    of every check's start)."""
    spec = importlib.util.find_spec("ai_edge_litert")
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        for info in Path(folder).parent.glob("ai_edge_litert-*.dist-info"):
            return info.name[len("ai_edge_litert-"):-len(".dist-info")]
    return "?"


@lru_cache(maxsize=4)
def host_fingerprint(threads: int = 1) -> str:
    """Identifies the machine, runtime and thread count a host profile or a cache of measurements belongs to:
    the CPU (``cpu_name``: name, family, model, stepping), the LiteRT version (without importing it) and the threads."""
    blob = f"{cpu_name()}|{_litert_version()}|{threads}|thread-cpu-time"
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def host_profile_dir() -> Path:
    """Where host profiles fitted on this machine live (``SNAPCHECK_HOST_PROFILES`` or
    ``~/.config/snapcheck/hosts``)."""
    return Path(os.environ.get("SNAPCHECK_HOST_PROFILES", Path.home() / ".config" / "snapcheck" / "hosts"))


def host_profile_path(fingerprint: str | None = None) -> Path:
    """The host profile of the machine with ``fingerprint`` (default: this one, 1 thread)."""
    return host_profile_dir() / f"host-{fingerprint or host_fingerprint(1)}.json"


def active_host_profile_path() -> Path:
    """Where the host profile for host estimates is: this machine's (``host_profile_path``) when one was fitted
    here, else the shipped one."""
    path = host_profile_path()
    return path if path.is_file() else HOST_PROFILE


def active_host_profile() -> Profile:
    """The host profile for host estimates (``active_host_profile_path``)."""
    path = active_host_profile_path()
    return load_host_profile() if path == HOST_PROFILE else load_host_profile(str(path))


HOST_NOTE_PREFIX = "host profile: "  # how ``HostProfileStatus.note`` begins
NOISY = 0.05  # the median probe's passes of ``calibrate --quick`` differ by more (max/min - 1): a machine whose speed
# changes (``calibrate.quick.host_noise``)


def noise_note(spread: float) -> str:
    """What ``calibrate --quick`` and ``bench`` say of a machine whose probes' passes differed by ``spread``."""
    return (f"Its probes' timings moved by {spread:.0%} between passes: this machine's speed changes (other work on "
            "it or its host, or a varying clock), and host latency measured here varies by as much.")


@dataclass
class HostProfileStatus:
    """Which host profile host estimates use, and whether it was fitted on this CPU."""

    path: Path
    fitted_on: str  # fingerprint
    fitted_cpu: str
    this_host: str
    this_cpu: str
    quick: bool  # adapted by ``calibrate --quick`` (else a full calibration)
    noise: float = 0.0  # how far its probes' passes moved there (``meta.quick.noise.spread``)

    @property
    def here(self) -> bool:
        return self.fitted_on == self.this_host

    @property
    def noisy(self) -> bool:
        """Its calibration saw this machine's speed change (``NOISY``)."""
        return self.noise > NOISY

    def note(self) -> str:
        """One line for ``snapcheck check`` and ``bench``."""
        if self.here:
            how = "adapted to it by `snapcheck calibrate --quick`" if self.quick else "fully calibrated on it"
            noisy = f" {noise_note(self.noise)}" if self.noisy else ""
            return f"{HOST_NOTE_PREFIX}{self.path.name}, {how} ({self.this_cpu}).{noisy}"
        return (f"{HOST_NOTE_PREFIX}fitted on another CPU ({self.fitted_cpu or self.fitted_on}; this one: {self.this_cpu}), "
                "so host latency estimates may be off by 10-50%. `snapcheck calibrate --quick` (2-5 minutes) times a "
                "fixed set of probe kernels and networks and refits each kernel kind's compute speed, the memory "
                "speed, the per-kernel cost and the in-network slowdown for this CPU, and measures what re-reading "
                "weights its last-level cache does not keep costs; "
                "phone estimates do not change.")


def strip_host_note(stderr: str) -> str:
    """``stderr`` without the lines of ``HostProfileStatus.note`` that ``check`` and ``bench`` print on a CPU
    other than the profile's: information, not a problem, for harnesses that treat any other stderr as one."""
    return "".join(line for line in stderr.splitlines(keepends=True) if not line.startswith(HOST_NOTE_PREFIX))


def host_profile_status() -> HostProfileStatus:
    """The active host profile and this machine (``HostProfileStatus``)."""
    p = active_host_profile()
    quick = p.meta.get("quick") or {}
    return HostProfileStatus(active_host_profile_path(), str(p.meta.get("calibrated_on", "")),
                             str(p.meta.get("cpu", "")), host_fingerprint(1), cpu_name(), bool(quick),
                             float((quick.get("noise") or {}).get("spread", 0.0)))


@dataclass
class Backend:
    """One device and backend from ``devices.toml``."""

    device: str
    name: str
    backend: str
    reference: bool  # a reference device of the frame-rate rules
    peak_gflops: float
    bandwidth_gbs: float
    efficiency: float
    memory_efficiency: float
    kernel_us_scale: float
    overhead_ms: float
    range_factors: tuple[float, float]
    fuses: str
    simd: int
    int8_speedup: float
    thread_speedup: float = 1.0  # multi-core speedup over one core (peak_gflops is per core when this is > 1)
    dispatch_us: float = 0.0  # fixed cost per kernel on top of the host's, e.g. a GPU kernel launch
    bytes_scale: float = 1.0  # 0.5 for GPUs that hold fp32 tensors as fp16
    not_faster_than: str | None = None  # another backend of the device that this one never beats
    confidence: str = "low"
    notes: dict[str, Any] = field(default_factory=dict)

    def profile(self, host: Profile) -> Profile:
        util = {k: reference_utilisation(host, k) for k in host.gflops}
        conv = host.gflops["conv"] * util["conv"]
        dram = {k: host.dram(k) for k in host.bandwidth_gbs}
        bw = {k: self.bandwidth_gbs * self.memory_efficiency * v / dram["other"] for k, v in dram.items()}
        return Profile(
            device=self.device, backend=self.backend, overhead_ms=self.overhead_ms,
            gflops={k: self.peak_gflops * self.thread_speedup * self.efficiency * min(1.0, v * util[k] / conv) / util[k]
                    for k, v in host.gflops.items()},
            bandwidth_gbs=bw, dram_gbs=bw, cache_bytes=0.0, k_half=dict(host.k_half), c_half=dict(host.c_half),
            cc_half=dict(host.cc_half),
            kernel_us={k: v * self.kernel_us_scale + self.dispatch_us for k, v in host.kernel_us.items()},
            simd=self.simd, int8_speedup=self.int8_speedup, quant_speedup={}, fuses=self.fuses,
            range_factors=self.range_factors, bytes_scale=self.bytes_scale,
            meta={"name": self.name, "confidence": self.confidence},
        )


def _value(entry: Any) -> Any:
    """A figure is either a bare value or a table ``{value = ..., source = ..., confidence = ...}``."""
    return entry["value"] if isinstance(entry, dict) and "value" in entry else entry


@lru_cache(maxsize=8)
def load_devices(path: str | None = None, section: str = "devices") -> tuple[Backend, ...]:
    """Every (device, backend) of ``devices.toml``, in file order (``section="anchors"``: the phones with
    published latencies that the efficiencies are fitted on)."""
    data = read_toml(Path(path or rules_dir() / "devices.toml"))
    out = []
    for dev_id, dev in data.get(section, {}).items():
        for backend, b in dev.get("backends", {}).items():
            out.append(Backend(
                device=dev_id, name=dev["name"], backend=backend, reference=bool(dev.get("reference", False)),
                peak_gflops=float(_value(b["peak_gflops"])), bandwidth_gbs=float(_value(b["bandwidth_gbs"])),
                efficiency=float(_value(b["efficiency"])), memory_efficiency=float(_value(b["memory_efficiency"])),
                kernel_us_scale=float(_value(b["kernel_us_scale"])), overhead_ms=float(_value(b["overhead_ms"])),
                range_factors=tuple(float(x) for x in _value(b["range_factors"])), fuses=b.get("fuses", "gpu"),
                simd=int(b.get("simd", 4)), int8_speedup=float(_value(b.get("int8_speedup", 1.0))),
                thread_speedup=float(_value(b.get("thread_speedup", 1.0))),
                dispatch_us=float(_value(b.get("dispatch_us", 0.0))),
                bytes_scale=float(_value(b.get("bytes_scale", 1.0))),
                not_faster_than=b.get("not_faster_than"), confidence=b.get("confidence", "low"),
                notes={k: v for k, v in b.items() if isinstance(v, (dict, list))},
            ))
    return tuple(out)
