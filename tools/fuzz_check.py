"""Structure-aware fuzzing of `snapcheck check`, built on hypothesis.

Each input is a real model (the shipped catface models, the third-party corpus, the fuzz-repro files)
changed field by field: the ONNX protobuf through its descriptors (any field of any message: numbers,
names, dims, data types, attribute types, external-data locations, whole messages deleted, duplicated or
copied elsewhere), the TFLite flatbuffer through the LiteRT schema's object API (every table field,
vector and union, quantization and sparsity tables created where there were none), and flatbuffer
vectors made shared between tables by rewriting their offsets. Names can get invalid UTF-8 or rich markup,
external data can point at files, links, folders and FIFOs around the model.

Every input is checked by `snapcheck check` in a forked child (exit code, wall time, memory growth,
stderr, and the report parsed as JSON or XML). The contract: exit 0 or 1 with a report that parses and
nothing on stderr, or exit 2 with one line that is not an internal error (a bug the CLI caught and logged to
``crash.log``); never exit 3, a traceback, a warning, a hang (``--timeout-s``),
more than ``--slow-s`` seconds or more than ``--max-mb`` of memory growth. hypothesis shrinks a broken
input to a minimal one, which is saved under ``--out`` with its outcome.

    .venv/bin/python tools/fuzz_check.py --minutes 30 --out out/fuzz      # a campaign; Ctrl-C stops it
    .venv/bin/python tools/fuzz_check.py --examples 200 --seed 0           # a fixed run (what CI does)
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import os
import re
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import seed as hypothesis_seed  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
INTS = [0, 1, -1, 2, 3, 4, 7, 8, 16, 255, 256, 1000, 2**15, 2**16 - 1, 2**16, 2**24, 2**31 - 1, -2**31, 2**32,
        2**40, 2**62, 2**63 - 1, -2**63]
FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, 1e-8, 1e-45, 65504.0, 65520.0, 3.4e38, math.inf, -math.inf, math.nan]
BAD_UTF8 = b"ZZBADUTF8ZZ"  # a name holding this becomes invalid UTF-8 of the same length after serialising
BAD_BYTES = b"\xff\xfe\x85name\xc0\x80\xed\x00"
assert len(BAD_BYTES) == len(BAD_UTF8)
LOCATIONS = ["data.bin", "sub/data.bin", "../outside.bin", "/etc/hostname", "C:\\data.bin", "link_out.bin",
             "folder", "fifo", "missing.bin", "data.bin\\..\\..\\x", "file:///etc/hostname", "./data.bin",
             "loop.bin", "dev_null"]
MARKUP = ["[/]", "[bold]x", "[link=file:///etc/hostname]x", "batch_size", "\\[x]", "x\\"]  # rich markup in names
MAX_INPUT_BYTES = 16 << 20


# -- seeds --------------------------------------------------------------------------------------------


def seed_files(small: bool = False, real_only: bool = False) -> list[Path]:
    """Real models to start from: the shipped ones, the test fixtures exported by PyTorch and Snap's quantizer,
    the third-party corpus, and (unless ``real_only``) the fuzz-repro files; those the mutators can take apart."""
    files = sorted((ROOT / "models").glob("*/*.onnx")) + sorted((ROOT / "models").glob("*/*.tflite"))
    files += sorted((ROOT / "tests" / "data").glob("*/*.onnx")) + sorted((ROOT / "tests" / "data").glob("*/*.tflite"))
    for folder in (SHARED / "corpus",) + (() if real_only else (SHARED / "fuzz-repro",)):
        if folder.is_dir():
            files += sorted(p for p in folder.iterdir() if p.suffix in (".onnx", ".tflite", ".bin")
                            and p.stat().st_size <= (300_000 if small else 5_000_000))
    return [p for p in files if _parses(p.read_bytes())]


def _parses(data: bytes) -> bool:
    """Whether the mutators can take the file apart and put it together again, in reasonable size and time."""
    import flatbuffers

    t0 = time.perf_counter()
    try:
        if is_tflite(data):
            b = flatbuffers.Builder(1024)
            b.Finish(_schema().ModelT.InitFromPackedBuf(data, 0).Pack(b), file_identifier=b"TFL3")
            size = len(b.Output())
        else:
            size = len(_onnx_pb().ModelProto.FromString(data).SerializeToString())
    except Exception:  # noqa: BLE001 - any failure: not a seed the mutators can use
        return False
    return size <= MAX_INPUT_BYTES // 2 and time.perf_counter() - t0 < 2.0


def is_tflite(data: bytes) -> bool:
    return data[4:8] == b"TFL3"


# -- ONNX: mutate protobuf messages through their descriptors -----------------------------------------


def _onnx_pb():
    from onnx import onnx_ml_pb2

    return onnx_ml_pb2


@dataclass
class Site:
    msg: Any
    fd: Any
    index: int | None  # element of a repeated field, None for the field as a whole


def onnx_sites(model: Any) -> tuple[list[Site], dict[str, list[Any]], list[str]]:
    """Every field of every message (set or not), messages by type, and the names the model uses."""
    sites: list[Site] = []
    by_type: dict[str, list[Any]] = {}
    names: list[str] = []
    stack = [model]
    while stack:
        msg = stack.pop()
        by_type.setdefault(msg.DESCRIPTOR.full_name, []).append(msg)
        for fd in msg.DESCRIPTOR.fields:
            repeated = _repeated(fd)
            if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
                continue
            sites.append(Site(msg, fd, None))
            if repeated:
                values = getattr(msg, fd.name)
                if fd.type == fd.TYPE_BYTES or len(values) > 64:
                    continue
                for i, v in enumerate(values):
                    sites.append(Site(msg, fd, i))
                    if fd.type == fd.TYPE_MESSAGE:
                        stack.append(v)
                    elif fd.type == fd.TYPE_STRING:
                        names.append(v)
            elif fd.type == fd.TYPE_MESSAGE and msg.HasField(fd.name):
                stack.append(getattr(msg, fd.name))
            elif fd.type == fd.TYPE_STRING and getattr(msg, fd.name):
                names.append(getattr(msg, fd.name))
    return sites, by_type, sorted(set(names))


def _repeated(fd: Any) -> bool:
    """Whether a protobuf field is repeated (``is_repeated`` in protobuf 6+, ``label`` before)."""
    flag = getattr(fd, "is_repeated", None)
    return bool(flag) if flag is not None else fd.label == fd.LABEL_REPEATED


def _int_range(fd: Any) -> tuple[int, int]:
    t = fd.type
    if t in (fd.TYPE_UINT64, fd.TYPE_FIXED64):
        return 0, 2**64 - 1
    if t in (fd.TYPE_UINT32, fd.TYPE_FIXED32):
        return 0, 2**32 - 1
    if t in (fd.TYPE_INT32, fd.TYPE_SINT32, fd.TYPE_SFIXED32, fd.TYPE_ENUM):
        return -2**31, 2**31 - 1
    return -2**63, 2**63 - 1


def _scalar(data: Any, fd: Any, names: list[str]) -> Any:
    """A value for one scalar of field ``fd``, drawn to hit edges."""
    if fd.type == fd.TYPE_BOOL:
        return data.draw(st.booleans())
    if fd.type in (fd.TYPE_FLOAT, fd.TYPE_DOUBLE):
        return data.draw(st.sampled_from(FLOATS) | st.floats(allow_nan=True, width=32))
    if fd.type == fd.TYPE_STRING:
        pool = [*names, "", BAD_UTF8.decode(), "x" * 300, *LOCATIONS, *MARKUP, "Conv", "If", "Relu", "com.microsoft",
                "ai.onnx.ml", "location", "offset", "length"]
        return data.draw(st.sampled_from(pool))
    if fd.type == fd.TYPE_BYTES:
        return data.draw(st.binary(max_size=64))
    if fd.type == fd.TYPE_ENUM:
        return data.draw(st.sampled_from([v.number for v in fd.enum_type.values] + [99]))
    lo, hi = _int_range(fd)
    return data.draw(st.sampled_from([v for v in INTS if lo <= v <= hi]) | st.integers(max(lo, -64), min(hi, 64)))


ONNX_KINDS = ("set", "delete", "duplicate", "copy_other", "clear", "append", "reverse", "bytes", "external",
              "custom_domain")


def mutate_onnx(model: Any, data: Any) -> None:
    """One field-level change of ``model`` in place (may raise ValueError/TypeError: the caller rejects)."""
    sites, by_type, names = onnx_sites(model)
    site = sites[data.draw(st.integers(0, len(sites) - 1), label="site")]
    kind = data.draw(st.sampled_from(ONNX_KINDS), label="kind")
    msg, fd = site.msg, site.fd
    repeated = _repeated(fd)
    if kind == "external":
        _make_external(data, by_type)
        return
    if kind == "custom_domain":  # a node of a builtin's name in a domain the model imports: not that builtin
        nodes = by_type.get("onnx.NodeProto", [])
        if nodes:
            nodes[data.draw(st.integers(0, len(nodes) - 1))].domain = "com.example"
            if not any(o.domain == "com.example" for o in model.opset_import):
                model.opset_import.add(domain="com.example", version=1)
        return
    if kind == "bytes" and fd.type == fd.TYPE_BYTES and not repeated:
        raw = getattr(msg, fd.name)
        cut = data.draw(st.integers(0, max(len(raw), 1)))
        pattern = data.draw(st.sampled_from([b"", b"\x00\x7c", b"\xff\x7f\x00\x00", b"\x00\x00\x80\x7f", b"\x01"]))
        setattr(msg, fd.name, raw[:cut] + pattern * data.draw(st.integers(0, 8)))
        return
    if fd.type == fd.TYPE_MESSAGE:
        others = by_type.get(fd.message_type.full_name, [])
        target = getattr(msg, fd.name)
        if repeated:
            if kind == "delete" and site.index is not None:
                del target[site.index]
            elif kind in ("duplicate", "append") and site.index is not None:
                source = copy.deepcopy(target[site.index])
                for _ in range(data.draw(st.integers(1, 3))):
                    target.add().CopyFrom(source)
            elif kind == "copy_other" and others:
                # A snapshot first: the message copied may hold the very list it is copied into.
                source = copy.deepcopy(others[data.draw(st.integers(0, len(others) - 1))])
                target.add().CopyFrom(source)
            elif kind == "reverse" and len(target) > 1:
                items = [copy.deepcopy(x) for x in target][::-1]
                del target[:]
                target.extend(items)
            elif kind == "clear":
                del target[:]
            elif site.index is not None:
                _mutate_inside(target[site.index], data, names)
        elif kind == "clear":
            msg.ClearField(fd.name)
        elif kind == "copy_other" and others:
            source = copy.deepcopy(others[data.draw(st.integers(0, len(others) - 1))])
            target.CopyFrom(source)
        else:
            _mutate_inside(target, data, names)
        return
    if repeated:
        values = getattr(msg, fd.name)
        if kind == "delete" and site.index is not None:
            del values[site.index]
        elif kind == "duplicate" and site.index is not None:
            values.append(values[site.index])
        elif kind == "append":
            for _ in range(data.draw(st.integers(1, 40))):
                values.append(_scalar(data, fd, names))
        elif kind == "reverse":
            items = list(values)[::-1]
            del values[:]
            values.extend(items)
        elif kind == "clear":
            del values[:]
        elif site.index is not None:
            values[site.index] = _scalar(data, fd, names)
        else:
            values.append(_scalar(data, fd, names))
        return
    if kind == "clear":
        msg.ClearField(fd.name)
    else:
        setattr(msg, fd.name, _scalar(data, fd, names))


def _mutate_inside(msg: Any, data: Any, names: list[str]) -> None:
    fields = list(msg.DESCRIPTOR.fields)
    fd = fields[data.draw(st.integers(0, len(fields) - 1))]
    if fd.type == fd.TYPE_MESSAGE or (fd.message_type is not None):
        msg.ClearField(fd.name)
    elif _repeated(fd):
        getattr(msg, fd.name).append(_scalar(data, fd, names))
    else:
        setattr(msg, fd.name, _scalar(data, fd, names))


def _make_external(data: Any, by_type: dict[str, list[Any]]) -> None:
    """Move a tensor's data out to a location drawn among files, links, folders and escapes around the model."""
    tensors = by_type.get("onnx.TensorProto", [])
    if not tensors:
        return
    pb = _onnx_pb()
    t = tensors[data.draw(st.integers(0, len(tensors) - 1))]
    t.ClearField("raw_data")
    t.data_location = pb.TensorProto.EXTERNAL
    del t.external_data[:]
    t.external_data.add(key="location", value=data.draw(st.sampled_from(LOCATIONS)))
    if data.draw(st.booleans()):
        t.external_data.add(key="offset", value=str(data.draw(st.sampled_from([0, 1, 4, 4096, 2**40, -4]))))
    if data.draw(st.booleans()):
        t.external_data.add(key="length", value=str(data.draw(st.sampled_from([0, 4, 16, 4096, 2**31, -1]))))


