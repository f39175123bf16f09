"""NVIDIA layout export and mask-folder import.

NVIDIA's irregular-mask test set: ``00000.png ... 11999.png``, 12 blocks of 1,000; block k holds bin
k // 2; even blocks are border class B, odd blocks N (measured on all 12,000 files).
"""
from __future__ import annotations

import logging
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from inpaint_core.buckets import CELLS, Cell, cell_of, cell_rank
from inpaint_core.conventions import binarize, white_fraction
from inpaint_core.dataset import DATASET_FORMAT, Dataset, MaskRecord
from inpaint_core.files import atomic_write_bytes, natural_key, sha256_bytes, sha256_file
from inpaint_core.maskio import list_mask_files, read_mask_values, write_mask

from .writer import finish_dataset

__all__ = ["export_nvidia", "detect_polarity", "import_masks", "nvidia_cell", "LayoutError"]

log = logging.getLogger(__name__)
NVIDIA_NAME = re.compile(r"^(\d{5})\.png$")


class LayoutError(ValueError):
    """Bad export/import input."""


def nvidia_cell(index: int, *, block_size: int = 1000) -> Cell:
    """The cell NVIDIA's layout gives file number ``index``."""
    block = index // block_size
    if not 0 <= block < len(CELLS):
        raise LayoutError(f"file number {index} is outside the 12 blocks of {block_size}")
    return Cell(block // 2, "B" if block % 2 == 0 else "N")


def export_nvidia(dataset: str | Path, out: str | Path, *, per_cell: int | None = None,
                  overwrite: bool = False) -> dict[str, object]:
    """Write the test split of a maskgen dataset as ``00000.png ...`` in NVIDIA's block order.

    Each block holds the first ``per_cell`` masks (manifest order) of its cell; by default the size of the
    smallest cell, which must then be the same for all 12 (NVIDIA's layout has equal blocks). Files are
    copied byte for byte; ``export.csv`` maps each name to its source row.

    Raises:
        LayoutError: a cell is empty or smaller than ``per_cell``, or ``out`` is not empty.
    """
    dataset = Path(dataset)
    out = Path(out)
    by_cell: dict[str, list[MaskRecord]] = {cell.name: [] for cell in CELLS}
    for record in Dataset(dataset).records("test", binned=True):
        by_cell[record.cell].append(record)
    per_cell = _block_size(by_cell, per_cell)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise LayoutError(f"{str(out)!r} is not empty; use --overwrite or another folder")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    lines = ["name,block,cell,source,sha256"]
    digits = max(5, len(str(12 * per_cell - 1)))
    for cell in CELLS:
        for offset, row in enumerate(by_cell[cell.name][:per_cell]):
            number = cell.index * per_cell + offset
            name = f"{number:0{digits}d}.png"
            data = (dataset / row.path).read_bytes()
            if sha256_bytes(data) != row.sha256:
                raise LayoutError(f"{row.path} does not match its sha256 in the manifest (changed on disk?)")
            atomic_write_bytes(out / name, data)
            lines.append(f"{name},{cell.index},{cell.name},{row.path},{row.sha256}")
    (out / "export.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"files": 12 * per_cell, "block_size": per_cell}


def _block_size(by_cell: dict[str, list[MaskRecord]], per_cell: int | None) -> int:
    """``per_cell``, or the common size of the cells; LayoutError when a cell cannot fill its block."""
    sizes = {name: len(items) for name, items in by_cell.items()}
    if per_cell is None:
        per_cell = min(sizes.values())
        if per_cell != max(sizes.values()):
            raise LayoutError("cells differ in size (" + ", ".join(f"{k}: {v}" for k, v in sizes.items())
                              + f"); NVIDIA's layout needs equal blocks: pass --per-cell {per_cell} or less")
    if per_cell <= 0:
        raise LayoutError("the dataset has an empty test cell: " + ", ".join(k for k, v in sizes.items() if not v))
    short = {k: v for k, v in sizes.items() if v < per_cell}
    if short:
        raise LayoutError(f"cells with fewer than {per_cell} masks: "
                          + ", ".join(f"{k}: {v}" for k, v in short.items()))
    return per_cell


def detect_polarity(white_fractions: Sequence[float]) -> str:
    """``"hole-white"`` or ``"hole-black"`` for a folder, from each mask's fraction of white pixels.

    Hole ratios of inpainting masks are mostly below one half, so a folder whose median white fraction is
    below 0.5 has white holes. Decided per folder, never per file (one file's majority says nothing).

    Raises:
        LayoutError: the median is too close to one half (0.45-0.55) to decide; pass the polarity.
    """
    if not len(white_fractions):
        raise LayoutError("no mask to detect the polarity from")
    median = float(np.median(white_fractions))
    if 0.45 <= median <= 0.55:
        raise LayoutError(f"cannot tell the polarity: the median white fraction is {median:.2f}; "
                          "pass --polarity hole-white or hole-black")
    return "hole-white" if median < 0.5 else "hole-black"


@dataclass(frozen=True)
class _ImportSource:
    """A checked import: the mask files, the layout they follow and NVIDIA's block size (for that layout)."""

    folder: Path
    files: list[Path]
    layout: str  # "nvidia" or "folder"
    block_size: int | None


@dataclass
class _Imported:
    """The masks written by an import: their rows, cells, and what was noticed on the way."""

    rows: list[MaskRecord] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)  # per cell name, and "unbinned"
    mismatches: list[dict[str, str]] = field(default_factory=list)
    grey_files: int = 0


def import_masks(source: str | Path, out: str | Path, *, layout: str = "auto", polarity: str = "auto",
                 block_size: int | None = None, overwrite: bool = False) -> dict[str, object]:
    """Turn a folder of masks into a maskgen dataset (``manifest.csv``, ``dataset.json``, PNGs 255 = hole).

    Every mask is binarised (grey values >= 128 are white), converted to 255 = hole and written to
    ``out/test/<cell>/``; its cell is computed from its pixels. With ``layout="nvidia"`` (or ``"auto"``
    when every file is named ``NNNNN.png``) the cell its number implies is compared, and disagreements are
    listed in ``dataset.json["layout_mismatches"]``.

    Args:
        block_size: NVIDIA block size; default: the file count / 12 when the names are exactly
            ``0 .. 12n-1``, else 1000 (NVIDIA's).

    Returns:
        The ``dataset.json`` content.
    """
    out = Path(out)
    checked = _check_import(Path(source), out, layout, polarity, block_size, overwrite)
    values, skipped = _read_values(checked)
    detected = detect_polarity([white_fraction(v) for v in values if v is not None]) if polarity == "auto" \
        else polarity
    imported = _write_masks(checked, values, detected, out)
    imported.rows.sort(key=lambda r: (cell_rank(r.cell), natural_key(str(r.source))))

    def describe(fingerprint: str) -> dict[str, object]:
        return {
            "format": DATASET_FORMAT,
            "fingerprint": fingerprint,
            "imported_from": str(checked.folder.resolve()),
            "layout": checked.layout,
            "block_size": checked.block_size,
            "polarity": detected,
            "polarity_detected": polarity == "auto",
            "files_with_grey_pixels": imported.grey_files,
            "counts": {"test": {cell.name: imported.counts.get(cell.name, 0) for cell in CELLS},
                       "test_total": sum(imported.counts.get(cell.name, 0) for cell in CELLS),
                       "unbinned": imported.counts.get("unbinned", 0)},
            "layout_mismatches": imported.mismatches,
            "skipped": skipped,
            "source_files_sha256": sha256_bytes("\n".join(sha256_file(p) for p in checked.files).encode()),
        }

    return finish_dataset(out, imported.rows, describe)


def _check_import(source: Path, out: Path, layout: str, polarity: str, block_size: int | None,
                  overwrite: bool) -> _ImportSource:
    """The mask files of ``source`` and their layout; clears ``out`` for ``overwrite``. LayoutError on bad input."""
    if not source.is_dir():
        raise LayoutError(f"mask folder {str(source)!r} does not exist or is not a folder")
    if layout not in ("auto", "nvidia", "folder"):
        raise LayoutError(f"layout must be auto, nvidia or folder, got {layout!r}")
    if polarity not in ("auto", "hole-white", "hole-black"):
        raise LayoutError(f"polarity must be auto, hole-white or hole-black, got {polarity!r}")
    files = list_mask_files(source)
    if not files:
        raise LayoutError(f"no image file under {str(source)!r}")
    if out.resolve() == source.resolve() or source.resolve() in out.resolve().parents:
        raise LayoutError("--out must not be the source folder or inside it")
    if layout == "auto":
        layout = "nvidia" if all(NVIDIA_NAME.match(p.name) and p.parent == source for p in files) else "folder"
    if layout == "nvidia":
        bad = [p.name for p in files if not NVIDIA_NAME.match(p.name)]
        if bad:
            raise LayoutError(f"not NVIDIA names (NNNNN.png): {', '.join(bad[:5])}")
        numbers = sorted(int(p.stem) for p in files)
        if block_size is None:
            contiguous = numbers == list(range(len(numbers)))
            block_size = len(numbers) // 12 if contiguous and len(numbers) % 12 == 0 else 1000
    if out.exists() and (out / "manifest.csv").exists() and not overwrite:
        raise LayoutError(f"{str(out)!r} already holds a dataset; use --overwrite or another folder")
    if out.exists() and overwrite:
        for name in ("test", "pictures"):
            shutil.rmtree(out / name, ignore_errors=True)
    return _ImportSource(source, files, layout, block_size if layout == "nvidia" else None)


def _read_values(checked: _ImportSource) -> tuple[list[np.ndarray | None], list[dict[str, str]]]:
    """The 8-bit values of every file (``None`` where unreadable) and the unreadable files with the reason."""
    values: list[np.ndarray | None] = []
    skipped: list[dict[str, str]] = []
    for path in checked.files:
        try:
            values.append(read_mask_values(path))
        except ValueError as exc:
            values.append(None)
            skipped.append({"path": path.relative_to(checked.folder).as_posix(), "reason": str(exc)})
    if all(value is None for value in values):
        raise LayoutError(f"no readable mask under {str(checked.folder)!r}")
    return values, skipped


def _write_masks(checked: _ImportSource, values: Sequence[np.ndarray | None], polarity: str, out: Path) -> _Imported:
    """Each readable file as a 255 = hole PNG under ``out/test/<cell>/`` (``unbinned`` outside all bins)."""
    imported = _Imported()
    for path, value in zip(checked.files, values):
        if value is None:
            continue
        if np.any((value > 0) & (value < 255)):
            imported.grey_files += 1
        mask = binarize(value, polarity)
        cell = cell_of(mask)
        relative_source = path.relative_to(checked.folder).as_posix()
        folder = cell.name if cell is not None else "unbinned"
        stem = relative_source.rsplit(".", 1)[0].replace("/", "__")
        relative = f"test/{folder}/{stem}.png"
        data = write_mask(out / relative, mask)
        imported.counts[folder] += 1
        slot = int(path.stem) if checked.layout == "nvidia" else len(imported.rows)
        if checked.layout == "nvidia":
            expected = nvidia_cell(slot, block_size=checked.block_size)
            if cell != expected:
                found = cell.name if cell else f"ratio {mask.mean():.4f} outside all bins"
                imported.mismatches.append({"file": relative_source, "expected": expected.name, "found": found})
        imported.rows.append(MaskRecord.of_mask(relative, "test", mask, data, source=relative_source, slot=slot))
    return imported
