"""Drawing primitives shared by the random mask families: strokes (chains of thick segments) and boxes.

A family first draws a :class:`Shapes` (every stroke vertex and width, every box, as plain numbers, so that a
test can check them against the published ranges), then :func:`render` rasterises it with OpenCV onto a
``uint8`` canvas, 1 = hole.

Rasterisation: a stroke segment is ``cv2.line`` with ``thickness`` = the stroke width and 8-connected
edges, whose ends are round (a disc of diameter ``width``). That is LaMa's own call
(``saicinpainting/training/data/masks.py``, ``cv2.line(mask, start, end, 1.0, brush_w)``), and it matches
the DeepFill v2 / CoModGAN / MAT brush, which PIL draws as ``draw.line(vertices, width=w)`` plus a filled
circle of diameter ``2 * (w // 2)`` at every vertex (round joints and ends). A box is filled after clipping
to the canvas (a box may stick out of it, as MAT's and CoModGAN's do).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Stroke", "Box", "Shapes", "render", "draw_stroke", "fill_box"]


@dataclass(frozen=True)
class Stroke:
    """A chain of segments through ``points`` ((x, y) pixel coordinates, column first, as OpenCV takes them).

    ``widths[i]`` is the width in pixels of the segment from ``points[i]`` to ``points[i + 1]``: LaMa draws
    a new width per segment, the DeepFill-style brush one width per stroke.
    """

    points: tuple[tuple[int, int], ...]
    widths: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.widths) != len(self.points) - 1:
            raise ValueError(f"a stroke of {len(self.points)} points needs {len(self.points) - 1} widths, "
                             f"got {len(self.widths)}")
        if any(w < 1 for w in self.widths):
            raise ValueError(f"stroke widths must be >= 1, got {self.widths}")


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

    for (start, end, width) in zip(stroke.points[:-1], stroke.points[1:], stroke.widths):
        cv2.line(canvas, (int(start[0]), int(start[1])), (int(end[0]), int(end[1])), 1, int(width), cv2.LINE_8)


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
