"""LaMa's grouping by hole area in 10 % bins, the second grouping of a run (``summary_area.csv``).

LaMa's evaluator (``saicinpainting/evaluation/evaluator.py``, ``InpaintingEvaluator._get_bin_edges``, the
one ``bin/evaluate_predicts.py`` uses for its published tables) takes the hole area a (share of hole pixels,
the mask's mean), the edges ``np.linspace(0, 1, 11)`` and the bin ``searchsorted(edges, a, side='right') - 1``,
with a = 1 put into the last bin: bins ``[0, 0.1), [0.1, 0.2), ..., [0.8, 0.9), [0.9, 1]``, closed below and
open above (unlike the 12 cells, which are open below and closed above), named ``0-10%`` ... ``90-100%``.
The edges here are the doubles nearest to k / 10 (what ``float("0.3")`` gives); ``np.linspace`` gives
0.30000000000000004, 0.6000000000000001 and 0.7000000000000001, which would put a ratio of exactly 0.3, 0.6
or 0.7 one bin lower. At 512 x 512 no ratio is exactly one of those (k / 262144 never is), so the grouping
of NVIDIA-size masks is LaMa's.

Here a is the ``hole_ratio`` as written in ``per_image.csv`` (6 decimals), so a run and the leaderboard's
recomputation bin alike. At 512 x 512 the rounding never moves a ratio across an edge (k / 262144 is never
within 5e-7 of a multiple of 0.1 without equalling it); a pair without a hole ratio (it failed before its
mask was read) is in no bin.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["AREA_BINS", "AREA_BIN_NAMES", "area_bin"]

AREA_BINS = 10
_EDGES = np.array([k / AREA_BINS for k in range(AREA_BINS + 1)])  # exact tenths (module doc)
AREA_BIN_NAMES: tuple[str, ...] = tuple(f"{round(100 * _EDGES[i])}-{round(100 * _EDGES[i + 1])}%"
                                        for i in range(AREA_BINS))


def area_bin(ratio: float | None) -> str | None:
    """The name of the 10 % bin of hole ratio ``ratio`` in [0, 1] (``None`` for ``None``).

    Raises:
        ValueError: a ratio outside [0, 1] or NaN.
    """
    if ratio is None:
        return None
    if math.isnan(ratio) or not 0 <= ratio <= 1:
        raise ValueError(f"a hole ratio must be in [0, 1], got {ratio}")
    index = int(np.searchsorted(_EDGES, ratio, side="right")) - 1
    return AREA_BIN_NAMES[min(index, AREA_BINS - 1)]
