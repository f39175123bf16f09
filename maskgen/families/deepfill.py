"""DeepFill v2 free-form brush strokes (Yu et al., ICCV 2019), re-implemented; the brush is shared with the
CoModGAN and MAT families (:mod:`maskgen.families.comodgan`), whose generators copied it.

Source: JiahuiYu/generative_inpainting, ``inpaint_ops.py``, ``brush_stroke_mask``: 1..3 strokes
(``np.random.randint(1, 4)``), each from :func:`brush_stroke` with ``min_num_vertex`` 4,
``max_num_vertex`` 12 (exclusive: 4..11 segments), ``mean_angle`` 2 pi / 5, ``angle_range`` 2 pi / 15,
``min_width`` 12, ``max_width`` 40 (``int(uniform(12, 40))``: 12..39 px); the published config
(``inpaint.yml``) uses 256 x 256. The original's two random flips call ``Image.transpose`` and throw the
result away, so they change nothing; they are left out here. No candidate is rejected. (DeepFill v2's
training mask is these strokes OR a 128 x 128 box (``random_bbox`` / ``bbox2mask``); this family is the
free-form part only.)

One stroke (:func:`brush_stroke`): ``average_radius`` = sqrt(H^2 + W^2) / 8; vertex count ~
U{min_num_vertex .. max_num_vertex - 1}; ``angle_min`` = mean - U(0, range), ``angle_max`` = mean +
U(0, range); segment i turns by ``2 pi - U(angle_min, angle_max)`` (even i) or ``U(angle_min, angle_max)``
(odd i); the start is a uniform pixel; each step has length clip(N(average_radius, average_radius // 2),
0, 2 average_radius) and its end is clipped to [0, size] and truncated to an integer; one width per stroke.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
import numpy as np

from .draw import Shapes, Stroke, render
from .registry import HoleRange, MaskFamily, check_size, register_family

__all__ = ["BrushParams", "DEEPFILL_BRUSH", "brush_stroke", "deepfill_shapes", "deepfill_mask", "SOURCE"]

SOURCE = "JiahuiYu/generative_inpainting: inpaint_ops.py (brush_stroke_mask), inpaint.yml (img_shapes 256)"


@dataclass(frozen=True)
class BrushParams:
    """The keyword arguments of the DeepFill-style brush (``max_num_vertex`` and ``max_width`` exclusive)."""

    min_num_vertex: int
    max_num_vertex: int
    mean_angle: float = 2 * math.pi / 5
    angle_range: float = 2 * math.pi / 15
    min_width: int = 12
    max_width: int = 40


DEEPFILL_BRUSH = BrushParams(min_num_vertex=4, max_num_vertex=12, min_width=12, max_width=40)
DEEPFILL_STROKES = (1, 3)  # np.random.randint(1, 4)


def brush_stroke(size: int, rng: np.random.Generator, params: BrushParams) -> Stroke:
    """One DeepFill-style brush stroke on a ``size`` x ``size`` canvas (see the module doc)."""
    average_radius = math.sqrt(2 * size * size) / 8
    count = int(rng.integers(params.min_num_vertex, params.max_num_vertex))
    angle_min = params.mean_angle - rng.uniform(0, params.angle_range)
    angle_max = params.mean_angle + rng.uniform(0, params.angle_range)
    angles = [2 * math.pi - rng.uniform(angle_min, angle_max) if i % 2 == 0 else rng.uniform(angle_min, angle_max)
              for i in range(count)]
    points = [(int(rng.integers(0, size)), int(rng.integers(0, size)))]
    for angle in angles:
        radius = float(np.clip(rng.normal(average_radius, average_radius // 2), 0, 2 * average_radius))
        x = float(np.clip(points[-1][0] + radius * math.cos(angle), 0, size))
        y = float(np.clip(points[-1][1] + radius * math.sin(angle), 0, size))
        points.append((int(x), int(y)))
    width = int(rng.uniform(params.min_width, params.max_width))
    return Stroke(tuple(points), (width,) * count, style="brush")


def deepfill_shapes(size: int, rng: np.random.Generator) -> Shapes:
    """The strokes of one DeepFill v2 free-form mask."""
    low, high = DEEPFILL_STROKES
    return Shapes(strokes=tuple(brush_stroke(size, rng, DEEPFILL_BRUSH)
                                for _ in range(int(rng.integers(low, high + 1)))))


def deepfill_mask(size: int, rng: np.random.Generator) -> np.ndarray:
    """One DeepFill v2 free-form mask: ``uint8`` ``size`` x ``size``, 1 = hole."""
    return render(deepfill_shapes(size, rng), size)


@register_family("deepfill-v2")
def deepfill_v2(size: int) -> MaskFamily:
    """DeepFill v2 free-form strokes (published at 256; the brush scales its step length with the size)."""
    check_size("deepfill-v2", size, (256, 512))
    return MaskFamily(name="deepfill-v2", size=size, source=SOURCE,
                      parameters={"strokes": list(DEEPFILL_STROKES), "brush": asdict(DEEPFILL_BRUSH),
                                  "flips": "none (the original's transposes are discarded)"},
                      draw=deepfill_mask, keep=HoleRange(0.0, 1.0, low_inclusive=True, high_inclusive=True))
