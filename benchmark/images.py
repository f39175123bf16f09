"""Image folders: discovery, loading as uint8 RGB, preprocessing to the evaluation size, fingerprint."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from maskgen.maskio import sha256_file
from maskgen.video import natural_key

__all__ = ["IMAGE_EXTENSIONS", "PREPROCESSING", "discover_images", "load_image", "preprocess", "image_set_fingerprint",
           "sample_row"]

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"})
PREPROCESSING = "resize-shorter-side-area-or-cubic+center-crop"


def discover_images(folder: str | Path) -> list[str]:
    """Relative POSIX paths of the images under ``folder`` (recursive, natural order, hidden skipped).

    Raises:
        ValueError: missing folder or no image in it.
    """
    root = Path(folder)
    if not root.is_dir():
        raise ValueError(f"image folder {str(root)!r} does not exist or is not a folder")
    found = [p.relative_to(root).as_posix() for p in root.rglob("*")
             if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
             and not any(part.startswith(".") for part in p.relative_to(root).parts)]
    if not found:
        raise ValueError(f"no image (png/jpg/webp/...) under {str(root)!r}")
    return sorted(found, key=natural_key)


def load_image(path: str | Path) -> np.ndarray:
    """uint8 RGB HxWx3 (grey is replicated, alpha dropped, 16-bit scaled). Raises ValueError if unreadable."""
    import cv2

    data = np.fromfile(str(path), dtype=np.uint8) if Path(path).is_file() else np.empty(0, np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise ValueError(f"cannot read {str(path)!r} as an image")
    if image.dtype == np.uint16:
        image = (image // 257).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ValueError(f"{str(path)!r}: unsupported pixel type {image.dtype}")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


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


def sample_row(model_input: np.ndarray, hole: np.ndarray, output: np.ndarray, truth: np.ndarray, *,
               tile: int | None = 256) -> np.ndarray:
    """One row of a sample picture (uint8 RGB): the input with its holes white, the output, the ground truth,
    each resized to ``tile`` px (``None`` keeps the size) with a 2 px grey frame. ``hole``: bool HxW."""
    import cv2

    shown = model_input.copy()
    shown[hole] = 255
    tiles = [t if tile is None else cv2.resize(t, (tile, tile), interpolation=cv2.INTER_AREA)
             for t in (shown, output, truth)]
    return np.hstack([np.pad(t, ((2, 2), (2, 2), (0, 0)), constant_values=128) for t in tiles])
