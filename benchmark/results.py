"""A run's tables: the typed per-image record (:class:`PairResult`), its CSV row, and ``summary.csv``.

``per_image.csv`` columns: :data:`PER_IMAGE_COLUMNS`. Floats are written with 6 decimals, NaN (or a value
not computed) as an empty cell, infinities as ``inf``. A record read back from a CSV row
(:meth:`PairResult.from_row`) holds exactly the values written, so what is summarised after a resumed run
is what an uninterrupted run summarises.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from inpaint_core.files import csv_text

from .metrics import METRIC_NAMES
from .pairing import Pair

__all__ = ["PairResult", "PER_IMAGE_COLUMNS", "RUN_FILES_RECORDED", "SUMMARY_METRICS", "format_value", "read_results", "drop_cut_line",
           "per_image_csv", "summary_csv"]

SUMMARY_METRICS = (*METRIC_NAMES, "lpips", "seconds")
RUN_FILES_RECORDED = ("pairs.csv", "per_image.csv", "summary.csv", "summary_area.csv")  # sha256 in run.json "files"
PER_IMAGE_COLUMNS = ("pair_id", "cell", "image", "mask", "hole_ratio", "status", "error", *SUMMARY_METRICS)


def format_value(value: object) -> str:
    """A CSV cell: 6 decimals for floats, empty for None and NaN, ``inf`` for infinities."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return "inf" if math.isinf(value) else f"{value:.6f}"
    return str(value)


def _parse(text: str | None) -> float | None:
    return None if text in (None, "") else float(text)


def _floats(metrics: Mapping[str, object]) -> dict[str, float | None]:
    """Every summary metric as a float (None where absent): written as 6 decimals, read back exactly."""
    return {name: None if metrics.get(name) is None else float(metrics[name]) for name in SUMMARY_METRICS}


@dataclass(frozen=True)
class PairResult:
    """One scored pair: ``status`` ``ok`` with its metrics, or ``failed`` with the reason in ``error``.

    ``metrics`` maps each of :data:`SUMMARY_METRICS` to its value (None where not computed).
    """

    pair_id: str
    cell: str
    image: str
    mask: str
    hole_ratio: float | None
    status: str
    error: str
    metrics: Mapping[str, float | None]

    @classmethod
    def ok(cls, pair: Pair, hole_ratio: float, metrics: Mapping[str, float | None]) -> "PairResult":
        return cls(pair.pair_id, pair.cell, pair.image, pair.mask, float(hole_ratio), "ok", "", _floats(metrics))

    @classmethod
    def failed(cls, pair: Pair, reason: str, hole_ratio: float | None = None,
               metrics: Mapping[str, float | None] | None = None) -> "PairResult":
        """A failed pair; ``metrics``: any computed before the failure (written, never summarised)."""
        return cls(pair.pair_id, pair.cell, pair.image, pair.mask, hole_ratio, "failed", reason,
                   _floats(metrics or {}))

    @classmethod
    def from_row(cls, row: Mapping[str, str]) -> "PairResult":
        """The record of a ``per_image.csv`` row."""
        return cls(row["pair_id"], row["cell"], row["image"], row["mask"], _parse(row.get("hole_ratio")),
                   row["status"], row.get("error") or "", {name: _parse(row.get(name)) for name in SUMMARY_METRICS})

    def to_row(self) -> dict[str, str]:
        """The ``per_image.csv`` row, every value formatted."""
        fields = {"pair_id": self.pair_id, "cell": self.cell, "image": self.image, "mask": self.mask,
                  "hole_ratio": self.hole_ratio, "status": self.status, "error": self.error, **self.metrics}
        return {name: format_value(fields[name]) for name in PER_IMAGE_COLUMNS}

    def as_written(self) -> "PairResult":
        """The record as read back from its CSV row (values rounded as written)."""
        return PairResult.from_row(self.to_row())

    @property
    def scored(self) -> Mapping[str, float | None] | None:
        """The metrics of an ``ok`` pair, ``None`` for a failed one (what the accumulator takes)."""
        return self.metrics if self.status == "ok" else None


def read_results(path: Path) -> dict[str, PairResult]:
    """The records of an append-only ``per_image`` CSV by pair id ({} when absent); a last line cut by a
    kill is dropped."""
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as handle:
        text = handle.read()
    if text and not text.endswith("\n"):  # a line cut by a kill: drop it
        text = text[: text.rfind("\n") + 1]
    return {row["pair_id"]: PairResult.from_row(row) for row in csv.DictReader(io.StringIO(text))
            if row.get("seconds") is not None and row["pair_id"]}


def drop_cut_line(path: Path) -> None:
    """Truncate an append-only CSV after its last complete line, so that appending starts on a new line
    (a kill or a full disk can leave a row cut in the middle)."""
    if not path.is_file():
        return
    with open(path, "rb+") as handle:
        data = handle.read()
        if data and not data.endswith(b"\n"):
            handle.truncate(data.rfind(b"\n") + 1)


def per_image_csv(results: Iterable[PairResult]) -> str:
    return csv_text(PER_IMAGE_COLUMNS, (result.to_row() for result in results))


def summary_csv(summary: list[dict[str, object]]) -> str:
    """``summary.csv`` (or ``summary_area.csv``) of :meth:`benchmark.aggregate.CellAccumulator.compute`'s
    (or ``compute_area``'s) entries."""
    if not summary:
        return ""
    return csv_text(list(summary[0]), ({k: format_value(v) for k, v in entry.items()} for entry in summary))
