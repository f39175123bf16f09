"""pconv_baseline: the reference Partial-Convolution U-Net (Liu et al., ECCV 2018) (issue 4)."""
from __future__ import annotations

__version__ = "0.1.0"