def _depth(msg: Any, limit: int) -> int:
    """Nesting depth of a message, counted without recursion (protobuf's C code recurses, and a message copied
    into its own descendant can nest deeper than the C stack holds); stops counting past ``limit``."""
    deepest, stack = 0, [(msg, 1)]
    while stack:
        m, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > limit:
            return deepest
        for fd, value in m.ListFields():
            if fd.type == fd.TYPE_MESSAGE:
                stack.extend((v, d + 1) for v in (value if _repeated(fd) else [value]))
    return deepest


def onnx_input(seed: bytes, data: Any) -> bytes | None:
    pb = _onnx_pb()
    model = pb.ModelProto.FromString(seed)
    for _ in range(data.draw(st.integers(1, 6), label="mutations")):
        try:
            mutate_onnx(model, data)
        except (ValueError, TypeError, IndexError, KeyError, OverflowError, RecursionError):
            return None  # a value the field cannot hold: not an input
        if _depth(model, 90) > 90:
            return None  # past protobuf's parse limit (100): refused on read; too deep to serialise here
    try:
        out = model.SerializeToString()
    except (ValueError, RecursionError):
        return None
    return out.replace(BAD_UTF8, BAD_BYTES)


# -- TFLite: mutate tables through the LiteRT schema's object API, then share vectors ------------------


