"""One accumulator for every set-level number of a run, per cell, per hole-area bin and overall (``all``).

:class:`CellAccumulator` has the torchmetrics-style API: ``update`` once per pair, ``compute``, ``reset``.
Per group (each cell, ``all``, and each of LaMa's 10 % hole-area bins, :mod:`benchmark.areabins`) it keeps
the pair count, the failures, the finite values of each per-image metric and the (truth, output) Inception
feature pairs. From them, per group:

* ``<metric>_mean`` and ``<metric>_std`` (population std), as ``np.mean`` / ``np.std`` give them on the
  values in the order they came (so ``summary.csv`` stays exactly what it was);
* ``<metric>_ci_low`` / ``<metric>_ci_high``: the 95 % percentile-bootstrap interval of the mean
  (:mod:`benchmark.bootstrap`: 1000 resamples, seeded by the group's name; order-independent);
* ``fid`` and ``fid_count`` (:func:`benchmark.setmetrics.frechet_distance`), ``kid`` and ``kid_std``
  (:mod:`benchmark.kid`), ``p_ids`` and ``u_ids`` (:mod:`benchmark.ids`, only for groups with at least
  4 x d pairs), each NaN where it cannot be computed (no features, too few pairs, no scikit-learn).

NaN and infinite values are left out of the per-image statistics (an infinite PSNR of identical images is
counted in :meth:`CellAccumulator.infinite`). Feature pairs are taken in the order of their ``key`` (the pair
index), so the set-level figures do not depend on the order pairs finished in.

It feeds ``summary.csv`` (:meth:`compute`: one entry per cell in NVIDIA order, then ``all``),
``summary_area.csv`` (:meth:`compute_area`) and the running means of :class:`benchmark.metrics.MetricSet`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from inpaint_core.buckets import CELL_NAMES
from inpaint_core.seeds import Stream

from .areabins import AREA_BIN_NAMES, area_bin
from .bootstrap import BOOTSTRAP_SEED, CONFIDENCE, RESAMPLES, group_rng, percentile_intervals
from .ids import PAIRS_PER_DIMENSION, ids_min_pairs, ids_unavailable, inception_discriminative_scores
from .kid import SUBSET_SIZE, SUBSETS, kernel_inception_distance
from .setmetrics import frechet_distance

__all__ = ["CellAccumulator", "OVERALL", "SET_COLUMNS"]

OVERALL = "all"
SET_COLUMNS = ("fid", "fid_count", "kid", "kid_std", "p_ids", "u_ids")  # after the per-image columns


@dataclass
class _Group:
    """What one group (a cell, ``all`` or an area bin) has seen."""

    count: int = 0
    failures: int = 0
    values: dict[str, list[float]] = field(default_factory=dict)
    infinite: dict[str, int] = field(default_factory=dict)
    features: list[tuple[int, np.ndarray]] = field(default_factory=list)  # (key, 2 x d)

    def mean_std(self, metric: str) -> tuple[float, float]:
        """Mean and population std of the metric's finite values (NaN, NaN without one)."""
        values = np.array(self.values.get(metric, []), dtype=np.float64)
        if not values.size:
            return float("nan"), float("nan")
        return float(values.mean()), float(values.std())

    def feature_pairs(self) -> np.ndarray:
        """N x 2 x d, in key order."""
        return np.stack([features for _, features in sorted(self.features, key=lambda item: item[0])])


@dataclass(frozen=True)
class _Settings:
    resamples: int
    confidence: float
    seed: int
    kid_subset_size: int
    kid_subsets: int
    ids_pairs_per_dimension: int


