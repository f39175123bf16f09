"""``maskgen stats``: counts per cell, shape statistics, and how alike two mask sets are.

A *mask set* is a maskgen dataset (``manifest.csv``: cells from the manifest) or a plain folder of mask
images (cells from the pixels, polarity detected once for the folder). For each test cell the shape of
every measured mask is taken (:func:`inpaint_core.shape.mask_shape`); :func:`likeness` compares two sets
bin by bin: per feature of :data:`DISTANCE_FEATURES` the 1-D Wasserstein distance between the two sets'
distributions in that hole-ratio bin (B and N pooled), divided by the reference set's standard deviation
in the bin, then averaged over the features and the bins that both sets hold.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from inpaint_core.buckets import BIN_EDGES, CELLS, border_margin_for, cell_of, cell_rank
from inpaint_core.conventions import white_fraction
from inpaint_core.dataset import Dataset
from inpaint_core.maskio import list_mask_files, read_mask, read_mask_values
from inpaint_core.shape import MaskShape, mask_shape

__all__ = ["DISTANCE_FEATURES", "MaskSet", "Likeness", "measure_mask_set", "likeness", "normalised_wasserstein",
           "dataset_stats", "format_stats", "format_likeness", "likeness_png"]

DISTANCE_FEATURES: tuple[str, ...] = ("components", "largest_share", "thickness", "boundary_per_pixel")
BIN_NAMES: tuple[str, ...] = tuple(f"{round(BIN_EDGES[i] * 100):02d}-{round(BIN_EDGES[i + 1] * 100):02d}"
                                   for i in range(len(BIN_EDGES) - 1))


@dataclass
class MaskSet:
    """The measured masks of one set.

    Attributes:
        folder: where it was read from.
        polarity: how its files were read (``hole-white`` for a dataset).
        counts: masks per group (the 12 cell names, ``train``, ``unbinned``), all of them.
        shapes: per test cell, the shapes of the masks measured (at most ``sample`` per cell).
        border_margin: the B/N margin its cells use (pixels), or ``None`` when it holds no mask.
    """

    folder: Path
    polarity: str
    counts: dict[str, int] = field(default_factory=dict)
    shapes: dict[str, list[MaskShape]] = field(default_factory=dict)
    border_margin: int | None = None

    def bin_values(self, bin_index: int, feature: str) -> np.ndarray:
        """``feature`` of every measured mask of bin ``bin_index`` (B and N pooled), float64."""
        values = [getattr(s, feature) for cell in CELLS if cell.bin_index == bin_index
                  for s in self.shapes.get(cell.name, [])]
        return np.asarray(values, dtype=np.float64)


def _dataset_groups(folder: Path) -> tuple[dict[str, list[Path]], int | None]:
    dataset = Dataset(folder)
    groups: dict[str, list[Path]] = {}
    for row in dataset.records():
        key = row.cell if row.split == "test" and row.cell else ("train" if row.split == "train" else "unbinned")
        groups.setdefault(key, []).append(dataset.path(row))
    return groups, dataset.border_margin


def _folder_groups(folder: Path, polarity: str, margin: int | None) -> tuple[dict[str, list[Path]], str, int | None]:
    from .layout import detect_polarity

    files = list_mask_files(folder)
    if not files:
        raise ValueError(f"{str(folder)!r} holds no manifest.csv and no image file")
    if polarity == "auto":
        polarity = detect_polarity([white_fraction(read_mask_values(p)) for p in files[:200]])
    groups: dict[str, list[Path]] = {}
    used: int | None = None
    for path in files:
        mask = read_mask(path, polarity=polarity)
        used = margin if margin is not None else border_margin_for(mask.shape)
        cell = cell_of(mask, margin=used)
        groups.setdefault(cell.name if cell else "unbinned", []).append(path)
    return groups, polarity, used


def measure_mask_set(folder: str | Path, *, sample: int = 0, polarity: str = "auto",
                     border_margin: int | None = None) -> MaskSet:
    """Count and measure the masks of a dataset or a plain mask folder.

    Args:
        folder: a maskgen dataset (with ``manifest.csv``) or a folder of mask images (searched recursively).
        sample: measure at most this many masks per test cell (0 = all), the first in the set's order.
        polarity: for a plain folder: ``auto`` (decided once from the median white fraction), ``hole-white``
            or ``hole-black``. A dataset is always ``hole-white``.
        border_margin: for a plain folder, the B/N margin in pixels (default: 50 px per 512 px of the
            shorter side, :func:`inpaint_core.buckets.border_margin_for`). A dataset uses its own.

    Raises:
        ValueError: ``folder`` is not a folder, or holds no manifest and no image.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{str(folder)!r} is not a folder")
    if sample < 0:
        raise ValueError(f"sample must be >= 0, got {sample}")
    if (folder / "manifest.csv").is_file():
        groups, margin = _dataset_groups(folder)
        read_polarity = "hole-white"
    else:
        groups, read_polarity, margin = _folder_groups(folder, polarity, border_margin)
    result = MaskSet(folder, read_polarity, border_margin=margin)
    for name in sorted(groups, key=cell_rank):
        paths = groups[name]
        result.counts[name] = len(paths)
        if name in {cell.name for cell in CELLS}:
            measured = paths[:sample] if sample else paths
            shapes: list[MaskShape] = []
            result.shapes[name] = shapes
            for path in measured:
                mask = read_mask(path, polarity=read_polarity)
                if result.border_margin is None:  # not recorded: the default for the first mask's size
                    result.border_margin = border_margin_for(mask.shape)
                shapes.append(mask_shape(mask))
    return result


