"""Merging run folders into a leaderboard: CSV, Markdown and a plot.

``leaderboard.csv`` layout: one row per run (model), columns

* ``model``, ``kind`` (python / command / predictions), ``run`` (folder name), ``pairs``, ``failures``;
* ``<metric>`` for every metric over all pairs (``l1``, ``l1_hole``, ``psnr``, ``ssim``, ``lpips``, ``fid``,
  ``seconds``; ``lpips`` and ``fid`` empty where the run had no network weights);
* ``<metric>@<cell>`` for every metric and cell (``l1@01-10_B`` ... ``ssim@50-60_N``), cells in NVIDIA order.

Rows are sorted by the ranking metric (default ``l1``, lower is better; ``psnr`` and ``ssim`` higher).
Runs are merged only when they share the mask set, image set, pairs and protocol (``protocol_key`` in
``run.json``); otherwise :class:`LeaderboardError` says which runs differ and in what.
"""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from inpaint_core.buckets import BIN_EDGES, CELLS
from inpaint_core.files import atomic_write_bytes, atomic_write_text, csv_text

from .metrics import METRIC_NAMES

__all__ = ["LeaderboardError", "collect_runs", "write_leaderboard", "HIGHER_IS_BETTER"]

HIGHER_IS_BETTER = {"psnr", "ssim"}
SUMMARY_METRICS = (*METRIC_NAMES, "lpips", "fid", "seconds")


class LeaderboardError(ValueError):
    """Runs that cannot be merged, or no run at all."""


def collect_runs(paths: list[Path]) -> list[dict[str, object]]:
    """Finished runs found in ``paths`` (run folders or folders of run folders), checked for one protocol."""
    runs = []
    for path in paths:
        candidates = [path] if (path / "run.json").is_file() else sorted(p.parent for p in path.glob("*/run.json"))
        for folder in candidates:
            info = json.loads((folder / "run.json").read_text(encoding="utf-8"))
            with open(folder / "summary.csv", newline="", encoding="utf-8") as handle:
                summary = {row["cell"]: row for row in csv.DictReader(handle)}
            runs.append({"folder": folder, "info": info, "summary": summary})
    if not runs:
        raise LeaderboardError("no finished run (run.json) under " + ", ".join(str(p) for p in paths))
    reference = runs[0]["info"]
    for run in runs[1:]:
        info = run["info"]
        if info["protocol_key"] == reference["protocol_key"]:
            continue
        differences = [name for name, key in (("mask set", ("dataset", "fingerprint")),
                                              ("image set", ("images", "fingerprint")),
                                              ("pairs", ("pairs", "fingerprint")))
                       if info[key[0]][key[1]] != reference[key[0]][key[1]]]
        if info["protocol"] != reference["protocol"]:
            differences.append("protocol (" + ", ".join(k for k in info["protocol"]
                                                        if info["protocol"].get(k) != reference["protocol"].get(k)) + ")")
        raise LeaderboardError(f"runs {runs[0]['folder']} and {run['folder']} differ in "
                               f"{', '.join(differences) or 'protocol'}; they cannot share a leaderboard")
    return runs


def _value(text: str | None) -> float:
    if text in (None, ""):
        return float("nan")
    return float(text)


def leaderboard_rows(runs: list[dict[str, object]], *, rank_by: str = "l1") -> list[dict[str, object]]:
    if rank_by not in SUMMARY_METRICS:
        raise LeaderboardError(f"cannot rank by {rank_by!r}; choose one of {', '.join(SUMMARY_METRICS)}")
    rows = []
    for run in runs:
        info, summary = run["info"], run["summary"]
        overall = summary.get("all", {})
        row: dict[str, object] = {"model": info["model"]["name"], "kind": info["model"]["kind"],
                                  "run": Path(run["folder"]).name, "pairs": info["counts"]["pairs"],
                                  "failures": info["counts"]["failed"]}
        for metric in SUMMARY_METRICS:
            row[metric] = _value(overall.get(metric if metric == "fid" else f"{metric}_mean"))
        for cell in CELLS:
            for metric in SUMMARY_METRICS:
                column = metric if metric == "fid" else f"{metric}_mean"
                row[f"{metric}@{cell.name}"] = _value(summary.get(cell.name, {}).get(column))
        rows.append(row)
    sign = -1 if rank_by in HIGHER_IS_BETTER else 1
    rows.sort(key=lambda r: (math.isnan(r[rank_by]), sign * r[rank_by] if not math.isnan(r[rank_by]) else 0,
                             str(r["model"])))
    return rows


def _text(value: object, digits: int = 4) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def write_leaderboard(runs: list[dict[str, object]], csv_path: Path, *, rank_by: str = "l1",
                      plot_metric: str = "l1") -> dict[str, Path]:
    """Write ``csv_path``, the Markdown table beside it (``.md``) and the plot (``.png``)."""
    rows = leaderboard_rows(runs, rank_by=rank_by)
    atomic_write_text(csv_path, csv_text(list(rows[0]), ({k: _text(v, 6) for k, v in row.items()} for row in rows)))
    markdown = _markdown(rows, runs[0]["info"])
    md_path = csv_path.with_suffix(".md")
    atomic_write_text(md_path, markdown)
    png_path = csv_path.with_suffix(".png")
    atomic_write_bytes(png_path, _plot(rows, plot_metric))
    return {"csv": csv_path, "md": md_path, "png": png_path}


def _markdown(rows: list[dict[str, object]], info: dict[str, object]) -> str:
    lines = [f"Mask set {info['dataset']['fingerprint'][:12]}, image set {info['images']['fingerprint'][:12]}, "
             f"{info['pairs']['count']} pairs at {info['protocol']['size']} px; composite output; "
             "L1 in % (lower is better), PSNR dB, SSIM (higher is better), LPIPS and FID (lower is better; "
             "empty where the network weights were absent).", ""]
    header = ["model", "pairs", "failures", "L1 %", "L1 hole %", "PSNR", "SSIM", "LPIPS", "FID", "s/image"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for row in rows:
        lines.append("| " + " | ".join([str(row["model"]), str(row["pairs"]), str(row["failures"]),
                                        _text(row["l1"], 2), _text(row["l1_hole"], 2), _text(row["psnr"], 2),
                                        _text(row["ssim"], 3), _text(row["lpips"], 3), _text(row["fid"], 2),
                                        _text(row["seconds"], 3)]) + " |")
    lines += ["", "L1 % per cell (hole-ratio bin, B = no hole within 50 px of the border, N = holes there):", ""]
    lines.append("| model | " + " | ".join(cell.name for cell in CELLS) + " |")
    lines.append("|" + "---|" * (len(CELLS) + 1))
    for row in rows:
        lines.append(f"| {row['model']} | " + " | ".join(_text(row[f'l1@{cell.name}'], 2) for cell in CELLS) + " |")
    return "\n".join(lines) + "\n"


def _plot(rows: list[dict[str, object]], metric: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    centres = [(BIN_EDGES[i] + BIN_EDGES[i + 1]) / 2 for i in range(len(BIN_EDGES) - 1)]
    figure, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True, dpi=100)
    for axis, border in zip(axes, ("B", "N")):
        for row in rows:
            values = [row[f"{metric}@{cell.name}"] for cell in CELLS if cell.border == border]
            axis.plot(centres, values, marker="o", label=str(row["model"]))
        axis.set_title(f"border class {border}")
        axis.set_xlabel("hole ratio")
        axis.grid(alpha=0.3)
    axes[0].set_ylabel(metric)
    axes[1].legend(fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()
