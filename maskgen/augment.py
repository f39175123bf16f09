"""Augmentation of raw occlusion masks: rotation, translation, crop + resize, dilation, border clearing.

As in the PConv paper, a raw mask is rotated, cropped at a random place and scale, resized to the output
size (default 512x512) and dilated with a disk (kernel diameter 5 to 47 px at the output size, the range
NVIDIA gives for its masks). Every step keeps the mask binary (a bilinear warp is re-thresholded at one half).

For the test split the augmentation is *steered* toward a target (bin, border) cell: the dilation radius is
the one that brings the hole ratio to a target inside the bin (read off the distance transform, so one pass
finds it), the crop zooms in when even the widest dilation leaves too few holes and out when even the
thinnest gives too many, and for border class B the margin frame (50 px at 512) is cleared. For N the crop
puts a hole pixel inside that frame. With ``match_shapes`` (default) the target is drawn from NVIDIA's
per-cell distributions of hole ratio, stroke width and component count (:mod:`maskgen.shape_targets`), and
the augmentation adapts to the raw mask it gets to reach it: it combines further raw masks when the strokes
come out too wide, drops the smallest parts when there are far too many, thins the crop to its skeleton
when its strokes are still too wide, adds small pieces of further raw masks when it has too few parts, and
re-crops when the width is still off.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from typing import Callable

from inpaint_core.buckets import BIN_EDGES, Cell, border_class, border_margin_for, ratio_bin
from inpaint_core.cli import cli_help

from inpaint_core.shape import component_count, stroke_width

from .shape_targets import ShapeTarget, targets_for

__all__ = ["AugmentOptions", "Augmentation", "AugmentResult", "warp_crop", "dilate", "augment_to_cell",
           "augment_free", "impossible_cells"]


@dataclass(frozen=True)
class AugmentOptions:
    """Ranges of the random augmentation.

    Attributes:
        size: output side in pixels (square masks).
        min_dilation, max_dilation: odd disk-kernel diameters at the output size (NVIDIA: 5 to 47 px).
        min_crop, max_crop: side of the square crop as a fraction of the frame's shorter side.
        max_rotation: rotation angle drawn uniformly from [-max_rotation, max_rotation] degrees.
        attempts: tries per output mask before the slot is given up.
        border_margin: the B/N margin in pixels; ``None``: 50 px per 512 px of ``size`` (NVIDIA's 50 at 512,
            25 at 256), see :attr:`margin`.
        min_free_ratio: training masks need more than this hole ratio (they have no upper cap).
        match_shapes: steer test masks toward NVIDIA's per-cell distributions of hole ratio, stroke width
            and component count (:mod:`maskgen.shape_targets`); off: a uniform ratio in the bin, one raw mask.
        max_parts: at most this many raw masks are combined into one test mask (with ``match_shapes``).
    """

    size: int = field(default=512, metadata=cli_help("Output mask side."))
    min_dilation: int = field(default=5, metadata=cli_help("Smallest dilation disk diameter (odd, px)."))
    max_dilation: int = field(default=47, metadata=cli_help("Largest dilation disk diameter (odd, px)."))
    min_crop: float = 0.3
    max_crop: float = 1.0
    max_rotation: float = 180.0
    attempts: int = 8
    border_margin: int | None = field(default=None, metadata=cli_help(
        "B/N border margin in px (default: 50 px per 512 px of --size, NVIDIA's 50 at 512)."))
    min_free_ratio: float = 0.01
    match_shapes: bool = field(default=True, metadata=cli_help(
        "Steer test masks toward NVIDIA's per-cell ratio, stroke-width and component distributions."))
    max_parts: int = field(default=8, metadata=cli_help("At most this many raw masks combined into a test mask."))

    @property
    def margin(self) -> int:
        """The B/N margin in pixels: ``border_margin``, or 50 px per 512 px of ``size``."""
        return self.border_margin if self.border_margin is not None else border_margin_for(self.size)

    def __post_init__(self) -> None:
        if self.border_margin is not None and self.border_margin < 1:
            raise ValueError(f"border_margin must be >= 1, got {self.border_margin}")
        if self.max_parts < 1:
            raise ValueError(f"max_parts must be >= 1, got {self.max_parts}")
        if self.size < 2 * self.margin + 2:
            raise ValueError(f"size {self.size} is too small for a {self.margin} px border margin")
        if not (1 <= self.min_dilation <= self.max_dilation) or self.min_dilation % 2 == 0 \
                or self.max_dilation % 2 == 0:
            raise ValueError("dilation diameters must be odd with 1 <= min_dilation <= max_dilation, got "
                             f"{self.min_dilation} and {self.max_dilation}")
        if not 0 < self.min_crop <= self.max_crop:
            raise ValueError(f"need 0 < min_crop <= max_crop, got {self.min_crop} and {self.max_crop}")
        if self.attempts < 1:
            raise ValueError(f"attempts must be >= 1, got {self.attempts}")

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Augmentation:
    """The parameters one output mask was made with (recorded in the manifest)."""

    dilation: int  # disk diameter in output pixels (1 = none)
    rotation: float  # degrees, counter-clockwise
    crop_scale: float  # crop side / shorter frame side
    center_x: float  # crop centre in working-frame pixels
    center_y: float
    clear_border: bool  # the border_margin frame was cleared (class B)
    attempt: int

    @classmethod
    def rounded(cls, dilation: int | float, rotation: float, crop_scale: float, center: tuple[float, float],
                clear_border: bool, attempt: int) -> "Augmentation":
        """The record of one draw, angles and positions rounded as the manifest keeps them."""
        return cls(dilation, round(rotation, 4), round(crop_scale, 6), round(center[0], 3), round(center[1], 3),
                   clear_border, attempt)


@dataclass(frozen=True)
class AugmentResult:
    """What one augmentation call gave: a mask and how it was made, or the reason it gave none.

    ``reason`` is ``""`` for a mask; otherwise ``"empty"`` (blank raw mask), ``"too-small"``, ``"too-large"``
    or ``"no-border-contact"`` (the cause of the last failed attempt).
    """

    mask: np.ndarray | None
    augmentation: Augmentation | None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.mask is not None

    @classmethod
    def failed(cls, reason: str) -> "AugmentResult":
        return cls(None, None, reason)


def warp_crop(mask: np.ndarray, *, rotation: float, crop_scale: float, center: tuple[float, float],
              size: int) -> np.ndarray:
    """Rotate ``mask`` about ``center``, crop a square of ``crop_scale`` x shorter side, resize to ``size``.

    Args:
        mask: bool HxW, ``True`` = hole.
        rotation: degrees, counter-clockwise.
        crop_scale: crop side as a fraction of ``min(H, W)``.
        center: (x, y) of the crop centre in ``mask`` pixel-centre coordinates (the middle of a 64-px
            mask is 31.5); may lie anywhere (outside the frame is not a hole).
        size: output side.

    Returns:
        bool ``size`` x ``size`` mask.
    """
    import cv2

    scale = size / (crop_scale * min(mask.shape))
    matrix = cv2.getRotationMatrix2D((float(center[0]), float(center[1])), float(rotation), float(scale))
    middle = (size - 1) / 2.0  # the output's centre in pixel-centre coordinates
    matrix[0, 2] += middle - center[0]
    matrix[1, 2] += middle - center[1]
    interpolation = cv2.INTER_LINEAR if scale >= 0.5 else cv2.INTER_AREA
    if interpolation == cv2.INTER_AREA:  # warpAffine has no area filter: shrink first, then warp
        shrink = 1.0 / (2.0 * scale)
        small = cv2.resize(mask.astype(np.uint8) * 255, None, fx=1 / shrink, fy=1 / shrink,
                           interpolation=cv2.INTER_AREA)
        matrix[:, :2] *= shrink
        warped = cv2.warpAffine(small, matrix, (size, size), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    else:
        warped = cv2.warpAffine(mask.astype(np.uint8) * 255, matrix, (size, size), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return warped >= 128


def _distance_to_hole(mask: np.ndarray) -> np.ndarray:
    """Distance of every pixel to the nearest hole pixel (0 on holes), float32, 5x5 chamfer metric.

    OpenCV's 5x5 chamfer transform (``DIST_MASK_5``) is within a few percent of Euclidean at the
    dilation radii used here and fully deterministic; its precise mode and its float kernels change
    their last bits with threads and memory layout, which would break byte-identical builds.
    """
    import cv2

    return cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_5)


def dilate(mask: np.ndarray, diameter: int) -> np.ndarray:
    """Dilate a bool mask with a disk of odd ``diameter`` (1 = unchanged) in the 5x5 chamfer metric."""
    if diameter < 1 or diameter % 2 == 0:
        raise ValueError(f"dilation diameter must be odd and >= 1, got {diameter}")
    if diameter == 1 or not mask.any():
        return mask.copy()
    return _distance_to_hole(mask) <= (diameter - 1) / 2


def _interior(size: int, margin: int) -> np.ndarray:
    allowed = np.zeros((size, size), dtype=bool)
    allowed[margin:size - margin, margin:size - margin] = True
    return allowed


def _fit_scale(rotation: float) -> float:
    """Largest crop scale whose square, rotated by ``rotation``, fits inside the frame's shorter side."""
    theta = math.radians(rotation)
    return 1.0 / (abs(math.cos(theta)) + abs(math.sin(theta)))