def _median(shapes: Sequence[MaskShape], feature: str) -> float:
    return float(np.median([getattr(s, feature) for s in shapes])) if shapes else float("nan")


@dataclass(frozen=True)
class Likeness:
    """How alike two mask sets are (see the module doc).

    Attributes:
        distances: ``distances[bin_name][feature]``: Wasserstein distance / reference std, for the bins both
            sets hold (``inf`` where the reference has no spread in a bin but the two distributions differ).
        mean: the mean of all those distances (the headline number; 0 for identical distributions).
        feature_means: per feature, the mean over the compared bins.
        bin_means: per compared bin, the mean over the features.
        missing_bins: bins one of the two sets does not hold (left out of the means).
        medians: ``medians[cell][feature] = (ours, reference)`` for every cell either set holds.
        counts: measured masks per bin, ``(ours, reference)``.
    """

    distances: dict[str, dict[str, float]]
    mean: float
    feature_means: dict[str, float]
    bin_means: dict[str, float]
    missing_bins: list[str]
    medians: dict[str, dict[str, tuple[float, float]]]
    counts: dict[str, tuple[int, int]]

    def to_dict(self) -> dict[str, object]:
        return {"distances": self.distances, "mean": self.mean, "feature_means": self.feature_means,
                "bin_means": self.bin_means, "missing_bins": self.missing_bins,
                "medians": {c: {f: list(v) for f, v in m.items()} for c, m in self.medians.items()},
                "counts": {b: list(v) for b, v in self.counts.items()}}


def normalised_wasserstein(ours: np.ndarray, reference: np.ndarray) -> float:
    """1-D Wasserstein distance between two samples divided by the reference sample's std (ddof 0).

    0 for identical samples; ``inf`` when the reference has no spread but the samples differ."""
    from scipy.stats import wasserstein_distance

    if not len(ours) or not len(reference):
        raise ValueError("both samples must hold at least one value")
    distance = float(wasserstein_distance(ours, reference))
    spread = float(np.std(reference))
    if spread > 0:
        return distance / spread
    return 0.0 if distance == 0 else float("inf")


MEDIAN_FEATURES: tuple[str, ...] = ("components", "stroke_width", "thickness", "largest_share")


