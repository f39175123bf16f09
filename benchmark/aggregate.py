"""One accumulator for every set-level number of a run, per cell and overall (``all``).

:class:`CellAccumulator` has the torchmetrics-style API: ``update`` once per pair, ``compute``, ``reset``.
Per group (each cell, and ``all``) it keeps the pair count, the failures, the finite values of each
per-image metric (mean and population std, as ``np.mean`` / ``np.std`` give them: values are kept so that
numpy's pairwise sums, and so ``summary.csv``, stay exactly what they were) and the (truth, output)
Inception feature pairs FID is computed from. NaN and infinite values are left out of the mean and std
(an infinite PSNR of identical images is counted in :meth:`CellAccumulator.infinite`).

It feeds ``summary.csv`` (:meth:`compute`: one entry per cell in NVIDIA order, then ``all``) and the
running means of :class:`benchmark.metrics.MetricSet`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from inpaint_core.buckets import CELL_NAMES

from .setmetrics import frechet_distance

__all__ = ["CellAccumulator", "OVERALL"]

OVERALL = "all"


@dataclass
class _Group:
    """What one group (a cell, or ``all``) has seen."""

    count: int = 0
    failures: int = 0
    values: dict[str, list[float]] = field(default_factory=dict)
    infinite: dict[str, int] = field(default_factory=dict)
    features: list[np.ndarray] = field(default_factory=list)

    def mean_std(self, metric: str) -> tuple[float, float]:
        """Mean and population std of the metric's finite values (NaN, NaN without one)."""
        values = np.array(self.values.get(metric, []), dtype=np.float64)
        if not values.size:
            return float("nan"), float("nan")
        return float(values.mean()), float(values.std())


class CellAccumulator:
    """Count, failures, mean and std of each metric in ``metrics``, and FID, per cell and overall.

    Args:
        metrics: the per-image metric names, in the order of the ``<metric>_mean`` / ``<metric>_std`` keys.
    """

    def __init__(self, metrics: Sequence[str]) -> None:
        self.metrics = tuple(metrics)
        self._groups: dict[str, _Group] = {}

    def update(self, cell: str | None, values: Mapping[str, float | None] | None,
               features: np.ndarray | None = None) -> None:
        """One pair of ``cell`` (``None``: counted only in ``all``).

        Args:
            values: the pair's metrics (a missing, ``None``, NaN or infinite value is left out of the mean
                and std); ``None`` for a failed pair (counted in ``failures``).
            features: its stacked (truth, output) Inception features, 2 x 2048, when FID is computed.
        """
        for name in (OVERALL,) if cell is None else (cell, OVERALL):
            group = self._groups.setdefault(name, _Group())
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
                group.features.append(features)

    def compute(self) -> list[dict[str, object]]:
        """Per cell (NVIDIA order) and ``all``, for the groups that saw a pair: ``cell``, ``count``,
        ``failures``, ``<metric>_mean`` and ``<metric>_std`` of each metric (NaN without a value), ``fid``
        and ``fid_count`` (NaN and 0 below two feature pairs)."""
        result = []
        for name in [*CELL_NAMES, OVERALL]:
            group = self._groups.get(name)
            if group is None or not group.count:
                continue
            entry: dict[str, object] = {"cell": name, "count": group.count, "failures": group.failures}
            for metric in self.metrics:
                entry[f"{metric}_mean"], entry[f"{metric}_std"] = group.mean_std(metric)
            entry["fid"], entry["fid_count"] = _fid(group.features)
            result.append(entry)
        return result

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


def _fid(features: list[np.ndarray]) -> tuple[float, int]:
    """FID between the truth and output features of a group, with the number of pairs (NaN, 0 below 2)."""
    if len(features) < 2:
        return float("nan"), 0
    data = np.stack(features)  # N x 2 x 2048
    truth, output = data[:, 0], data[:, 1]
    return frechet_distance(truth.mean(0), np.cov(truth, rowvar=False),
                            output.mean(0), np.cov(output, rowvar=False)), len(features)
