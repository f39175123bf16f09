"""maskgen: irregular hole masks from video occlusion, binned like the NVIDIA test set."""
from __future__ import annotations

__version__ = "0.1.0"
