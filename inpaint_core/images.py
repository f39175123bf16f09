"""Images: discovery in a folder, loading as uint8 RGB, writing RGB PNGs, picture rows for people to look at;
the pixel limit checked before any image, mask or frame is decoded.

Images at the model boundary are ``uint8`` RGB HxWx3 (:mod:`inpaint_core.conventions`).

**Pixel limit.** A small file can decode to a huge array (a 1.2 MB PNG of 20000x20000 is 1.2 GB as RGB), so
every decode goes through :func:`decode_image`, which reads the width and height from the file's header
(PNG, JPEG, WebP, BMP, TIFF, PNM) and refuses an image above the limit before decoding it; other formats are
checked right after decoding. The limit is :data:`DEFAULT_MAX_PIXELS` (50 megapixels), or the environment
variable ``INPAINT_MAX_PIXELS``, or the ``max_pixels`` keyword of the reading functions, in rising priority.
"""
from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

from .files import atomic_write_bytes, encode_png, natural_key

__all__ = ["IMAGE_EXTENSIONS", "DEFAULT_MAX_PIXELS", "MAX_PIXELS_ENV", "PixelLimitError", "max_pixels_limit",
           "check_pixel_limit", "encoded_image_size", "decode_image", "discover_images", "load_image", "decode_rgb",
           "write_rgb_png", "sample_row"]

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"})
DEFAULT_MAX_PIXELS = 50_000_000  # 150 MB as RGB; NVIDIA's masks are 0.26 megapixels, a 8K frame 33
MAX_PIXELS_ENV = "INPAINT_MAX_PIXELS"


class PixelLimitError(ValueError):
    """An image, mask or frame larger than the pixel limit (refused before decoding)."""


def max_pixels_limit(max_pixels: int | None = None) -> int:
    """The pixel limit: ``max_pixels`` if given, else ``$INPAINT_MAX_PIXELS``, else :data:`DEFAULT_MAX_PIXELS`.

    Raises:
        ValueError: the limit is not a positive whole number.
    """
    if max_pixels is None:
        text = os.environ.get(MAX_PIXELS_ENV, "").strip()
        if not text:
            return DEFAULT_MAX_PIXELS
        try:
            max_pixels = int(text.replace("_", ""))
        except ValueError:
            raise ValueError(f"{MAX_PIXELS_ENV} must be a whole number of pixels, got {text!r}") from None
    if max_pixels <= 0:
        raise ValueError(f"the pixel limit must be positive, got {max_pixels}")
    return max_pixels


def check_pixel_limit(height: int, width: int, *, what: str, max_pixels: int | None = None) -> None:
    """Refuse an image of ``height`` x ``width`` above the pixel limit (see :func:`max_pixels_limit`).

    For a video, pass the container's frame size (``cv2.CAP_PROP_FRAME_HEIGHT``/``WIDTH``) before reading frames.

    Raises:
        PixelLimitError: one line naming ``what``, its size and the limit.
    """
    limit = max_pixels_limit(max_pixels)
    if height * width > limit:
        raise PixelLimitError(f"{what}: {width}x{height} is {height * width / 1e6:.1f} megapixels, above the limit "
                              f"of {limit / 1e6:g} megapixels (set {MAX_PIXELS_ENV} to raise it)")


def encoded_image_size(data: bytes | bytearray | memoryview | np.ndarray) -> tuple[int, int] | None:
    """(height, width) read from the header of an encoded PNG, JPEG, WebP, BMP, TIFF or PNM image, without
    decoding it; ``None`` for another format or a header that does not say (then check after decoding)."""
    buffer = memoryview(np.ascontiguousarray(data, dtype=np.uint8) if isinstance(data, np.ndarray) else data)
    buffer = buffer.cast("B") if buffer.format != "B" else buffer
    start = bytes(buffer[:16])
    try:
        for magic, reader in _HEADER_READERS:
            if start.startswith(magic):
                size = reader(buffer)
                return size if size and size[0] > 0 and size[1] > 0 else None
    except (struct.error, ValueError, IndexError):
        return None
    return None


def _png_size(buffer: memoryview) -> tuple[int, int] | None:
    if bytes(buffer[12:16]) != b"IHDR":
        return None
    width, height = struct.unpack_from(">II", buffer, 16)
    return height, width


_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})


