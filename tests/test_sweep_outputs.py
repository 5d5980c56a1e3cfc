"""Sweep outputs from fake rows: results.csv and results.json agree row by row, the table is sorted by
iPhone 6 latency, the highlights and the Pareto front are right, and pareto.png is a real PNG."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from rich.console import Console
from sweep_fixtures import BUDGET, FAIL_ALPHA, fake_worker

from snapcheck.gan.registry import GeneratorConfig
from snapcheck.sweep.cache import base_row
from snapcheck.sweep.grid import build_grids, grid_configs
from snapcheck.sweep.outputs import (
    device_latency,
    highlights,
    pareto_front,
    plot_pareto,
    print_table,
    write_results,
)


def _rows() -> list[dict]:
    configs = grid_configs(build_grids({"alpha_encoder": f"0.25,0.4,{FAIL_ALPHA},1", "alpha_decoder": "0.5,1,2",
                                        "separable": "both", "upsample": None, "size": None, "out_channels": None,
                                        "in_channels": None}))
    rows = []
    for cfg in configs:
        row = base_row(cfg, "5.x")
        try:
            row.update(fake_worker(cfg, Path("unused"), Path("unused"), "5.x"), status="ok")
        except RuntimeError as exc:
            row.update(status="error", verdict="error", error=str(exc))
        rows.append(row)
    return rows


def test_pareto_front_maximises_size_and_minimises_latency():
    pts = [(1.0, 10.0), (2.0, 10.0), (2.0, 20.0), (5.0, 15.0), (4.0, 30.0), (0.5, 5.0)]
    assert pareto_front(pts) == [5, 1, 3]
    assert pareto_front([(1.0, 1.0)]) == [0]
    assert pareto_front([(1.0, 1.0), (1.0, 1.0)]) == [0, 1]  # equal points do not dominate each other


def test_highlights_pick_largest_passing_under_budget_fastest_passing_and_blog():
    rows = _rows()
    notes = highlights(rows, "iphone6")
    passing = [r for r in rows if r["status"] == "ok" and r["verdict"] == "pass"]
    largest = max((r for r in passing if r["fp16_bytes"] <= BUDGET), key=lambda r: r["fp16_bytes"])
    fastest = min(passing, key=lambda r: device_latency(r, "iPhone 6"))
    assert notes == {"largest passing": largest["label"], "fastest passing": fastest["label"],
                     "blog": "e0.4-d2-sep-nearest-256"}
    assert highlights([r for r in rows if r.get("registered_as") != "blog"], "iphone6").get("blog") is None


def test_device_latency_takes_the_best_backend():
    row = _rows()[0]
    assert device_latency(row, "iphone6") == min(e["latency_ms"] for e in row["estimates"]
                                                 if e["device"] == "iphone6")
    assert device_latency(row, "Galaxy S6") == row["estimates"][2]["latency_ms"]
    assert device_latency(row, "pixel9") is None


def test_results_csv_and_json_agree(tmp_path):
    rows = _rows()
    csv_path, json_path = write_results(rows, tmp_path, {"ls_version": "5.x"})
    data = json.loads(json_path.read_text())
    assert data["ls_version"] == "5.x" and len(data["rows"]) == len(rows)
    with csv_path.open() as fh:
        lines = list(csv.DictReader(fh))
    assert [line["label"] for line in lines] == [r["label"] for r in data["rows"]]
    for line, row in zip(lines, data["rows"]):
        assert line["status"] == row["status"]
        if row["status"] == "ok":
            assert int(line["params"]) == row["params"] and int(line["fp16_bytes"]) == row["fp16_bytes"]
            assert float(line["est_iphone6_latency_ms"]) == device_latency(row, "iphone6")
            assert line["est_iphone6_backend"] == "gpu"
            assert line["tflite_iphone_gpu"] == row["checks"]["tflite"]["backends"]["iphone_gpu"]
            assert float(line["host_tflite_median_ms"]) == row["host"]["tflite"]["median_ms"]
        else:
            assert line["error"] == row["error"] and line["params"] == ""
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_table_is_sorted_by_iphone6_latency_with_failures_last():
    rows = _rows()
    console = Console(file=open(os.devnull, "w"), record=True, width=250)  # noqa: SIM115
    print_table(rows, console, "iphone6", highlights(rows, "iphone6"))
    text = console.export_text()
    ok = sorted((r for r in rows if r["status"] == "ok"), key=lambda r: device_latency(r, "iphone6"))
    positions = [text.index(r["label"] + " ") for r in ok]
    assert positions == sorted(positions)
    assert all(text.index(r["label"]) > positions[-1] for r in rows if r["status"] == "error")
    assert "largest passing" in text and "fastest passing" in text and "(blog)" in text


def test_pareto_png_is_written(tmp_path):
    rows = _rows()
    path = plot_pareto(rows, tmp_path / "pareto.png", device="iphone6", budget_bytes=BUDGET,
                       notes=highlights(rows, "iphone6"))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 20_000
    assert plot_pareto([r for r in rows if r["status"] == "error"], tmp_path / "none.png", device="iphone6",
                       budget_bytes=BUDGET, notes={}) is None
    assert not (tmp_path / "none.png").exists()


def test_base_row_names_the_registered_config():
    a = GeneratorConfig(name="x", alpha_encoder=0.4, alpha_decoder=2.0)
    assert base_row(a, "5.x")["registered_as"] == "blog"
