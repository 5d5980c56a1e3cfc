"""``snapcheck data prepare``: cat photos → (outline, RGBA cat face) pairs, a manifest and a contact sheet.

Per image: read → [CAT: level the eyes, crop the face, discard small faces] or [aligned: square, resize] →
matte (GrabCut or ONNX) → discard when the cat covers too little → edges (HED in batches, or Canny) on the
cut-out → outline → write ``pairs/<id>_outline.png`` and ``pairs/<id>_rgba.png``. Every image gets a
manifest row, kept or rejected with the reason. Finished rows go to ``.records.jsonl`` as they come, so a
killed run resumes where it stopped; ``manifest.csv`` is written at the end.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import signal
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from snapcheck.data.images import write_png
from snapcheck.errors import InputError
from snapcheck.fsutil import atomic_write_json, atomic_write_text

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
MANIFEST_COLUMNS = ["id", "source", "split", "status", "reason", "steps", "outline", "target", "face_px", "foreground"]
RECORDS = ".records.jsonl"
SETTINGS = "prepare.json"
HAND_REJECTED = "hand-rejected"
CHUNK = 32  # images per round trip to the workers (and per HED call)


@dataclass(frozen=True)
class PrepareConfig:
    """Settings of one prepared folder. ``output_settings`` are those that change the pairs."""

    size: int = 256
    source: str = "auto"  # auto | cat | aligned
    edges: str = "hed"  # hed | canny
    matte: str = "grabcut"  # grabcut | path to a saliency .onnx
    min_face: int = 64  # CAT source: faces smaller than this many source pixels are discarded
    min_foreground: float = 0.15  # share of the image the matte must cover
    margin: float = 0.1  # CAT source: crop margin per side, as a share of the face box
    val_share: float = 0.05
    jobs: int = 1
    limit: int | None = None
    reject_list: Path | None = None

    def output_settings(self) -> dict:
        keys = ("size", "edges", "matte", "min_face", "min_foreground", "margin", "val_share")
        return {k: getattr(self, k) for k in keys}


@dataclass(frozen=True)
class Job:
    """One source image: its manifest id, its name relative to SRC, and its keypoint file (CAT source)."""

    id: str
    source: str
    path: Path
    cat_file: Path | None = None


@dataclass
class Record:
    """One manifest row."""

    id: str
    source: str
    split: str
    status: str = "kept"
    reason: str = ""
    steps: list[str] = field(default_factory=list)
    outline: str = ""
    target: str = ""
    face_px: str = ""
    foreground: str = ""

    def reject(self, reason: str) -> "Record":
        self.status, self.reason, self.outline, self.target = "rejected", reason, "", ""
        return self

    def row(self) -> dict:
        d = asdict(self)
        d["steps"] = ";".join(self.steps)
        return d


@dataclass
class Summary:
    """What a run did, for the CLI's last lines."""

    total: int
    done_before: int
    kept: int
    rejected: dict[str, int]
    unreadable: list[str]
    out: Path


# ---------------------------------------------------------------- discovery, ids, split


def reason_kind(reason: str) -> str:
    """The fixed part of a rejection reason (before its details in parentheses), for counting."""
    return reason.split(" (", 1)[0]


def split_for(source: str, val_share: float) -> str:
    """Deterministic train/val split from a SHA-256 of the source name (its path relative to SRC)."""
    v = int.from_bytes(hashlib.sha256(source.encode("utf-8")).digest()[:8], "big") / 2**64
    return "val" if v < val_share else "train"


def make_id(source: str) -> str:
    stem = source.rsplit(".", 1)[0]
    return re.sub(r"[^A-Za-z0-9_.-]", "_", stem.replace("/", "__"))