def _schema():
    from ai_edge_litert import schema_py_generated as S

    return S


def tflite_sites(model: Any) -> list[tuple[Any, str, int | None]]:
    """(object, attribute, element index or None) for every attribute of every table of the object tree."""
    sites: list[tuple[Any, str, int | None]] = []
    stack = [model]
    while stack:
        obj = stack.pop()
        for attr, v in vars(obj).items():
            sites.append((obj, attr, None))
            if isinstance(v, list):
                for i, item in enumerate(v[:64]):
                    sites.append((obj, attr, i))
                    if hasattr(item, "__dict__"):
                        stack.append(item)
            elif isinstance(v, np.ndarray) and v.ndim == 1:
                sites.extend((obj, attr, i) for i in range(min(len(v), 16)))
            elif hasattr(v, "__dict__") and not isinstance(v, type):
                stack.append(v)
    return sites


def _number(data: Any, like: Any) -> Any:
    if isinstance(like, (float, np.floating)):
        return data.draw(st.sampled_from(FLOATS))
    return data.draw(st.sampled_from([v for v in INTS if -2**31 <= v < 2**31]) | st.integers(-2, 40))


_NEW_TABLES = {"quantization": "QuantizationParametersT", "sparsity": "SparsityParametersT"}
TFLITE_KINDS = ("set", "delete", "duplicate", "clear", "append", "reverse", "create", "grow")


