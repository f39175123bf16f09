"""pconv_baseline: the reference Partial-Convolution U-Net (Liu et al., ECCV 2018) (issue 4)."""
from __future__ import annotations

from inpaint_core import __version__

__all__ = ["__version__"]
