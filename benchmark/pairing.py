"""Deterministic (image, mask) pairs for a benchmark run.

Every test mask of the dataset (cells in NVIDIA order, manifest order inside a cell, at most ``per_cell``
of each) is used once. Images are handed out in a seeded order: a permutation of all images, then a new
permutation, and so on, so every image is used as evenly as possible. The pairs are recorded in
``pairs.csv`` of every run, and their fingerprint in ``run.json``.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

from inpaint_core.dataset import MaskRecord
from inpaint_core.files import csv_text
from inpaint_core.seeds import Stream, rng

__all__ = ["Pair", "make_pairs", "pairs_csv", "pairs_fingerprint"]

PAIR_COLUMNS = ("pair_id", "cell", "mask", "mask_sha256", "image")


@dataclass(frozen=True)
class Pair:
    pair_id: str
    cell: str
    mask: str  # path relative to the mask dataset
    mask_sha256: str
    image: str  # path relative to the image folder


def make_pairs(mask_rows: list[MaskRecord], images: list[str], *, seed: int = 0) -> list[Pair]:
    """One pair per mask record (``Dataset.records("test", per_cell=..., binned=True)``); images in seeded,
    repeated permutations (see the module doc)."""
    if not images:
        raise ValueError("no image to pair with the masks")
    generator = rng(seed, Stream.PAIRING)
    order: list[int] = []
    while len(order) < len(mask_rows):
        order.extend(int(i) for i in generator.permutation(len(images)))
    digits = max(5, len(str(len(mask_rows) - 1)))
    return [Pair(f"{index:0{digits}d}", row.cell, row.path, row.sha256, images[order[index]])
            for index, row in enumerate(mask_rows)]


def pairs_csv(pairs: list[Pair]) -> str:
    return csv_text(PAIR_COLUMNS, (asdict(pair) for pair in pairs))


def pairs_fingerprint(pairs: list[Pair]) -> str:
    return hashlib.sha256(pairs_csv(pairs).encode()).hexdigest()

