"""The benchmark's image protocol: preprocessing to the evaluation size and the image-set fingerprint.

Discovery and loading are shared: :mod:`inpaint_core.images`."""
from __future__ import annotations

import hashlib
from typing import Iterable

import numpy as np

__all__ = ["PREPROCESSING", "preprocess", "fingerprint_of_hashes"]

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


def fingerprint_of_hashes(hashes: Iterable[tuple[str, str]]) -> str:
    """The image-set fingerprint: sha256 over the ``(relative path, sha256 of the file)`` pairs of the images,
    in order (:func:`benchmark.inputs.check_images` gives them, each file read once)."""
    digest = hashlib.sha256()
    for relative, file_sha256 in hashes:
        digest.update(relative.encode() + b"\0" + file_sha256.encode() + b"\n")
    return digest.hexdigest()
