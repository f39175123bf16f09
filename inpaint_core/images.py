"""Images: discovery in a folder, loading as uint8 RGB, writing RGB PNGs, picture rows for people to look at.

Images at the model boundary are ``uint8`` RGB HxWx3 (:mod:`inpaint_core.conventions`).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .files import atomic_write_bytes, encode_png, natural_key

__all__ = ["IMAGE_EXTENSIONS", "discover_images", "load_image", "write_rgb_png", "sample_row"]

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"})


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


def write_rgb_png(path: str | os.PathLike[str], image: np.ndarray) -> None:
    """Write a uint8 RGB HxWx3 image as PNG, atomically."""
    atomic_write_bytes(path, encode_png(image, rgb=True))


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
