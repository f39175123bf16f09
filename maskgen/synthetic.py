"""Synthetic clips whose occlusion is known exactly: a textured sprite moving over a textured background.

Used by the tests and by ``make demo`` when no clip is given. With the background static and the sprite
moving by ``velocity`` px per frame, the pixels of frame t occluded in frame t+1 are the background
pixels that the sprite covers at t+1 but not at t; the disoccluded pixels of frame t+1 are those it
covered at t but not at t+1.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["SpriteScene", "write_frames", "write_video"]


def _texture(rng: np.random.Generator, height: int, width: int, blur: float) -> np.ndarray:
    import cv2

    noise = rng.uniform(0, 255, size=(height, width, 3)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), blur)
    smooth -= smooth.min()
    smooth *= 255.0 / max(float(smooth.max()), 1e-6)
    return smooth.astype(np.uint8)


@dataclass(frozen=True)
class SpriteScene:
    """A ``height`` x ``width`` scene with one rectangular sprite moving at constant velocity.

    Attributes:
        sprite: (top, left, height, width) of the sprite in frame 0.
        velocity: (dy, dx) in pixels per frame (integers keep the truth exact).
        seed: texture seed.
    """

    height: int = 240
    width: int = 320
    sprite: tuple[int, int, int, int] = (80, 60, 80, 100)
    velocity: tuple[int, int] = (0, 8)
    frames: int = 6
    seed: int = 0

    def _sprite_box(self, t: int) -> tuple[int, int, int, int]:
        top, left, h, w = self.sprite
        return top + self.velocity[0] * t, left + self.velocity[1] * t, h, w

    def sprite_mask(self, t: int) -> np.ndarray:
        """bool HxW, True where the sprite is in frame ``t``."""
        top, left, h, w = self._sprite_box(t)
        mask = np.zeros((self.height, self.width), dtype=bool)
        mask[max(top, 0):max(top + h, 0), max(left, 0):max(left + w, 0)] = True
        return mask

    def occlusion(self, t: int) -> np.ndarray:
        """Pixels of frame t hidden in frame t+1 (bool HxW)."""
        return self.sprite_mask(t + 1) & ~self.sprite_mask(t)

    def disocclusion(self, t: int) -> np.ndarray:
        """Pixels of frame t+1 that were hidden in frame t (bool HxW)."""
        return self.sprite_mask(t) & ~self.sprite_mask(t + 1)

    def render(self) -> list[np.ndarray]:
        """RGB uint8 frames."""
        rng = np.random.default_rng(self.seed)
        background = _texture(rng, self.height, self.width, 2.0)
        sprite_texture = _texture(rng, self.sprite[2], self.sprite[3], 1.5)
        frames = []
        for t in range(self.frames):
            frame = background.copy()
            top, left, h, w = self._sprite_box(t)
            y0, x0 = max(top, 0), max(left, 0)
            y1, x1 = min(top + h, self.height), min(left + w, self.width)
            if y1 > y0 and x1 > x0:
                frame[y0:y1, x0:x1] = sprite_texture[y0 - top:y1 - top, x0 - left:x1 - left]
            frames.append(frame)
        return frames


def write_frames(frames: list[np.ndarray], folder: str | Path, *, extension: str = ".png") -> Path:
    """Write RGB frames as ``frame_0000.png ...`` into ``folder``."""
    import cv2

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for index, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"frame_{index:04d}{extension}"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return folder


def write_video(frames: list[np.ndarray], path: str | Path, *, fps: float = 25.0, codec: str = "MJPG") -> Path:
    """Write RGB frames as a video (default Motion-JPEG in .avi, which every OpenCV build writes)."""
    import cv2

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {codec} video to {path}")
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path
