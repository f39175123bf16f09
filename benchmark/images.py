"""The benchmark's image protocol: preprocessing to the evaluation size and the image-set fingerprint.

Discovery and loading are shared: :mod:`inpaint_core.images`."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from inpaint_core.files import sha256_file

__all__ = ["PREPROCESSING", "preprocess", "image_set_fingerprint"]

PREPROCESSING = "resize-shorter-side-area-or-cubic+center-crop"


def preprocess(image: np.ndarray, size: int) -> np.ndarray:
    """Resize so the shorter side is ``size`` (area filter down, cubic up), then centre-crop to size x size."""
    import cv2

    height, width = image.shape[:2]
    scale = size / min(height, width)
    if scale != 1.0:
        new_width, new_height = max(size, round(width * scale)), max(size, round(height * scale))
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
        image = cv2.resize(image, (new_width, new_height), interpolation=interpolation)
        height, width = image.shape[:2]
    top, left = (height - size) // 2, (width - size) // 2
    return np.ascontiguousarray(image[top:top + size, left:left + size])


def image_set_fingerprint(folder: str | Path, relative_paths: list[str]) -> str:
    """sha256 over the relative paths and file contents of the images."""
    digest = hashlib.sha256()
    for relative in relative_paths:
        digest.update(relative.encode() + b"\0" + sha256_file(Path(folder) / relative).encode() + b"\n")
    return digest.hexdigest()
