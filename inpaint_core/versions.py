"""Software versions recorded in every dataset.json and run.json."""
from __future__ import annotations

import sys

__all__ = ["software_versions"]


def software_versions(**packages: str) -> dict[str, str]:
    """``{"maskgen": <toolkit version>, **packages, "python", "numpy", "opencv"}``.

    The toolkit's version is recorded under ``maskgen`` (the key datasets have always used, so rebuilding
    an existing dataset is recognised as up to date); callers add their own package versions.
    """
    import cv2
    import numpy as np

    from . import __version__

    return {**packages, "maskgen": __version__, "python": sys.version.split()[0], "numpy": np.__version__,
            "opencv": cv2.__version__}
