"""benchmark: score inpainting models per hole-ratio bucket and publish a leaderboard (issue 3)."""
from __future__ import annotations

__version__ = "0.1.0"