def _draw_crop(rng: np.random.Generator, options: AugmentOptions, low: float, high: float) -> tuple[float, float]:
    """Rotation and a crop scale in [low, high], capped so that the rotated crop stays inside the frame."""
    rotation = float(rng.uniform(-options.max_rotation, options.max_rotation))
    cap = _fit_scale(rotation)
    first, second = sorted((min(low, cap), min(high, cap)))
    crop_scale = float(rng.uniform(first, second))
    return rotation, crop_scale


def _place(holes_yx: tuple[np.ndarray, np.ndarray], shape: tuple[int, int], rng: np.random.Generator,
           options: AugmentOptions, rotation: float, crop_scale: float, touch_border: bool,
           at: tuple[float, float] | None = None) -> tuple[float, float]:
    """Crop centre that puts a random hole pixel (of ``holes_yx``, in a raw mask of ``shape``) at a random output
    place (inside the border band when ``touch_border``; at output pixel ``at`` = (x, y) when given), then
    moved as little as needed to keep the rotated crop inside the frame (so no straight frame edge enters
    the mask)."""
    ys, xs = holes_yx
    pick = int(rng.integers(len(xs)))
    anchor_x, anchor_y = float(xs[pick]), float(ys[pick])  # pixel-centre coordinates, as OpenCV's
    size = options.size
    if at is not None:
        out_x, out_y = at
    elif touch_border:
        band = rng.uniform(0, options.margin * 0.8)
        along = rng.uniform(0, size)
        side = int(rng.integers(4))
        out_x, out_y = ((band, along), (size - band, along), (along, band), (along, size - band))[side]
    else:
        out_x, out_y = rng.uniform(0, size), rng.uniform(0, size)
    scale = size / (crop_scale * min(shape))
    theta = math.radians(rotation)
    cos, sin = math.cos(theta), math.sin(theta)
    dx, dy = (out_x - size / 2) / scale, (out_y - size / 2) / scale
    # getRotationMatrix2D maps d_src to [[c, s], [-s, c]] d_src * scale; invert it for the anchor
    center_x = anchor_x - (cos * dx - sin * dy)
    center_y = anchor_y - (sin * dx + cos * dy)
    half_extent = crop_scale * min(shape) / 2 * (abs(cos) + abs(sin))
    height, width = shape
    center_x = min(max(center_x, half_extent), max(half_extent, width - half_extent))
    center_y = min(max(center_y, half_extent), max(half_extent, height - half_extent))
    return center_x, center_y


