"""``maskgen stats``: counts per cell and shape statistics of a dataset or of a plain mask folder."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from inpaint_core.buckets import cell_of, cell_rank
from inpaint_core.conventions import white_fraction
from inpaint_core.dataset import Dataset
from inpaint_core.maskio import list_mask_files, read_mask, read_mask_values
from inpaint_core.shape import component_count, stroke_width

__all__ = ["dataset_stats", "format_stats"]


def _groups_from_manifest(folder: Path) -> dict[str, list[Path]]:
    groups: dict[str, list[Path]] = {}
    dataset = Dataset(folder)
    for row in dataset.records():
        key = row.cell if row.split == "test" and row.cell else ("train" if row.split == "train" else "unbinned")
        groups.setdefault(key, []).append(dataset.path(row))
    return groups


def _groups_from_folder(folder: Path, polarity: str) -> dict[str, list[Path]]:
    from .layout import detect_polarity

    files = list_mask_files(folder)
    if not files:
        raise ValueError(f"{str(folder)!r} holds no manifest.csv and no image file")
    if polarity == "auto":
        fractions = [white_fraction(read_mask_values(p)) for p in files[:200]]
        polarity = detect_polarity(fractions)
    groups: dict[str, list[Path]] = {}
    for path in files:
        cell = cell_of(read_mask(path, polarity=polarity))
        groups.setdefault(cell.name if cell else "unbinned", []).append(path)
    groups["_polarity"] = [Path(polarity)]
    return groups


def dataset_stats(folder: str | Path, *, sample: int = 0, polarity: str = "auto") -> dict[str, object]:
    """Per-group (cell, ``train``, ``unbinned``) counts and shape statistics.

    Args:
        folder: a dataset (with ``manifest.csv``) or a plain folder of masks (cells from the pixels).
        sample: measure shapes on at most this many masks per group (0 = all), the first in order.
        polarity: for a plain folder: ``auto``, ``hole-white`` or ``hole-black``.

    Returns:
        ``{"groups": {name: {"count", "ratio_mean", "components_mean", "components_median",
        "stroke_width_median"}}, "polarity": ...}``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{str(folder)!r} is not a folder")
    read_polarity = "hole-white"
    if (folder / "manifest.csv").is_file():
        groups = _groups_from_manifest(folder)
    else:
        groups = _groups_from_folder(folder, polarity)
        read_polarity = str(groups.pop("_polarity")[0])
    result: dict[str, dict[str, float]] = {}
    for name in sorted(groups, key=cell_rank):
        paths = groups[name]
        measured = paths[:sample] if sample else paths
        ratios, components, widths = [], [], []
        for path in measured:
            mask = read_mask(path, polarity=read_polarity)
            ratios.append(float(mask.mean()))
            components.append(component_count(mask))
            widths.append(stroke_width(mask))
        result[name] = {
            "count": len(paths), "measured": len(measured),
            "ratio_mean": float(np.mean(ratios)) if ratios else float("nan"),
            "components_mean": float(np.mean(components)) if components else float("nan"),
            "components_median": float(np.median(components)) if components else float("nan"),
            "stroke_width_median": float(np.median(widths)) if widths else float("nan"),
        }
    return {"groups": result, "polarity": read_polarity}


def format_stats(stats: dict[str, object]) -> str:
    """A fixed-width table of :func:`dataset_stats`."""
    lines = [f"{'cell':<10}{'count':>7}{'measured':>9}{'ratio':>8}{'comp.mean':>10}{'comp.med':>9}{'width.med':>10}"]
    groups: dict[str, dict[str, float]] = stats["groups"]  # type: ignore[assignment]
    for name, group in groups.items():
        lines.append(f"{name:<10}{group['count']:>7}{group['measured']:>9}{group['ratio_mean']:>8.3f}"
                     f"{group['components_mean']:>10.1f}{group['components_median']:>9.0f}"
                     f"{group['stroke_width_median']:>10.1f}")
    total = sum(int(g["count"]) for n, g in groups.items() if n not in ("train", "unbinned"))
    lines.append(f"test cells total: {total}")
    return "\n".join(lines)
