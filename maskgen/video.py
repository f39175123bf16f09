"""Finding clips under a folder and streaming their frames.

A clip is a video file that OpenCV/FFmpeg decodes (mp4, avi, mov, mkv, webm, ...) or a folder holding
image frames (png/jpg/..., natural sort order). Frames are streamed one at a time, so memory does not grow
with the clip's length, and resized so that their longer side is at most the working size.

The searched folder may also be an fsspec URL (:mod:`maskgen.sources`): the clips are found by listing it,
with the same rules and ids as in a local folder, and :func:`opened` gives a local copy of one clip to read.
"""
from __future__ import annotations

import hashlib
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from inpaint_core.files import natural_key
from inpaint_core.images import PixelLimitError, check_pixel_limit, decode_image

from .sources import RemoteClip, is_url, list_files, local_copy

__all__ = [
    "VIDEO_EXTENSIONS",
    "FRAME_EXTENSIONS",
    "Clip",
    "ClipError",
    "Skipped",
    "resize_frame",
    "discover_clips",
    "working_shape",
    "iter_frames",
    "clip_fingerprint",
    "frame_count",
    "frame_paths",
    "frame_names",
    "opened",
]

VIDEO_EXTENSIONS = frozenset({
    ".mp4", ".m4v", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".ts", ".mts",
    ".m2ts", ".3gp", ".ogv", ".vob", ".y4m",
})
FRAME_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})


class ClipError(Exception):
    """A clip that cannot be used (undecodable, too short, ...); the message says why in one line."""


@dataclass(frozen=True)
class Clip:
    """A video file or a folder of frames.

    Attributes:
        clip_id: path relative to the searched folder, POSIX style (stable across machines, and the same
            whether the folder was a local path or a URL).
        path: absolute path of the file or folder; for a clip under a URL, its path inside that file system
            (not a local path: read it through :func:`opened`).
        kind: ``"video"`` or ``"frames"``.
        remote: for a clip under a URL, its URL and files as listed (``None`` for a local clip).
    """

    clip_id: str
    path: Path
    kind: str
    remote: RemoteClip | None = None


@dataclass(frozen=True)
class Skipped:
    """An input that was not used, and why."""

    path: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


def discover_clips(video_dir: str | os.PathLike[str]) -> tuple[list[Clip], list[Skipped]]:
    """All clips under ``video_dir`` (recursive), sorted by id, and every input that is not used, with why.

    A folder counts as a frame clip when it directly holds at least one frame image; its other files are
    ignored. Any other file whose extension is not a video extension is reported as skipped. Symlinked
    folders and files are followed, except those pointing back into ``video_dir`` (already searched: the
    same frames must not become two clips) or to a folder already searched (a loop); a folder that cannot
    be read is reported.

    ``video_dir`` may be an fsspec URL (:func:`maskgen.sources.is_url`): its files are listed (the driver
    reads no clip bytes) and classified by the same rules, giving the same clip ids and skipped entries as
    the same files in a local folder. Object stores have no symlinks, so the symlink rules do not apply.

    Raises:
        ValueError: ``video_dir`` does not exist or is not a folder; a URL whose protocol is unknown or
            whose package (fsspec, s3fs, ...) is not installed.
    """
    if is_url(video_dir):
        return _discover_url(str(video_dir))
    root = Path(video_dir)
    if not root.exists():
        raise ValueError(f"video folder {str(root)!r} does not exist")
    if not root.is_dir():
        raise ValueError(f"{str(root)!r} is not a folder")
    root = root.resolve()
    clips: list[Clip] = []
    skipped: list[Skipped] = []
    visited: set[str] = set()

    def unreadable(error: OSError) -> None:
        where = Path(error.filename or root)
        skipped.append(Skipped(_relative(where, root), f"cannot read folder: {error.strerror or error}"))

    for directory, subdirs, files in os.walk(root, onerror=unreadable, followlinks=True):
        here = Path(directory)
        real = os.path.realpath(here)
        if real in visited:
            subdirs[:] = []
            skipped.append(Skipped(_relative(here, root), f"symlink to a folder already searched ({real})"))
            continue
        visited.add(real)
        subdirs.sort(key=natural_key)
        subdirs[:] = [name for name in subdirs if not name.startswith(".")
                      and not _links_back(here / name, root, skipped)]
        _add_folder(here, root, sorted(files, key=natural_key), clips, skipped)
    clips.sort(key=lambda clip: natural_key(clip.clip_id))
    return clips, skipped


