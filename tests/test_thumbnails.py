"""Sample-grid previews for the leaderboard page (benchmark.thumbnails): size, content, determinism, errors."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from benchmark.thumbnails import THUMB_WIDTH, grid_thumbnail
from inpaint_core.files import encode_png

COLOURS = np.array([[200, 30, 30], [30, 160, 40], [20, 40, 190], [250, 250, 250]], dtype=np.uint8)


def _stripes(width: int = 768, height: int = 256) -> np.ndarray:
    """Four vertical stripes of flat colour (RGB), each a quarter of the width."""
    return np.repeat(COLOURS, width // 4, axis=0)[None].repeat(height, axis=0)


def test_preview_is_the_image_downscaled() -> None:
    thumb = grid_thumbnail(encode_png(_stripes(), rgb=True), what="stripes")
    assert (thumb.width, thumb.height) == (THUMB_WIDTH, 128) == (384, 128)
    decoded = cv2.cvtColor(cv2.imdecode(np.frombuffer(thumb.data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    assert decoded.shape == (128, 384, 3) and thumb.data[:3] == b"\xff\xd8\xff"  # a JPEG
    for index, colour in enumerate(COLOURS):  # each stripe (96 px now), away from its edges, keeps its colour
        inner = decoded[8:-8, index * 96 + 8:(index + 1) * 96 - 8].reshape(-1, 3).astype(int)
        assert np.abs(inner - colour).max() <= 6, (index, np.abs(inner - colour).max())


def test_preview_size_options_and_determinism() -> None:
    data = encode_png(_stripes(), rgb=True)
    assert grid_thumbnail(data, what="x").data == grid_thumbnail(data, what="x").data
    odd = grid_thumbnail(encode_png(_stripes(780, 1040), rgb=True), what="x", width=384)
    assert (odd.width, odd.height) == (384, 512)  # 1040 * 384 / 780
    narrow = grid_thumbnail(encode_png(_stripes(200, 100), rgb=True), what="x")
    assert (narrow.width, narrow.height) == (200, 100)  # never enlarged
    assert len(grid_thumbnail(data, what="x", quality=95).data) > len(grid_thumbnail(data, what="x", quality=50).data)


def test_bad_input_is_one_clear_error() -> None:
    with pytest.raises(ValueError, match=r"cannot read 'runs/a/samples/grid_01-10_B.png' as an image"):
        grid_thumbnail(b"not a png", what="runs/a/samples/grid_01-10_B.png")
    data = encode_png(_stripes(), rgb=True)
    with pytest.raises(ValueError, match="thumbnail width must be an integer >= 16 px, got 8"):
        grid_thumbnail(data, what="x", width=8)
    with pytest.raises(ValueError, match="JPEG quality must be an integer from 1 to 100, got 0"):
        grid_thumbnail(data, what="x", quality=0)
