"""Finishing a dataset whose mask files are written: one writer for ``maskgen build`` and ``maskgen import``;
the marker files that let ``--overwrite`` recognise the folders maskgen writes."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from inpaint_core.dataset import MaskRecord, write_dataset_json, write_manifest

__all__ = ["DATASET_MARKERS", "EXPORT_MARKERS", "finish_dataset"]

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
