"""LaMa's random thin / medium / thick evaluation masks (Suvorov et al., WACV 2022), re-implemented.

Source: advimman/lama, ``configs/data_gen/random_{thin,medium,thick}_{256,512}.yaml`` (parameters),
``saicinpainting/training/data/masks.py`` (``MixedMaskGenerator``, ``make_random_irregular_mask``,
``make_random_rectangle_mask``) and ``bin/gen_mask_dataset.py`` (``max_tamper_area``). LaMa fixes no seed,
so its published test masks differ from run to run; here every slot has its own seed.

One candidate mask (what ``MixedMaskGenerator`` does with these configs, ramp coefficient 1):

* kind: boxes with probability ``box_proba / (irregular_proba + box_proba)`` = 0.3 / 1.3 (medium, thick),
  else strokes (thin: strokes only). A mask is *either* strokes *or* boxes.
* strokes: ``times`` ~ U{min_times .. max_times + 1} strokes (``RandomIrregularMaskGenerator`` passes
  ``min_times + 1 + (max_times - min_times)`` as the exclusive bound's base, so the upper end is
  ``max_times + 1``). Each starts at a uniform pixel and has 1..5 segments; a segment has angle
  ``0.01 + U{0 .. max_angle - 1}`` radians (``2 * 3.1415926 - angle`` for even strokes), length
  ``10 + U{0 .. max_len - 1}`` and width ``5 + U{0 .. max_width - 1}`` pixels; its end is truncated to an
  integer and clipped to ``[0, size]``, and is the next segment's start.
* boxes: U{min_times .. max_times} boxes, each side ~ U{bbox_min_size .. min(bbox_max_size, size - 2 margin)}
  (the ramp gives ``bbox_max_size + 1`` as the exclusive bound), placed fully inside the ``margin``.
* kept when its hole ratio is at most ``max_tamper_area`` = 0.5 (``gen_mask_dataset.py`` drops larger
  ones; it draws ``variants_n`` = 5 candidates and keeps one of those under the limit at random, which
  is the same distribution as redrawing until one is under it). LaMa generates on the image resized to
  ``out_min_size`` on its short side and then crops a square; on a square canvas that crop is the whole
  mask, which is what is drawn here (an empty candidate, which LaMa's crop cannot handle, never occurs:
  every config draws at least one stroke or box).

==============  ====  ===========  ========  ========  ===========  ====================  ======  =========
config          size  strokes      width     max_len   box share    box side              margin  boxes
==============  ====  ===========  ========  ========  ===========  ====================  ======  =========
random_thin     256   4..51        5..14     40        0            --                    --      --
random_thin     512   4..71        5..24     100       0            --                    --      --
random_medium   256   4..6         5..54     100       0.3/1.3      10..50                0       1..5
random_medium   512   4..11        5..104    200       0.3/1.3      30..150               0       1..5
random_thick    256   1..6         5..104    200       0.3/1.3      30..150               10      1..3
random_thick    512   1..6         5..254    450       0.3/1.3      30..300               10      1..4
==============  ====  ===========  ========  ========  ===========  ====================  ======  =========

(strokes and widths as drawn, ends included; ``max_angle`` is 4 everywhere.)
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import partial

import numpy as np

from .draw import Box, Shapes, Stroke, render
from .registry import HoleRange, MaskFamily, check_size, register_family

__all__ = ["StrokeParams", "BoxParams", "LamaParams", "LAMA_CONFIGS", "lama_shapes", "lama_mask", "SOURCE"]

SOURCE = ("advimman/lama: configs/data_gen/random_{kind}_{size}.yaml; saicinpainting/training/data/masks.py "
          "(MixedMaskGenerator, make_random_irregular_mask, make_random_rectangle_mask); "
          "bin/gen_mask_dataset.py (max_tamper_area)")
LAMA_TWO_PI = 2 * 3.1415926  # LaMa's own constant for the mirrored angle of even strokes


@dataclass(frozen=True)
class StrokeParams:
    """``irregular_kwargs`` of a LaMa config."""

    min_times: int
    max_times: int
    max_width: int
    max_angle: int
    max_len: int


@dataclass(frozen=True)
class BoxParams:
    """``box_kwargs`` of a LaMa config."""

    margin: int
    bbox_min_size: int
    bbox_max_size: int
    min_times: int
    max_times: int


@dataclass(frozen=True)
class LamaParams:
    """One ``configs/data_gen/random_*.yaml``: stroke and box settings, their probabilities, the area limit."""

    strokes: StrokeParams
    boxes: BoxParams | None = None
    irregular_proba: float = 1.0
    box_proba: float = 0.0
    max_tamper_area: float = 0.5

    @property
    def box_share(self) -> float:
        """Probability that a candidate is boxes (MixedMaskGenerator normalises the probabilities)."""
        return self.box_proba / (self.irregular_proba + self.box_proba) if self.boxes is not None else 0.0


# (kind, size) -> the published config, copied from configs/data_gen/random_{kind}_{size}.yaml
LAMA_CONFIGS: dict[tuple[str, int], LamaParams] = {
    ("thin", 256): LamaParams(StrokeParams(min_times=4, max_times=50, max_width=10, max_angle=4, max_len=40)),
    ("thin", 512): LamaParams(StrokeParams(min_times=4, max_times=70, max_width=20, max_angle=4, max_len=100)),
    ("medium", 256): LamaParams(StrokeParams(min_times=4, max_times=5, max_width=50, max_angle=4, max_len=100),
                                BoxParams(margin=0, bbox_min_size=10, bbox_max_size=50, min_times=1, max_times=5),
                                box_proba=0.3),
    ("medium", 512): LamaParams(StrokeParams(min_times=4, max_times=10, max_width=100, max_angle=4, max_len=200),
                                BoxParams(margin=0, bbox_min_size=30, bbox_max_size=150, min_times=1, max_times=5),
                                box_proba=0.3),
    ("thick", 256): LamaParams(StrokeParams(min_times=1, max_times=5, max_width=100, max_angle=4, max_len=200),
                               BoxParams(margin=10, bbox_min_size=30, bbox_max_size=150, min_times=1, max_times=3),
                               box_proba=0.3),
    ("thick", 512): LamaParams(StrokeParams(min_times=1, max_times=5, max_width=250, max_angle=4, max_len=450),
                               BoxParams(margin=10, bbox_min_size=30, bbox_max_size=300, min_times=1, max_times=4),
                               box_proba=0.3),
}


def _strokes(size: int, rng: np.random.Generator, p: StrokeParams) -> tuple[Stroke, ...]:
    """``make_random_irregular_mask`` with the ramp at 1 (see the module doc)."""
    strokes = []
    for index in range(int(rng.integers(p.min_times, p.max_times + 2))):
        x, y = int(rng.integers(size)), int(rng.integers(size))
        points, widths = [(x, y)], []
        for _ in range(1 + int(rng.integers(5))):
            angle = 0.01 + int(rng.integers(p.max_angle))
            if index % 2 == 0:
                angle = LAMA_TWO_PI - angle
            length = 10 + int(rng.integers(p.max_len))
            widths.append(5 + int(rng.integers(p.max_width)))
            # numpy's astype(int32) truncates towards zero, then LaMa clips to [0, size]
            x = min(max(int(x + length * np.sin(angle)), 0), size)
            y = min(max(int(y + length * np.cos(angle)), 0), size)
            points.append((x, y))
        strokes.append(Stroke(tuple(points), tuple(widths)))
    return tuple(strokes)


def _boxes(size: int, rng: np.random.Generator, p: BoxParams) -> tuple[Box, ...]:
    """``make_random_rectangle_mask`` with the ramp at 1 (exclusive side bound ``bbox_max_size + 1``)."""
    upper = min(p.bbox_max_size + 1, size - 2 * p.margin)
    boxes = []
    for _ in range(int(rng.integers(p.min_times, p.max_times + 1))):
        box_width = int(rng.integers(p.bbox_min_size, upper))
        box_height = int(rng.integers(p.bbox_min_size, upper))
        left = int(rng.integers(p.margin, size - p.margin - box_width + 1))
        top = int(rng.integers(p.margin, size - p.margin - box_height + 1))
        boxes.append(Box(top, left, box_height, box_width))
    return tuple(boxes)


def lama_shapes(size: int, rng: np.random.Generator, *, params: LamaParams) -> Shapes:
    """The strokes or boxes of one LaMa candidate on a ``size`` x ``size`` canvas."""
    if params.boxes is not None and rng.random() < params.box_share:
        return Shapes(boxes=_boxes(size, rng, params.boxes))
    return Shapes(strokes=_strokes(size, rng, params.strokes))


def lama_mask(size: int, rng: np.random.Generator, *, params: LamaParams) -> np.ndarray:
    """One LaMa candidate: ``uint8`` ``size`` x ``size``, 1 = hole (before the ``max_tamper_area`` check)."""
    return render(lama_shapes(size, rng, params=params), size)


def _family(kind: str, size: int) -> MaskFamily:
    check_size(f"lama-{kind}", size, (256, 512))
    params = LAMA_CONFIGS[(kind, size)]
    return MaskFamily(name=f"lama-{kind}", size=size, source=SOURCE.format(kind=kind, size=size),
                      parameters={**asdict(params), "variants_n": 5, "box_share": params.box_share},
                      draw=partial(lama_mask, params=params),
                      keep=HoleRange(0.0, params.max_tamper_area, low_inclusive=False, high_inclusive=True))


@register_family("lama-thin")
def lama_thin(size: int) -> MaskFamily:
    """LaMa ``random_thin_{256,512}``: thin strokes only."""
    return _family("thin", size)


@register_family("lama-medium")
def lama_medium(size: int) -> MaskFamily:
    """LaMa ``random_medium_{256,512}``: medium strokes or small boxes."""
    return _family("medium", size)


@register_family("lama-thick")
def lama_thick(size: int) -> MaskFamily:
    """LaMa ``random_thick_{256,512}``: wide strokes or large boxes."""
    return _family("thick", size)