def _discover_url(url: str) -> tuple[list[Clip], list[Skipped]]:
    """:func:`discover_clips` for a URL: the folders in the order ``os.walk`` would visit them (parents
    first, siblings in natural order), each file classified by :func:`_classify` as :func:`_add_folder` does."""
    root, folders = list_files(url)
    clips: list[Clip] = []
    skipped: list[Skipped] = []
    for folder in sorted(folders, key=lambda rel: [natural_key(part) for part in rel.split("/")] if rel else []):
        if folder and any(part.startswith(".") for part in folder.split("/")):
            continue  # a hidden folder is not searched
        files = sorted(folders[folder], key=lambda file: natural_key(file.name))
        here = f"{root}/{folder}" if folder else root
        frame_files = tuple(file for file in files if Path(file.name).suffix.lower() in FRAME_EXTENSIONS)
        if frame_files and folder:
            clips.append(Clip(folder, Path(here), "frames", RemoteClip(url, frame_files)))
        for file in files:
            if file.name.startswith("."):
                continue
            relative = f"{folder}/{file.name}" if folder else file.name
            kind = _classify(file.name, relative, in_subfolder=bool(folder))
            if isinstance(kind, Skipped):
                skipped.append(kind)
            elif kind == "video":
                clips.append(Clip(relative, Path(file.path), "video", RemoteClip(url, (file,))))
    clips.sort(key=lambda clip: natural_key(clip.clip_id))
    return clips, skipped


@contextmanager
def opened(clip: Clip) -> Iterator[Clip]:
    """The clip, readable locally for the time of the ``with``: a local clip itself; a clip under a URL
    copied into a temporary folder (same id, kind and file names; removed at the end), so that it is read,
    fingerprinted and decoded by exactly the code a local clip goes through.

    Raises:
        OSError: a file of a clip under a URL cannot be read.
    """
    if clip.remote is None:
        yield clip
        return
    with local_copy(clip.remote, kind=clip.kind) as path:
        yield Clip(clip.clip_id, path, clip.kind)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix() or "."
    except ValueError:
        return str(path)


def _links_back(path: Path, root: Path, skipped: list[Skipped]) -> bool:
    """Whether ``path`` is a symlink into ``root`` (reported: its target is searched on its own)."""
    if not path.is_symlink():
        return False
    target = Path(os.path.realpath(path))
    if target != root and root not in target.parents:
        return False
    skipped.append(Skipped(_relative(path, root), f"symlink to {_relative(target, root)!r}, already under "
                                                 "--video-dir (not used twice)"))
    return True


def _add_folder(here: Path, root: Path, files: list[str], clips: list[Clip], skipped: list[Skipped]) -> None:
    """The clips of one folder: the folder itself if it holds frames, and its video files."""
    frame_files = [name for name in files if Path(name).suffix.lower() in FRAME_EXTENSIONS]
    if frame_files and here != root:
        clips.append(Clip(here.relative_to(root).as_posix(), here, "frames"))
    for name in files:
        if name.startswith(".") or _links_back(here / name, root, skipped):
            continue
        relative = (here / name).relative_to(root).as_posix()
        kind = _classify(name, relative, in_subfolder=here != root)
        if isinstance(kind, Skipped):
            skipped.append(kind)
        elif kind == "video":
            if (here / name).is_file():
                clips.append(Clip(relative, here / name, "video"))
            else:
                skipped.append(Skipped(relative, "not a regular file (a broken symlink?)"))


def _classify(name: str, relative: str, *, in_subfolder: bool) -> str | Skipped:
    """What a (not hidden) file of a searched folder is, local or under a URL: ``"video"`` (a clip of its
    own), ``"frame"`` (a frame of its sub-folder's clip), or why it is skipped (``relative``: its path
    under --video-dir)."""
    suffix = Path(name).suffix.lower()
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    if suffix in FRAME_EXTENSIONS and in_subfolder:
        return "frame"
    if suffix in FRAME_EXTENSIONS:
        return Skipped(relative, "a single image at the top of --video-dir, not a clip (put frames in a sub-folder)")
    return Skipped(relative, f"not a video or frame file (extension {suffix or 'none'!r})")


