"""Checks of a run's inputs before any pair is scored, so that a broken input is reported as an input error,
never as a model failure, and an altered mask set is never scored as the real one.

* every mask of the run: inside the dataset folder, its bytes those the manifest recorded (sha256), the
  evaluation size, and its pixels in the cell it is filed under (hole ratio in the bin, border class);
* every image of the set: readable as an image.

Each check collects every problem and raises one :class:`InputError` naming how many there are and the
first few.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from inpaint_core.buckets import border_class, cell_by_name, cell_of, hole_ratio
from inpaint_core.dataset import Dataset, MaskRecord
from inpaint_core.conventions import binarize
from inpaint_core.files import sha256_bytes
from inpaint_core.maskio import read_mask_file

__all__ = ["RunError", "InputError", "read_recorded_mask", "mask_problem", "check_masks", "check_images",
           "SHOWN_PROBLEMS"]

SHOWN_PROBLEMS = 3


class RunError(ValueError):
    """Bad run input or a run folder holding another run."""


class InputError(RunError):
    """Inputs of a run (masks, images) that cannot be scored as they are."""


def _raise_problems(problems: Sequence[str], what: str, advice: str) -> None:
    if not problems:
        return
    shown = "; ".join(problems[:SHOWN_PROBLEMS])
    more = f" (and {len(problems) - SHOWN_PROBLEMS} more)" if len(problems) > SHOWN_PROBLEMS else ""
    raise InputError(f"input error: {len(problems)} {what}: {shown}{more}; {advice}")


def read_recorded_mask(path: Path, sha256: str) -> tuple[np.ndarray, bool]:
    """The mask at ``path`` (bool, True = hole) and whether its bytes have ``sha256`` (True when none is
    recorded), from one read of the file (:func:`inpaint_core.maskio.read_mask_file`).

    Raises:
        ValueError: the file is missing or not a readable image (or above the pixel limit).
    """
    values, data = read_mask_file(path)
    return binarize(values), not sha256 or sha256_bytes(data) == sha256


def mask_problem(dataset: Dataset, record: MaskRecord, size: int) -> str:
    """Why the mask of ``record`` cannot be scored at ``size`` (``""`` when it can)."""
    try:
        mask, recorded = read_recorded_mask(dataset.path(record), record.sha256)
    except (OSError, ValueError) as exc:
        return f"{record.path}: {str(exc).splitlines()[0]}"
    if not recorded:
        return f"{record.path}: not the file the manifest records (sha256 differs: changed after the dataset was made)"
    if mask.shape != (size, size):
        return (f"{record.path}: {mask.shape[1]}x{mask.shape[0]} but the evaluation size is {size} "
                f"(use --size {mask.shape[0]} or masks of that size)")
    filed = cell_by_name(record.cell)
    actual = cell_of(mask, margin=dataset.border_margin)
    if actual != filed:
        where = f"belongs in {actual.name}" if actual is not None else "is in no cell"
        return (f"{record.path}: filed under {filed.name} ({filed.low:g}, {filed.high:g}] but its hole ratio "
                f"{hole_ratio(mask):.4f} and border class {border_class(mask, margin=dataset.border_margin)} mean "
                f"it {where}")
    return ""


def check_masks(dataset: Dataset, records: Iterable[MaskRecord], size: int) -> None:
    """Every mask of ``records`` usable at ``size`` and in its cell, or :class:`InputError` listing them."""
    problems = [problem for problem in (mask_problem(dataset, record, size) for record in records) if problem]
    _raise_problems(problems, "masks cannot be scored", "rebuild or re-import the mask set, or restore its files")


def check_images(folder: Path, relative_paths: Iterable[str]) -> list[tuple[str, str]]:
    """``(relative path, sha256)`` of every image, each file read once and decoded
    (:func:`inpaint_core.images.decode_rgb`, the pixel limit included), or :class:`InputError` listing those
    that cannot be read. The pairs give the image-set fingerprint
    (:func:`benchmark.images.fingerprint_of_hashes`)."""
    from inpaint_core.images import decode_rgb

    hashes = []
    problems = []
    for relative in relative_paths:
        path = folder / relative
        try:
            data = np.fromfile(path, dtype=np.uint8)
            decode_rgb(data, what=str(path))
        except (OSError, ValueError) as exc:
            problems.append(f"{relative}: {str(exc).splitlines()[0]}")
            continue
        hashes.append((relative, sha256_bytes(data)))
    _raise_problems(problems, "images cannot be read", "remove or replace them")
    return hashes
