"""Merging run folders into a leaderboard: CSV, Markdown and a plot.

Every figure is recomputed from the run's ``per_image.csv`` (never taken from ``summary.csv``, which only
has to agree with it), bootstrap intervals included, per cell and per hole-area bin (``summary_area.csv``);
FID, KID and P-/U-IDS, which need the Inception features, are the values read from ``summary.csv``, whose
bytes must be those ``run.json`` recorded. A run whose files disagree with each other (rows and pairs,
counts, summary, recorded sha256) is refused, naming the file.

``leaderboard.csv`` layout: one row per run (model), columns

* ``rank`` (1, 2, ... for complete runs; empty for partial runs), ``status`` (``complete``: every pair
  answered; ``partial``: some pairs failed, its means cover only the answered pairs), ``model``, ``kind``
  (python / command / predictions), ``run`` (folder name), ``pairs``, ``failures``;
* ``<metric>`` for every metric over all pairs (``l1``, ``l1_hole``, ``psnr``, ``ssim``, ``lpips``, ``fid``,
  ``seconds``; ``lpips`` and ``fid`` empty where the run had no network weights);
* ``<metric>@<cell>`` for every metric and cell (``l1@01-10_B`` ... ``ssim@50-60_N``), cells in NVIDIA order.

Complete runs come first, ordered by the ranking metric (default ``l1``, lower is better; ``psnr`` and
``ssim`` higher); partial runs follow, unranked: a model that fails the hard pairs never ranks above one
that answers them all. Runs where every pair failed are left out with a note. Runs are merged only when
they share the mask set, image set, pairs and protocol (``protocol_key`` in ``run.json``); otherwise
:class:`LeaderboardError` says which runs differ and in what.
"""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from inpaint_core.buckets import BIN_EDGES, CELLS
from inpaint_core.files import atomic_write_bytes, atomic_write_text, csv_text, sha256_file

from .aggregate import CellAccumulator
from .metrics import METRIC_NAMES
from .results import SUMMARY_METRICS as PER_IMAGE_METRICS
from .results import RUN_FILES_RECORDED, format_value, read_results

__all__ = ["LeaderboardError", "RunRecord", "Leaderboard", "read_run", "collect_runs", "leaderboard_rows",
           "write_leaderboard", "HIGHER_IS_BETTER", "RUN_FILES_RECORDED"]

HIGHER_IS_BETTER = {"psnr", "ssim"}
SUMMARY_METRICS = (*METRIC_NAMES, "lpips", "fid", "seconds")


class LeaderboardError(ValueError):
    """Runs that cannot be merged, a damaged run, or no run at all."""


@dataclass(frozen=True)
class RunRecord:
    """One finished run, checked: ``values[cell][metric]`` recomputed from ``per_image.csv``, with
    ``values[cell]["<metric>_ci_low"]`` / ``["<metric>_ci_high"]`` (the bootstrap interval, recomputed too;
    ``fid``, ``kid``, ``kid_std``, ``p_ids``, ``u_ids`` from ``summary.csv``), ``cell`` one of the 12 cells
    or ``all``; ``area_values[area_bin]`` the same from ``summary_area.csv``."""

    folder: Path
    info: Mapping[str, object]
    values: Mapping[str, Mapping[str, float]]
    reasons: Mapping[str, int] = field(default_factory=dict)  # failure reason -> pairs
    # the same per hole-area bin (summary_area.csv; {} for a run made before it existed)
    area_values: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    @property
    def pairs(self) -> int:
        return int(self.info["counts"]["pairs"])

    @property
    def failures(self) -> int:
        return int(self.info["counts"]["failed"])

    @property
    def complete(self) -> bool:
        return self.failures == 0

    @property
    def name(self) -> str:
        return str(self.info["model"]["name"])


@dataclass(frozen=True)
class Leaderboard:
    """The runs that are shown (complete ones first) and a note for each run left out."""

    runs: list[RunRecord]
    notes: list[str]


def _run_folders(path: Path) -> list[Path]:
    if (path / "run.json").is_file():
        return [path]
    return sorted(p.parent for p in path.glob("*/run.json"))


