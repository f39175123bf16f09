"""Shape statistics of masks: connected components, stroke width, thickness, boundary length.

Masks are ``bool`` HxW arrays, ``True`` = hole. Components are 8-connected. The four features of
:class:`MaskShape` are those the mask-likeness distance compares (``maskgen stats --vs``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["component_count", "stroke_width", "boundary_pixels", "thickness", "MaskShape", "mask_shape"]


def component_count(mask: np.ndarray) -> int:
    """Number of 8-connected hole regions of a bool HxW mask."""
    import cv2

    if not mask.any():
        return 0
    count, _ = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    return int(count) - 1


def boundary_pixels(mask: np.ndarray) -> int:
    """Hole pixels with a 4-neighbour that is not a hole (pixels outside the image count as holes, so a
    hole cut by the image edge gains no boundary along the cut)."""
    padded = np.pad(mask, 1, mode="edge")
    interior = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return int(np.count_nonzero(mask & ~interior))


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width in pixels: 2 x hole area / boundary length (:func:`boundary_pixels`).

    For a band of width w this gives w; for a disk of diameter d it gives d / 2. 0 for an empty mask.
    """
    area = int(np.count_nonzero(mask))
    if area == 0:
        return 0.0
    return 2.0 * area / max(boundary_pixels(mask), 1)


def thickness(mask: np.ndarray) -> float:
    """2 x the mean Euclidean distance from a hole pixel to the nearest known pixel, in pixels.

    A hole pixel next to a known one is at distance 1. Only known pixels inside the image count (a hole
    cut by the image edge is not thinned by the cut). For a band of width w (odd) this is about w / 2 + 1/2;
    for a disk of radius R about 2R / 3. 0 for an empty mask; for a mask with no known pixel, the mean
    distance is undefined and ``inf`` is returned.
    """
    import cv2

    if not mask.any():
        return 0.0
    if mask.all():
        return float("inf")
    distance = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return 2.0 * float(distance[mask].mean())


@dataclass(frozen=True)
class MaskShape:
    """The shape features of one mask.

    Attributes:
        hole_ratio: hole pixels / all pixels, in [0, 1].
        components: number of 8-connected hole regions.
        largest_share: pixels of the largest region / all hole pixels, in (0, 1] (0 for an empty mask).
        thickness: :func:`thickness` in pixels.
        boundary_per_pixel: :func:`boundary_pixels` / hole pixels, in (0, 1] (0 for an empty mask).
        stroke_width: :func:`stroke_width` in pixels (= 2 / ``boundary_per_pixel``).
    """

    hole_ratio: float
    components: int
    largest_share: float
    thickness: float
    boundary_per_pixel: float
    stroke_width: float


def mask_shape(mask: np.ndarray) -> MaskShape:
    """All features of :class:`MaskShape` for a bool HxW mask (one labelling, one distance transform)."""
    import cv2

    area = int(np.count_nonzero(mask))
    if area == 0:
        return MaskShape(0.0, 0, 0.0, 0.0, 0.0, 0.0)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    largest = int(stats[1:, cv2.CC_STAT_AREA].max())
    boundary = max(boundary_pixels(mask), 1)
    return MaskShape(hole_ratio=area / mask.size, components=int(count) - 1, largest_share=largest / area,
                     thickness=thickness(mask), boundary_per_pixel=boundary / area, stroke_width=2.0 * area / boundary)
