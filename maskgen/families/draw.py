"""Drawing primitives shared by the random mask families: strokes (chains of thick segments) and boxes.

A family first draws a :class:`Shapes` (every stroke vertex and width, every box, as plain numbers, so that a
test can check them against the published ranges), then :func:`render` rasterises it with OpenCV onto a
``uint8`` canvas, 1 = hole.

Rasterisation, in the style of the original that drew the stroke (:attr:`Stroke.style`):

* ``"line"`` (LaMa): each segment is ``cv2.line(canvas, start, end, 1, width)``, LaMa's own call
  (``saicinpainting/training/data/masks.py``): round ends, and OpenCV makes the line 1 (even width) or
  2 (odd width) pixels wider than ``width``, exactly as in LaMa's masks.
* ``"brush"`` (DeepFill v2, CoModGAN, MAT): the originals draw with PIL, ``draw.line(vertices, width=w)``
  (a band exactly ``w`` pixels wide) plus a filled circle of bounding box ``v -+ w // 2`` at every vertex.
  Here each segment is a filled quadrilateral of half-width ``(w - 1) / 2`` around the centre line
  (``cv2.fillConvexPoly`` with sub-pixel corners; OpenCV fills the edge pixels too, giving ``w`` pixels
  across) and each vertex the disc of pixels within ``w // 2 + 1/2``: the same band as PIL for
  axis-parallel segments; whole masks agree with PIL's drawing of the same vertices to IoU > 0.95
  (tests/test_families.py).

A box is filled after clipping to the canvas (a box may stick out of it, as MAT's and CoModGAN's do).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Stroke", "Box", "Shapes", "render", "draw_stroke", "fill_box", "STROKE_STYLES"]

STROKE_STYLES = ("line", "brush")
_SHIFT = 8  # fractional bits of the brush polygons' corners (cv2.fillConvexPoly ``shift``)


@dataclass(frozen=True)
class Stroke:
    """A chain of segments through ``points`` ((x, y) pixel coordinates, column first, as OpenCV takes them).

    ``widths[i]`` is the width in pixels of the segment from ``points[i]`` to ``points[i + 1]``: LaMa draws
    a new width per segment, the DeepFill-style brush one width per stroke. ``style`` is how the original
    rasterised it: ``"line"`` (OpenCV's thick line, LaMa) or ``"brush"`` (PIL's wide line plus a disc at
    every vertex, DeepFill v2 / CoModGAN / MAT); see the module doc.
    """

    points: tuple[tuple[int, int], ...]
    widths: tuple[int, ...]
    style: str = "line"

    def __post_init__(self) -> None:
        if len(self.widths) != len(self.points) - 1:
            raise ValueError(f"a stroke of {len(self.points)} points needs {len(self.points) - 1} widths, "
                             f"got {len(self.widths)}")
        if any(w < 1 for w in self.widths):
            raise ValueError(f"stroke widths must be >= 1, got {self.widths}")
        if self.style not in STROKE_STYLES:
            raise ValueError(f"stroke style must be one of {', '.join(STROKE_STYLES)}, got {self.style!r}")


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle of rows ``top .. top + height - 1`` and columns ``left .. left + width - 1``
    (may extend past the canvas: only its part inside is filled)."""

    top: int
    left: int
    height: int
    width: int


@dataclass(frozen=True)
class Shapes:
    """Everything one candidate mask is drawn from."""

    strokes: tuple[Stroke, ...] = ()
    boxes: tuple[Box, ...] = ()


def draw_stroke(canvas: np.ndarray, stroke: Stroke) -> None:
    """Draw ``stroke`` onto ``canvas`` (``uint8`` HxW) with value 1, in place."""
    import cv2

    segments = zip(stroke.points[:-1], stroke.points[1:], stroke.widths)
    if stroke.style == "line":
        for start, end, width in segments:
            cv2.line(canvas, (int(start[0]), int(start[1])), (int(end[0]), int(end[1])), 1, int(width), cv2.LINE_8)
        return
    for start, end, width in segments:
        _band(canvas, start, end, width)
    for (x, y), width in zip(stroke.points, (*stroke.widths, stroke.widths[-1])):
        _disc(canvas, int(x), int(y), int(width) // 2)


def _disc(canvas: np.ndarray, x: int, y: int, radius: int) -> None:
    """PIL's ``ellipse((x - r, y - r, x + r, y + r))``: the pixels within ``r + 1/2`` of (x, y), i.e.
    ``dx^2 + dy^2 <= r^2 + r`` (within a few edge pixels of PIL's; cv2.circle's disc is a ring smaller)."""
    height, width = canvas.shape
    top, bottom = max(y - radius, 0), min(y + radius + 1, height)
    left, right = max(x - radius, 0), min(x + radius + 1, width)
    if bottom <= top or right <= left:
        return
    rows, columns = np.ogrid[top - y:bottom - y, left - x:right - x]
    canvas[top:bottom, left:right][rows * rows + columns * columns <= radius * radius + radius] = 1


def _band(canvas: np.ndarray, start: tuple[int, int], end: tuple[int, int], width: int) -> None:
    """PIL's wide line from ``start`` to ``end``: ``width`` pixels across, flat ends."""
    import cv2

    dx, dy = end[0] - start[0], end[1] - start[1]
    length = math.hypot(dx, dy)
    if length == 0:
        return
    half = (width - 1) / 2
    nx, ny = -dy / length * half, dx / length * half
    corners = np.array([[start[0] + nx, start[1] + ny], [end[0] + nx, end[1] + ny],
                        [end[0] - nx, end[1] - ny], [start[0] - nx, start[1] - ny]])
    cv2.fillConvexPoly(canvas, np.round(corners * (1 << _SHIFT)).astype(np.int32), 1, cv2.LINE_8, _SHIFT)


def fill_box(canvas: np.ndarray, box: Box) -> None:
    """Set the part of ``box`` inside ``canvas`` (``uint8`` HxW) to 1, in place."""
    height, width = canvas.shape
    top, left = max(box.top, 0), max(box.left, 0)
    bottom, right = min(box.top + box.height, height), min(box.left + box.width, width)
    if bottom > top and right > left:
        canvas[top:bottom, left:right] = 1


def render(shapes: Shapes, size: int) -> np.ndarray:
    """The ``uint8`` ``size`` x ``size`` mask of ``shapes``: 1 = hole (union of every box and stroke), 0 = known."""
    canvas = np.zeros((size, size), dtype=np.uint8)
    for box in shapes.boxes:
        fill_box(canvas, box)
    for stroke in shapes.strokes:
        draw_stroke(canvas, stroke)
    return canvas
