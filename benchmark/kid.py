"""Kernel Inception Distance (Binkowski et al., ICLR 2018), as torch-fidelity and clean-fid compute it.

KID is the squared maximum mean discrepancy between the Inception features of the ground truths (x) and the
outputs (y) under the cubic polynomial kernel k(a, b) = (a . b / d + 1) ** 3 (d: the feature dimension),
estimated without bias on subsets of m pairs:

    MMD^2_u = sum_{i != j} k(x_i, x_j) / (m (m - 1)) + sum_{i != j} k(y_i, y_j) / (m (m - 1))
              - 2 sum_{i, j} k(x_i, y_j) / m^2

(the cross term over all m^2 pairs, as in torch-fidelity's ``mmd2`` and clean-fid's ``kernel_distance``).
``kid`` is the mean of the estimate over :data:`SUBSETS` (100) subsets and ``kid_std`` their population
standard deviation (``np.std``, torch-fidelity's ``kernel_inception_distance_std``). Each subset draws m
truth rows and m output rows without replacement, independently (as both originals do), with
m = min(:data:`SUBSET_SIZE`, n) = min(1000, n) (clean-fid's rule; torch-fidelity refuses n below the subset
size). When m = n every subset is the whole set, so the estimate is computed once and ``kid_std`` is 0 exactly
(the originals' 100 identical subsets give the same mean up to rounding). Unlike FID, the estimate is unbiased
for small n, which is why it sits next to FID for the 1,000-pair cells; it can be slightly negative when the
two sets are alike. KID needs n >= 2 pairs (NaN below).

Cost: per subset three m x d by d x m products (about 6 m^2 d flops: 12 GFLOP at m = 1000, d = 2048); when
the three n x n kernel matrices fit in :data:`GRAM_LIMIT_BYTES` (n <= 5,792) they are computed once (6 n^2 d
flops) and each subset reads its entries from them, e.g. a 2,000-pair area bin costs 4 subsets' products
instead of 100.
"""
from __future__ import annotations

import numpy as np

__all__ = ["SUBSET_SIZE", "SUBSETS", "polynomial_kernel", "mmd2_unbiased", "kernel_inception_distance"]

SUBSET_SIZE = 1000
SUBSETS = 100
GRAM_LIMIT_BYTES = 768 << 20  # the three n x n kernel matrices up to n = 5,792 (the 12,000-pair "all": per subset)


def polynomial_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(a b^T / d + 1) ** 3 for features ``a`` (p x d) and ``b`` (q x d): p x q."""
    return (a @ b.T / a.shape[1] + 1.0) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """The unbiased MMD^2 estimate (module doc) between ``x`` and ``y``, both m x d with m >= 2."""
    m = x.shape[0]
    if y.shape[0] != m or m < 2:
        raise ValueError(f"mmd2_unbiased needs two sets of the same size m >= 2, got {x.shape[0]} and {y.shape[0]}")
    return _mmd2_of_kernels(polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y))


def _mmd2_of_kernels(k_xx: np.ndarray, k_yy: np.ndarray, k_xy: np.ndarray) -> float:
    """The estimate from the three m x m kernel matrices."""
    m = k_xx.shape[0]
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2.0 * k_xy.sum() / (m * m))


def kernel_inception_distance(truth: np.ndarray, output: np.ndarray, *, generator: np.random.Generator,
                              subset_size: int = SUBSET_SIZE, subsets: int = SUBSETS,
                              gram_limit_bytes: int = GRAM_LIMIT_BYTES) -> tuple[float, float]:
    """(kid, kid_std) of the truth and output features (both n x d, float64); (NaN, NaN) when n < 2.

    Args:
        generator: where the subsets come from (each subset: ``choice(n, m, replace=False)`` for the truth
            rows, then for the output rows).
        subset_size: the largest subset m; ``m = min(subset_size, n)``.
        subsets: the number of subsets averaged (>= 1).
        gram_limit_bytes: when the three n x n kernel matrices fit in this many bytes they are computed once
            and each subset reads its rows and columns from them (same estimate, without three products per
            subset); else each subset computes its own.
    """
    truth, output = np.asarray(truth, dtype=np.float64), np.asarray(output, dtype=np.float64)
    if truth.ndim != 2 or truth.shape != output.shape:
        raise ValueError(f"truth and output features must both be n x d, got {truth.shape} and {output.shape}")
    if subset_size < 2 or subsets < 1:
        raise ValueError(f"KID needs subset_size >= 2 and subsets >= 1, got {subset_size} and {subsets}")
    n = truth.shape[0]
    if n < 2:
        return float("nan"), float("nan")
    m = min(subset_size, n)
    if m == n:
        return mmd2_unbiased(truth, output), 0.0
    estimates = np.empty(subsets)
    kernels = None
    if 3 * n * n * 8 <= gram_limit_bytes:
        kernels = (polynomial_kernel(truth, truth), polynomial_kernel(output, output),
                   polynomial_kernel(truth, output))
    for index in range(subsets):
        rows_x = generator.choice(n, m, replace=False)
        rows_y = generator.choice(n, m, replace=False)
        if kernels is None:
            estimates[index] = mmd2_unbiased(truth[rows_x], output[rows_y])
        else:
            k_xx, k_yy, k_xy = kernels
            estimates[index] = _mmd2_of_kernels(k_xx[np.ix_(rows_x, rows_x)], k_yy[np.ix_(rows_y, rows_y)],
                                                k_xy[np.ix_(rows_x, rows_y)])
    return float(estimates.mean()), float(estimates.std())
