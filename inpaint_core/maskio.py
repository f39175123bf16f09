"""Reading and writing mask PNGs (the conventions are in :mod:`inpaint_core.conventions`).

On disk a mask is an 8-bit single-channel PNG, 255 = hole, 0 = known; never a grey pixel.
In memory it is a ``bool`` HxW array, ``True`` = hole.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .conventions import binarize, check_mask, check_polarity
from .files import PNG_COMPRESSION, atomic_write_bytes, encode_png, natural_key
from .images import decode_image

__all__ = ["MASK_EXTENSIONS", "encode_mask_png", "write_mask", "read_mask", "read_mask_values", "read_mask_file",
           "decode_mask_values", "list_mask_files"]

MASK_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})


def encode_mask_png(mask: np.ndarray) -> bytes:
    """PNG bytes of a bool HxW mask (255 = hole). Deterministic for a given OpenCV build."""
    check_mask(mask)
    return encode_png(mask.astype(np.uint8) * 255, compression=PNG_COMPRESSION)


def write_mask(path: str | os.PathLike[str], mask: np.ndarray) -> bytes:
    """Write a bool mask as a 0/255 PNG (atomically); returns the PNG bytes written."""
    data = encode_mask_png(mask)
    atomic_write_bytes(path, data)
    return data


def read_mask_values(path: str | os.PathLike[str], *, max_pixels: int | None = None) -> np.ndarray:
    """The raw 8-bit grey values of a mask file (colour files are converted to grey).

    Raises:
        PixelLimitError: the image is above the pixel limit (:func:`inpaint_core.images.max_pixels_limit`),
            refused before decoding.
        ValueError: the file is missing or not a readable image.
    """
    return read_mask_file(path, max_pixels=max_pixels)[0]


def read_mask_file(path: str | os.PathLike[str], *, max_pixels: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`read_mask_values` of the file and its bytes (uint8 array: for its sha256), from one read.

    Raises:
        PixelLimitError, ValueError: as :func:`read_mask_values`.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"mask file {str(path)!r} does not exist")
    data = np.fromfile(path, dtype=np.uint8)
    return decode_mask_values(data, what=str(path), max_pixels=max_pixels), data


def decode_mask_values(data: np.ndarray, *, what: str, max_pixels: int | None = None) -> np.ndarray:
    """:func:`read_mask_values` of a file's bytes already read (uint8 array); ``what`` names it in messages."""
    import cv2

    image = decode_image(data, flags=cv2.IMREAD_UNCHANGED, what=what, max_pixels=max_pixels)
    if image.ndim == 3:
        if image.shape[2] == 4:
            image = image[..., :3]
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.dtype == np.uint16:
        image = (image // 257).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ValueError(f"{what!r}: unsupported pixel type {image.dtype}")
    return image


def read_mask(path: str | os.PathLike[str], *, polarity: str = "hole-white",
              max_pixels: int | None = None) -> np.ndarray:
    """Read a mask file as bool HxW, ``True`` = hole.

    Args:
        path: image file.
        polarity: ``"hole-white"`` (values >= 128 are holes, the NVIDIA convention) or ``"hole-black"``
            (values < 128 are holes). For a folder of unknown polarity decide it once per folder
            (``maskgen.layout.detect_polarity``), never per file.
        max_pixels: the pixel limit (default: :func:`inpaint_core.images.max_pixels_limit`); a larger file
            is refused (PixelLimitError) before decoding.
    """
    check_polarity(polarity, allow_auto=False)
    return binarize(read_mask_values(path, max_pixels=max_pixels), polarity)


def list_mask_files(folder: Path) -> list[Path]:
    """Image files under ``folder`` (recursive), natural order of their relative paths."""
    return sorted((p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in MASK_EXTENSIONS),
                  key=lambda p: natural_key(p.relative_to(folder).as_posix()))