RADIUS_STEPS = 8  # dilation radii are searched in steps of 1/8 px
PART_ROUNDS = 2  # rounds of combining further raw masks (each costs one distance transform)
WIDTH_TOLERANCE = 1.3  # a mask whose stroke width is within this factor of the target's is taken at once
SHAPE_TRIES = 1  # attempts spent re-cropping toward the target width after the first mask in the bin
THIN_ABOVE = 1.15  # strokes wider than this x the target's width at the target ratio: thin the crop to its skeleton
SCATTER_ROUNDS = 2  # rounds of adding small pieces of further raw masks while the mask has fewer parts than the target


def _dilation_levels(base: np.ndarray, k_max: int, outside: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel the dilation level (in 1/RADIUS_STEPS px) that first covers it, capped at ``k_max + 1``
    (and set to it ``outside`` the allowed area), and the cumulative pixel count per level."""
    # level k holds the pixels within k / RADIUS_STEPS px of a hole
    distance = np.minimum(_distance_to_hole(base), (k_max + 1) / RADIUS_STEPS)
    levels = np.ceil(distance * RADIUS_STEPS).astype(np.int32)
    if outside is not None:
        levels[outside] = k_max + 1
    return levels, np.cumsum(np.bincount(levels.ravel(), minlength=k_max + 2))


def _zoom(too_small: bool, crop_scale: float, holes: float, target: float,
          options: AugmentOptions) -> tuple[float, float] | None:
    """The crop-scale range of the next attempt after a miss (``holes`` pixels at the dilation limit
    against ``target``): closer when too small, wider when too large; ``None`` when the crop is at its limit."""
    if too_small:
        if crop_scale <= options.min_crop * 1.01:
            return None
        wanted = crop_scale * math.sqrt(max(holes, 1) / target)
        return max(options.min_crop, wanted * 0.85), max(options.min_crop, min(wanted * 1.05, crop_scale))
    if crop_scale >= options.max_crop * 0.99:
        return None
    wanted = crop_scale * math.sqrt(holes / target)
    return min(options.max_crop, max(wanted * 0.95, crop_scale)), min(options.max_crop, wanted * 1.15)


def _in_bin_level(cumulative: np.ndarray, target: float, k_min: int, k_max: int) -> int:
    """The dilation level whose hole count is closest above ``target`` pixels, within [k_min, k_max]."""
    return min(max(int(np.searchsorted(cumulative, target)), k_min), k_max)


def _skeleton(mask: np.ndarray) -> np.ndarray:
    """The one-pixel-wide skeleton of a bool mask (Zhang-Suen thinning; keeps every part and hole).

    Thinned part by part, each in its bounding box grown by 1 px (not past the image edge): the thinning looks
    at 3x3 neighbourhoods only, which never hold pixels of another 8-connected part, so this equals thinning
    the whole image (tested), at a fraction of the cost (each part stops after its own few iterations).
    """
    import cv2

    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    skeleton = np.zeros(mask.shape, dtype=bool)
    height, width = mask.shape
    for label in range(1, count):
        x, y, w, h = (int(v) for v in stats[label, :4])
        top, left, bottom, right = max(y - 1, 0), max(x - 1, 0), min(y + h + 1, height), min(x + w + 1, width)
        part = (labels[top:bottom, left:right] == label).astype(np.uint8) * 255
        thin = cv2.ximgproc.thinning(part, thinningType=cv2.ximgproc.THINNING_ZHANGSUEN) > 0
        skeleton[top:bottom, left:right] |= thin
    return skeleton


def _keep_largest(mask: np.ndarray, base: np.ndarray, keep: int) -> np.ndarray:
    """The pixels of ``base`` inside the ``keep`` largest 8-connected parts of ``mask`` (ties: lower label)."""
    import cv2

    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    order = np.argsort(-areas, kind="stable")[:keep] + 1
    chosen = np.zeros(count, dtype=bool)
    chosen[order] = True
    return base & chosen[labels]


def _anchors(part: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ys, xs) of hole pixels of ``part`` to anchor a crop on: those on a 4-px grid (16x fewer pixels,
    anchor enough), or all of them when the grid misses every hole."""
    holes = np.nonzero(part[::4, ::4])
    return (holes[0] * 4, holes[1] * 4) if len(holes[0]) else np.nonzero(part)


def _add_part(base: np.ndarray, part: np.ndarray, rng: np.random.Generator, options: AugmentOptions,
              scales: tuple[float, float]) -> np.ndarray:
    """``base`` united with another raw mask, rotated and cropped at random like the first, one of its hole
    pixels placed on a random hole pixel of ``base`` (so the parts overlap into one larger shape, as
    NVIDIA's masks have one dominant part, rather than scattering)."""
    rotation, crop_scale = _draw_crop(rng, options, *scales)
    ys, xs = np.nonzero(base)
    pick = int(rng.integers(len(xs)))
    at = (float(xs[pick]), float(ys[pick]))
    center = _place(_anchors(part), part.shape, rng, options, rotation, crop_scale, touch_border=False, at=at)
    return base | warp_crop(part, rotation=rotation, crop_scale=crop_scale, center=center, size=options.size)


@dataclass(frozen=True)
class _Steer:
    """The shape steps of one attempt of :func:`augment_to_cell` toward a drawn target (``match_shapes``)."""

    cell: Cell
    options: AugmentOptions
    outside: np.ndarray | None
    k_min: int
    k_max: int
    target: float  # hole pixels wanted

    @property
    def high(self) -> float:
        return self.cell.high * self.options.size ** 2

    @property
    def low(self) -> float:
        return self.cell.low * self.options.size ** 2

    def level(self, cumulative: np.ndarray) -> int:
        return _in_bin_level(cumulative, self.target, self.k_min, self.k_max)

    def in_bin_level(self, cumulative: np.ndarray) -> int | None:
        """:meth:`level`, when its hole count falls in the cell's bin; else ``None``."""
        level = self.level(cumulative)
        return level if self.low < cumulative[level] <= self.high else None

    def shape(self, base: np.ndarray, levels: np.ndarray, cumulative: np.ndarray, goal: ShapeTarget,
              more: Callable[[np.random.Generator], np.ndarray] | None, rng: np.random.Generator,
              scales: tuple[float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The crop steered toward ``goal``: :meth:`combine`, :meth:`trim`, :meth:`thin`, :meth:`scatter` in turn."""
        base, levels, cumulative = self.combine(base, levels, cumulative, goal, more, rng, scales)
        base, levels, cumulative = self.trim(base, levels, cumulative, goal)
        base, levels, cumulative = self.thin(base, levels, cumulative, goal)
        return self.scatter(base, levels, cumulative, goal, more, rng, scales)

    def combine(self, base: np.ndarray, levels: np.ndarray, cumulative: np.ndarray, goal: ShapeTarget,
                more: Callable[[np.random.Generator], np.ndarray] | None, rng: np.random.Generator,
                scales: tuple[float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Combine further raw masks from ``more`` into ``base`` while the strokes at the target ratio are wider
        than the goal: at a given hole area the stroke width falls about as the material (the boundary)
        grows, so each round adds as many as the width says are missing (all when even the widest dilation
        is short of the bin), halving the count when they overshoot the bin."""
        parts, rounds = 1, 0
        options = self.options
        while more is not None and parts < options.max_parts and rounds < PART_ROUNDS \
                and cumulative[self.k_min] <= self.high:
            reached = cumulative[self.k_max] > self.low
            width = stroke_width(levels <= self.level(cumulative)) if reached else float("inf")
            if width <= goal.width:
                break
            missing = options.max_parts - parts if not reached else math.ceil(width / goal.width) - 1
            count = max(1, min(missing, options.max_parts - parts))
            while True:
                rounds += 1
                grown = base
                for _ in range(count):
                    grown = _add_part(grown, more(rng), rng, options, scales)
                grown_levels, grown_cumulative = _dilation_levels(grown, self.k_max, self.outside)
                if grown_cumulative[self.k_min] <= self.high or count == 1 or rounds >= PART_ROUNDS + 1:
                    break
                count //= 2
            if grown_cumulative[self.k_min] > self.high:
                break  # even one more part overshoots: keep what we have
            base, levels, cumulative, parts = grown, grown_levels, grown_cumulative, parts + count
        return base, levels, cumulative

    def trim(self, base: np.ndarray, levels: np.ndarray, cumulative: np.ndarray,
             goal: ShapeTarget) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """With far more parts than the goal's count at the target ratio, keep the largest ones and dilate
        again (unless what is left cannot reach the bin)."""
        level = self.in_bin_level(cumulative)
        if level is None:
            return base, levels, cumulative
        mask = levels <= level
        keep = max(1, round(goal.components))
        if component_count(mask) <= keep:
            return base, levels, cumulative
        kept = _keep_largest(mask, base, keep)
        kept_levels, kept_cumulative = _dilation_levels(kept, self.k_max, self.outside)
        if kept_cumulative[self.k_max] > self.low:
            return kept, kept_levels, kept_cumulative
        return base, levels, cumulative

    def thin(self, base: np.ndarray, levels: np.ndarray, cumulative: np.ndarray,
             goal: ShapeTarget) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """With strokes wider than THIN_ABOVE x the goal's width at the target ratio (a raw mask with blobs
        thicker than NVIDIA's strokes, which no crop and no dilation of at least ``min_dilation`` can make
        thin), replace the crop by its skeleton and dilate that again: the same parts and outline, strokes
        as wide as the dilation. Kept only when it still reaches the bin and its width is closer to the goal."""
        level = self.in_bin_level(cumulative)
        if level is None:
            return base, levels, cumulative
        width = stroke_width(levels <= level)
        if width <= goal.width * THIN_ABOVE:
            return base, levels, cumulative
        thinned = _skeleton(base)
        thin_levels, thin_cumulative = _dilation_levels(thinned, self.k_max, self.outside)
        thin_level = self.in_bin_level(thin_cumulative)
        if thin_level is None:
            return base, levels, cumulative
        if abs(math.log(stroke_width(thin_levels <= thin_level) / goal.width)) < abs(math.log(width / goal.width)):
            return thinned, thin_levels, thin_cumulative
        return base, levels, cumulative

    def scatter(self, base: np.ndarray, levels: np.ndarray, cumulative: np.ndarray, goal: ShapeTarget,
                more: Callable[[np.random.Generator], np.ndarray] | None, rng: np.random.Generator,
                scales: tuple[float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """With fewer parts than the goal's count at the target ratio, add the smallest pieces of a further raw
        mask's random crop, as many as are missing, placed where the crop puts them (not attached: NVIDIA's
        small bins have many small parts beside the main one); at most SCATTER_ROUNDS rounds, each kept only
        when the mask, dilated again, still reaches the bin."""
        import cv2

        for _ in range(SCATTER_ROUNDS if more is not None else 0):
            level = self.in_bin_level(cumulative)
            if level is None:
                break
            missing = round(goal.components) - component_count(levels <= level)
            if missing < 1:
                break
            part = more(rng)
            if not part.any():
                continue
            rotation, crop_scale = _draw_crop(rng, self.options, *scales)
            center = _place(_anchors(part), part.shape, rng, self.options, rotation, crop_scale, touch_border=False)
            crop = warp_crop(part, rotation=rotation, crop_scale=crop_scale, center=center, size=self.options.size)
            if self.outside is not None:
                crop &= ~self.outside
            count, labels, stats, _ = cv2.connectedComponentsWithStats(crop.astype(np.uint8), connectivity=8)
            if count <= 1:
                continue
            chosen = np.zeros(count, dtype=bool)
            chosen[np.argsort(stats[1:, cv2.CC_STAT_AREA], kind="stable")[:missing] + 1] = True
            grown = base | chosen[labels]
            grown_levels, grown_cumulative = _dilation_levels(grown, self.k_max, self.outside)
            if self.in_bin_level(grown_cumulative) is None:
                break
            base, levels, cumulative = grown, grown_levels, grown_cumulative
        return base, levels, cumulative


def _recrop(crop_scale: float, too_wide: float, options: AugmentOptions) -> tuple[float, float]:
    """The crop-scale range of the next attempt when the strokes came out ``too_wide`` x the goal's width:
    zoom in when too wide (at a given hole ratio the boundary grows with the zoom, so strokes get
    thinner), out when too thin."""
    factor = math.sqrt(1.0 / too_wide)
    return (min(options.max_crop, max(options.min_crop, crop_scale * factor * 0.9)),
            min(options.max_crop, max(options.min_crop, crop_scale * factor * 1.1)))


def augment_to_cell(raw: np.ndarray, cell: Cell, rng: np.random.Generator,
                    options: AugmentOptions = AugmentOptions(), *,
                    more: Callable[[np.random.Generator], np.ndarray] | None = None) -> AugmentResult:
    """An augmented mask of ``raw`` whose hole ratio and border class fall in ``cell``.

    Each attempt draws a rotation, crop and placement, computes one distance transform of the cropped
    mask, and reads off its histogram the dilation radius (between ``min_dilation`` and ``max_dilation``)
    that brings the ratio to a target inside the bin. When no radius can, the next attempt zooms in
    (too few holes) or out (too many) by the factor the histogram says is missing; when the crop is already
    at its limit the raw mask cannot serve this cell and the function gives up early.

    With ``options.match_shapes`` (default) the target is drawn per attempt from NVIDIA's distributions of
    the cell (:mod:`maskgen.shape_targets`): ratio, stroke width, component count. Strokes wider than the
    target at the target ratio: up to ``max_parts - 1`` further raw masks from ``more(rng)`` are combined
    (:meth:`_Steer.combine`); far more parts than the target: the smallest are removed (:meth:`_Steer.trim`);
    strokes still too wide: the crop is thinned (:meth:`_Steer.thin`); too few parts: :meth:`_Steer.scatter`;
    a width still off by more than WIDTH_TOLERANCE: up to SHAPE_TRIES attempts re-crop (the closest is kept).

    Args:
        raw: bool HxW raw mask (working size), ``True`` = hole.
        more: draws another raw mask (for combining); ``None``: one raw mask per output mask.

    Returns the mask and its :class:`Augmentation`, or no mask and the reason: ``"empty"``, ``"too-small"``,
    ``"too-large"`` or ``"no-border-contact"`` (the last failure's cause).
    """
    if not raw.any():
        return AugmentResult.failed("empty")
    size, total, holes_yx = options.size, options.size ** 2, np.nonzero(raw)
    # start wide for the small bins (thin, many-part holes like NVIDIA's) and allow closer crops as the bin grows
    span = options.max_crop - options.min_crop
    scales = (options.max_crop - span * (cell.bin_index + 1) / (len(BIN_EDGES) - 1), options.max_crop)
    k_min, k_max = (options.min_dilation - 1) // 2 * RADIUS_STEPS, (options.max_dilation - 1) // 2 * RADIUS_STEPS
    want_b, margin = cell.border == "B", options.margin
    outside = ~_interior(size, margin) if want_b else None
    targets = targets_for(cell) if options.match_shapes else None
    reason, shape_tries = "too-small", 0
    best: tuple[float, AugmentResult] | None = None  # (width error, result) of the closest mask so far
    for attempt in range(options.attempts):
        goal = targets.draw(rng, size=size) if targets is not None else None
        rotation, crop_scale = _draw_crop(rng, options, *scales)
        center = _place(holes_yx, raw.shape, rng, options, rotation, crop_scale, touch_border=not want_b)
        base = warp_crop(raw, rotation=rotation, crop_scale=crop_scale, center=center, size=size)
        if not base.any():
            continue
        target = (goal.ratio if goal is not None else rng.uniform(cell.low, cell.high)) * total
        steer = _Steer(cell, options, outside, k_min, k_max, target)
        levels, cumulative = _dilation_levels(base, k_max, outside)
        if goal is not None:
            base, levels, cumulative = steer.shape(base, levels, cumulative, goal, more, rng, scales)
        level = steer.level(cumulative)
        lowest, highest = cumulative[k_min], cumulative[k_max]
        # too few holes even at the widest dilation (zoom in), or too many even at the thinnest (zoom out)
        too_small = highest <= steer.low
        if too_small or lowest > steer.high:
            reason = "too-small" if too_small else "too-large"
            zoomed = _zoom(too_small, crop_scale, highest if too_small else lowest, target, options)
            if zoomed is None:
                break
            scales = zoomed
            continue
        mask = levels <= level
        if ratio_bin(int(cumulative[level]), total) != cell.bin_index:  # the target fell between two levels
            reason = "too-small" if cumulative[level] <= steer.low else "too-large"
            continue
        if not want_b and border_class(mask, margin=margin) != "N":
            reason = "no-border-contact"
            continue
        diameter = round(2 * level / RADIUS_STEPS + 1, 3)
        result = AugmentResult(mask, Augmentation.rounded(diameter, rotation, crop_scale, center, want_b, attempt))
        if goal is None:
            return result
        width = stroke_width(mask)
        error = abs(math.log(width / goal.width))
        if best is None or error < best[0]:
            best = (error, result)
        if error <= math.log(WIDTH_TOLERANCE) or attempt + 1 >= options.attempts or shape_tries >= SHAPE_TRIES:
            return best[1]
        shape_tries += 1
        scales = _recrop(crop_scale, width / goal.width, options)
    return best[1] if best is not None else AugmentResult.failed(reason)


def augment_free(raw: np.ndarray, rng: np.random.Generator,
                 options: AugmentOptions = AugmentOptions()) -> AugmentResult:
    """A training mask: random rotation, crop and dilation with no ratio cap (ratio > ``min_free_ratio``)."""
    if not raw.any():
        return AugmentResult.failed("empty")
    size = options.size
    holes_yx = np.nonzero(raw)
    for attempt in range(options.attempts):
        rotation, crop_scale = _draw_crop(rng, options, options.min_crop, options.max_crop)
        center = _place(holes_yx, raw.shape, rng, options, rotation, crop_scale, touch_border=False)
        base = warp_crop(raw, rotation=rotation, crop_scale=crop_scale, center=center, size=size)
        diameter = int(rng.integers(options.min_dilation // 2, options.max_dilation // 2 + 1)) * 2 + 1
        mask = dilate(base, diameter)
        if np.count_nonzero(mask) > options.min_free_ratio * size * size:
            return AugmentResult(mask, Augmentation.rounded(diameter, rotation, crop_scale, center, False, attempt))
    return AugmentResult.failed("too-small")


def impossible_cells(options: AugmentOptions) -> dict[str, str]:
    """The cells no mask of ``options.size`` can fall in, by name, with the reason: a B mask has holes
    only inside the ``size - 2 * margin`` square, so its hole ratio is at most that square's share of the
    image, and a B cell whose bin starts at or above it cannot exist (whatever the raw masks)."""
    from inpaint_core.buckets import CELLS

    inner = max(0, options.size - 2 * options.margin)
    share = inner * inner / (options.size * options.size)
    return {cell.name: (f"cannot exist: a {options.margin} px border leaves a {inner}x{inner} interior, "
                        f"{share:.1%} of a {options.size}x{options.size} mask, and the bin starts at "
                        f"{cell.low:.0%} (lower --border-margin to fill it)")
            for cell in CELLS if cell.border == "B" and share <= cell.low}