def mutate_tflite(model: Any, data: Any) -> None:
    S = _schema()
    sites = tflite_sites(model)
    obj, attr, index = sites[data.draw(st.integers(0, len(sites) - 1), label="site")]
    kind = data.draw(st.sampled_from(TFLITE_KINDS), label="kind")
    v = getattr(obj, attr)
    if kind == "create" and attr in _NEW_TABLES:
        table = getattr(S, _NEW_TABLES[attr])()
        if attr == "quantization":
            table.scale = [0.5] * data.draw(st.integers(1, 5))
            table.zeroPoint = [0] * data.draw(st.integers(0, 5))
            table.quantizedDimension = data.draw(st.sampled_from([0, 1, 3, 4, 99, -1]))
        else:
            table.traversalOrder = data.draw(st.lists(st.integers(-1, 6), max_size=6))
            table.blockMap = data.draw(st.lists(st.integers(-1, 4), max_size=2))
            dim = S.DimensionMetadataT()
            dim.format = data.draw(st.sampled_from([0, 1, 2]))
            dim.denseSize = data.draw(st.sampled_from([0, 1, 4, -5]))
            table.dimMetadata = [dim] * data.draw(st.integers(0, 4))
        setattr(obj, attr, table)
        return
    if kind == "clear":
        setattr(obj, attr, None if not isinstance(v, (int, float)) else 0)
        return
    if isinstance(v, (list, np.ndarray)):
        items = list(v)
        if kind == "delete" and index is not None and index < len(items):
            del items[index]
        elif kind == "duplicate" and index is not None and index < len(items):
            items[index + 1:index + 1] = [items[index]] * data.draw(st.integers(1, 3))
        elif kind == "reverse":
            items.reverse()
        elif kind == "grow" and items:
            items = items * data.draw(st.sampled_from([2, 10, 100]))
        elif index is not None and index < len(items) and isinstance(items[index], (int, float, np.number)):
            items[index] = _number(data, items[index])
        elif items and isinstance(items[0], (int, float, np.number)):
            items.append(_number(data, items[0]))
        if isinstance(v, np.ndarray):
            items = np.array(items, dtype=v.dtype) if items else np.array([], dtype=v.dtype)
        setattr(obj, attr, items)
        return
    if isinstance(v, (bytes, str)):
        setattr(obj, attr, data.draw(st.sampled_from([b"", BAD_BYTES, b"x" * 300, b"Flex" + bytes(v[:8] or b"Op"),
                                                      *(m.encode() for m in MARKUP)])))
        return
    if isinstance(v, bool):
        setattr(obj, attr, not v)
    elif isinstance(v, (int, float, np.number)):
        setattr(obj, attr, _number(data, v))


