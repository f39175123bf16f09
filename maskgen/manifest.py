"""The dataset files: ``manifest.csv`` (one row per mask) and ``dataset.json``.

``manifest.csv`` columns, in order (:data:`MANIFEST_COLUMNS`):

====================  ==========================================================================
path                  mask PNG, relative to the dataset folder
split                 ``test`` or ``train``
cell                  ``01-10_B`` ... ``50-60_N``; empty for a training mask outside all bins
bin                   0..5, or empty
bin_low, bin_high     the bin's ratio bounds, or empty
border                ``B`` or ``N`` (50 px rule)
hole_ratio            hole pixels / all pixels, 6 decimals
clip                  clip id (path relative to ``--video-dir``)
frame_a, frame_b      the frame pair (t, t + k)
source                ``occlusion`` (mask on frame_a) or ``disocclusion`` (mask on frame_b)
flow                  flow method
dilation              disk diameter in output pixels
rotation              degrees
crop_scale            crop side / shorter frame side
center_x, center_y    crop centre in working-frame pixels
clear_border          1 if the 50 px frame was cleared (class B by construction)
seed                  build seed; with ``slot`` and ``attempt`` it determines the mask
slot, attempt         slot index within the cell (or the training split) and the winning attempt
sha256                of the PNG file
====================  ==========================================================================

Imported mask folders (``maskgen import``) use the same columns; generation fields are empty and
``source`` holds the original file.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Iterable, Mapping

from .maskio import atomic_write_text, sha256_bytes

__all__ = ["MANIFEST_COLUMNS", "manifest_text", "write_manifest", "read_manifest", "write_dataset_json",
           "read_dataset_json", "DATASET_FORMAT"]

DATASET_FORMAT = "maskgen-dataset/1"

MANIFEST_COLUMNS: tuple[str, ...] = (
    "path", "split", "cell", "bin", "bin_low", "bin_high", "border", "hole_ratio", "clip", "frame_a",
    "frame_b", "source", "flow", "dilation", "rotation", "crop_scale", "center_x", "center_y",
    "clear_border", "seed", "slot", "attempt", "sha256",
)


def _format(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def manifest_text(rows: Iterable[Mapping[str, object]]) -> str:
    """CSV text of the rows (missing columns empty), ``\\n`` line ends, fixed column order."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(MANIFEST_COLUMNS)
    for row in rows:
        unknown = set(row) - set(MANIFEST_COLUMNS)
        if unknown:
            raise ValueError(f"unknown manifest columns {sorted(unknown)}")
        writer.writerow([_format(row.get(column)) for column in MANIFEST_COLUMNS])
    return buffer.getvalue()


def write_manifest(folder: Path, rows: Iterable[Mapping[str, object]]) -> str:
    """Write ``manifest.csv`` atomically; returns its fingerprint (sha256 of the file)."""
    text = manifest_text(rows)
    atomic_write_text(folder / "manifest.csv", text)
    return sha256_bytes(text.encode("utf-8"))


def read_manifest(folder: str | Path) -> list[dict[str, str]]:
    """Rows of ``folder/manifest.csv`` as dicts of strings.

    Raises:
        ValueError: no manifest, or one with other columns.
    """
    path = Path(folder) / "manifest.csv"
    if not path.is_file():
        raise ValueError(f"{str(folder)!r} is not a mask dataset: no manifest.csv (build one with "
                         "'maskgen build' or 'maskgen import')")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != MANIFEST_COLUMNS:
            raise ValueError(f"{str(path)!r} has columns {reader.fieldnames}, expected {list(MANIFEST_COLUMNS)}")
        return list(reader)


def write_dataset_json(folder: Path, info: Mapping[str, object]) -> None:
    atomic_write_text(folder / "dataset.json", json.dumps(info, indent=2, sort_keys=False) + "\n")


def read_dataset_json(folder: str | Path) -> dict[str, object] | None:
    path = Path(folder) / "dataset.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
