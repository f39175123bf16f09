"""Percentile-bootstrap confidence intervals of a mean, vectorised and exactly reproducible.

For a group of n finite values (one metric over one cell, area bin or the whole run), ``B`` resamples of n
values are drawn with replacement, the mean of each is taken, and the interval is the (1 - c) / 2 and
(1 + c) / 2 percentiles of the ``B`` means (``numpy.percentile``, linear interpolation; Efron's percentile
interval). Defaults: ``B`` = :data:`RESAMPLES` (1000), c = :data:`CONFIDENCE` (0.95).

Reproducible bytes: the values are sorted first, so the interval depends only on the multiset of values, not
on the order the pairs finished in, and the resample indices come from the ``BOOTSTRAP`` seed stream of
:mod:`inpaint_core.seeds` keyed by the group's name and n (:func:`group_rng`). A run's ``summary.csv`` and the
leaderboard's recomputation from ``per_image.csv`` therefore give the same figures. The metrics of one group
that have the same n share one index matrix (a paired bootstrap; each interval is still the marginal one).

Cost: one ``B x n`` gather and row mean per metric, in chunks of about :data:`CHUNK_ELEMENTS` indices.
"""
from __future__ import annotations

import numpy as np

from inpaint_core.seeds import Stream, name_key, rng

__all__ = ["RESAMPLES", "CONFIDENCE", "BOOTSTRAP_SEED", "group_key", "group_rng", "percentile_intervals"]

RESAMPLES = 1000
CONFIDENCE = 0.95
BOOTSTRAP_SEED = 0
CHUNK_ELEMENTS = 1 << 21  # indices per chunk (16 MiB of int64)


def group_key(name: str) -> int:
    """A stable non-negative integer for a group name (:func:`inpaint_core.seeds.name_key`), used as a seed key."""
    return name_key(name)


def group_rng(name: str, n: int, *, seed: int = BOOTSTRAP_SEED,
              stream: Stream = Stream.BOOTSTRAP) -> np.random.Generator:
    """The generator of group ``name`` with ``n`` values: the same name, n and seed always draw the same."""
    return rng(seed, stream, group_key(name), int(n))


def percentile_intervals(samples: np.ndarray, *, generator: np.random.Generator, resamples: int = RESAMPLES,
                         confidence: float = CONFIDENCE) -> np.ndarray:
    """Percentile-bootstrap intervals of the mean of each row of ``samples``.

    Args:
        samples: k x n finite values (k metrics, n pairs each); each row is sorted before resampling.
        generator: where the ``resamples x n`` indices come from (one matrix shared by the k rows).
        resamples: the number of bootstrap resamples B (>= 1).
        confidence: the interval's coverage, in (0, 1).

    Returns:
        k x 2 float64: (low, high) per row; NaN for both when n < 2 (no spread to resample).
    """
    data = np.asarray(samples, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError(f"samples must be k x n, got shape {data.shape}")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    k, n = data.shape
    if n < 2:
        return np.full((k, 2), np.nan)
    if not np.isfinite(data).all():
        raise ValueError("bootstrap samples must be finite (leave NaN and infinite values out first)")
    data = np.sort(data, axis=1)
    means = np.empty((k, resamples))
    rows = max(1, CHUNK_ELEMENTS // n)
    for start in range(0, resamples, rows):
        stop = min(resamples, start + rows)
        indices = generator.integers(0, n, size=(stop - start, n))
        for row in range(k):
            means[row, start:stop] = data[row][indices].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    return np.percentile(means, [tail, 100 - tail], axis=1).T