def tflite_input(seed: bytes, data: Any) -> bytes | None:
    import flatbuffers

    S = _schema()
    try:
        model = S.ModelT.InitFromPackedBuf(seed, 0)
    except Exception:  # noqa: BLE001 - a seed the object API cannot unpack (hostile already): use it as is
        return None
    try:
        for _ in range(data.draw(st.integers(0, 5), label="mutations")):
            mutate_tflite(model, data)
    except (ValueError, TypeError, IndexError, OverflowError):
        return None  # a value the field cannot hold: not an input
    try:
        b = flatbuffers.Builder(1024)
        b.Finish(model.Pack(b), file_identifier=b"TFL3")
        out = bytes(b.Output())
    except Exception:  # noqa: BLE001 - the object API refuses the values: not an input
        return None
    if data.draw(st.booleans(), label="share"):
        out = share_vectors(out, data)
    return out


def share_vectors(buf: bytes, data: Any) -> bytes:
    """Point vector fields of several tables (tensor shapes, op inputs/outputs, reshape targets) at one vector."""
    import tflite

    raw = bytearray(buf)
    model = tflite.Model.GetRootAs(buf, 0)
    fields: dict[str, list[tuple[int, int]]] = {}  # kind -> [(position of the offset, position of the vector)]

    def note(kind: str, tab: Any, slot: int) -> None:
        o = tab.Offset(slot)
        if o:
            fields.setdefault(kind, []).append((tab.Pos + o, tab.Vector(o) - 4))

    for s in range(min(model.SubgraphsLength(), 4)):
        sg = model.Subgraphs(s)
        for k in range(min(sg.TensorsLength(), 200)):
            note("shape", sg.Tensors(k)._tab, 4)
        for k in range(min(sg.OperatorsLength(), 200)):
            op = sg.Operators(k)
            note("io", op._tab, 6)
            note("io", op._tab, 8)
            opts = op.BuiltinOptions()
            if opts is not None and op.BuiltinOptionsType() == tflite.BuiltinOptions.ReshapeOptions:
                from flatbuffers.table import Table

                note("shape", Table(opts.Bytes, opts.Pos), 4)
    kinds = sorted(k for k, v in fields.items() if len(v) > 1)
    if not kinds:
        return buf
    entries = fields[data.draw(st.sampled_from(kinds))]
    target = entries[data.draw(st.integers(0, len(entries) - 1))][1]
    chosen = entries if data.draw(st.booleans()) else [entries[data.draw(st.integers(0, len(entries) - 1))]]
    for pos, _ in chosen:
        rel = target - pos
        if 0 < rel < 2**32:
            raw[pos:pos + 4] = rel.to_bytes(4, "little")
    return bytes(raw)