def read_run(folder: Path) -> RunRecord:
    """The run in ``folder``, its figures recomputed and its files checked against each other."""
    def damaged(what: str) -> LeaderboardError:
        return LeaderboardError(f"run {str(folder)!r}: {what}; the folder was edited or is damaged: run it again")

    try:
        info = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        with open(folder / "pairs.csv", newline="", encoding="utf-8") as handle:
            pair_ids = [row["pair_id"] for row in csv.DictReader(handle)]
        results = read_results(folder / "per_image.csv")
        with open(folder / "summary.csv", newline="", encoding="utf-8") as handle:
            summary = {row["cell"]: row for row in csv.DictReader(handle)}
        area_summary = None
        if "summary_area.csv" in info.get("files", {}):  # runs made before it have none
            with open(folder / "summary_area.csv", newline="", encoding="utf-8") as handle:
                area_summary = {row["area_bin"]: row for row in csv.DictReader(handle)}
    except (OSError, ValueError, KeyError) as exc:
        raise damaged(f"cannot read its files ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
    recorded = info.get("files", {})
    for name in RUN_FILES_RECORDED:
        if name in recorded and sha256_file(folder / name) != recorded[name]:
            raise damaged(f"{name} is not the file run.json recorded (sha256 differs)")
    if list(results) != pair_ids:
        raise damaged("per_image.csv does not hold one row per pair of pairs.csv, in order")
    counts = {"pairs": len(results), "ok": sum(r.status == "ok" for r in results.values()),
              "failed": sum(r.status != "ok" for r in results.values())}
    if info.get("counts") != counts:
        raise damaged(f"run.json counts {info.get('counts')} but per_image.csv has {counts}")
    values, area_values = _recompute(results.values(), summary, area_summary, damaged)
    reasons: dict[str, int] = {}
    for result in results.values():
        if result.status != "ok":
            reasons[result.error] = reasons.get(result.error, 0) + 1
    return RunRecord(folder, info, values, reasons, area_values)


def _recompute(results, summary: Mapping[str, Mapping[str, str]], area_summary: Mapping[str, Mapping[str, str]] | None,
               damaged) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """Per group (cells and ``all``; area bins), each metric's mean and bootstrap interval from the rows;
    ``count``, ``failures`` and each ``<metric>_mean``, ``_ci_low``, ``_ci_high`` of ``summary.csv`` (and
    ``summary_area.csv`` when given) must be what the rows give."""
    accumulator = CellAccumulator(PER_IMAGE_METRICS)
    for index, result in enumerate(results):
        accumulator.update(result.cell, result.scored, hole_ratio=result.hole_ratio, key=index)
    values = _check_table(accumulator.compute(), summary, "summary.csv", "cell", damaged)
    area_values = {} if area_summary is None else _check_table(accumulator.compute_area(), area_summary,
                                                               "summary_area.csv", "area_bin", damaged)
    return values, area_values


def _check_table(entries: list[dict[str, object]], written_rows: Mapping[str, Mapping[str, str]], name: str,
                 label: str, damaged) -> dict[str, dict[str, float]]:
    """The recomputed figures of each group, after checking them against the table ``name`` as written."""
    if {entry[label] for entry in entries} != set(written_rows):
        raise damaged(f"{name} has other groups than per_image.csv")
    # tables written before the bootstrap intervals existed have no _ci_ columns: their means are checked
    statistics = ("mean", "ci_low", "ci_high") if all(f"{PER_IMAGE_METRICS[0]}_ci_low" in row
                                                      for row in written_rows.values()) else ("mean",)
    checked = ("count", "failures", *(f"{metric}_{statistic}" for metric in PER_IMAGE_METRICS
                                      for statistic in statistics))
    values: dict[str, dict[str, float]] = {}
    for entry in entries:
        written = written_rows[entry[label]]
        for column in checked:
            if format_value(entry[column]) != written.get(column):
                raise damaged(f"{name} gives {column} {written.get(column)!r} for {entry[label]} but "
                              f"per_image.csv gives {format_value(entry[column])!r}")
        group = {column: float(entry[column]) for column in checked[2:]}
        group.update({metric: group[f"{metric}_mean"] for metric in PER_IMAGE_METRICS})
        group.update({column: _value(written.get(column))
                      for column in ("fid", "kid", "kid_std", "p_ids", "u_ids")})
        values[entry[label]] = group
    return values


def collect_runs(paths: list[Path]) -> Leaderboard:
    """Finished runs found in ``paths`` (run folders or folders of run folders), checked (:func:`read_run`)
    and for one protocol; runs where every pair failed are left out with a note."""
    records = [read_run(folder) for path in paths for folder in _run_folders(path)]
    if not records:
        raise LeaderboardError("no finished run (run.json) under " + ", ".join(str(p) for p in paths))
    notes = []
    shown = []
    for record in records:
        if record.failures == record.pairs:
            reasons = "; ".join(f"{reason} ({count})" for reason, count in record.reasons.items())
            notes.append(f"left out {record.name} ({record.folder}): all {record.pairs} pairs failed: {reasons}")
        else:
            shown.append(record)
    if not shown:
        raise LeaderboardError("no run with a scored pair: " + " | ".join(notes))
    _check_one_protocol(shown)
    return Leaderboard(shown, notes)


def _check_one_protocol(records: list[RunRecord]) -> None:
    reference = records[0].info
    for record in records[1:]:
        info = record.info
        if info["protocol_key"] == reference["protocol_key"]:
            continue
        differences = [name for name, key in (("mask set", ("dataset", "fingerprint")),
                                              ("image set", ("images", "fingerprint")),
                                              ("pairs", ("pairs", "fingerprint")))
                       if info[key[0]][key[1]] != reference[key[0]][key[1]]]
        if info["protocol"] != reference["protocol"]:
            differences.append("protocol (" + ", ".join(k for k in info["protocol"]
                                                        if info["protocol"].get(k) != reference["protocol"].get(k)) + ")")
        raise LeaderboardError(f"runs {records[0].folder} and {record.folder} differ in "
                               f"{', '.join(differences) or 'protocol'}; they cannot share a leaderboard")


def _value(text: str | None) -> float:
    if text in (None, ""):
        return float("nan")
    return float(text)


def _sort_key(rank_by: str):
    sign = -1 if rank_by in HIGHER_IS_BETTER else 1

    def key(row: dict[str, object]) -> tuple:
        value = row[rank_by]
        missing = math.isnan(value)
        return (row["status"] != "complete", missing, 0 if missing else sign * value, str(row["model"]))
    return key


def leaderboard_rows(board: Leaderboard, *, rank_by: str = "l1") -> list[dict[str, object]]:
    """One row per run (see the module doc): complete runs ranked first, then partial runs."""
    if rank_by not in SUMMARY_METRICS:
        raise LeaderboardError(f"cannot rank by {rank_by!r}; choose one of {', '.join(SUMMARY_METRICS)}")
    rows = []
    for record in board.runs:
        row: dict[str, object] = {"rank": "", "status": "complete" if record.complete else "partial",
                                  "model": record.name, "kind": record.info["model"]["kind"],
                                  "run": record.folder.name, "pairs": record.pairs, "failures": record.failures}
        overall = record.values.get("all", {})
        for metric in SUMMARY_METRICS:
            row[metric] = overall.get(metric, float("nan"))
        for cell in CELLS:
            for metric in SUMMARY_METRICS:
                row[f"{metric}@{cell.name}"] = record.values.get(cell.name, {}).get(metric, float("nan"))
        rows.append(row)
    rows.sort(key=_sort_key(rank_by))
    for position, row in enumerate((r for r in rows if r["status"] == "complete"), start=1):
        row["rank"] = position
    return rows


def _text(value: object, digits: int = 4) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def write_leaderboard(board: Leaderboard, csv_path: Path, *, rank_by: str = "l1",
                      plot_metric: str = "l1") -> dict[str, Path]:
    """Write ``csv_path``, the Markdown table beside it (``.md``) and the plot (``.png``)."""
    rows = leaderboard_rows(board, rank_by=rank_by)
    atomic_write_text(csv_path, csv_text(list(rows[0]), ({k: _text(v, 6) for k, v in row.items()} for row in rows)))
    md_path = csv_path.with_suffix(".md")
    atomic_write_text(md_path, _markdown(rows, board, rank_by))
    png_path = csv_path.with_suffix(".png")
    atomic_write_bytes(png_path, _plot(rows, plot_metric))
    return {"csv": csv_path, "md": md_path, "png": png_path}


_HEADER = ["model", "pairs", "failures", "L1 %", "L1 hole %", "PSNR", "SSIM", "LPIPS", "FID", "s/image"]


def _table(rows: list[dict[str, object]], *, ranked: bool) -> list[str]:
    header = (["rank"] if ranked else []) + _HEADER
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = ([str(row["rank"])] if ranked else []) + [
            str(row["model"]), str(row["pairs"]), str(row["failures"]), _text(row["l1"], 2),
            _text(row["l1_hole"], 2), _text(row["psnr"], 2), _text(row["ssim"], 3), _text(row["lpips"], 3),
            _text(row["fid"], 2), _text(row["seconds"], 3)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _markdown(rows: list[dict[str, object]], board: Leaderboard, rank_by: str) -> str:
    info = board.runs[0].info
    lines = [f"Mask set {info['dataset']['fingerprint'][:12]}, image set {info['images']['fingerprint'][:12]}, "
             f"{info['pairs']['count']} pairs at {info['protocol']['size']} px; composite output; "
             "L1 in % (lower is better), PSNR dB, SSIM (higher is better), LPIPS and FID (lower is better; "
             f"empty where the network weights were absent). Ranked by {rank_by}.", ""]
    complete = [row for row in rows if row["status"] == "complete"]
    partial = [row for row in rows if row["status"] != "complete"]
    if complete:
        lines += _table(complete, ranked=True)
    if partial:
        lines += ["", "Partial runs, not ranked (some pairs failed; their means cover only the pairs they "
                  "answered, so they are not comparable with complete runs):", ""]
        lines += _table(partial, ranked=False)
    lines += ["", "L1 % per cell (hole-ratio bin, B = no hole within 50 px of the border, N = holes there):", ""]
    lines.append("| model | " + " | ".join(cell.name for cell in CELLS) + " |")
    lines.append("|" + "---|" * (len(CELLS) + 1))
    for row in rows:
        label = str(row["model"]) + ("" if row["status"] == "complete" else " (partial)")
        lines.append(f"| {label} | " + " | ".join(_text(row[f'l1@{cell.name}'], 2) for cell in CELLS) + " |")
    if board.notes:
        lines += ["", *(f"Note: {note}" for note in board.notes)]
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
            label = str(row["model"]) + ("" if row["status"] == "complete" else " (partial)")
            axis.plot(centres, values, marker="o", label=label,
                      linestyle="-" if row["status"] == "complete" else ":")
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

