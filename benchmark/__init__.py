"""benchmark: score inpainting models per hole-ratio bucket and publish a leaderboard (issue 3)."""
from __future__ import annotations

from inpaint_core import __version__

__all__ = ["__version__"]