# -- running one input -----------------------------------------------------------------------------


@dataclass
class Outcome:
    rc: int | str  # exit code, or "timeout"
    wall_s: float
    grew_mb: float
    stderr: str
    problem: str = ""  # why it breaks the contract ("" when it keeps it)

    def signature(self) -> str:
        first = self.stderr.strip().splitlines()[0] if self.stderr.strip() else ""
        problem = re.sub(r"^snapcheck: (internal )?error: (\S*input\.(onnx|tflite): )?", "", first)
        kind = re.sub(r"[0-9]+", "N", re.sub(r"'[^']*'", "'…'", problem))[:80]
        return f"{self.problem}|{self.rc}|{kind}"


def _rss_kb(field_name: str, pid: int | str = "self") -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_check(path: Path, fmt: str, timeout_s: float, slow_s: float, max_mb: float) -> Outcome:
    """`snapcheck check PATH --format FMT` in a forked child; judged against the contract."""
    from snapcheck import cli

    err_path, out_path, peak_path = (path.with_suffix(path.suffix + ext) for ext in (".err", ".out", ".peak"))
    base_kb = _rss_kb("VmRSS")
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: run the CLI as `snapcheck` would, report its memory high-water mark
        code = 70
        try:
            fd_err = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            fd_out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(fd_err, 2)
            os.dup2(fd_out, 1)
            sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 - the streams of this process from now on
            sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
            sys.argv = ["snapcheck", "check", str(path), "--ls-version", "5.x", "--format", fmt]
            try:
                cli.main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except BaseException:  # noqa: BLE001 - anything escaping main is a traceback
                import traceback

                traceback.print_exc()
                code = 71
            sys.stdout.flush()
            sys.stderr.flush()
            Path(peak_path).write_text(str(_rss_kb("VmHWM")))
        finally:
            os._exit(code)
    status = None
    while time.perf_counter() - t0 < timeout_s:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.002)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        return Outcome("timeout", timeout_s, 0.0, "", problem="timeout")
    wall = time.perf_counter() - t0
    rc = os.waitstatus_to_exitcode(status)
    stderr = err_path.read_text(errors="replace") if err_path.exists() else ""
    peak = int(peak_path.read_text() or 0) if peak_path.exists() else 0
    outcome = Outcome(rc, wall, max(0.0, (peak - base_kb) / 1024), stderr)
    outcome.problem = _judge(outcome, out_path, fmt, slow_s, max_mb)
    for p in (err_path, out_path, peak_path):
        p.unlink(missing_ok=True)
    return outcome