def likeness(ours: MaskSet, reference: MaskSet, *, features: Sequence[str] = DISTANCE_FEATURES) -> Likeness:
    """Compare ``ours`` with ``reference`` bin by bin (see the module doc)."""
    distances: dict[str, dict[str, float]] = {}
    missing: list[str] = []
    counts: dict[str, tuple[int, int]] = {}
    for index, name in enumerate(BIN_NAMES):
        sizes = (len(ours.bin_values(index, "components")), len(reference.bin_values(index, "components")))
        counts[name] = sizes
        if not all(sizes):
            missing.append(name)
            continue
        distances[name] = {f: normalised_wasserstein(ours.bin_values(index, f), reference.bin_values(index, f))
                           for f in features}
    if not distances:
        raise ValueError("the two mask sets share no hole-ratio bin: nothing to compare")
    feature_means = {f: float(np.mean([d[f] for d in distances.values()])) for f in features}
    bin_means = {b: float(np.mean(list(d.values()))) for b, d in distances.items()}
    mean = float(np.mean([v for d in distances.values() for v in d.values()]))
    medians = {cell.name: {f: (_median(ours.shapes.get(cell.name, []), f),
                               _median(reference.shapes.get(cell.name, []), f)) for f in MEDIAN_FEATURES}
               for cell in CELLS if ours.shapes.get(cell.name) or reference.shapes.get(cell.name)}
    return Likeness(distances, mean, feature_means, bin_means, missing, medians, counts)


def format_likeness(result: Likeness, *, ours: str = "ours", reference: str = "reference") -> str:
    """The distance table and the per-cell medians as fixed-width text."""
    short = {"components": "comp", "largest_share": "largest", "thickness": "thick",
             "boundary_per_pixel": "bnd/px"}
    features = list(result.feature_means)
    lines = [f"distance to {reference} (1-D Wasserstein / {reference} std, per bin; B and N pooled)",
             f"{'bin':<7}{'n':>11}" + "".join(f"{short.get(f, f):>9}" for f in features) + f"{'mean':>8}"]
    for name in BIN_NAMES:
        n = "{}/{}".format(*result.counts[name])
        if name in result.distances:
            values = result.distances[name]
            lines.append(f"{name:<7}{n:>11}" + "".join(f"{values[f]:>9.3f}" for f in features)
                         + f"{result.bin_means[name]:>8.3f}")
        else:
            lines.append(f"{name:<7}{n:>11}  (not in both sets: left out)")
    lines.append(f"{'mean':<18}" + "".join(f"{result.feature_means[f]:>9.3f}" for f in features)
                 + f"{result.mean:>8.3f}")
    lines.append("")
    lines.append(f"medians per cell ({ours} / {reference}); width = 2 x area / boundary, "
                 "thickness = 2 x mean distance to a known pixel")
    lines.append(f"{'cell':<9}{'components':>14}{'width px':>16}{'thickness px':>16}{'largest share':>16}")
    for cell, values in result.medians.items():
        parts = [f"{values[f][0]:.1f} / {values[f][1]:.1f}" if f != "components"
                 else f"{values[f][0]:g} / {values[f][1]:g}" for f in MEDIAN_FEATURES]
        lines.append(f"{cell:<9}{parts[0]:>14}{parts[1]:>16}{parts[2]:>16}"
                     + f"{values['largest_share'][0]:.2f} / {values['largest_share'][1]:.2f}".rjust(16))
    lines.append(f"mean distance: {result.mean:.3f} over {len(result.distances)} bins"
                 + (f" (left out: {', '.join(result.missing_bins)})" if result.missing_bins else ""))
    return "\n".join(lines)


