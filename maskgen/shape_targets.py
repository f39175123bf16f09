"""Shape targets of the steered augmentation: what NVIDIA's test masks look like, per cell.

For each of the 12 cells, the deciles (0 %, 10 %, ..., 100 %) of three features of NVIDIA's released test
masks at 512x512: hole ratio, stroke width (2 x hole area / boundary pixels,
:func:`inpaint_core.shape.stroke_width`) and 8-connected component count. Measured on
``../shared/data/masks/nvidia_calibration`` (600 masks, 50 per block of 1,000) with
``python scripts/calibrate_masks.py targets`` (which prints this table). They describe NVIDIA's *output*,
not our raw masks: the augmentation draws a target from them per mask and adapts the dilation, the crop and
the number of raw masks it combines to whatever raw mask it gets, so clips it was never tuned on land on the
same targets.

In NVIDIA's masks width and component count are strongly anti-correlated (Spearman -0.4 to -0.9 per cell:
thin masks have many parts), so :meth:`CellTargets.draw` draws them comonotone: one uniform ``u`` gives the
``u``-quantile of the width and the ``1 - u``-quantile of the component count.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inpaint_core.buckets import REFERENCE_SIZE, Cell

__all__ = ["CellTargets", "ShapeTarget", "NVIDIA_TARGETS", "targets_for"]


@dataclass(frozen=True)
class ShapeTarget:
    """One mask's drawn target: hole ratio, stroke width (px at the output size), component count."""

    ratio: float
    width: float
    components: float


@dataclass(frozen=True)
class CellTargets:
    """Deciles (11 values, 0 % to 100 %) of one cell's features at REFERENCE_SIZE (512 px)."""

    ratio: tuple[float, ...]
    width: tuple[float, ...]
    components: tuple[float, ...]

    def draw(self, rng: np.random.Generator, *, size: int = REFERENCE_SIZE) -> ShapeTarget:
        """A target drawn from the deciles (piecewise-linear quantile function); widths scale with ``size``."""
        levels = np.linspace(0.0, 1.0, len(self.ratio))
        ratio = float(np.interp(rng.uniform(), levels, self.ratio))
        u = float(rng.uniform())
        width = float(np.interp(u, levels, self.width)) * size / REFERENCE_SIZE
        components = float(np.interp(1.0 - u, levels, self.components))
        return ShapeTarget(ratio, width, components)


def targets_for(cell: Cell) -> CellTargets:
    """NVIDIA's targets of ``cell``."""
    return NVIDIA_TARGETS[cell.name]


