"""Finishing a dataset whose mask files are written: one writer for ``maskgen build`` and ``maskgen import``."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from inpaint_core.dataset import MaskRecord, write_dataset_json, write_manifest

__all__ = ["finish_dataset"]


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
