"""CoModGAN free-form masks (Zhao et al., ICLR 2021): rectangles plus DeepFill-style brush strokes,
re-implemented; MAT (:mod:`maskgen.families.mat`) uses the same generator with fewer shapes.

Source: zsyzzsoft/co-mod-gan, ``training/mask_generator.py`` (``RandomMask``, ``RandomBrush``), with the
default ``hole_range=[0, 1]`` (coefficient 1) that training and the full-range metrics use; CoModGAN
generates them on the fly, at the dataset resolution (512 for Places2).

One candidate (:func:`free_form_shapes`):

* ``MultiFill(small, s // 2)``: U{0 .. small - 1} boxes, each with width and height ~ U{0 .. s // 2 - 1}
  and top-left corner x ~ U{-(w // 2) .. s - w + w // 2 - 1} (likewise y), so boxes may stick out of the
  canvas; then ``MultiFill(large, s)``: U{0 .. large - 1} boxes of sides U{0 .. s - 1}.
* ``RandomBrush(strokes, s)``: U{0 .. strokes - 1} strokes of :func:`maskgen.families.deepfill.brush_stroke`
  with ``max_num_vertex`` 18 (4..17 segments) and widths ``int(uniform(12, 48))`` (12..47 px); the whole
  stroke layer is flipped up-down with probability 1/2, then left-right with probability 1/2 (the
  per-stroke ``Image.transpose`` calls of the original discard their result and change nothing).
* kept when 0 < hole ratio < 1 (``RandomMask`` redraws others).

CoModGAN: small, large, strokes = 10, 5, 20 (at any size).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import partial

import numpy as np

from .deepfill import BrushParams, brush_stroke
from .draw import Box, Shapes, Stroke, render
from .registry import HoleRange, MaskFamily, check_size, register_family

__all__ = ["FreeFormParams", "FREE_FORM_BRUSH", "COMODGAN", "free_form_shapes", "free_form_mask", "SOURCE"]

SOURCE = "zsyzzsoft/co-mod-gan: training/mask_generator.py (RandomMask, RandomBrush), hole_range [0, 1]"
FREE_FORM_BRUSH = BrushParams(min_num_vertex=4, max_num_vertex=18, min_width=12, max_width=48)


@dataclass(frozen=True)
class FreeFormParams:
    """The ``max_tries`` of ``RandomMask``'s three calls (exclusive bounds: ``randint(max_tries)``).

    Attributes:
        small_boxes: ``MultiFill(small_boxes, s // 2)``.
        large_boxes: ``MultiFill(large_boxes, s)``.
        strokes: ``RandomBrush(strokes, s)``.
    """

    small_boxes: int
    large_boxes: int
    strokes: int
    brush: BrushParams = FREE_FORM_BRUSH


COMODGAN = FreeFormParams(small_boxes=10, large_boxes=5, strokes=20)


def _fill_boxes(size: int, rng: np.random.Generator, tries: int, max_size: int) -> list[Box]:
    boxes = []
    for _ in range(int(rng.integers(tries))):
        width, height = int(rng.integers(max_size)), int(rng.integers(max_size))
        half_w, half_h = width // 2, height // 2
        left = int(rng.integers(-half_w, size - width + half_w))
        top = int(rng.integers(-half_h, size - height + half_h))
        boxes.append(Box(top, left, height, width))
    return boxes


def _flipped(stroke: Stroke, size: int, *, rows: bool, columns: bool) -> Stroke:
    """``stroke`` mirrored like ``np.flip(mask, 0)`` (rows) and ``np.flip(mask, 1)`` (columns) mirror pixels."""
    points = tuple((size - 1 - x if columns else x, size - 1 - y if rows else y) for x, y in stroke.points)
    return Stroke(points, stroke.widths, stroke.style)


def free_form_shapes(size: int, rng: np.random.Generator, *, params: FreeFormParams) -> Shapes:
    """The boxes and strokes of one CoModGAN / MAT candidate (see the module doc)."""
    boxes = _fill_boxes(size, rng, params.small_boxes, size // 2) + _fill_boxes(size, rng, params.large_boxes, size)
    strokes = [brush_stroke(size, rng, params.brush) for _ in range(int(rng.integers(params.strokes)))]
    rows, columns = bool(rng.random() > 0.5), bool(rng.random() > 0.5)
    strokes = [_flipped(s, size, rows=rows, columns=columns) for s in strokes]
    return Shapes(strokes=tuple(strokes), boxes=tuple(boxes))


def free_form_mask(size: int, rng: np.random.Generator, *, params: FreeFormParams) -> np.ndarray:
    """One candidate: ``uint8`` ``size`` x ``size``, 1 = hole (before the 0 < ratio < 1 check)."""
    return render(free_form_shapes(size, rng, params=params), size)


def free_form_family(name: str, size: int, params: FreeFormParams, source: str) -> MaskFamily:
    """A :class:`MaskFamily` drawing :func:`free_form_mask` with ``params``, keeping 0 < ratio < 1."""
    return MaskFamily(name=name, size=size, source=source, parameters=asdict(params),
                      draw=partial(free_form_mask, params=params), keep=HoleRange(0.0, 1.0))


@register_family("comodgan")
def comodgan(size: int) -> MaskFamily:
    """CoModGAN's free-form masks (rectangles and brush strokes; published at 512)."""
    check_size("comodgan", size, (256, 512))
    return free_form_family("comodgan", size, COMODGAN, SOURCE)
