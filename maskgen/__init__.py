"""maskgen: irregular hole masks from video occlusion, binned like the NVIDIA test set."""
from __future__ import annotations

from inpaint_core import __version__

__all__ = ["__version__"]