class CellAccumulator:
    """Count, failures, mean, std and bootstrap interval of each metric in ``metrics``, and the set-level
    metrics, per cell, per area bin and overall.

    Args:
        metrics: the per-image metric names, in the order of their ``<metric>_*`` keys.
        resamples, confidence, seed: the bootstrap's B, coverage and seed (:mod:`benchmark.bootstrap`).
        kid_subset_size, kid_subsets: KID's largest subset and number of subsets (:mod:`benchmark.kid`).
        ids_pairs_per_dimension: P-IDS and U-IDS need this many pairs per feature dimension.
    """

    def __init__(self, metrics: Sequence[str], *, resamples: int = RESAMPLES, confidence: float = CONFIDENCE,
                 seed: int = BOOTSTRAP_SEED, kid_subset_size: int = SUBSET_SIZE, kid_subsets: int = SUBSETS,
                 ids_pairs_per_dimension: int = PAIRS_PER_DIMENSION) -> None:
        self.metrics = tuple(metrics)
        self.settings = _Settings(resamples, confidence, seed, kid_subset_size, kid_subsets,
                                  ids_pairs_per_dimension)
        self._groups: dict[str, _Group] = {}
        self._area_groups: dict[str, _Group] = {}
        self._added = 0

    def update(self, cell: str | None, values: Mapping[str, float | None] | None,
               features: np.ndarray | None = None, *, hole_ratio: float | None = None,
               key: int | None = None) -> None:
        """One pair of ``cell`` (``None``: counted only in ``all``).

        Args:
            values: the pair's metrics (a missing, ``None``, NaN or infinite value is left out of the
                statistics); ``None`` for a failed pair (counted in ``failures``).
            features: its stacked (truth, output) Inception features, 2 x d, when FID is computed.
            hole_ratio: its hole ratio, as written in ``per_image.csv`` (``None``: in no area bin).
            key: its position (pair index) for the order of the feature pairs (default: arrival order).
        """
        if key is None:
            key = self._added
        self._added += 1
        names = (OVERALL,) if cell is None else (cell, OVERALL)
        groups = [self._groups.setdefault(name, _Group()) for name in names]
        area = area_bin(hole_ratio)
        if area is not None:
            groups.append(self._area_groups.setdefault(area, _Group()))
        for group in groups:
            group.count += 1
            if values is None:
                group.failures += 1
                continue
            for metric in self.metrics:
                value = values.get(metric)
                if value is not None and math.isfinite(value):
                    group.values.setdefault(metric, []).append(value)
                elif value is not None and math.isinf(value):
                    group.infinite[metric] = group.infinite.get(metric, 0) + 1
            if features is not None:
                group.features.append((key, features))

    def compute(self) -> list[dict[str, object]]:
        """Per cell (NVIDIA order) and ``all``, for the groups that saw a pair: ``cell``, ``count``,
        ``failures``, per metric ``<metric>_mean``, ``_std``, ``_ci_low``, ``_ci_high`` (NaN without a value;
        the interval NaN below two values), then :data:`SET_COLUMNS` (NaN where not computed)."""
        return [self._entry("cell", name, self._groups[name]) for name in [*CELL_NAMES, OVERALL]
                if name in self._groups and self._groups[name].count]

    def compute_area(self) -> list[dict[str, object]]:
        """The same per area bin (``area_bin`` ``0-10%`` ... ``90-100%``, the bins that saw a pair)."""
        return [self._entry("area_bin", name, self._area_groups[name]) for name in AREA_BIN_NAMES
                if name in self._area_groups and self._area_groups[name].count]

    def means(self, cell: str = OVERALL) -> dict[str, float]:
        """``{metric: mean}`` of one group (NaN where it has no value)."""
        group = self._groups.get(cell, _Group())
        return {metric: group.mean_std(metric)[0] for metric in self.metrics}

    def infinite(self, cell: str = OVERALL) -> int:
        """How many infinite values (of any metric) the group has left out."""
        group = self._groups.get(cell)
        return sum(group.infinite.values()) if group is not None else 0

    def reset(self) -> None:
        self._groups = {}
        self._area_groups = {}
        self._added = 0

    # -- per group ------------------------------------------------------------------------------------------

    def _entry(self, label: str, name: str, group: _Group) -> dict[str, object]:
        entry: dict[str, object] = {label: name, "count": group.count, "failures": group.failures}
        intervals = self._intervals(name, group)
        for metric in self.metrics:
            entry[f"{metric}_mean"], entry[f"{metric}_std"] = group.mean_std(metric)
            entry[f"{metric}_ci_low"], entry[f"{metric}_ci_high"] = intervals[metric]
        entry.update(self._set_metrics(name, group))
        return entry

    def _intervals(self, name: str, group: _Group) -> dict[str, tuple[float, float]]:
        """Bootstrap interval of each metric's mean; the metrics with the same count share the resamples."""
        by_count: dict[int, list[str]] = {}
        for metric in self.metrics:
            by_count.setdefault(len(group.values.get(metric, [])), []).append(metric)
        result: dict[str, tuple[float, float]] = {}
        for n, metrics in sorted(by_count.items()):
            samples = np.array([group.values.get(metric, []) for metric in metrics],
                               dtype=np.float64).reshape(len(metrics), n)
            bounds = percentile_intervals(samples, generator=group_rng(name, n, seed=self.settings.seed),
                                          resamples=self.settings.resamples, confidence=self.settings.confidence)
            result.update({metric: (float(low), float(high)) for metric, (low, high) in zip(metrics, bounds)})
        return result

    def _set_metrics(self, name: str, group: _Group) -> dict[str, object]:
        """FID, KID and P-/U-IDS of the group's feature pairs (NaN where they cannot be computed)."""
        nan = float("nan")
        result: dict[str, object] = dict.fromkeys(SET_COLUMNS, nan) | {"fid_count": 0}
        n = len(group.features)
        if n < 2:
            return result
        data = group.feature_pairs()
        truth, output = data[:, 0], data[:, 1]
        result["fid"] = frechet_distance(truth.mean(0), np.cov(truth, rowvar=False),
                                         output.mean(0), np.cov(output, rowvar=False))
        result["fid_count"] = n
        result["kid"], result["kid_std"] = kernel_inception_distance(
            truth, output, generator=group_rng(name, n, seed=self.settings.seed, stream=Stream.KID_SUBSETS),
            subset_size=self.settings.kid_subset_size, subsets=self.settings.kid_subsets)
        if n >= ids_min_pairs(truth.shape[1], pairs_per_dimension=self.settings.ids_pairs_per_dimension) \
                and not ids_unavailable():
            result["p_ids"], result["u_ids"] = inception_discriminative_scores(truth, output)
        return result