def _judge(o: Outcome, out_path: Path, fmt: str, slow_s: float, max_mb: float) -> str:
    from snapcheck.cli import INTERNAL_ERROR
    from snapcheck.estimate.profiles import strip_host_note

    lines = strip_host_note(o.stderr).strip().splitlines()  # on another CPU check notes the host profile
    if "Traceback" in o.stderr:
        return "traceback"
    if o.rc not in (0, 1, 2):
        return f"exit {o.rc}"
    if o.wall_s > slow_s:
        return "slow"
    if o.grew_mb > max_mb:
        return "memory"
    if o.rc == 2:
        if len(lines) != 1:
            return "exit 2 without one line"
        if "malformed ONNX model (" in lines[0]:
            return "masked exception"
        if INTERNAL_ERROR in lines[0]:  # a bug the CLI caught: one line and exit 2, but a bug
            return "internal error"
        return ""
    if lines:
        return "stderr output"
    text = out_path.read_text(errors="strict") if out_path.exists() else ""
    try:
        if fmt in ("json", "sarif"):
            json.loads(text, parse_constant=_not_json)  # strict: no NaN or Infinity
        elif fmt == "junit":
            ET.fromstring(text.encode())
    except (ValueError, ET.ParseError) as exc:
        return f"report does not parse ({type(exc).__name__})"
    return ""


def _not_json(token: str) -> None:
    raise ValueError(f"{token} is not JSON")