def working_shape(height: int, width: int, work_size: int) -> tuple[int, int]:
    """(height, width) scaled so that the longer side is at most ``work_size`` (never upscaled)."""
    if work_size <= 0:
        raise ValueError(f"work_size must be positive, got {work_size}")
    scale = min(1.0, work_size / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize_frame(frame: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``frame`` at (height, width) ``shape`` (area filter); the frame itself when it already has it."""
    import cv2

    if frame.shape[:2] == shape:
        return frame
    return cv2.resize(frame, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)


def frame_paths(clip: Clip) -> list[Path]:
    """The frame files of a local frame-folder clip, in natural order (a clip under a URL: see
    :func:`frame_names`)."""
    if clip.remote is not None:
        raise ValueError(f"{clip.clip_id!r} is under a URL: open it with opened() to get local frame paths")
    return sorted((p for p in clip.path.iterdir() if p.suffix.lower() in FRAME_EXTENSIONS and p.is_file()),
                  key=lambda p: natural_key(p.name))


def frame_names(clip: Clip) -> list[str]:
    """The names of a frame-folder clip's frame files, in natural order (also under a URL)."""
    if clip.remote is not None:
        return [file.name for file in clip.remote.files]
    return [path.name for path in frame_paths(clip)]


def iter_frames(clip: Clip, *, work_size: int) -> Iterator[tuple[int, np.ndarray | None]]:
    """Yield ``(index, frame)`` for every frame, RGB uint8 at the working size, in order.

    The working shape is fixed by the first frame; later frames of another size are resized to it.
    In a frame folder an unreadable image yields ``None`` in its place (the caller skips pairs that
    touch it). A video stops at its first undecodable frame.

    Raises:
        ClipError: nothing at all can be decoded.
        PixelLimitError: a frame above the pixel limit (:mod:`inpaint_core.images`), refused before it is
            decoded; not a property of the clip alone, so the build does not cache it as a failed clip.
        ValueError: a clip under a URL (read the local copy :func:`opened` makes).
    """
    if clip.remote is not None:
        raise ValueError(f"{clip.clip_id!r} is under a URL: open it with opened() to read its frames")
    if clip.kind == "frames":
        return _folder_frames(clip, work_size)
    return _video_frames(clip, work_size)


def _read_frame(path: Path) -> np.ndarray | None:
    """A frame file decoded as BGR, or None when it cannot be read (its pairs are skipped)."""
    import cv2

    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError:  # unreadable (permissions, I/O error): like a corrupt frame, only its pairs go
        return None
    try:
        return decode_image(data, flags=cv2.IMREAD_COLOR, what=str(path)) if data.size else None
    except PixelLimitError:
        raise
    except ValueError:
        return None


def _folder_frames(clip: Clip, work_size: int) -> Iterator[tuple[int, np.ndarray | None]]:
    import cv2

    shape: tuple[int, int] | None = None
    paths = frame_paths(clip)
    readable = 0
    for index, path in enumerate(paths):
        image = _read_frame(path)
        if image is None:
            yield index, None
            continue
        if shape is None:
            shape = working_shape(image.shape[0], image.shape[1], work_size)
        readable += 1
        yield index, resize_frame(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), shape)
    if readable == 0:
        raise ClipError(f"no readable frame among {len(paths)} image files")


def _video_frames(clip: Clip, work_size: int) -> Iterator[tuple[int, np.ndarray]]:
    import cv2

    if clip.path.stat().st_size == 0:
        raise ClipError("empty file (0 bytes)")
    capture = cv2.VideoCapture(str(clip.path), cv2.CAP_FFMPEG)
    try:
        if not capture.isOpened():
            raise ClipError("OpenCV/FFmpeg cannot open it as a video (corrupt or unsupported codec)")
        check_pixel_limit(int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)), int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                          what=clip.clip_id)
        shape = None
        index = 0
        while True:
            ok, image = capture.read()
            if not ok or image is None:
                break
            if shape is None:
                shape = working_shape(image.shape[0], image.shape[1], work_size)
            if image.ndim == 2:
                image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
            yield index, resize_frame(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), shape)
            index += 1
        if index == 0:
            raise ClipError("OpenCV/FFmpeg decodes no frame from it (corrupt or unsupported codec)")
    finally:
        capture.release()


def clip_fingerprint(clip: Clip) -> str:
    """sha256 over the clip's bytes (a frame folder: over the sorted frame names and their bytes; a frame
    that cannot be read counts by its name and a marker, as its pairs are skipped anyway).

    Raises:
        OSError: a video file cannot be read.
        ValueError: a clip under a URL (fingerprint the local copy :func:`opened` makes).
    """
    if clip.remote is not None:
        raise ValueError(f"{clip.clip_id!r} is under a URL: open it with opened() to fingerprint it")
    digest = hashlib.sha256()
    paths = frame_paths(clip) if clip.kind == "frames" else [clip.path]
    for path in paths:
        if clip.kind == "frames":
            digest.update(path.name.encode() + b"\0")
        try:
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        except OSError:
            if clip.kind != "frames":
                raise
            digest.update(b"\0unreadable\0")
    return digest.hexdigest()


def frame_count(clip: Clip) -> int:
    """How many frames the clip holds, as its folder or container says (0 when unknown): for progress only."""
    if clip.remote is not None:  # a video's count would need its bytes: unknown until its task ends
        return len(clip.remote.files) if clip.kind == "frames" else 0
    if clip.kind == "frames":
        try:
            return len(frame_paths(clip))
        except OSError:
            return 0
    import cv2

    if not clip.path.is_file() or clip.path.stat().st_size == 0:
        return 0
    capture = cv2.VideoCapture(str(clip.path), cv2.CAP_FFMPEG)
    try:
        count = capture.get(cv2.CAP_PROP_FRAME_COUNT) if capture.isOpened() else 0
    finally:
        capture.release()
    return max(0, int(count))
