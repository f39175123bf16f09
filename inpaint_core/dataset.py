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
import json
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Iterable, Mapping

import numpy as np

from .buckets import border_class, cell_of, sort_by_cell
from .files import atomic_write_text, csv_text, read_json, sha256_bytes, sha256_file

__all__ = ["DATASET_FORMAT", "MANIFEST_COLUMNS", "MaskRecord", "Dataset", "manifest_text", "write_manifest",
           "write_dataset_json", "read_dataset_json", "MASK_PROTOCOL_KEY", "NVIDIA_TEST_PROTOCOL",
           "NVIDIA_SUBSET_PROTOCOL", "MASKGEN_VIDEO_FAMILY", "IMPORTED_PROTOCOL", "mask_protocol_name",
           "check_mask_protocol", "legacy_mask_protocol"]

DATASET_FORMAT = "maskgen-dataset/1"

# Mask protocols: the name of the kind of mask set a dataset is, stored as ``dataset.json["mask_protocol"]``
# and copied into each benchmark run's ``run.json``; runs of different protocols are never ranked together.
# A generated family is ``<family>-<size>`` (``maskgen-video-512``, ``lama-thick-512``); NVIDIA's released
# test set, verified file by file, is ``nvidia-test`` (a verified subset ``nvidia-test-subset``); any other
# imported folder ``imported`` or the name given at import.
MASK_PROTOCOL_KEY = "mask_protocol"
NVIDIA_TEST_PROTOCOL = "nvidia-test"
NVIDIA_SUBSET_PROTOCOL = f"{NVIDIA_TEST_PROTOCOL}-subset"  # a verified subset of NVIDIA's released files
MASKGEN_VIDEO_FAMILY = "maskgen-video"  # maskgen build's family: protocol maskgen-video-<size>
IMPORTED_PROTOCOL = "imported"  # an imported folder that is not NVIDIA's verified released set
_PROTOCOL_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def check_mask_protocol(name: str) -> str:
    """``name`` if it is a valid protocol name (lower-case letters, digits, ``.``, ``_``, ``-``; at most 64
    characters, starting with a letter or digit), else ValueError."""
    if not isinstance(name, str) or not _PROTOCOL_NAME.match(name):
        raise ValueError(f"mask protocol name {name!r} must be 1-64 characters of a-z, 0-9, '.', '_', '-', "
                         "starting with a letter or digit")
    return name


def mask_protocol_name(family: str, size: int) -> str:
    """``<family>-<size>``: the protocol of a generated mask family at square size ``size``."""
    return check_mask_protocol(f"{family}-{int(size)}")


def legacy_mask_protocol(info: Mapping[str, object]) -> str:
    """The protocol of a dataset written before ``mask_protocol`` was recorded, from its ``dataset.json``:
    a ``maskgen build`` (it has ``build_key``) -> ``maskgen-video-<size>`` from its recorded options; an
    import (``imported_from``) -> ``imported`` (never ``nvidia-test``: those imports were not verified;
    import again to get it); anything else, or no ``dataset.json`` -> ``unknown``."""
    options = info.get("options")
    augment = options.get("augment") if isinstance(options, Mapping) else None
    if "build_key" in info and isinstance(augment, Mapping) and isinstance(augment.get("size"), int):
        return mask_protocol_name(MASKGEN_VIDEO_FAMILY, augment["size"])
    if "imported_from" in info:
        return IMPORTED_PROTOCOL
    return "unknown"


