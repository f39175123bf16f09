"""Downscaled previews of a run's sample grids for the leaderboard page (``benchmark leaderboard --html``).

A run's ``samples/grid_<cell>.png`` stacks, per sample pair, a row of three 256 px tiles (masked input with
white holes, output, ground truth; 768 px wide, about 1.3 MB as PNG). The page shows each grid as a JPEG of
at most ``width`` px wide (area-averaged, so no aliasing; never enlarged), the same aspect ratio: at the
default 384 px a grid of four rows is about 60 KB (1.3 MB as PNG). The encoding is deterministic for a given
OpenCV build (baseline JPEG, fixed quality, optimised Huffman tables, no metadata): the same grid, the same bytes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inpaint_core.images import decode_rgb

__all__ = ["THUMB_WIDTH", "THUMB_QUALITY", "Thumbnail", "grid_thumbnail"]

THUMB_WIDTH = 384  # px: twice the 190 px the page shows a grid at, sharp on high-density screens
THUMB_QUALITY = 85  # JPEG quality: no visible blocking at this size; 90 is 30 % larger for little gain


@dataclass(frozen=True)
class Thumbnail:
    """A preview: JPEG bytes and its size in pixels."""

    data: bytes
    width: int
    height: int


def grid_thumbnail(data: bytes, *, what: str, width: int = THUMB_WIDTH, quality: int = THUMB_QUALITY) -> Thumbnail:
    """The JPEG preview of an encoded image (``data``: the bytes of a PNG or any format OpenCV reads).

    Args:
        what: names the image in error messages (e.g. the grid's path).
        width: the largest preview width in px (>= 16); a narrower image keeps its size.
        quality: JPEG quality, 1 to 100.

    Raises:
        ValueError: ``data`` is no readable image, or ``width``/``quality`` out of range.
    """
    import cv2

    if not isinstance(width, int) or width < 16:
        raise ValueError(f"thumbnail width must be an integer >= 16 px, got {width!r}")
    if not isinstance(quality, int) or not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be an integer from 1 to 100, got {quality!r}")
    image = decode_rgb(np.frombuffer(data, dtype=np.uint8), what=what)
    height, current = image.shape[:2]
    if current > width:
        size = (width, max(1, round(height * width / current)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    ok, buffer = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                              [cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_OPTIMIZE, 1,
                               cv2.IMWRITE_JPEG_PROGRESSIVE, 0])
    if not ok:  # pragma: no cover - OpenCV failure
        raise RuntimeError(f"OpenCV could not encode the preview of {what} as JPEG")
    return Thumbnail(buffer.tobytes(), image.shape[1], image.shape[0])
