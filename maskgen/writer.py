"""Finishing a dataset whose mask files are written: one writer for ``maskgen build``, ``import`` and
``generate``; the marker files that let ``--overwrite`` recognise the folders maskgen writes, and clearing
such a folder before it is written again."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping, Sequence

from inpaint_core.buckets import CELLS
from inpaint_core.dataset import MaskRecord, write_dataset_json, write_manifest
from inpaint_core.outdir import LOCK_NAME, check_can_clear, remove_contents

__all__ = ["DATASET_MARKERS", "EXPORT_MARKERS", "finish_dataset", "folder_entries", "clear_output", "drop_marker",
           "cell_counts"]

# A folder holding one of these is a maskgen dataset (finished, or one whose build or import was interrupted:
# both write ``.maskgen/`` first); ``--overwrite`` clears only such a folder (inpaint_core.outdir.check_can_clear).
DATASET_MARKERS = ("dataset.json", "manifest.csv", ".maskgen")
# ``maskgen export`` writes ``export.json`` before any mask and ``export.csv`` last.
EXPORT_MARKERS = ("export.json", "export.csv")


def finish_dataset(folder: Path, rows: Sequence[MaskRecord],
                   describe: Callable[[str], dict[str, object]]) -> dict[str, object]:
    """Finish a dataset whose mask files are written: ``manifest.csv``, the pictures (binned test masks and
    training masks), then ``dataset.json`` last, its presence marking a finished dataset.

    Args:
        describe: the ``dataset.json`` content, given the fingerprint (sha256 of ``manifest.csv``).

    Returns:
        The ``dataset.json`` content.
    """
    from .pictures import write_pictures

    fingerprint = write_manifest(folder, rows)
    info = describe(fingerprint)
    write_pictures(folder, [row for row in rows if row.cell or row.split == "train"])
    write_dataset_json(folder, info)
    return info


def folder_entries(out: Path) -> set[str]:
    """The names directly in ``out`` but its lock file (none when ``out`` is not a folder)."""
    return {entry.name for entry in out.iterdir()} - {LOCK_NAME} if out.is_dir() else set()


def clear_output(out: Path, *, overwrite: bool, markers: Sequence[str], what: str, protected: Sequence[Path] = (),
                 refuse_any: bool = False) -> None:
    """Make the locked folder ``out`` ready to write. Without ``overwrite``: refuse one that holds anything
    (``refuse_any``) or one of ``markers``. With it: clear it, after :func:`check_can_clear` (only an empty
    folder or one with ``markers``; never ``protected``, a parent of them, the working directory or home).

    Raises:
        ValueError: ``out`` cannot be written (see above).
    """
    names = folder_entries(out)
    if not overwrite:
        if names & set(markers) and not refuse_any:
            raise ValueError(f"{str(out)!r} already holds a {what}; use --overwrite or another folder")
        if names and refuse_any:
            raise ValueError(f"{str(out)!r} is not empty; use --overwrite or another folder")
        return
    check_can_clear(out, markers=markers, protected=protected, what=what)
    remove_contents(out)


def drop_marker(out: Path, relative: str) -> None:
    """Remove the marker file ``out / relative`` written before a dataset's first mask (and its folder,
    ``.maskgen/``, when nothing else is in it)."""
    marker = out / relative
    marker.unlink(missing_ok=True)
    try:
        marker.parent.rmdir()
    except OSError:
        pass


def cell_counts(counter: Mapping[str, int]) -> dict[str, object]:
    """``dataset.json["counts"]`` from masks per cell name (and ``"unbinned"``): ``{"test": {cell: n},
    "test_total": ..., "unbinned": ...}``."""
    return {"test": {cell.name: counter.get(cell.name, 0) for cell in CELLS},
            "test_total": sum(counter.get(cell.name, 0) for cell in CELLS),
            "unbinned": counter.get("unbinned", 0)}
