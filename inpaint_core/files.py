"""Files: atomic writes (respecting the umask), sha256, PNG encoding, CSV text, natural order.

Every file the toolkit writes goes to a temporary name beside its target and is renamed into place, so a
reader never sees half a file and an interrupted job leaves either the old file or the new one.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Mapping, Sequence

import numpy as np

__all__ = [
    "TEMPORARY_SUFFIX",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "read_json",
    "sha256_bytes",
    "sha256_file",
    "encode_png",
    "write_png",
    "csv_text",
    "natural_key",
]

PNG_COMPRESSION = 6  # level 9 is 4x slower for 25 % smaller files
# the temporary files of :func:`atomic_write`: ``.<name>.<random>`` + this, beside the target
TEMPORARY_SUFFIX = ".tmp"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(handle)`` on a temporary file beside ``path``, then rename it into place; on any error
    the temporary file is removed and ``path`` is left as it was.

    The file gets the permissions an ordinary ``open(path, "w")`` would give (0666 less the umask), not the
    0600 of :func:`tempfile.mkstemp`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.chmod(tmp_name, 0o666 & ~_umask())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (:func:`atomic_write`)."""
    atomic_write(path, lambda handle: handle.write(data))


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def read_json(path: str | os.PathLike[str]) -> Any:
    """The JSON content of ``path``, or ``None`` when the file is missing, unreadable or not JSON (a file cut
    short by a kill counts as missing)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def sha256_bytes(data: bytes | np.ndarray) -> str:
    """sha256 (hex) of ``data``: bytes, or a file's bytes as a contiguous uint8 array (``np.fromfile``)."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str], *, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk_size), b""):
            digest.update(block)
    return digest.hexdigest()


def encode_png(image: np.ndarray, *, rgb: bool = False, compression: int | None = None) -> bytes:
    """PNG bytes of a uint8 HxW (grey) or HxWx3 image; ``rgb=True`` for RGB channel order (else BGR, OpenCV's).

    ``compression``: zlib level, OpenCV's default; mask files use :data:`PNG_COMPRESSION`.
    Deterministic for a given OpenCV build.
    """
    import cv2

    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError(f"PNG image must be uint8 HxW or HxWx3, got {image.dtype} {image.shape}")
    if rgb:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    params = [] if compression is None else [cv2.IMWRITE_PNG_COMPRESSION, compression]
    ok, buffer = cv2.imencode(".png", image, params)
    if not ok:  # pragma: no cover - OpenCV failure
        raise RuntimeError("OpenCV could not encode the image as PNG")
    return buffer.tobytes()


def write_png(path: str | os.PathLike[str], image: np.ndarray, *, rgb: bool = False) -> None:
    """Write a uint8 grey or colour image as PNG, atomically (see :func:`encode_png`)."""
    atomic_write_bytes(path, encode_png(image, rgb=rgb))


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, object]]) -> str:
    """CSV text with a header, ``\\n`` line ends and values already formatted as strings."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def natural_key(text: str) -> list[object]:
    """Sort key that orders ``frame2`` before ``frame10``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]