@dataclass(frozen=True)
class MaskRecord:
    """One row of ``manifest.csv`` (see the module doc). Generation fields are ``None`` for imported masks.

    Numbers keep the Python type they were made with (``dilation`` is an int for training masks and a float
    for steered test masks), so a manifest written from records is byte-identical to the first release's.
    """

    path: str
    split: str
    cell: str = ""
    bin: int | None = None
    bin_low: float | None = None
    bin_high: float | None = None
    border: str = ""
    hole_ratio: float = 0.0
    clip: str | None = None
    frame_a: int | None = None
    frame_b: int | None = None
    source: str | None = None
    flow: str | None = None
    dilation: float | None = None
    rotation: float | None = None
    crop_scale: float | None = None
    center_x: float | None = None
    center_y: float | None = None
    clear_border: bool | None = None
    seed: int | None = None
    slot: int | None = None
    attempt: int | None = None
    sha256: str = ""

    @classmethod
    def of_mask(cls, path: str, split: str, mask: np.ndarray, png: bytes, *, margin: int | None = None,
                **generation: object) -> "MaskRecord":
        """The record of ``mask`` written as ``png`` to ``path``: cell, bin, border and ratio from its pixels
        (``margin``: the B/N margin, default by the mask's size, :func:`inpaint_core.buckets.border_margin_for`)."""
        cell = cell_of(mask, margin=margin)  # None exactly when the ratio is outside all bins
        return cls(path=path, split=split, cell=cell.name if cell else "", bin=cell.bin_index if cell else None,
                   bin_low=cell.low if cell else None, bin_high=cell.high if cell else None,
                   border=cell.border if cell else border_class(mask, margin=margin),
                   hole_ratio=int(np.count_nonzero(mask)) / mask.size, sha256=sha256_bytes(png),
                   **generation)  # type: ignore[arg-type]

    def to_row(self) -> dict[str, str]:
        """The manifest row: strings, ``""`` for ``None``, ``1``/``0`` for booleans, ratio with 6 decimals."""
        row = {name: _format(value) for name, value in asdict(self).items()}
        row["hole_ratio"] = f"{self.hole_ratio:.6f}"
        return row

    @classmethod
    def from_row(cls, row: Mapping[str, str]) -> "MaskRecord":
        values: dict[str, object] = {}
        for item in fields(cls):
            text = row[item.name]
            values[item.name] = _parse(item.name, text)
        return cls(**values)  # type: ignore[arg-type]


MANIFEST_COLUMNS: tuple[str, ...] = tuple(item.name for item in fields(MaskRecord))
_TEXT = {"path", "split", "cell", "border", "clip", "source", "flow", "sha256"}


