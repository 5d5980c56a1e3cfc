"""The probes of ``calibrate --quick`` shipped without their weights, so that ``--quick`` needs no TensorFlow.

A probe's .tflite is its graph (a few KB) and its float weights (up to 160 MB; 821 MB over the 139). The pack
(``probes.zip`` beside this module) holds each probe's file with the data of its float32 constant buffers cut out,
and where they were; ``unpack_probes`` writes each file back with pseudo-random weights of the same sizes in those
places (XNNPACK's float kernels take as long whatever the values). Every machine then times the very graphs the
shipped profile's reference timings were made with (``Profile.quick_reference``), whichever TensorFlow converts, or
none. ``tools/pack_probes.py`` rebuilds the pack from converted probes when ``quick.probe_specs`` changes; a probe
missing from it is converted with TensorFlow as before.
"""

from __future__ import annotations

import contextlib
import json
import zipfile
import zlib
from collections import Counter
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from snapcheck.errors import InputError, one_line
from snapcheck.fsutil import atomic_path, atomic_write_bytes

PACK = Path(__file__).with_name("probes.zip")
INDEX = "index.json"
FLOAT32 = 0  # tflite TensorType
WEIGHT_SCALE = 0.05  # the filled weights: uniform in +-this (activations stay far from fp32's limits)
_STAMP = (2020, 1, 1, 0, 0, 0)  # every entry's zip timestamp: the pack's bytes depend on its content only


def float_spans(data: bytes) -> list[tuple[int, int]]:
    """(file offset, bytes) of the data of every buffer a float32 constant tensor uses, in file order: a model's
    weights. Integer constants (shapes, paddings, indices) stay in the graph."""
    import tflite

    from snapcheck.readers.tflite_reader import buffer_span

    model = tflite.Model.GetRootAs(data, 0)
    used = {sg.Tensors(t).Buffer() for sg in (model.Subgraphs(i) for i in range(model.SubgraphsLength()))
            for t in range(sg.TensorsLength()) if sg.Tensors(t).Type() == FLOAT32}
    return sorted(span for span in map(buffer_span, map(model.Buffers, sorted(used - {0}))) if span is not None)


def strip(data: bytes) -> tuple[bytes, list[tuple[int, int]]]:
    """``data`` with its weights cut out, and their spans."""
    spans = float_spans(data)
    parts, at = [], 0
    for offset, n in spans:
        parts.append(data[at:offset])
        at = offset + n
    parts.append(data[at:])
    return b"".join(parts), spans


def restore(skeleton: bytes, spans: list[tuple[int, int]], seed: int = 0) -> bytes:
    """The full file: ``skeleton`` with pseudo-random float32 weights of ``spans``' sizes put back in place."""
    rng = np.random.default_rng(seed)
    out = bytearray(len(skeleton) + sum(n for _, n in spans))
    src = dst = 0
    for offset, n in spans:
        head = offset - dst
        out[dst:offset] = skeleton[src:src + head]
        src += head
        weights = (rng.random(n // 4, dtype=np.float32) - np.float32(0.5)) * np.float32(2 * WEIGHT_SCALE)
        out[offset:offset + n] = weights.astype("<f4").tobytes() + bytes(n % 4)
        dst = offset + n
    out[dst:] = skeleton[src:]
    return bytes(out)


def graph_form(data: bytes) -> tuple:
    """What a probe's timing depends on, read with snapcheck's reader: per operator its type, options, version,
    inputs (type, shape, constant size) and outputs (type, shape); the graph inputs as a multiset (their order
    differs between converter paths and the harness feeds each its own random data). Two files of one form are
    the same probe."""
    from snapcheck.readers.tflite_reader import read_tflite

    sg = read_tflite(Path("probe.tflite"), data).subgraphs[0]

    def tensor(i: int) -> tuple:
        if i < 0:
            return ()
        t = sg.tensors[i]
        return t.dtype, t.shape, t.nbytes if t.is_constant else 0

    ops = tuple((op.type, repr(sorted(op.attrs.items())), op.version, tuple(map(tensor, op.inputs)),
                 tuple(tensor(i)[:2] for i in op.outputs)) for op in sg.ops)
    return ops, tuple(sorted(Counter(map(tensor, sg.inputs)).items()))


def pack(files: dict[str, Path], out: Path = PACK) -> dict[str, int]:
    """Write the pack of the probe files ``files`` (key -> converted .tflite) to ``out``; returns the bytes cut per
    probe."""
    index, cut = {}, {}
    with atomic_path(out) as tmp, zipfile.ZipFile(tmp, "w") as z:
        for key in sorted(files):
            skeleton, spans = strip(files[key].read_bytes())
            z.writestr(zipfile.ZipInfo(f"{key}.tflite", _STAMP), skeleton, zipfile.ZIP_DEFLATED)
            index[key] = [list(s) for s in spans]
            cut[key] = sum(n for _, n in spans)
        z.writestr(zipfile.ZipInfo(INDEX, _STAMP), json.dumps(index, sort_keys=True), zipfile.ZIP_DEFLATED)
    return cut


@contextlib.contextmanager
def _opened(pack_path: Path) -> Iterator[tuple[zipfile.ZipFile, dict]]:
    """The pack and its index; a damaged pack (a broken install) is an ``InputError`` naming it."""
    try:
        with zipfile.ZipFile(pack_path) as z:
            yield z, json.loads(z.read(INDEX))
    except (zipfile.BadZipFile, KeyError, ValueError, EOFError, zlib.error) as exc:
        raise InputError(pack_path, f"the shipped probe pack is damaged ({one_line(exc, 80)}); reinstall "
                         "snapcheck") from None


def packed_keys(pack_path: Path = PACK) -> set[str]:
    """The probes the pack holds (none without a pack)."""
    if not pack_path.is_file():
        return set()
    with _opened(pack_path) as (_, index):
        return set(index)


def unpack_probes(keys: Iterable[str], folder: Path, pack_path: Path = PACK) -> list[str]:
    """Write ``folder/<key>.tflite`` for each of ``keys`` the pack holds and ``folder`` lacks (atomically);
    returns the keys written."""
    if not pack_path.is_file():
        return []
    written = []
    folder.mkdir(parents=True, exist_ok=True)
    with _opened(pack_path) as (z, index):
        for key in keys:
            path = folder / f"{key}.tflite"
            if key in index and not path.is_file():
                atomic_write_bytes(path, restore(z.read(f"{key}.tflite"), [tuple(s) for s in index[key]]))
                written.append(key)
    return written
