"""The pixel limit: images, masks and frames above it are refused from their header, before decoding."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from inpaint_core import images
from inpaint_core.images import (DEFAULT_MAX_PIXELS, MAX_PIXELS_ENV, PixelLimitError, check_pixel_limit,
                                 encoded_image_size, load_image, max_pixels_limit)
from inpaint_core.maskio import read_mask, write_mask
from maskgen.layout import import_masks


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def huge_png_header(width: int = 20000, height: int = 20000) -> bytes:
    """A tiny PNG whose header says ``width`` x ``height`` (8-bit grey) and whose data is cut after one row:
    a decoder would allocate the full image first (a real one of zeros compresses to about 0.4 MB)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(bytes(width + 1)))
            + _chunk(b"IEND", b""))


@pytest.fixture()
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything reaches OpenCV's decoder."""
    import cv2

    def refuse(*_: object) -> None:
        raise AssertionError("cv2.imdecode called: the pixel limit must refuse before decoding")

    monkeypatch.setattr(cv2, "imdecode", refuse)


@pytest.mark.usefixtures("no_decoding")
def test_huge_image_and_mask_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(huge_png_header())
    assert path.stat().st_size < 1000
    with pytest.raises(PixelLimitError, match="20000x20000 is 400.0 megapixels, above the limit of 50 ") as info:
        load_image(path)
    assert "\n" not in str(info.value) and MAX_PIXELS_ENV in str(info.value)
    with pytest.raises(PixelLimitError, match="20000x20000"):
        read_mask(path)


def test_limit_from_keyword_then_environment_then_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MAX_PIXELS_ENV, raising=False)
    assert max_pixels_limit() == DEFAULT_MAX_PIXELS == 50_000_000
    write_mask(tmp_path / "m.png", np.zeros((40, 50), dtype=bool))
    assert read_mask(tmp_path / "m.png").shape == (40, 50)
    with pytest.raises(PixelLimitError, match="50x40"):
        read_mask(tmp_path / "m.png", max_pixels=1999)
    assert read_mask(tmp_path / "m.png", max_pixels=2000).shape == (40, 50)  # at the limit is allowed
    monkeypatch.setenv(MAX_PIXELS_ENV, "1999")
    with pytest.raises(PixelLimitError):
        load_image(tmp_path / "m.png")
    assert load_image(tmp_path / "m.png", max_pixels=2000).shape == (40, 50, 3)  # the keyword wins
    monkeypatch.setenv(MAX_PIXELS_ENV, "400_000_001")
    assert max_pixels_limit() == 400_000_001
    monkeypatch.setenv(MAX_PIXELS_ENV, "lots")
    with pytest.raises(ValueError, match=f"{MAX_PIXELS_ENV} must be a whole number"):
        load_image(tmp_path / "m.png")
    with pytest.raises(ValueError, match="positive"):
        max_pixels_limit(0)


def test_video_frame_size_check() -> None:
    check_pixel_limit(4320, 7680, what="clip.mp4")  # 8K: 33 megapixels
    with pytest.raises(PixelLimitError, match="clip.mp4: 20000x20000"):
        check_pixel_limit(20000, 20000, what="clip.mp4")


@pytest.mark.parametrize("extension, params", [
    (".png", ()), (".jpg", ()), (".jpg", ("IMWRITE_JPEG_PROGRESSIVE", 1)), (".webp", ()),
    (".webp", ("IMWRITE_WEBP_QUALITY", 101)), (".bmp", ()), (".tif", ()), (".ppm", ()), (".pgm", ()),
])
def test_header_size_of_each_format(extension: str, params: tuple[object, ...]) -> None:
    import cv2

    image = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    flags = [getattr(cv2, params[0]), params[1]] if params else []
    ok, data = cv2.imencode(extension, image[..., 0] if extension == ".pgm" else image, flags)
    assert ok
    assert encoded_image_size(data) == (37, 53)
    assert encoded_image_size(data.tobytes()) == (37, 53)


def test_header_sizes_of_handmade_headers() -> None:
    vp8x = b"RIFF" + bytes(4) + b"WEBPVP8X" + struct.pack("<I", 10) + bytes(4) \
        + (19999).to_bytes(3, "little") + (29999).to_bytes(3, "little")
    assert encoded_image_size(vp8x) == (30000, 20000)
    exif = b"\xff\xe1" + struct.pack(">H", 65535) + bytes(65533)  # a large EXIF segment before the frame header
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 30000, 40000, 1) + bytes(3)
    assert encoded_image_size(b"\xff\xd8" + exif + sof) == (30000, 40000)
    top_down_bmp = b"BM" + bytes(12) + struct.pack("<Iii", 40, 640, -480)
    assert encoded_image_size(top_down_bmp) == (480, 640)
    assert encoded_image_size(b"P5\n# a comment 9 9\n640 480\n255\n") == (480, 640)
    assert encoded_image_size(b"\x89PNG\r\n\x1a\n") is None  # cut short
    assert encoded_image_size(b"GIF89a" + bytes(10)) is None  # not read here: checked after decoding


def test_unknown_format_checked_after_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_mask(tmp_path / "m.png", np.zeros((40, 50), dtype=bool))
    monkeypatch.setattr(images, "encoded_image_size", lambda data: None)
    with pytest.raises(PixelLimitError, match="50x40"):
        load_image(tmp_path / "m.png", max_pixels=1000)


def test_import_skips_a_huge_mask_with_its_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import cv2

    source = tmp_path / "src"
    source.mkdir()
    bomb = huge_png_header()
    (source / "bomb.png").write_bytes(bomb)
    mask = np.zeros((200, 200), dtype=bool)
    mask[80:120, 80:120] = True
    write_mask(source / "ok.png", mask)
    calls: list[int] = []
    decode = cv2.imdecode
    monkeypatch.setattr(cv2, "imdecode", lambda data, flags: calls.append(data.size) or decode(data, flags))
    info = import_masks(source, tmp_path / "out", polarity="hole-white")
    assert info["counts"]["test_total"] == 1
    (skipped,) = info["skipped"]
    assert skipped["path"] == "bomb.png" and "above the limit" in skipped["reason"]
    assert calls and len(bomb) not in calls  # the ordinary mask was decoded, the huge one never


def test_video_frames_above_the_limit_refuse_the_clip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Frame folders and video files: the clip is refused before a frame above the limit is decoded
    (a PixelLimitError, which the build reports and does not cache as a failed clip)."""
    import cv2

    from inpaint_core.images import PixelLimitError
    from maskgen.synthetic import SpriteScene, write_frames
    from maskgen.video import discover_clips, iter_frames

    frames = SpriteScene(height=64, width=80, frames=3).render()
    write_frames(frames, tmp_path / "clips" / "folder")
    writer = cv2.VideoWriter(str(tmp_path / "clips" / "video.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (80, 64))
    for frame in frames:
        writer.write(frame)
    writer.release()
    clips, _ = discover_clips(tmp_path / "clips")
    assert sorted(clip.kind for clip in clips) == ["frames", "video"]
    for clip in clips:
        assert len(list(iter_frames(clip, work_size=1024))) == 3
    monkeypatch.setenv("INPAINT_MAX_PIXELS", str(80 * 64 - 1))
    for clip in clips:
        with pytest.raises(PixelLimitError, match=r"80x64 is 0.0 megapixels, above the limit of 0.005119 megapixels"):
            next(iter(iter_frames(clip, work_size=1024)))