def _jpeg_size(buffer: memoryview) -> tuple[int, int] | None:
    """The size in the first start-of-frame segment (walks the segments before it by their lengths)."""
    position = 2
    while position + 4 <= len(buffer):
        if buffer[position] != 0xFF:
            return None
        marker = buffer[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in _JPEG_STANDALONE:
            position += 2
            continue
        if marker in _JPEG_SOF:
            height, width = struct.unpack_from(">HH", buffer, position + 5)
            return height, width
        if marker == 0xDA:  # image data before any frame header
            return None
        position += 2 + struct.unpack_from(">H", buffer, position + 2)[0]
    return None


def _webp_size(buffer: memoryview) -> tuple[int, int] | None:
    if bytes(buffer[8:12]) != b"WEBP":
        return None
    chunk = bytes(buffer[12:16])
    if chunk == b"VP8X":
        width = 1 + int.from_bytes(bytes(buffer[24:27]), "little")
        return 1 + int.from_bytes(bytes(buffer[27:30]), "little"), width
    if chunk == b"VP8 " and bytes(buffer[23:26]) == b"\x9d\x01\x2a":
        width, height = struct.unpack_from("<HH", buffer, 26)
        return height & 0x3FFF, width & 0x3FFF
    if chunk == b"VP8L" and buffer[20] == 0x2F:
        bits = struct.unpack_from("<I", buffer, 21)[0]
        return 1 + ((bits >> 14) & 0x3FFF), 1 + (bits & 0x3FFF)
    return None


def _bmp_size(buffer: memoryview) -> tuple[int, int] | None:
    if struct.unpack_from("<I", buffer, 14)[0] == 12:  # OS/2 core header: 16-bit sizes
        width, height = struct.unpack_from("<HH", buffer, 18)
        return height, width
    width, height = struct.unpack_from("<ii", buffer, 18)
    return abs(height), abs(width)


def _tiff_size(buffer: memoryview) -> tuple[int, int] | None:
    """ImageWidth (256) and ImageLength (257) of the first image file directory."""
    order = "<" if bytes(buffer[:2]) == b"II" else ">"
    directory = struct.unpack_from(order + "I", buffer, 4)[0]
    found: dict[int, int] = {}
    for index in range(struct.unpack_from(order + "H", buffer, directory)[0]):
        tag, kind = struct.unpack_from(order + "HH", buffer, directory + 2 + 12 * index)
        if tag in (256, 257):
            value = directory + 2 + 12 * index + 8
            found[tag] = struct.unpack_from(order + ("H" if kind == 3 else "I"), buffer, value)[0]
    return (found[257], found[256]) if len(found) == 2 else None


def _pnm_size(buffer: memoryview) -> tuple[int, int] | None:
    """Width and height: the first two numbers after the magic, ``#`` comments skipped."""
    text = bytes(buffer[2:1024]).decode("ascii", errors="replace")
    numbers = [token for line in text.split("\n") for token in line.split("#", 1)[0].split()][:2]
    if len(numbers) < 2 or not all(n.isdigit() for n in numbers):
        return None
    return int(numbers[1]), int(numbers[0])


_HEADER_READERS = (
    (b"\x89PNG\r\n\x1a\n", _png_size),
    (b"\xff\xd8", _jpeg_size),
    (b"RIFF", _webp_size),
    (b"BM", _bmp_size),
    (b"II*\x00", _tiff_size),
    (b"MM\x00*", _tiff_size),
    *((f"P{kind}".encode(), _pnm_size) for kind in "123456"),
)


def decode_image(data: np.ndarray, *, flags: int, what: str, max_pixels: int | None = None) -> np.ndarray:
    """``cv2.imdecode(data, flags)`` behind the pixel limit: the header's size is checked before decoding
    (after decoding for a format whose header is not read here).

    Args:
        data: the file's bytes as a uint8 array (``np.fromfile(path, np.uint8)``).
        what: names the file in messages.

    Raises:
        PixelLimitError: the image is above the limit.
        ValueError: it cannot be decoded.
    """
    import cv2

    size = encoded_image_size(data) if data.size else None
    if size is not None:
        check_pixel_limit(*size, what=what, max_pixels=max_pixels)
    image = cv2.imdecode(data, flags) if data.size else None
    if image is None:
        raise ValueError(f"cannot read {what!r} as an image")
    if size is None:
        check_pixel_limit(*image.shape[:2], what=what, max_pixels=max_pixels)
    return image


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


def load_image(path: str | Path, *, max_pixels: int | None = None) -> np.ndarray:
    """uint8 RGB HxWx3 (grey is replicated, alpha dropped, 16-bit scaled).

    Raises:
        PixelLimitError: the image is above the pixel limit (``max_pixels``, see :func:`max_pixels_limit`).
        ValueError: unreadable.
    """
    data = np.fromfile(str(path), dtype=np.uint8) if Path(path).is_file() else np.empty(0, np.uint8)
    return decode_rgb(data, what=str(path), max_pixels=max_pixels)


def decode_rgb(data: np.ndarray, *, what: str, max_pixels: int | None = None) -> np.ndarray:
    """:func:`load_image` of a file's bytes already read (uint8 array); ``what`` names it in messages."""
    import cv2

    image = decode_image(data, flags=cv2.IMREAD_UNCHANGED, what=what, max_pixels=max_pixels)
    if image.dtype == np.uint16:
        image = (image // 257).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ValueError(f"{what!r}: unsupported pixel type {image.dtype}")
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