def likeness_png(ours: MaskSet, reference: MaskSet, result: Likeness, *,
                 labels: tuple[str, str] = ("ours", "reference"),
                 features: Sequence[str] = DISTANCE_FEATURES) -> bytes:
    """Histograms of each feature (rows) per bin (columns), both sets overlaid, as PNG bytes."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    titles = {"components": "components", "largest_share": "largest-component share",
              "thickness": "thickness (px)", "boundary_per_pixel": "boundary px / hole px"}
    figure, axes = plt.subplots(len(features), len(BIN_NAMES), figsize=(3 * len(BIN_NAMES), 2.4 * len(features)),
                                dpi=80, squeeze=False)
    for column, name in enumerate(BIN_NAMES):
        for row, feature in enumerate(features):
            axis = axes[row][column]
            ours_values, reference_values = ours.bin_values(column, feature), reference.bin_values(column, feature)
            both = np.concatenate([ours_values, reference_values])
            if both.size:
                low, high = float(np.min(both)), float(np.max(both))
                if feature == "components":
                    high = min(high, float(np.quantile(both, 0.98)))
                edges = np.linspace(low, high if high > low else low + 1, 26)
                for values, label, colour in ((reference_values, labels[1], "tab:blue"),
                                              (ours_values, labels[0], "tab:orange")):
                    if values.size:
                        axis.hist(np.clip(values, low, edges[-1]), bins=edges, density=True, alpha=0.5,
                                  color=colour, label=f"{label} ({values.size})")
            distance = result.distances.get(name, {}).get(feature)
            axis.set_title(f"{name} %: d = {distance:.2f}" if distance is not None else f"{name} %: -", fontsize=9)
            if column == 0:
                axis.set_ylabel(titles.get(feature, feature), fontsize=9)
            axis.tick_params(labelsize=7)
            if row == 0 and column == 0:
                axis.legend(fontsize=7)
    figure.suptitle(f"{labels[0]} vs {labels[1]}: mean normalised Wasserstein distance {result.mean:.3f}")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def dataset_stats(folder: str | Path, *, sample: int = 0, polarity: str = "auto",
                  border_margin: int | None = None) -> dict[str, object]:
    """Per-group (cell, ``train``, ``unbinned``) counts and shape statistics of one mask set
    (``sample``, ``polarity``, ``border_margin``: see :func:`measure_mask_set`).

    Returns:
        ``{"groups": {name: {"count", "measured", "ratio_mean", "components_mean", "components_median",
        "stroke_width_median", "thickness_median"}}, "polarity": ..., "border_margin": ...}``; shapes are
        measured on test cells only (``measured`` is 0 for ``train`` and ``unbinned``).
    """
    measured = measure_mask_set(folder, sample=sample, polarity=polarity, border_margin=border_margin)
    groups: dict[str, dict[str, float]] = {}
    for name, count in measured.counts.items():
        shapes = measured.shapes.get(name, [])
        groups[name] = {
            "count": count, "measured": len(shapes),
            "ratio_mean": float(np.mean([s.hole_ratio for s in shapes])) if shapes else float("nan"),
            "components_mean": float(np.mean([s.components for s in shapes])) if shapes else float("nan"),
            "components_median": _median(shapes, "components"),
            "stroke_width_median": _median(shapes, "stroke_width"),
            "thickness_median": _median(shapes, "thickness"),
        }
    return {"groups": groups, "polarity": measured.polarity, "border_margin": measured.border_margin}


def format_stats(stats: Mapping[str, object]) -> str:
    """A fixed-width table of :func:`dataset_stats`."""
    lines = [f"{'cell':<10}{'count':>7}{'measured':>9}{'ratio':>8}{'comp.mean':>10}{'comp.med':>9}"
             f"{'width.med':>10}{'thick.med':>10}"]
    groups: dict[str, dict[str, float]] = stats["groups"]  # type: ignore[assignment]
    for name, group in groups.items():
        lines.append(f"{name:<10}{group['count']:>7}{group['measured']:>9}{group['ratio_mean']:>8.3f}"
                     f"{group['components_mean']:>10.1f}{group['components_median']:>9.0f}"
                     f"{group['stroke_width_median']:>10.1f}{group['thickness_median']:>10.1f}")
    total = sum(int(g["count"]) for n, g in groups.items() if n not in ("train", "unbinned"))
    lines.append(f"test cells total: {total}")
    if stats.get("border_margin") is not None:
        lines.append(f"border margin: {stats['border_margin']} px")
    return "\n".join(lines)
