"""Clips behind an fsspec URL (``s3://bucket/clips``, ``gs://...``, ``file:///...``, ``memory://`` in tests).

``--video-dir`` may be a URL instead of a local folder. The driver only lists the files under it (names,
sizes and a version stamp such as an ETag, a generation or an mtime: the raw-mask cache key); it never
reads their bytes. A task that extracts a clip copies that clip into a local temporary folder
(:func:`local_copy`), runs exactly the code a local clip runs on the copy, and deletes it. So a build from a
URL writes the same bytes as a build from the same clips in a local folder: the dataset records a clip by
its path relative to ``--video-dir`` and by the sha256 of its bytes, never by where it was read from.

fsspec (and the package of the protocol: ``s3fs``, ``gcsfs``, ...) is optional: ``pip install
"inpaint-masks-toolkit[fsspec]"``. Credentials are fsspec's own (environment, config files), on every node
that runs a task. ``memory://`` lives in one process: usable with the local engine and ``--workers 1`` only.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

__all__ = ["FSSPEC_EXTRA", "RemoteFile", "RemoteClip", "is_url", "list_files", "local_folder", "local_copy"]

FSSPEC_EXTRA = 'pip install "inpaint-masks-toolkit[fsspec]" (or pip install ".[fsspec]" in a checkout)'

# protocol:// (two letters at least: "C://x" is a Windows drive, as fsspec reads it), or a chain a::b://
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+(::[A-Za-z][A-Za-z0-9+.\-]*)*://")
# info() keys that change when an object's bytes change, by backend: s3 (VersionId, ETag, LastModified),
# gcs (generation, md5Hash, updated), azure (etag, last_modified), local/sftp/memory (mtime, created), ...
_VERSION_KEYS = ("VersionId", "version_id", "ETag", "etag", "generation", "md5Hash", "content_md5", "mtime",
                 "LastModified", "last_modified", "updated", "modified", "created")


@dataclass(frozen=True)
class RemoteFile:
    """One file under a URL, as listed by the driver.

    Attributes:
        name: base name (``frame0001.png``, ``clip.mp4``).
        path: the path inside its file system (no protocol), as fsspec lists it.
        size: bytes.
        version: what the file system says changes with the bytes (ETag, generation, mtime, ...), as text;
            the raw-mask cache key holds it with the size.
    """

    name: str
    path: str
    size: int
    version: str


@dataclass(frozen=True)
class RemoteClip:
    """Where a clip found under a URL lives: ``url`` is ``--video-dir`` (reopened in each task), ``files``
    the video file, or the frame files of a frame folder in natural order."""

    url: str
    files: tuple[RemoteFile, ...]


def is_url(text: str | os.PathLike[str]) -> bool:
    """Whether ``text`` is an fsspec URL (``protocol://...``, chains such as ``simplecache::s3://...``)
    rather than a local path. A ``pathlib.Path`` is always local."""
    return isinstance(text, str) and _URL.match(text) is not None


def _open(url: str) -> tuple[Any, str]:
    """The fsspec file system and the path in it for ``url``.

    Raises:
        ValueError: fsspec or the protocol's package is not installed, or the protocol is unknown.
    """
    try:
        from fsspec.core import url_to_fs
    except ImportError:
        raise ValueError(f"--video-dir {url!r} is a URL, which needs fsspec, not installed: {FSSPEC_EXTRA}") from None
    try:
        return url_to_fs(url)
    # ImportError: fsspec knows the protocol, its package is missing ("Install s3fs to access S3");
    # ValueError, TypeError: "Protocol not known: foo", bad storage options
    except (ImportError, ValueError, TypeError) as exc:
        raise ValueError(f"cannot open --video-dir {url!r}: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def local_folder(video_dir: str | os.PathLike[str]) -> Path | None:
    """The local folder ``video_dir`` names: itself for a path, the path of a ``file://`` URL, ``None`` for a
    URL of another file system (it cannot contain a local output folder).

    Raises:
        ValueError: as :func:`_open`.
    """
    if not is_url(video_dir):
        return Path(video_dir)
    fs, path = _open(str(video_dir))
    from fsspec.implementations.local import LocalFileSystem

    return Path(path) if isinstance(fs, LocalFileSystem) else None


def list_files(url: str) -> tuple[str, dict[str, list[RemoteFile]]]:
    """Every file under the folder ``url`` (recursive), grouped by folder.

    Returns:
        ``(root, folders)``: ``root`` is the folder's path in its file system; ``folders`` maps a folder's
        path relative to it (POSIX, ``""`` for the root itself) to its files, in no particular order.

    Raises:
        ValueError: as :func:`_open`; ``url`` does not exist, is a file, or cannot be listed.
    """
    fs, root = _open(url)
    root = root.rstrip("/") or root
    try:
        if not fs.exists(root):
            raise ValueError(f"video folder {url!r} does not exist")
        if not fs.isdir(root):
            raise ValueError(f"{url!r} is not a folder")
        found = fs.find(root, withdirs=False, detail=True)
    except OSError as exc:
        raise ValueError(f"cannot list --video-dir {url!r}: {_one_line(exc)}") from None
    prefix = root.rstrip("/") + "/"
    folders: dict[str, list[RemoteFile]] = {}
    for path, info in found.items():
        if info.get("type", "file") != "file" or not path.startswith(prefix):
            continue
        relative = path[len(prefix):]
        folder, _, name = relative.rpartition("/")
        folders.setdefault(folder, []).append(RemoteFile(name, path, int(info.get("size") or 0), _version(info)))
    return root, folders


def _version(info: dict[str, Any]) -> str:
    """The version stamp of a listed file: its known version keys, else a hash of everything listed."""
    known = {key: str(info[key]) for key in _VERSION_KEYS if info.get(key) not in (None, "")}
    if known:
        return json.dumps(known, sort_keys=True)
    rest = {key: value for key, value in info.items() if key != "name"}
    return hashlib.sha256(json.dumps(rest, sort_keys=True, default=str).encode()).hexdigest()


@contextmanager
def local_copy(remote: RemoteClip, *, kind: str) -> Iterator[Path]:
    """A local copy of a clip for the time of the ``with``: the video file, or a folder of its frame files
    (same names), in a new temporary folder (``$TMPDIR``) removed at the end, whatever happens.

    Raises:
        OSError: a file cannot be read (a network or permission error: transient, the clip is tried again).
        ValueError: as :func:`_open`.
    """
    fs, _ = _open(remote.url)
    folder = Path(tempfile.mkdtemp(prefix="maskgen-clip-"))
    try:
        target = folder / "frames" if kind == "frames" else folder
        target.mkdir(exist_ok=True)
        for file in remote.files:
            with fs.open(file.path, "rb") as source, open(target / file.name, "wb") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)
        yield target if kind == "frames" else target / remote.files[0].name
    finally:
        shutil.rmtree(folder, ignore_errors=True)