def discover(src: Path, source: str) -> tuple[str, list[Job]]:
    """Images under ``src`` (sorted) and the resolved source kind; ``auto`` is ``cat`` when ``.cat`` files exist."""
    if not src.is_dir():
        raise InputError(src, "source folder not found")
    images = sorted(p for p in src.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise InputError(src, f"no images ({', '.join(IMAGE_SUFFIXES)}) found")
    has_cat = any(src.rglob("*.cat"))
    kind = ("cat" if has_cat else "aligned") if source == "auto" else source
    if kind not in ("cat", "aligned"):
        raise InputError(None, f"--source must be auto, cat or aligned, not {source!r}")
    jobs = []
    for p in images:
        rel = p.relative_to(src).as_posix()
        cat = p.with_name(p.name + ".cat") if kind == "cat" else None
        jobs.append(Job(id=make_id(rel), source=rel, path=p, cat_file=cat))
    return kind, jobs


def read_reject_list(path: Path | None) -> set[str]:
    """Ids, source names or file names, one per line; ``#`` starts a comment."""
    if path is None:
        return set()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read reject list ({exc})") from exc
    return {s for s in (line.split("#", 1)[0].strip() for line in lines) if s}


def is_listed(job: Job, rejects: set[str]) -> bool:
    name = job.path.name
    return bool(rejects & {job.id, job.source, name, name.rsplit(".", 1)[0]})


# ---------------------------------------------------------------- per-image work (runs in worker processes)


def read_rgb(path: Path) -> np.ndarray:
    """Decode fully (truncated files raise); RGB uint8."""
    from PIL import Image

    with Image.open(path) as im:
        im.load()
        return np.asarray(im.convert("RGB"))


_MATTES: dict[str, object] = {}  # per process: ONNX sessions are made in each worker, never pickled


def _matter(cfg: PrepareConfig):
    """The ONNX saliency model of ``cfg.matte`` (loaded once per process), or None for GrabCut."""
    if cfg.matte == "grabcut":
        return None
    if cfg.matte not in _MATTES:
        from snapcheck.data.matte import OnnxSaliency

        _MATTES[cfg.matte] = OnnxSaliency(Path(cfg.matte))
    return _MATTES[cfg.matte]


@dataclass
class Staged:
    """An image after crop and matte, waiting for its edges."""

    record: Record
    image: np.ndarray | None = None
    alpha: np.ndarray | None = None
    points: np.ndarray | None = None  # keypoints in crop pixels (CAT source only)
    valid: np.ndarray | None = None  # False where the CAT crop is padding


def stage_face(job: Job, cfg: PrepareConfig) -> Staged:
    """Read, crop/resize and matte one image; rejections come back with their reason."""
    from snapcheck.data import keypoints as kp
    from snapcheck.data.matte import foreground_share, grabcut_matte

    rec = Record(id=job.id, source=job.source, split=split_for(job.source, cfg.val_share))
    try:
        image = read_rgb(job.path)
    except Exception as exc:  # noqa: BLE001 - PIL raises many types for broken files
        return Staged(rec.reject(f"unreadable ({' '.join(str(exc).split())[:120] or type(exc).__name__})"))
    rec.steps.append(f"read({image.shape[1]}x{image.shape[0]})")
    valid = None
    if job.cat_file is not None:
        if not job.cat_file.is_file():
            return Staged(rec.reject("no keypoints (.cat file missing)"))
        try:
            points = kp.parse_cat_file(job.cat_file)
        except InputError as exc:
            return Staged(rec.reject(f"bad keypoints ({exc.problem})"))
        crop = kp.crop_face(image, points, cfg.size, cfg.margin)
        rec.face_px = f"{crop.face_px:.0f}"
        rec.steps.append(f"level-eyes({crop.angle_deg:+.1f}deg)")
        rec.steps.append(f"crop(face={crop.face_px:.0f}px,margin={cfg.margin:g},pad={np.count_nonzero(~crop.valid)}px)")
        if crop.face_px < cfg.min_face:
            return Staged(rec.reject(f"small face ({crop.face_px:.0f}px < --min-face {cfg.min_face})"))
        image, points, valid = crop.image, crop.points, crop.valid
        template = points
    else:
        h, w = image.shape[:2]
        if h != w:
            s = min(h, w)
            y0, x0 = (h - s) // 2, (w - s) // 2
            image = image[y0:y0 + s, x0:x0 + s]
            rec.steps.append(f"center-crop({s})")
        if image.shape[0] != cfg.size:
            interp = cv2.INTER_AREA if image.shape[0] > cfg.size else cv2.INTER_CUBIC
            rec.steps.append(f"resize({image.shape[0]}->{cfg.size})")
            image = cv2.resize(image, (cfg.size, cfg.size), interpolation=interp)
        points = None
        template = kp.template_points(cfg.size)
    matter = _matter(cfg)
    if matter is None:
        alpha = grabcut_matte(image, template, valid)
        rec.steps.append("matte=grabcut")
    else:
        alpha = matter(image, valid)
        rec.steps.append(f"matte=onnx({Path(cfg.matte).name})")
    share = foreground_share(alpha)
    rec.foreground = f"{share:.3f}"
    if share < cfg.min_foreground:
        return Staged(rec.reject(f"little foreground ({share:.2f} < --min-foreground {cfg.min_foreground:g})"))
    return Staged(rec, image, alpha, points, valid)


def finish_pair(staged: Staged, lines: np.ndarray | None, out: Path, cfg: PrepareConfig) -> Record:
    """Edges (Canny here when ``lines`` is None) → outline; write both PNGs atomically."""
    from snapcheck.data import outline as ol

    rec, image, alpha = staged.record, staged.image, staged.alpha
    if lines is None:
        lines = ol.canny_lines(image, alpha)
        rec.steps.append("edges=canny")
    else:
        rec.steps.append("edges=hed")
    if staged.valid is not None:  # no lines along the padding's edge
        lines = lines & ol.shrink(staged.valid, ol.stroke_width(cfg.size))
    drawing = ol.outline_from_lines(lines, staged.points)
    rec.steps.append(f"strokes({ol.stroke_width(cfg.size)}px)")
    if staged.points is not None:
        rec.steps.append("marks(eyes,nose)")
    rgba = np.dstack([image, alpha])
    rgba[alpha == 0, :3] = 0
    rec.outline, rec.target = f"pairs/{rec.id}_outline.png", f"pairs/{rec.id}_rgba.png"
    write_png(out / rec.target, rgba)
    write_png(out / rec.outline, drawing)
    return rec


def _failed(job_or_record: Job | Record, exc: Exception, cfg: PrepareConfig) -> Record:
    """An image that broke a step is rejected with the error, never fatal to the run."""
    if isinstance(job_or_record, Job):
        job = job_or_record
        rec = Record(id=job.id, source=job.source, split=split_for(job.source, cfg.val_share))
    else:
        rec = job_or_record
    return rec.reject(f"failed ({type(exc).__name__}: {' '.join(str(exc).split())[:120]})")


def _stage_worker(args: tuple[Job, PrepareConfig]) -> Staged:
    job, cfg = args
    try:
        return stage_face(job, cfg)
    except Exception as exc:  # noqa: BLE001 - one odd image must not stop an hour-long run
        return Staged(_failed(job, exc, cfg))


def _canny_worker(args: tuple[Job, PrepareConfig, Path]) -> Record:
    job, cfg, out = args
    staged = _stage_worker((job, cfg))
    if staged.image is None:
        return staged.record
    try:
        return finish_pair(staged, None, out, cfg)
    except Exception as exc:  # noqa: BLE001
        return _failed(staged.record, exc, cfg)


def _hed_finish_worker(args: tuple[Staged, np.ndarray, Path, PrepareConfig]) -> Record:
    from snapcheck.data.outline import hed_lines

    staged, hed_map, out, cfg = args
    try:
        return finish_pair(staged, hed_lines(hed_map, staged.alpha), out, cfg)
    except Exception as exc:  # noqa: BLE001
        return _failed(staged.record, exc, cfg)


@dataclass
class _Ready:
    """A finished result with the ``.get()`` of ``multiprocessing``'s async results."""

    value: list

    def get(self) -> list:
        return self.value


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _worker_init() -> None:
    """Workers leave Ctrl-C to the parent, which stops them and keeps what is done (no worker tracebacks)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# ---------------------------------------------------------------- state on disk


def load_records(out: Path) -> dict[str, Record]:
    """Rows of an earlier run: ``manifest.csv``, then ``.records.jsonl`` (later rows win)."""
    records: dict[str, Record] = {}
    manifest = out / "manifest.csv"
    if manifest.is_file():
        with manifest.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                fields = {k: row.get(k) or "" for k in MANIFEST_COLUMNS}
                fields["steps"] = [s for s in fields["steps"].split(";") if s]
                records[fields["id"]] = Record(**fields)
    journal = out / RECORDS
    if journal.is_file():
        for line in journal.read_text(encoding="utf-8").splitlines():
            try:
                d = json.loads(line)
            except json.JSONDecodeError:  # the last line of a killed run may be cut short
                continue
            records[d["id"]] = Record(**d)
    return records


def is_done(rec: Record, out: Path) -> bool:
    if rec.status == "rejected":
        return rec.reason != HAND_REJECTED
    return bool(rec.outline) and (out / rec.outline).is_file() and (out / rec.target).is_file()


def check_settings(out: Path, cfg: PrepareConfig) -> None:
    """Refuse to mix pairs made with other settings in one folder."""
    path = out / SETTINGS
    wanted = cfg.output_settings()
    if path.is_file():
        try:
            have = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(path, "is not valid JSON") from exc
        diff = {k: (have.get(k), v) for k, v in wanted.items() if have.get(k) != v}
        if diff:
            desc = ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in diff.items())
            raise InputError(out, f"was prepared with other settings ({desc}); use a new output folder")
    else:
        atomic_write_json(path, wanted)


def write_manifest(out: Path, records: dict[str, Record]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for rid in sorted(records):
        writer.writerow(records[rid].row())
    atomic_write_text(out / "manifest.csv", buf.getvalue())


# ---------------------------------------------------------------- the run


def _chunks(items: list, n: int) -> Iterator[list]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


def prepare(src: Path, out: Path, cfg: PrepareConfig) -> Summary:
    """Prepare ``out`` from ``src``; resumes an earlier run; returns what was done."""
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from snapcheck.data.outline import composite_on_white
    from snapcheck.data.sheet import write_contact_sheet

    if cfg.edges not in ("hed", "canny"):
        raise InputError(None, f"--edges must be hed or canny, not {cfg.edges!r}")
    if cfg.matte != "grabcut" and not Path(cfg.matte).is_file():
        raise InputError(cfg.matte, "matte model not found (use grabcut or a path to a saliency .onnx)")
    if cfg.size < 32 or cfg.size % 4:
        raise InputError(None, f"--size must be a multiple of 4 and at least 32, not {cfg.size}")
    kind, jobs = discover(src, cfg.source)
    if cfg.limit is not None:
        jobs = jobs[: cfg.limit]
    rejects = read_reject_list(cfg.reject_list)
    out.mkdir(parents=True, exist_ok=True)
    check_settings(out, cfg)
    if cfg.matte != "grabcut":
        _matter(cfg)  # fail early, in this process, on a bad model

    records = load_records(out)
    for job in jobs:  # hand rejections: mark, and remove their pairs
        if is_listed(job, rejects):
            rec = Record(id=job.id, source=job.source, split=split_for(job.source, cfg.val_share)).reject(HAND_REJECTED)
            records[job.id] = rec
            for name in (f"{job.id}_outline.png", f"{job.id}_rgba.png"):
                (out / "pairs" / name).unlink(missing_ok=True)
    listed = {j.id for j in jobs if is_listed(j, rejects)}
    todo = [j for j in jobs if j.id not in listed and not (j.id in records and is_done(records[j.id], out))]
    done_before = len(jobs) - len(todo) - len(listed)
    (out / "pairs").mkdir(exist_ok=True)

    pool = None
    if cfg.jobs > 1 and todo:
        import multiprocessing as mp

        pool = mp.get_context("spawn" if cfg.edges == "hed" else "fork").Pool(cfg.jobs, initializer=_worker_init)
    hed = None
    if cfg.edges == "hed" and todo:
        from snapcheck.data.outline import HedBatch

        hed = HedBatch(batch_size=16)

    def submit(fn, items: list):  # a result with .get(): async on the pool, at once without one
        return pool.map_async(fn, items) if pool is not None else _Ready([fn(x) for x in items])

    columns = (TextColumn("[bold]prepare[/] {task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("kept {task.fields[kept]}"), TimeElapsedColumn(), TimeRemainingColumn())
    kept_now = 0
    previous_sigterm = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        with Progress(*columns, transient=False) as progress, (out / RECORDS).open("a", encoding="utf-8") as journal:
            task = progress.add_task(escape(f"{src.name} ({kind}, {cfg.edges}, {cfg.size}px)"), total=len(todo),
                                     kept=0)
            chunks = list(_chunks(todo, CHUNK))
            if hed is not None and chunks:  # the workers crop and matte the next chunk while HED runs
                pending = submit(_stage_worker, [(j, cfg) for j in chunks[0]])
            for i, chunk in enumerate(chunks):
                if hed is None:
                    done = submit(_canny_worker, [(j, cfg, out) for j in chunk]).get()
                else:
                    staged = pending.get()
                    if i + 1 < len(chunks):
                        pending = submit(_stage_worker, [(j, cfg) for j in chunks[i + 1]])
                    ready = [s for s in staged if s.image is not None]
                    maps = hed([composite_on_white(s.image, s.alpha) for s in ready])
                    finished = iter(submit(_hed_finish_worker, [(s, m, out, cfg) for s, m in zip(ready, maps)]).get())
                    done = [next(finished) if s.image is not None else s.record for s in staged]
                for rec in done:
                    records[rec.id] = rec
                    journal.write(json.dumps(asdict(rec)) + "\n")
                    kept_now += rec.status == "kept"
                journal.flush()
                os.fsync(journal.fileno())
                progress.update(task, advance=len(chunk), kept=kept_now)
    except KeyboardInterrupt:
        # leave a manifest of what is done (the journal stays, so the same command resumes)
        write_manifest(out, {rid: r for rid, r in records.items() if rid in {j.id for j in jobs}})
        raise
    finally:
        signal.signal(signal.SIGTERM, previous_sigterm)
        if pool is not None:
            pool.terminate()
            pool.join()

    current = {j.id for j in jobs}
    final = {rid: r for rid, r in records.items() if rid in current}
    write_manifest(out, final)
    (out / RECORDS).unlink(missing_ok=True)
    rejected: dict[str, int] = {}
    for r in final.values():
        if r.status == "rejected":
            key = reason_kind(r.reason)
            rejected[key] = rejected.get(key, 0) + 1
    write_contact_sheet(out, final, cfg, rejected)
    unreadable = [r.source for r in final.values() if reason_kind(r.reason) == "unreadable"]
    kept = sum(r.status == "kept" for r in final.values())
    return Summary(total=len(jobs), done_before=done_before, kept=kept, rejected=rejected, unreadable=unreadable, out=out)
