"""MAT's small and large free-form masks (Li et al., CVPR 2022), re-implemented.

Source: fenglinglwb/MAT, ``datasets/mask_generator_512.py`` (large, 512), ``datasets/mask_generator_512_small.py``
(small, 512), ``datasets/mask_generator_256.py`` and ``datasets/mask_generator_256_small.py`` (256). They are
CoModGAN's ``RandomMask`` (:mod:`maskgen.families.comodgan`: same boxes, same brush, same flips, same
0 < ratio < 1 redraw, ``hole_range=[0, 1]``) with fewer shapes; MAT's README reports its Places and
CelebA-HQ results under "Small Mask" and "Large Mask", made by these two files.

=====  ====  ==================  ==================  ===================
kind   size  MultiFill(n, s//2)  MultiFill(n, s)     RandomBrush(n, s)
=====  ====  ==================  ==================  ===================
large  512   5                   3                   9
small  512   3                   2                   4
large  256   4                   2                   8
small  256   2                   2                   3
=====  ====  ==================  ==================  ===================

(``n`` is exclusive: ``np.random.randint(n)`` shapes, 0..n-1.)
"""
from __future__ import annotations

from .comodgan import FreeFormParams, free_form_family
from .registry import MaskFamily, check_size, register_family

__all__ = ["MAT_PARAMS", "SOURCE"]

SOURCE = "fenglinglwb/MAT: datasets/mask_generator_{size}{suffix}.py (RandomMask, RandomBrush), hole_range [0, 1]"

MAT_PARAMS: dict[tuple[str, int], FreeFormParams] = {
    ("large", 512): FreeFormParams(small_boxes=5, large_boxes=3, strokes=9),
    ("small", 512): FreeFormParams(small_boxes=3, large_boxes=2, strokes=4),
    ("large", 256): FreeFormParams(small_boxes=4, large_boxes=2, strokes=8),
    ("small", 256): FreeFormParams(small_boxes=2, large_boxes=2, strokes=3),
}


def _family(kind: str, size: int) -> MaskFamily:
    check_size(f"mat-{kind}", size, (256, 512))
    source = SOURCE.format(size=size, suffix="_small" if kind == "small" else "")
    return free_form_family(f"mat-{kind}", size, MAT_PARAMS[(kind, size)], source)


@register_family("mat-small")
def mat_small(size: int) -> MaskFamily:
    """MAT's small masks (``mask_generator_{256,512}_small.py``)."""
    return _family("small", size)


@register_family("mat-large")
def mat_large(size: int) -> MaskFamily:
    """MAT's large masks (``mask_generator_{256,512}.py``)."""
    return _family("large", size)
