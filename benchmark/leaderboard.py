"""Merging run folders into a leaderboard: CSV, Markdown and a plot, one ranking per mask protocol.

Every figure is recomputed from the run's ``per_image.csv`` (never taken from ``summary.csv``, which only
has to agree with it), bootstrap intervals included (``values[cell]["<metric>_ci_low"]`` /
``["<metric>_ci_high"]``, :attr:`RunRecord.intervals`), per cell and per hole-area bin (``summary_area.csv``);
FID, KID and P-/U-IDS, which need the Inception features, are the values read from ``summary.csv``, whose
bytes must be those ``run.json`` recorded. A run whose files disagree with each other (rows and pairs,
counts, summary, recorded sha256) is refused, naming the file.

**Mask protocols.** Every run belongs to a mask protocol, the kind of mask set it was scored on
(``nvidia-test``, ``maskgen-video-512``, ``lama-thick-512``, ...): ``run.json["mask_protocol"]``. A run
written before protocols were recorded gets ``unnamed-<first 12 hex digits of its mask-set fingerprint>``
(:func:`mask_protocol_of`), so runs on different mask sets never share one. Runs are grouped by protocol and
each protocol is ranked on its own: never one ranking across protocols. Within a protocol the runs must
share the mask set, image set, pairs and scoring protocol (``protocol_key`` in ``run.json``); otherwise
:class:`LeaderboardError` says which runs differ and in what.

``leaderboard.csv`` layout: one row per run, protocol by protocol (in name order), columns

* ``mask_protocol``; ``rank`` (1, 2, ... for the complete runs of that protocol; empty for partial runs),
  ``status`` (``complete``: every pair answered; ``partial``: some pairs failed, its means cover only the
  answered pairs), ``model``, ``kind`` (python / command / predictions), ``run`` (folder name), ``pairs``,
  ``failures``;
* ``<metric>`` for every metric over all pairs (:data:`SUMMARY_METRICS`: ``l1``, ``l1_hole``, ``psnr``,
  ``ssim``, ``lpips``, ``fid``, ``kid``, ``p_ids``, ``u_ids``, ``seconds``; empty where the run has no value,
  e.g. no network weights), each per-image metric followed by ``<metric>_ci_low`` and ``<metric>_ci_high``
  (empty for runs without intervals);
* ``<metric>@<cell>`` (and ``<metric>_ci_low@<cell>``, ``<metric>_ci_high@<cell>``) for every metric and
  cell (``l1@01-10_B`` ... ``ssim@50-60_N``), cells in NVIDIA order.

Within a protocol, complete runs come first, ordered by the ranking metric (default ``l1``, lower is better;
``psnr``, ``ssim``, ``p_ids`` and ``u_ids`` higher); partial runs follow, unranked: a model that fails the
hard pairs never ranks above one that answers them all. Runs where every pair failed are left out with a note.
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

from .aggregate import SET_COLUMNS, CellAccumulator
from .areabins import AREA_BIN_NAMES
from .metrics import METRIC_NAMES
from .results import SUMMARY_METRICS as PER_IMAGE_METRICS
from .results import RUN_FILES_RECORDED, format_value, read_results
from .setmetrics import FEATURE_METRICS

__all__ = ["LeaderboardError", "RunRecord", "ProtocolSection", "Leaderboard", "read_run", "collect_runs",
           "section_rows", "write_leaderboard", "plot_png", "mask_protocol_of",
           "HIGHER_IS_BETTER", "SUMMARY_METRICS", "SET_METRICS", "PER_IMAGE_METRICS", "RUN_FILES_RECORDED",
           "value_text"]

HIGHER_IS_BETTER = {"psnr", "ssim", "p_ids", "u_ids"}
SET_METRICS = ("fid", "kid", "p_ids", "u_ids")  # per cell in summary.csv (need the Inception features)
SUMMARY_METRICS = (*METRIC_NAMES, "lpips", *SET_METRICS, "seconds")
UNNAMED_PREFIX = "unnamed-"


class LeaderboardError(ValueError):
    """Runs that cannot be merged, a damaged run, or no run at all."""


def mask_protocol_of(info: Mapping[str, object]) -> str:
    """The run's mask protocol: ``run.json["mask_protocol"]`` (or ``["dataset"]["mask_protocol"]``); for a
    run written before protocols were recorded, ``unnamed-<first 12 hex digits of the mask-set
    fingerprint>``: runs on one mask set share it, runs on different ones never do."""
    for holder in (info, info.get("dataset") or {}):
        value = holder.get("mask_protocol") if isinstance(holder, Mapping) else None
        if isinstance(value, str) and value.strip():
            return value
    return UNNAMED_PREFIX + str(info["dataset"]["fingerprint"])[:12]


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

    @property
    def mask_protocol(self) -> str:
        """:func:`mask_protocol_of` its ``run.json``."""
        return mask_protocol_of(self.info)

    @property
    def intervals(self) -> dict[str, dict[str, tuple[float, float]]]:
        """``intervals[cell][metric]``: the bootstrap 95 % interval ``(low, high)`` of a per-image metric's
        mean, from ``values[cell]["<metric>_ci_low"]`` / ``["<metric>_ci_high"]`` where the run has them
        (runs scored before intervals were recorded have none)."""
        intervals: dict[str, dict[str, tuple[float, float]]] = {}
        for cell, values in self.values.items():
            for metric in PER_IMAGE_METRICS:
                low = values.get(f"{metric}_ci_low", math.nan)
                high = values.get(f"{metric}_ci_high", math.nan)
                if not (math.isnan(low) or math.isnan(high)):
                    intervals.setdefault(cell, {})[metric] = (low, high)
        return intervals


@dataclass(frozen=True)
class ProtocolSection:
    """The runs of one mask protocol (ranked together), all on the same mask set, images, pairs and
    scoring protocol."""

    mask_protocol: str
    runs: list[RunRecord]

    @property
    def info(self) -> Mapping[str, object]:
        """``run.json`` of the first run (what every run of the section shares)."""
        return self.runs[0].info


@dataclass(frozen=True)
class Leaderboard:
    """The runs shown, one section per mask protocol (in name order), and a note for each run left out
    (``left_out``: those runs, every pair of which failed)."""

    sections: list[ProtocolSection]
    notes: list[str]
    left_out: list[RunRecord] = field(default_factory=list)

    @property
    def runs(self) -> list[RunRecord]:
        return [record for section in self.sections for record in section.runs]


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


_SET_VALUES = tuple(column for column in SET_COLUMNS if column != "fid_count")  # read as written


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
        group.update({column: _value(written.get(column)) for column in _SET_VALUES})
        values[entry[label]] = group
    return values


def collect_runs(paths: list[Path]) -> Leaderboard:
    """Finished runs found in ``paths`` (run folders or folders of run folders), checked (:func:`read_run`)
    and grouped by mask protocol; runs where every pair failed are left out with a note. Within a protocol
    the runs must be comparable (same mask set, images, pairs, scoring protocol), else LeaderboardError."""
    records = [read_run(folder) for path in paths for folder in _run_folders(path)]
    if not records:
        raise LeaderboardError("no finished run (run.json) under " + ", ".join(str(p) for p in paths))
    notes, left_out = [], []
    by_protocol: dict[str, list[RunRecord]] = {}
    for record in records:
        if record.failures == record.pairs:
            left_out.append(record)
            reasons = "; ".join(f"{reason} ({count})" for reason, count in record.reasons.items())
            notes.append(f"left out {record.name} ({record.folder}, mask protocol {record.mask_protocol}): "
                         f"all {record.pairs} pairs failed: {reasons}")
        else:
            by_protocol.setdefault(record.mask_protocol, []).append(record)
    if not by_protocol:
        raise LeaderboardError("no run with a scored pair: " + " | ".join(notes))
    sections = [ProtocolSection(name, by_protocol[name]) for name in sorted(by_protocol)]
    for section in sections:
        _check_comparable(section)
    notes += _same_masks_other_protocol(sections)
    return Leaderboard(sections, notes, left_out)


def _check_comparable(section: ProtocolSection) -> None:
    records = section.runs
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
        raise LeaderboardError(f"runs {records[0].folder} and {record.folder} (mask protocol {section.mask_protocol}) "
                               f"differ in {', '.join(differences) or 'protocol'}; they cannot share a leaderboard")


def _same_masks_other_protocol(sections: list[ProtocolSection]) -> list[str]:
    """A note for each mask set filed under more than one protocol (e.g. runs from before protocols were
    recorded next to newer ones): they are ranked apart."""
    protocols: dict[str, list[str]] = {}
    for section in sections:
        fingerprint = str(section.info["dataset"]["fingerprint"])
        protocols.setdefault(fingerprint, []).append(section.mask_protocol)
    return [f"mask set {fingerprint[:12]} appears under the mask protocols {', '.join(names)} (another --per-cell, "
            "or runs scored before protocols were recorded), ranked apart" for fingerprint, names in protocols.items()
            if len(names) > 1]


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


def _metric_columns(metric: str, suffix: str = "") -> list[str]:
    """``metric`` and, for a per-image metric, its interval columns (``suffix``: ``@<cell>`` or "")."""
    names = [metric]
    if metric in PER_IMAGE_METRICS:
        names += [f"{metric}_ci_low", f"{metric}_ci_high"]
    return [name + suffix for name in names]


def _metric_values(row: dict[str, object], record: RunRecord, cell: str, suffix: str) -> None:
    values = record.values.get(cell, {})
    nan = float("nan")
    for metric in SUMMARY_METRICS:
        row[metric + suffix] = values.get(metric, nan)
        if metric in PER_IMAGE_METRICS:  # the bootstrap gives both bounds or neither (NaN, NaN)
            for bound in ("ci_low", "ci_high"):
                row[f"{metric}_{bound}{suffix}"] = values.get(f"{metric}_{bound}", nan)


def section_rows(section: ProtocolSection, *, rank_by: str = "l1") -> list[dict[str, object]]:
    """One row per run of one protocol (see the module doc): complete runs ranked first (rank 1, 2, ...),
    then partial runs."""
    if rank_by not in SUMMARY_METRICS:
        raise LeaderboardError(f"cannot rank by {rank_by!r}; choose one of {', '.join(SUMMARY_METRICS)}")
    rows = []
    for record in section.runs:
        row: dict[str, object] = {"mask_protocol": section.mask_protocol, "rank": "",
                                  "status": "complete" if record.complete else "partial",
                                  "model": record.name, "kind": record.info["model"]["kind"],
                                  "run": record.folder.name, "pairs": record.pairs, "failures": record.failures}
        _metric_values(row, record, "all", "")
        for cell in CELLS:
            _metric_values(row, record, cell.name, f"@{cell.name}")
        row["record"] = record
        rows.append(row)
    rows.sort(key=_sort_key(rank_by))
    for position, row in enumerate((r for r in rows if r["status"] == "complete"), start=1):
        row["rank"] = position
    return rows


def csv_columns() -> list[str]:
    """The columns of ``leaderboard.csv``, in order."""
    columns = ["mask_protocol", "rank", "status", "model", "kind", "run", "pairs", "failures"]
    for metric in SUMMARY_METRICS:
        columns += _metric_columns(metric)
    for cell in CELLS:
        for metric in SUMMARY_METRICS:
            columns += _metric_columns(metric, f"@{cell.name}")
    return columns


def value_text(value: object, digits: int = 4) -> str:
    """A table value: floats with ``digits`` decimals, empty for NaN."""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def write_leaderboard(board: Leaderboard, csv_path: Path, *, rank_by: str = "l1",
                      plot_metric: str = "l1") -> dict[str, Path]:
    """Write ``csv_path``, the Markdown table beside it (``.md``) and the plot (``.png``)."""
    if plot_metric not in SUMMARY_METRICS:
        raise LeaderboardError(f"cannot plot {plot_metric!r}; choose one of {', '.join(SUMMARY_METRICS)}")
    groups = [(section, section_rows(section, rank_by=rank_by)) for section in board.sections]
    rows = [row for _, section in groups for row in section]
    columns = csv_columns()
    atomic_write_text(csv_path, csv_text(columns, ({k: value_text(row[k], 6) for k in columns} for row in rows)))
    md_path = csv_path.with_suffix(".md")
    atomic_write_text(md_path, _markdown(groups, board.notes, rank_by))
    png_path = csv_path.with_suffix(".png")
    atomic_write_bytes(png_path, plot_png([(section.mask_protocol, section_rows_) for section, section_rows_ in groups],
                                          plot_metric))
    return {"csv": csv_path, "md": md_path, "png": png_path}


# (column header, metric, decimals) of the Markdown tables; the optional set metrics only where a run has them
_COLUMNS = [("L1 %", "l1", 2), ("L1 hole %", "l1_hole", 2), ("PSNR", "psnr", 2), ("SSIM", "ssim", 3),
            ("LPIPS", "lpips", 3), ("FID", "fid", 2), ("KID", "kid", 4), ("P-IDS", "p_ids", 3),
            ("U-IDS", "u_ids", 3), ("s/image", "seconds", 3)]
_OPTIONAL = set(FEATURE_METRICS)


def shown_columns(rows: list[dict[str, object]]) -> list[tuple[str, str, int]]:
    """(header, metric, decimals) of the metric columns of a section's tables: the optional set metrics
    (KID, P-IDS, U-IDS) only when a run of the section has them."""
    return [column for column in _COLUMNS if column[1] not in _OPTIONAL
            or any(not math.isnan(row[column[1]]) for row in rows)]


def interval_bounds(row: Mapping[str, object], metric: str, digits: int, suffix: str = "") -> str:
    """``[low, high]`` when the row has a value and its interval, else empty."""
    if metric in PER_IMAGE_METRICS and value_text(row[metric + suffix], digits):
        low, high = row[f"{metric}_ci_low{suffix}"], row[f"{metric}_ci_high{suffix}"]
        if not (math.isnan(low) or math.isnan(high)):
            return f"[{low:.{digits}f}, {high:.{digits}f}]"
    return ""


def interval_text(row: Mapping[str, object], metric: str, digits: int, suffix: str = "") -> str:
    """``mean [low, high]`` when the row has the interval (:func:`interval_bounds`), else ``mean`` (empty for
    no value)."""
    text = value_text(row[metric + suffix], digits)
    bounds = interval_bounds(row, metric, digits, suffix)
    return f"{text} {bounds}" if bounds else text


def _table(rows: list[dict[str, object]], columns: list[tuple[str, str, int]], *, ranked: bool) -> list[str]:
    header = (["rank"] if ranked else []) + ["model", "pairs", "failures"] + [name for name, _, _ in columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = ([str(row["rank"])] if ranked else []) + [str(row["model"]), str(row["pairs"]), str(row["failures"])]
        cells += [interval_text(row, metric, digits) for _, metric, digits in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _markdown(groups: list[tuple[ProtocolSection, list[dict[str, object]]]], notes: list[str], rank_by: str) -> str:
    lines: list[str] = []
    for section, rows in groups:
        info = section.info
        intervals = any(record.intervals for record in section.runs)
        lines += [f"## Mask protocol {section.mask_protocol}", "",
                  f"Mask set {info['dataset']['fingerprint'][:12]}, image set {info['images']['fingerprint'][:12]}, "
                  f"{info['pairs']['count']} pairs at {info['protocol']['size']} px; composite output; "
                  "L1 in % (lower is better), PSNR dB, SSIM (higher is better), LPIPS and FID (lower is better; "
                  f"empty where the network weights were absent). Ranked by {rank_by}"
                  + (" within this protocol" if len(groups) > 1 else "") + "."
                  + (" [low, high]: bootstrap 95 % interval of the mean, where the run has one." if intervals else ""),
                  ""]
        columns = shown_columns(rows)
        complete = [row for row in rows if row["status"] == "complete"]
        partial = [row for row in rows if row["status"] != "complete"]
        if complete:
            lines += _table(complete, columns, ranked=True)
        if partial:
            lines += ["", "Partial runs, not ranked (some pairs failed; their means cover only the pairs they "
                      "answered, so they are not comparable with complete runs):", ""]
            lines += _table(partial, columns, ranked=False)
        lines += ["", "L1 % per cell (hole-ratio bin, B = no hole within 50 px of the border, N = holes there):", ""]
        lines.append("| model | " + " | ".join(cell.name for cell in CELLS) + " |")
        lines.append("|" + "---|" * (len(CELLS) + 1))
        for row in rows:
            label = str(row["model"]) + ("" if row["status"] == "complete" else " (partial)")
            lines.append(f"| {label} | " + " | ".join(interval_text(row, "l1", 2, f"@{cell.name}")
                                                     for cell in CELLS) + " |")
        lines += _area_table(rows)
        lines.append("")
    if notes:
        lines += [*(f"Note: {note}" for note in notes)]
    return "\n".join(lines).rstrip("\n") + "\n"


def _area_table(rows: list[dict[str, object]]) -> list[str]:
    """L1 per 10 % hole-area bin (LaMa's grouping, ``summary_area.csv``) of the runs that have it."""
    records: list[RunRecord] = [row["record"] for row in rows]  # type: ignore[misc]
    bins = [name for name in AREA_BIN_NAMES if any(name in record.area_values for record in records)]
    if not bins:
        return []
    lines = ["", "L1 % per hole-area bin (LaMa's 10 % bins, closed below; `summary_area.csv`):", "",
             "| model | " + " | ".join(bins) + " |", "|" + "---|" * (len(bins) + 1)]
    nan = float("nan")
    for row, record in zip(rows, records):
        label = str(row["model"]) + ("" if row["status"] == "complete" else " (partial)")
        texts = []
        for name in bins:
            group = record.area_values.get(name, {})
            texts.append(interval_text({key: group.get(key, nan) for key in ("l1", "l1_ci_low", "l1_ci_high")},
                                       "l1", 2))
        lines.append(f"| {label} | " + " | ".join(texts) + " |")
    return lines


_PLOT_LABELS = {"l1": "L1 %", "l1_hole": "L1 over the hole %", "psnr": "PSNR dB", "ssim": "SSIM", "lpips": "LPIPS",
                "fid": "FID", "kid": "KID", "p_ids": "P-IDS", "u_ids": "U-IDS", "seconds": "seconds per image"}


def plot_png(groups: list[tuple[str, list[dict[str, object]]]], metric: str) -> bytes:
    """PNG of ``metric`` per cell against the hole ratio: per protocol a row of two panels (border classes B
    and N), a line per run (dotted for partial runs), with error bars where the runs have intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    centres = [(BIN_EDGES[i] + BIN_EDGES[i + 1]) / 2 for i in range(len(BIN_EDGES) - 1)]
    figure, axes = plt.subplots(len(groups), 2, figsize=(10, 4 * len(groups)), sharey="row", dpi=100,
                                squeeze=False)
    for (protocol, rows), axis_row in zip(groups, axes):
        for axis, border in zip(axis_row, ("B", "N")):
            for index, row in enumerate(rows):
                names = [cell.name for cell in CELLS if cell.border == border]
                shift = (index - (len(rows) - 1) / 2) * 0.006  # runs side by side: error bars do not hide each other
                xs = [centre + shift for centre in centres]
                values = [row[f"{metric}@{name}"] for name in names]
                label = str(row["model"]) + ("" if row["status"] == "complete" else " (partial)")
                style = {"marker": "o", "label": label, "linestyle": "-" if row["status"] == "complete" else ":"}
                if metric in PER_IMAGE_METRICS:
                    lows = [row[f"{metric}_ci_low@{name}"] for name in names]
                    highs = [row[f"{metric}_ci_high@{name}"] for name in names]
                    if any(not math.isnan(low) for low in lows):
                        below = [max(0.0, v - lo) if not math.isnan(lo) else 0.0 for v, lo in zip(values, lows)]
                        above = [max(0.0, hi - v) if not math.isnan(hi) else 0.0 for v, hi in zip(values, highs)]
                        axis.errorbar(xs, values, yerr=[below, above], capsize=3, **style)
                        continue
                axis.plot(xs, values, **style)
            axis.set_title(f"{protocol}: border class {border}" if len(groups) > 1 else f"border class {border}")
            axis.set_xlim(BIN_EDGES[0] - 0.01, BIN_EDGES[-1] + 0.01)
            axis.set_xticks(centres, [f"{lo:g}-{hi:g}" for lo, hi in zip(BIN_EDGES[:-1], BIN_EDGES[1:])])
            axis.set_xlabel("hole ratio (bin)")
            axis.grid(alpha=0.3)
        axis_row[0].set_ylabel(_PLOT_LABELS.get(metric, metric) + (" (higher is better)" if metric in HIGHER_IS_BETTER
                                                                    else " (lower is better)"))
        axis_row[1].legend(fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()
