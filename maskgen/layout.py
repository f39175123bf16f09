"""NVIDIA layout export and mask-folder import.

NVIDIA's irregular-mask test set: ``00000.png ... 11999.png``, 12 blocks of 1,000; block k holds bin
k // 2; even blocks are border class B, odd blocks N (measured on all 12,000 files).
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from inpaint_core.buckets import CELLS, border_margin_for, cell_of, cell_rank
from inpaint_core.conventions import binarize, white_fraction
from inpaint_core.dataset import (DATASET_FORMAT, IMPORTED_PROTOCOL, MASK_PROTOCOL_KEY, MASKGEN_VIDEO_FAMILY,
                                   NVIDIA_SUBSET_PROTOCOL, NVIDIA_TEST_PROTOCOL, Dataset, MaskRecord,
                                   check_mask_protocol)
from inpaint_core.files import atomic_write_bytes, atomic_write_text, natural_key, sha256_bytes
from inpaint_core.maskio import decode_mask_values, list_mask_files, read_mask_values, write_mask
from inpaint_core.outdir import FolderLock, check_not_inside

from .verify import NVIDIA_BLOCK_SIZE, NvidiaReport, ReleasedSet, classify, hash_files, nvidia_cell
from .writer import DATASET_MARKERS, EXPORT_MARKERS, cell_counts, clear_output, drop_marker, finish_dataset

__all__ = ["export_nvidia", "detect_polarity", "import_masks", "nvidia_cell", "LayoutError"]

log = logging.getLogger(__name__)
NVIDIA_NAME = re.compile(r"^(\d{5})\.png$")
EXPORT_FORMAT = "maskgen-nvidia-export/1"
IMPORT_MARKER = ".maskgen/import.json"  # written first by an import, removed once dataset.json is written
# protocol names an import may not be given with --protocol: NVIDIA's (verified copies get it themselves)
# and maskgen build's
RESERVED_PROTOCOL_PREFIXES = (NVIDIA_TEST_PROTOCOL, MASKGEN_VIDEO_FAMILY)


class LayoutError(ValueError):
    """Bad export/import input."""


def export_nvidia(dataset: str | Path, out: str | Path, *, per_cell: int | None = None,
                  overwrite: bool = False) -> dict[str, object]:
    """Write the test split of a maskgen dataset as ``00000.png ...`` in NVIDIA's block order.

    Each block holds the first ``per_cell`` masks (manifest order) of its cell; by default the size of the
    smallest cell, which must then be the same for all 12 (NVIDIA's layout has equal blocks). Files are
    copied byte for byte; ``export.json`` (written first: the source dataset and its fingerprint) marks the
    folder as an export, ``export.csv`` (written last) maps each name to its source row. ``out`` is locked
    while it is written; ``overwrite`` clears it only if it is empty or an earlier export
    (:data:`~maskgen.writer.EXPORT_MARKERS`), never the dataset or a folder holding it.

    Raises:
        LayoutError: a cell is empty or smaller than ``per_cell``.
        ValueError: ``out`` is inside the dataset, is not empty (without ``overwrite``), or is not an export
            (with ``overwrite``); FolderBusyError: another process writes ``out``.
    """
    dataset = Path(dataset)
    out = Path(out)
    source = Dataset(dataset)
    by_cell: dict[str, list[MaskRecord]] = {cell.name: [] for cell in CELLS}
    for record in source.records("test", binned=True):
        by_cell[record.cell].append(record)
    per_cell = _block_size(by_cell, per_cell)
    check_not_inside(out, [dataset], what="the dataset")
    with FolderLock(out, purpose="maskgen export"):
        clear_output(out, overwrite=overwrite, markers=EXPORT_MARKERS, protected=[dataset], what="maskgen export",
                     refuse_any=True)
        atomic_write_text(out / "export.json", json.dumps({
            "format": EXPORT_FORMAT, "layout": "nvidia", "dataset": str(dataset.resolve()),
            "dataset_fingerprint": source.fingerprint, "block_size": per_cell, "files": 12 * per_cell,
        }, indent=2) + "\n")
        lines = _export_files(source, by_cell, per_cell, out)
        atomic_write_text(out / "export.csv", "\n".join(lines) + "\n")
    return {"files": 12 * per_cell, "block_size": per_cell}


def _export_files(source: Dataset, by_cell: dict[str, list[MaskRecord]], per_cell: int, out: Path) -> list[str]:
    """Copy the first ``per_cell`` masks of each cell to their NVIDIA names; the lines of ``export.csv``."""
    lines = ["name,block,cell,source,sha256"]
    digits = max(5, len(str(12 * per_cell - 1)))
    for cell in CELLS:
        for offset, row in enumerate(by_cell[cell.name][:per_cell]):
            number = cell.index * per_cell + offset
            name = f"{number:0{digits}d}.png"
            data = source.path(row).read_bytes()
            if sha256_bytes(data) != row.sha256:
                raise LayoutError(f"{row.path} does not match its sha256 in the manifest (changed on disk?)")
            atomic_write_bytes(out / name, data)
            lines.append(f"{name},{cell.index},{cell.name},{row.path},{row.sha256}")
    return lines


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
    mask_protocol: str = IMPORTED_PROTOCOL
    verification: NvidiaReport | None = None  # the NVIDIA check of an nvidia layout (maskgen.verify)
    source_hashes: tuple[str, ...] | None = None  # sha256 of each file when checked, in file order


@dataclass
class _Imported:
    """What an import wrote: the rows, cells, unreadable files and what was noticed on the way (no pixels)."""

    rows: list[MaskRecord] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)  # per cell name, and "unbinned"
    mismatches: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    source_sha256: list[str] = field(default_factory=list)  # of every source file, in file order
    grey_files: int = 0
    border_margin: int | None = None  # the B/N margin asked for (None: by each mask's size)
    margins_used: set[int] = field(default_factory=set)  # the margins the masks were binned with

    @property
    def recorded_margin(self) -> int | None:
        """The margin ``dataset.json`` records: the one every mask used, else ``None`` (masks of different
        sizes binned with the default of their own size, :func:`inpaint_core.buckets.border_margin_for`)."""
        return next(iter(self.margins_used)) if len(self.margins_used) == 1 else None


def import_masks(source: str | Path, out: str | Path, *, layout: str = "auto", polarity: str = "auto",
                 block_size: int | None = None, overwrite: bool = False,
                 protocol: str | None = None, border_margin: int | None = None) -> dict[str, object]:
    """Turn a folder of masks into a maskgen dataset (``manifest.csv``, ``dataset.json``, PNGs 255 = hole).

    Every mask is binarised (grey values >= 128 are white), converted to 255 = hole and written to
    ``out/test/<cell>/``; its cell is computed from its pixels. With ``layout="nvidia"`` (or ``"auto"``
    when every file is named ``NNNNN.png``) the cell its number implies is compared, and disagreements are
    listed in ``dataset.json["layout_mismatches"]``.

    Masks are streamed: read, checked and written one at a time (``polarity="auto"`` reads them once more
    beforehand for their white fractions), so memory does not grow with the number of files. ``out`` is
    locked while it is written; an import writes ``.maskgen/import.json`` before its first mask (removed
    once ``dataset.json`` is written), so an interrupted import counts as a dataset for ``overwrite``, which
    clears ``out`` only if it is empty or a maskgen dataset (:data:`~maskgen.writer.DATASET_MARKERS`) and
    neither ``source`` nor a folder holding it.

    An nvidia layout is first checked against the sha256 of NVIDIA's released files
    (:func:`maskgen.verify.classify`): ``dataset.json["nvidia_verified"]`` says ``complete``, ``subset`` or
    ``not-released`` (``not-checked`` for a folder layout) and ``"nvidia_verification"`` holds the counts.
    ``dataset.json["mask_protocol"]`` is ``nvidia-test`` for the complete released set,
    ``nvidia-test-subset`` for a verified subset, else ``protocol`` or ``imported``: a copy that is not the
    released set is imported all the same, under another protocol name.

    Args:
        block_size: NVIDIA block size; default: the file count / 12 when the names are exactly
            ``0 .. 12n-1``, else 1000 (NVIDIA's). NVIDIA's released files always use 1000.
        protocol: mask protocol name of a copy that is not NVIDIA's verified released set (default
            ``imported``); names starting with ``nvidia-test`` or ``maskgen-video`` are refused, and so is
            any name for a verified released copy (its protocol is NVIDIA's).
        border_margin: the B/N margin in pixels; default 50 px per 512 px of the mask side
            (:func:`inpaint_core.buckets.border_margin_for`). Recorded in ``dataset.json["border_margin"]``
            when every mask used the same margin; ``None`` when masks of different sizes each used their own
            default (readers then take the default per mask, as :class:`inpaint_core.dataset.Dataset` says).

    Returns:
        The ``dataset.json`` content.

    Raises:
        ValueError: bad input; ``out`` inside ``source``, holding a dataset (without ``overwrite``) or
            something else (with it); FolderBusyError: another process writes ``out``.
    """
    out = Path(out)
    checked = _check_import(Path(source), out, layout, polarity, block_size, protocol, border_margin)
    with FolderLock(out, purpose="maskgen import"):
        clear_output(out, overwrite=overwrite, markers=DATASET_MARKERS, protected=[checked.folder],
                     what="maskgen dataset")
        detected = detect_polarity(_white_fractions(checked)) if polarity == "auto" else polarity
        atomic_write_text(out / IMPORT_MARKER, json.dumps({"imported_from": str(checked.folder.resolve()),
                                                           "started": time.time()}) + "\n")
        imported = _write_masks(checked, detected, out, border_margin)
        if checked.source_hashes is not None and tuple(imported.source_sha256) != checked.source_hashes:
            raise LayoutError(f"files under {str(checked.folder)!r} changed during the import; import again "
                              "with --overwrite")
        if not imported.rows:  # every file unreadable: nothing written
            drop_marker(out, IMPORT_MARKER)
            raise LayoutError(f"no readable mask under {str(checked.folder)!r}")
        imported.rows.sort(key=lambda r: (cell_rank(r.cell), natural_key(str(r.source))))
        info = finish_dataset(out, imported.rows, _import_description(checked, imported, polarity, detected))
        drop_marker(out, IMPORT_MARKER)
    return info


def _import_description(checked: _ImportSource, imported: _Imported, polarity: str,
                        detected: str) -> Callable[[str], dict[str, object]]:
    """The ``dataset.json`` content of an import, given its fingerprint."""

    def describe(fingerprint: str) -> dict[str, object]:
        return {
            "format": DATASET_FORMAT,
            "fingerprint": fingerprint,
            MASK_PROTOCOL_KEY: checked.mask_protocol,
            "nvidia_verified": checked.verification.status if checked.verification else "not-checked",
            "nvidia_verification": checked.verification.to_json(names=False) if checked.verification else None,
            "imported_from": str(checked.folder.resolve()),
            "layout": checked.layout,
            "block_size": checked.block_size,
            "polarity": detected,
            "polarity_detected": polarity == "auto",
            "files_with_grey_pixels": imported.grey_files,
            "counts": cell_counts(imported.counts),
            "layout_mismatches": imported.mismatches,
            "border_margin": imported.recorded_margin,
            "skipped": imported.skipped,
            "source_files_sha256": sha256_bytes("\n".join(imported.source_sha256).encode()),
        }

    return describe


def _check_import(source: Path, out: Path, layout: str, polarity: str, block_size: int | None,
                  protocol: str | None = None, border_margin: int | None = None) -> _ImportSource:
    """The mask files of ``source``, their layout and (nvidia layout) NVIDIA check and mask protocol.
    ValueError on bad input or an ``out`` inside ``source`` (checked before ``out`` is touched)."""
    if border_margin is not None and border_margin < 1:
        raise ValueError(f"border_margin must be >= 1, got {border_margin}")
    if not source.is_dir():
        raise LayoutError(f"mask folder {str(source)!r} does not exist or is not a folder")
    if layout not in ("auto", "nvidia", "folder"):
        raise LayoutError(f"layout must be auto, nvidia or folder, got {layout!r}")
    if polarity not in ("auto", "hole-white", "hole-black"):
        raise LayoutError(f"polarity must be auto, hole-white or hole-black, got {polarity!r}")
    if protocol is not None and check_mask_protocol(protocol).startswith(RESERVED_PROTOCOL_PREFIXES):
        raise LayoutError(f"--protocol {protocol}: names starting with {' or '.join(RESERVED_PROTOCOL_PREFIXES)} "
                          "are kept for NVIDIA's released set (verified file by file) and maskgen build")
    files = list_mask_files(source)
    if not files:
        raise LayoutError(f"no image file under {str(source)!r}")
    check_not_inside(out, [source], what="the mask folder")
    if layout == "auto":
        layout = "nvidia" if all(NVIDIA_NAME.match(p.name) and p.parent == source for p in files) else "folder"
    if layout == "nvidia":
        bad = [p.name for p in files if not NVIDIA_NAME.match(p.name)]
        if bad:
            raise LayoutError(f"not NVIDIA names (NNNNN.png): {', '.join(bad[:5])}")
        return _check_nvidia_copy(source, files, block_size, protocol)
    return _ImportSource(source, files, layout, None, protocol or IMPORTED_PROTOCOL)


def _check_nvidia_copy(source: Path, files: list[Path], block_size: int | None,
                       protocol: str | None) -> _ImportSource:
    """An nvidia layout, checked against NVIDIA's released files: its protocol and block size (1000 for
    released files; otherwise ``block_size``, or files / 12 when the names are exactly ``0 .. 12n-1``)."""
    hashes = hash_files(files)
    unreadable = [(path, digest) for path, digest in zip(files, hashes) if isinstance(digest, OSError)]
    if unreadable:
        raise OSError(f"cannot read {str(unreadable[0][0])!r}: {unreadable[0][1].strerror or unreadable[0][1]}")
    report = classify({path.relative_to(source).as_posix(): str(digest) for path, digest in zip(files, hashes)},
                      ReleasedSet.load(), folder=str(source))
    released = report.status != "not-released"
    if released and protocol is not None:
        raise LayoutError(f"{str(source)!r} is NVIDIA's released set ({report.summary}); its mask protocol is "
                          f"{NVIDIA_TEST_PROTOCOL}: drop --protocol")
    if released and block_size not in (None, NVIDIA_BLOCK_SIZE):
        raise LayoutError(f"{str(source)!r} holds NVIDIA's released files, whose blocks hold "
                          f"{NVIDIA_BLOCK_SIZE}: drop --block-size {block_size}")
    if released:
        block_size = NVIDIA_BLOCK_SIZE
        protocol = NVIDIA_TEST_PROTOCOL if report.status == "complete" else NVIDIA_SUBSET_PROTOCOL
    elif block_size is None:
        numbers = sorted(int(p.stem) for p in files)
        contiguous = numbers == list(range(len(numbers)))
        block_size = len(numbers) // 12 if contiguous and len(numbers) % 12 == 0 else NVIDIA_BLOCK_SIZE
    return _ImportSource(source, files, "nvidia", block_size, protocol or IMPORTED_PROTOCOL, report,
                         tuple(str(digest) for digest in hashes))


def _white_fractions(checked: _ImportSource) -> list[float]:
    """The white fraction of every readable file, one file in memory at a time (unreadable files are left out
    here and reported by :func:`_write_masks`). LayoutError when none is readable."""
    fractions: list[float] = []
    for path in checked.files:
        try:
            fractions.append(white_fraction(read_mask_values(path)))
        except ValueError:
            continue
    if not fractions:
        raise LayoutError(f"no readable mask under {str(checked.folder)!r}")
    return fractions


def _write_masks(checked: _ImportSource, polarity: str, out: Path, border_margin: int | None = None) -> _Imported:
    """Each readable file as a 255 = hole PNG under ``out/test/<cell>/`` (``unbinned`` outside all bins),
    streamed: one file's bytes and pixels in memory at a time, only the records kept."""
    imported = _Imported(border_margin=border_margin)
    for path in checked.files:
        data = np.fromfile(path, dtype=np.uint8)
        imported.source_sha256.append(hashlib.sha256(data).hexdigest())
        relative_source = path.relative_to(checked.folder).as_posix()
        try:
            value = decode_mask_values(data, what=str(path))
        except ValueError as exc:
            imported.skipped.append({"path": relative_source, "reason": str(exc)})
            continue
        del data
        _write_mask(checked, path, value, polarity, out, imported)
    return imported


def _write_mask(checked: _ImportSource, path: Path, value: np.ndarray, polarity: str, out: Path,
                imported: _Imported) -> None:
    """Write one mask's 255 = hole PNG and add its record, cell count and layout check to ``imported``."""
    if np.any((value > 0) & (value < 255)):
        imported.grey_files += 1
    mask = binarize(value, polarity)
    margin = imported.border_margin if imported.border_margin is not None else border_margin_for(mask.shape)
    imported.margins_used.add(margin)
    cell = cell_of(mask, margin=margin)
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
    imported.rows.append(MaskRecord.of_mask(relative, "test", mask, data, source=relative_source, slot=slot,
                                            margin=margin))