def _format(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _parse(name: str, text: str) -> object:
    if name in _TEXT:
        return text if text or name in ("cell", "border", "sha256") else None
    if text == "":
        return None
    if name == "clear_border":
        return text == "1"
    try:
        return int(text)
    except ValueError:
        return float(text)


def _path_problem(relative: str) -> str:
    """Why a manifest path does not name a file inside the dataset folder ("" when it does)."""
    if not relative:
        return "is empty"
    candidate = PurePosixPath(relative.replace("\\", "/"))
    if candidate.is_absolute() or PureWindowsPath(relative).drive:
        return "is absolute: manifest paths are relative to the dataset folder"
    if ".." in candidate.parts:
        return "leaves the dataset folder ('..')"
    return ""


def manifest_text(records: Iterable[MaskRecord]) -> str:
    """CSV text of the records: fixed column order, ``\\n`` line ends."""
    return csv_text(MANIFEST_COLUMNS, (record.to_row() for record in records))


def write_manifest(folder: Path, records: Iterable[MaskRecord]) -> str:
    """Write ``manifest.csv`` atomically; returns its fingerprint (sha256 of the file)."""
    text = manifest_text(records)
    atomic_write_text(folder / "manifest.csv", text)
    return sha256_bytes(text.encode("utf-8"))


def write_dataset_json(folder: Path, info: Mapping[str, object]) -> None:
    """Write ``dataset.json`` (last: its presence marks a finished dataset)."""
    atomic_write_text(folder / "dataset.json", json.dumps(info, indent=2, sort_keys=False) + "\n")


def read_dataset_json(folder: str | Path) -> dict[str, object] | None:
    """``dataset.json`` of ``folder``, or ``None`` when it is missing or unreadable (an unfinished dataset)."""
    return read_json(Path(folder) / "dataset.json")


class Dataset:
    """A mask dataset folder, read through its manifest.

    Args:
        folder: holds ``manifest.csv`` (and ``dataset.json`` once finished).

    Raises:
        ValueError: no manifest, or one with other columns.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        path = self.folder / "manifest.csv"
        if not path.is_file():
            raise ValueError(f"{str(folder)!r} is not a mask dataset: no manifest.csv (build one with "
                             "'maskgen build' or 'maskgen import')")
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if tuple(reader.fieldnames or ()) != MANIFEST_COLUMNS:
                raise ValueError(f"{str(path)!r} has columns {reader.fieldnames}, expected {list(MANIFEST_COLUMNS)}")
            self._records = [MaskRecord.from_row(row) for row in reader]
        for number, record in enumerate(self._records, start=2):
            problem = _path_problem(record.path)
            if problem:
                raise ValueError(f"{str(path)!r} line {number}: mask path {record.path!r} {problem}")
        self.info: dict[str, object] = read_dataset_json(self.folder) or {}

    @property
    def mask_protocol(self) -> str:
        """The dataset's mask protocol: ``dataset.json["mask_protocol"]``, or for a dataset written before
        it was recorded :func:`legacy_mask_protocol` (``maskgen-video-<size>``, ``imported`` or
        ``unknown``)."""
        value = self.info.get(MASK_PROTOCOL_KEY)
        if isinstance(value, str) and value:
            return value
        return legacy_mask_protocol(self.info)

    @property
    def fingerprint(self) -> str:
        """sha256 of ``manifest.csv`` as it is on disk now (recomputed, not read from ``dataset.json``)."""
        return sha256_file(self.folder / "manifest.csv")

    def records(self, split: str | None = None, *, per_cell: int | None = None,
                binned: bool = False) -> list[MaskRecord]:
        """The records of ``split`` (all splits for ``None``), in manifest order.

        With ``binned`` only records in one of the 12 cells, sorted by cell (NVIDIA's order; manifest order
        inside a cell); with ``per_cell`` (implies ``binned``) at most that many of each cell, the first ones.
        """
        chosen = [r for r in self._records if split is None or r.split == split]
        if not binned and per_cell is None:
            return chosen
        chosen = sort_by_cell([r for r in chosen if r.cell], key=lambda r: r.cell)
        if per_cell is None:
            return chosen
        kept: dict[str, int] = {}
        limited = []
        for record in chosen:
            if kept.get(record.cell, 0) < per_cell:
                kept[record.cell] = kept.get(record.cell, 0) + 1
                limited.append(record)
        return limited

    def path(self, record: MaskRecord) -> Path:
        """The mask file of ``record`` (see :meth:`file`)."""
        return self.file(record.path)

    def file(self, relative: str) -> Path:
        """The file at manifest path ``relative``.

        Raises:
            ValueError: the path leaves the dataset folder: by name (absolute, ``..``; such manifest rows are
                refused when the manifest is read) or through a link.
        """
        problem = _path_problem(relative)
        full = self.folder / relative
        if not problem and not full.resolve().is_relative_to(self.folder.resolve()):
            problem = f"leads out of the dataset folder (to {str(full.resolve())!r})"
        if problem:
            raise ValueError(f"mask path {relative!r} of {str(self.folder)!r} {problem}")
        return full

    @property
    def border_margin(self) -> int | None:
        """The B/N margin in pixels ``dataset.json`` records (``None``: not recorded, i.e. the default for the
        masks' size, :func:`inpaint_core.buckets.border_margin_for`)."""
        margin = self.info.get("border_margin")
        return int(margin) if isinstance(margin, int) and not isinstance(margin, bool) else None

    def mask_size(self, split: str = "test") -> tuple[int, int]:
        """(height, width) of the first mask of ``split``. Raises ValueError when the split is empty."""
        from .maskio import read_mask_values

        chosen = self.records(split)
        if not chosen:
            raise ValueError(f"mask dataset {str(self.folder)!r} has no {split} mask")
        return tuple(read_mask_values(self.path(chosen[0])).shape[:2])  # type: ignore[return-value]
