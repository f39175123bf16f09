"""Pictures a user looks at: a contact sheet per cell and a hole-ratio histogram (PNG)."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from inpaint_core.buckets import BIN_EDGES, CELL_NAMES
from inpaint_core.dataset import MaskRecord
from inpaint_core.files import atomic_write_bytes, encode_png

__all__ = ["contact_sheet", "write_pictures", "ratio_histogram_png"]


def contact_sheet(masks: Sequence[np.ndarray], *, columns: int = 8, thumb: int = 128, gap: int = 4) -> np.ndarray:
    """Grid of mask thumbnails (white = hole) on a mid-grey background, uint8 HxW."""
    import cv2

    rows = max(1, -(-len(masks) // columns))
    sheet = np.full((rows * (thumb + gap) + gap, columns * (thumb + gap) + gap), 128, dtype=np.uint8)
    for index, mask in enumerate(masks):
        row, column = divmod(index, columns)
        small = cv2.resize(mask.astype(np.uint8) * 255, (thumb, thumb), interpolation=cv2.INTER_AREA)
        top, left = gap + row * (thumb + gap), gap + column * (thumb + gap)
        sheet[top:top + thumb, left:left + thumb] = small
    return sheet


def ratio_histogram_png(ratios_by_label: Mapping[str, Sequence[float]], *, title: str) -> bytes:
    """Histogram of hole ratios (one series per label) with the bin edges marked, as PNG bytes."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 4), dpi=100)
    edges = np.linspace(0, 1, 101)
    for label, ratios in ratios_by_label.items():
        if len(ratios):
            axes.hist(np.asarray(ratios, dtype=float), bins=edges, alpha=0.6, label=f"{label} ({len(ratios)})")
    for edge in BIN_EDGES:
        axes.axvline(edge, color="k", linewidth=0.8, linestyle="--")
    axes.set_xlabel("hole ratio")
    axes.set_ylabel("masks")
    axes.set_title(title)
    axes.legend()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()


def write_pictures(folder: Path, rows: Sequence[MaskRecord], *, per_sheet: int = 48) -> list[Path]:
    """``pictures/contact_<cell>.png`` (first ``per_sheet`` masks of each test cell, plus one for the
    training split) and ``pictures/hole_ratio_hist.png``. Returns the files written."""
    from inpaint_core.maskio import read_mask

    written: list[Path] = []
    groups: dict[str, list[str]] = {}
    for row in rows:
        key = row.cell if row.split == "test" else "train"
        groups.setdefault(key, []).append(row.path)
    for key in [*CELL_NAMES, "train"]:
        paths = groups.get(key, [])[:per_sheet]
        if not paths:
            continue
        sheet = contact_sheet([read_mask(folder / p) for p in paths])
        target = folder / "pictures" / f"contact_{key}.png"
        atomic_write_bytes(target, encode_png(sheet))
        written.append(target)
    ratios = {split: [r.hole_ratio for r in rows if r.split == split] for split in ("test", "train")}
    if any(ratios.values()):
        target = folder / "pictures" / "hole_ratio_hist.png"
        atomic_write_bytes(target, ratio_histogram_png(ratios, title="hole ratios"))
        written.append(target)
    return written
