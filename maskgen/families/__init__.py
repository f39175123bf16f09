"""The published random mask families, re-implemented from their published parameters, seeded per slot.

==============  ==========================================  ===================================================
family          source                                      module
==============  ==========================================  ===================================================
lama-thin       advimman/lama random_thin_{256,512}.yaml     :mod:`maskgen.families.lama`
lama-medium     advimman/lama random_medium_{256,512}.yaml   :mod:`maskgen.families.lama`
lama-thick      advimman/lama random_thick_{256,512}.yaml    :mod:`maskgen.families.lama`
mat-small       fenglinglwb/MAT mask_generator_*_small.py    :mod:`maskgen.families.mat`
mat-large       fenglinglwb/MAT mask_generator_{256,512}.py  :mod:`maskgen.families.mat`
comodgan        zsyzzsoft/co-mod-gan mask_generator.py       :mod:`maskgen.families.comodgan`
deepfill-v2     JiahuiYu/generative_inpainting inpaint_ops   :mod:`maskgen.families.deepfill`
==============  ==========================================  ===================================================

``maskgen generate`` (:func:`maskgen.families.generate.generate_dataset`) writes one as a maskgen dataset.
"""
from __future__ import annotations

from . import comodgan, deepfill, lama, mat  # noqa: F401  (registers the built-in families)
from .registry import (FamilySample, HoleRange, MaskFamily, create_family, list_families,  # noqa: F401
                       register_family)

__all__ = ["FamilySample", "HoleRange", "MaskFamily", "create_family", "list_families", "register_family"]