NVIDIA_TARGETS: dict[str, CellTargets] = {
    "01-10_B": CellTargets(
        ratio=(0.0112, 0.0303, 0.0391, 0.0445, 0.0551, 0.0610, 0.0661, 0.0733, 0.0804, 0.0886, 0.0979),
        width=(6.1, 10.1, 10.9, 12.8, 14.7, 17.0, 19.4, 24.4, 25.8, 31.7, 71.3),
        components=(1.0, 2.0, 2.8, 3.0, 4.0, 6.5, 8.4, 14.3, 17.4, 24.3, 49.0)),
    "01-10_N": CellTargets(
        ratio=(0.0104, 0.0276, 0.0337, 0.0432, 0.0532, 0.0673, 0.0720, 0.0757, 0.0853, 0.0917, 0.0978),
        width=(5.2, 8.4, 9.4, 11.3, 13.6, 15.1, 17.6, 19.9, 23.2, 31.4, 50.2),
        components=(1.0, 3.0, 5.8, 7.0, 9.6, 10.5, 12.4, 17.0, 23.0, 36.1, 85.0)),
    "10-20_B": CellTargets(
        ratio=(0.1005, 0.1052, 0.1145, 0.1272, 0.1373, 0.1454, 0.1557, 0.1653, 0.1779, 0.1848, 0.1965),
        width=(9.9, 15.6, 17.8, 22.0, 25.5, 27.6, 29.4, 31.1, 36.0, 38.7, 53.5),
        components=(1.0, 3.0, 4.8, 6.0, 7.0, 8.0, 9.4, 12.3, 15.2, 18.1, 42.0)),
    "10-20_N": CellTargets(
        ratio=(0.1003, 0.1107, 0.1235, 0.1341, 0.1416, 0.1491, 0.1597, 0.1744, 0.1830, 0.1928, 0.2000),
        width=(7.1, 13.4, 16.1, 20.3, 21.9, 26.5, 30.0, 33.1, 43.9, 54.1, 62.5),
        components=(1.0, 1.9, 4.0, 7.0, 8.6, 10.0, 12.4, 18.3, 23.6, 33.1, 60.0)),
    "20-30_B": CellTargets(
        ratio=(0.2020, 0.2094, 0.2131, 0.2220, 0.2313, 0.2414, 0.2539, 0.2653, 0.2821, 0.2903, 0.2992),
        width=(18.9, 21.1, 24.9, 28.5, 30.2, 33.6, 34.6, 38.0, 42.5, 45.7, 70.2),
        components=(1.0, 3.9, 4.0, 5.0, 6.0, 8.0, 9.4, 10.0, 12.0, 13.2, 19.0)),
    "20-30_N": CellTargets(
        ratio=(0.2008, 0.2123, 0.2187, 0.2288, 0.2335, 0.2420, 0.2512, 0.2599, 0.2705, 0.2900, 0.2947),
        width=(12.7, 14.8, 17.4, 20.2, 24.6, 27.4, 30.7, 36.3, 39.6, 53.9, 59.6),
        components=(3.0, 5.0, 7.8, 9.0, 10.6, 12.0, 15.4, 20.3, 25.4, 32.3, 61.0)),
    "30-40_B": CellTargets(
        ratio=(0.3001, 0.3067, 0.3098, 0.3170, 0.3246, 0.3337, 0.3431, 0.3500, 0.3547, 0.3690, 0.3916),
        width=(28.0, 31.2, 35.8, 38.4, 39.4, 42.0, 44.6, 48.7, 50.0, 52.8, 64.3),
        components=(1.0, 2.0, 3.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.1, 12.0)),
    "30-40_N": CellTargets(
        ratio=(0.3004, 0.3094, 0.3136, 0.3234, 0.3341, 0.3461, 0.3529, 0.3655, 0.3768, 0.3908, 0.3979),
        width=(17.8, 26.1, 27.8, 32.6, 35.1, 37.3, 42.2, 45.6, 55.6, 67.5, 97.0),
        components=(1.0, 3.9, 5.0, 6.0, 7.6, 8.5, 10.0, 11.0, 12.0, 16.1, 34.0)),
    "40-50_B": CellTargets(
        ratio=(0.4005, 0.4018, 0.4084, 0.4118, 0.4133, 0.4201, 0.4272, 0.4402, 0.4567, 0.4809, 0.4937),
        width=(35.6, 41.5, 45.7, 49.2, 51.9, 53.2, 56.0, 58.8, 62.3, 64.4, 84.3),
        components=(1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 4.0, 4.0, 5.0, 5.0, 6.0)),
    "40-50_N": CellTargets(
        ratio=(0.4020, 0.4044, 0.4147, 0.4265, 0.4356, 0.4484, 0.4618, 0.4714, 0.4794, 0.4887, 0.4979),
        width=(23.5, 31.7, 36.4, 39.7, 48.4, 49.8, 51.8, 54.1, 59.1, 64.8, 87.8),
        components=(1.0, 3.9, 4.0, 5.0, 6.0, 6.0, 7.0, 8.3, 12.2, 14.0, 24.0)),
    "50-60_B": CellTargets(
        ratio=(0.5001, 0.5044, 0.5101, 0.5158, 0.5218, 0.5271, 0.5354, 0.5434, 0.5493, 0.5635, 0.5919),
        width=(60.4, 77.4, 84.6, 86.8, 93.4, 98.4, 100.8, 106.0, 108.1, 117.5, 179.7),
        components=(1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0)),
    "50-60_N": CellTargets(
        ratio=(0.5017, 0.5069, 0.5116, 0.5255, 0.5388, 0.5468, 0.5608, 0.5667, 0.5802, 0.5861, 0.5936),
        width=(44.5, 57.2, 66.9, 74.8, 77.4, 85.6, 91.6, 105.1, 113.4, 124.7, 207.8),
        components=(1.0, 1.9, 2.0, 3.0, 3.0, 4.0, 4.0, 5.0, 6.0, 8.0, 12.0)),
}