def prepare_folder(folder: Path) -> None:
    """What external-data locations may meet beside the model: a data file, links out, a folder, a FIFO."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data.bin").write_bytes(np.arange(4096, dtype=np.float32).tobytes())
    (folder / "sub").mkdir(exist_ok=True)
    (folder / "sub" / "data.bin").write_bytes(bytes(64))
    (folder / "folder").mkdir(exist_ok=True)
    for name, target in (("link_out.bin", "/etc/hostname"), ("loop.bin", "loop.bin"), ("dev_null", "/dev/null")):
        if not (folder / name).is_symlink():
            (folder / name).symlink_to(target)
    if not (folder / "fifo").exists():
        os.mkfifo(folder / "fifo")


# -- the campaign ---------------------------------------------------------------------------------------


@dataclass
class Campaign:
    folder: Path
    out: Path | None
    timeout_s: float = 20.0
    slow_s: float = 10.0
    max_mb: float = 1024.0
    stats: Counter = field(default_factory=Counter)
    refusals: Counter = field(default_factory=Counter)  # kinds of exit-2 message
    failures: dict[str, Path] = field(default_factory=dict)
    last: tuple[bytes, str, Outcome] | None = None

    def check(self, blob: bytes, suffix: str, fmt: str) -> Outcome:
        path = self.folder / f"input{suffix}"
        path.write_bytes(blob)
        o = run_check(path, fmt, self.timeout_s, self.slow_s, self.max_mb)
        self.stats["inputs"] += 1
        self.stats[f"inputs {suffix[1:]}"] += 1
        self.stats[f"exit {o.rc}"] += 1
        if o.rc == 2:
            self.refusals[o.signature().split("|", 2)[2][:60]] += 1
        if o.problem:
            self.stats[f"problem: {o.problem}"] += 1
            self.last = (blob, suffix, o)
        return o

    def save(self) -> Path | None:
        """Keep the last (shrunk) failing input, once per kind of failure."""
        if self.last is None or self.out is None:
            return None
        blob, suffix, o = self.last
        sig = o.signature()
        if sig in self.failures:
            return self.failures[sig]
        self.out.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(blob).hexdigest()[:12]
        path = self.out / f"{o.problem.replace(' ', '_')}-{name}{suffix}"
        path.write_bytes(blob)
        path.with_suffix(path.suffix + ".txt").write_text(
            f"problem: {o.problem}\nexit: {o.rc}\nwall: {o.wall_s:.2f} s\ngrew: {o.grew_mb:.0f} MB\n"
            f"stderr:\n{o.stderr}\n")
        self.failures[sig] = path
        return path


def run_campaign(campaign: Campaign, seeds: list[Path], examples: int, seed: int, shrink: bool = True) -> None:
    """One hypothesis run of ``examples`` inputs from ``seed``; raises AssertionError on a broken contract
    (after hypothesis has shrunk it, unless ``shrink`` is off; ``campaign.last`` holds the minimal input)."""
    by_format: dict[bool, list[tuple[str, bytes]]] = {}
    for p in seeds:
        data_bytes = p.read_bytes()
        by_format.setdefault(is_tflite(data_bytes), []).append((p.name, data_bytes))
    formats = sorted(by_format)
    phases = [Phase.generate, Phase.shrink] if shrink else [Phase.generate]

    @hypothesis_seed(seed)
    @settings(max_examples=examples, deadline=None, database=None, derandomize=False, print_blob=False,
              phases=phases, report_multiple_bugs=False, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def one(data: Any) -> None:
        tfl = data.draw(st.sampled_from(formats), label="tflite")  # the format first: each gets about half
        name, seed_bytes = data.draw(st.sampled_from(by_format[tfl]), label="seed")
        blob = tflite_input(seed_bytes, data) if tfl else onnx_input(seed_bytes, data)
        if blob is None or len(blob) > MAX_INPUT_BYTES:
            campaign.stats["rejected"] += 1
            return
        fmt = data.draw(st.sampled_from(["json", "sarif", "junit", "terminal"]), label="format")
        o = campaign.check(blob, ".tflite" if tfl else ".onnx", fmt)
        assert not o.problem, f"{o.problem}: exit {o.rc}, {o.wall_s:.1f} s, {o.stderr.strip()[-500:]}"

    one()


def warm() -> None:
    """Import what a check imports, once, before the children fork: each child then starts at the check itself
    (and a campaign keeps checking the code it started with, whatever is edited meanwhile)."""
    import importlib

    for name in ("snapcheck.cli", "snapcheck.api", "snapcheck.readers.onnx_reader", "snapcheck.readers.tflite_reader",
                 "snapcheck.estimate", "snapcheck.report.json", "snapcheck.report.sarif", "snapcheck.report.junit",
                 "snapcheck.report.terminal", "rich.console"):
        importlib.import_module(name)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=0.0, help="run campaigns until this much time has passed")
    ap.add_argument("--examples", type=int, default=200, help="inputs per hypothesis run")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "fuzz", help="where minimal failures are saved")
    ap.add_argument("--small", action="store_true", help="only seed files up to 300 KB")
    ap.add_argument("--real-only", action="store_true", help="no fuzz-repro files among the seeds")
    args = ap.parse_args(argv)
    warm()
    seeds = seed_files(args.small, args.real_only)
    work = Path(tempfile.mkdtemp(prefix="snapcheck-fuzz-"))
    prepare_folder(work)
    campaign = Campaign(work, args.out)
    stop = time.time() + args.minutes * 60
    run, t0 = 0, time.time()
    try:
        while True:
            try:
                run_campaign(campaign, seeds, args.examples, args.seed + run)
            except Exception as exc:  # noqa: BLE001 - a broken contract (AssertionError), or one hypothesis saw flake
                saved = campaign.save()
                print(f"run {run}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]} -> {saved}", flush=True)
            run += 1
            print(f"run {run} done: {dict(campaign.stats)}", flush=True)
            if time.time() >= stop:
                break
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    elapsed = time.time() - t0
    summary = {"seconds": round(elapsed), "runs": run, "seed": args.seed, **campaign.stats,
               "failures": {k: str(v) for k, v in campaign.failures.items()},
               "refusals": dict(campaign.refusals.most_common(40))}
    print(json.dumps(summary, indent=2))
    return 1 if campaign.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
