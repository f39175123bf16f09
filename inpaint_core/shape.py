"""Shape statistics of masks: connected components and stroke width."""
from __future__ import annotations

import numpy as np

__all__ = ["component_count", "stroke_width"]


def component_count(mask: np.ndarray) -> int:
    """Number of 8-connected hole regions of a bool HxW mask."""
    import cv2

    if not mask.any():
        return 0
    count, _ = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    return int(count) - 1


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width in pixels: 2 x hole area / boundary length.

    The boundary length is the number of hole pixels with a 4-neighbour that is not a hole (pixels
    outside the image count as holes, so a hole cut by the image edge is not thinned by the cut).
    For a band of width w this gives w; for a disk of diameter d it gives d / 2. 0 for an empty mask.
    """
    area = int(np.count_nonzero(mask))
    if area == 0:
        return 0.0
    padded = np.pad(mask, 1, mode="edge")
    interior = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    boundary = int(np.count_nonzero(mask & ~interior))
    return 2.0 * area / max(boundary, 1)
