"""Output folders: one writer at a time, and guards before anything is deleted.

Every command that writes a folder (``maskgen build``/``import``/``export``, ``benchmark run``/``score``)
uses these three pieces::

    check_not_inside(out, [video_dir], what="--video-dir")       # --out must not sit in an input
    with FolderLock(out, purpose="maskgen build"):                # one writer per folder
        if overwrite:
            check_can_clear(out, markers=DATASET_MARKERS, protected=[video_dir])
            remove_contents(out)                                  # everything but the lock
        ...

- :class:`FolderLock` creates ``folder/.lock`` atomically (``O_CREAT | O_EXCL``) holding JSON ``{pid, host,
  purpose, started, ...}``. A lock left by a dead process of this host is taken over; a live one (or one of
  another host, whose process cannot be checked from here) raises :class:`FolderBusyError`, in one line.
- :func:`check_can_clear` refuses to delete a folder that is not one of the toolkit's (no marker file), or
  that is the working directory, the home folder, the root, an input folder or one of their parents.
- :func:`check_not_inside` refuses an output folder equal to or inside an input folder.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import time
from pathlib import Path
from typing import Iterable, Sequence

__all__ = [
    "LOCK_NAME",
    "FolderBusyError",
    "FolderLock",
    "check_can_clear",
    "check_not_inside",
    "lock_owner",
    "remove_contents",
]

LOCK_NAME = ".lock"
_CREATING_GRACE_S = 10.0  # a lock file without readable content younger than this is being written


class FolderBusyError(ValueError):
    """Another live process holds the folder's lock."""


def _process_start(pid: int) -> str | None:
    """The start time of ``pid`` in clock ticks since boot (Linux ``/proc``), to tell a reused pid apart."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()  # the command name may hold spaces and parentheses
    return fields[19] if len(fields) > 19 else None


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    except OSError:
        return False
    return True


def _owner_alive(owner: dict[str, object]) -> bool:
    """Whether the process recorded in a lock still runs (a lock of another host counts as alive)."""
    if owner.get("host") != socket.gethostname():
        return True
    pid = owner.get("pid")
    if not isinstance(pid, int) or not _pid_alive(pid):
        return False
    recorded, now = owner.get("pid_start"), _process_start(pid)
    return recorded is None or now is None or recorded == now  # a different start time: the pid was reused


def lock_owner(folder: str | os.PathLike[str]) -> dict[str, object] | None:
    """The content of ``folder``'s lock file, or ``None`` when there is none; ``{}`` when it is unreadable."""
    path = Path(folder) / LOCK_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        return {}
    try:
        owner = json.loads(text)
    except json.JSONDecodeError:
        return {}
    return owner if isinstance(owner, dict) else {}


def _describe(folder: Path, owner: dict[str, object]) -> str:
    started = owner.get("started")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)) if isinstance(started, (int, float)) else "?"
    return (f"{str(folder)!r} is in use by {owner.get('purpose', '?')} (pid {owner.get('pid', '?')} on host "
            f"{owner.get('host', '?')}, started {when}): wait for it to finish, or delete "
            f"{str(folder / LOCK_NAME)!r} if that process is gone")


class FolderLock:
    """``with FolderLock(folder, purpose="maskgen build"):`` -- this process is the folder's only writer.

    On enter ``folder`` is created if needed and ``folder/.lock`` is created atomically with the owner's pid,
    host, purpose and start time. A lock whose process is gone (same host, pid dead or reused) is taken over;
    a live one raises :class:`FolderBusyError`. On exit the lock file is removed if it is still this one's.
    Not re-entrant: a second lock on the same folder, even in the same process, is refused.
    """

    def __init__(self, folder: str | os.PathLike[str], *, purpose: str) -> None:
        self.folder = Path(folder)
        self.purpose = purpose
        self.path = self.folder / LOCK_NAME
        self._token: str | None = None

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def _content(self) -> dict[str, object]:
        pid = os.getpid()
        return {"pid": pid, "host": socket.gethostname(), "purpose": self.purpose, "started": time.time(),
                "pid_start": _process_start(pid), "token": self._token}

    def acquire(self) -> None:
        """Take the lock (see the class doc).

        Raises:
            FolderBusyError: a live process holds it.
        """
        if self._token is not None:
            raise FolderBusyError(f"{str(self.folder)!r} is already locked by this FolderLock")
        self.folder.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(8)
        for _ in range(20):  # a few rounds: a stale lock is moved away, then the create is tried again
            self._token = token
            if self._try_create():
                return
            self._token = None
            owner = lock_owner(self.folder)
            if owner is None:
                continue  # released meanwhile
            if not owner and self._is_young():
                raise FolderBusyError(_describe(self.folder, {"purpose": "another process (lock being written)"}))
            if owner and _owner_alive(owner):
                raise FolderBusyError(_describe(self.folder, owner))
            self._take_over(owner)
        raise FolderBusyError(_describe(self.folder, lock_owner(self.folder) or {}))

    def _try_create(self) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(self._content()) + "\n")
        return True

    def _is_young(self) -> bool:
        try:
            return time.time() - self.path.stat().st_mtime < _CREATING_GRACE_S
        except OSError:
            return False

    def _take_over(self, stale: dict[str, object]) -> None:
        """Move a stale lock aside (atomic rename); put it back if a live lock replaced it meanwhile."""
        aside = self.folder / f"{LOCK_NAME}.stale-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return
        try:
            moved = json.loads(aside.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            moved = {}
        if moved != stale and isinstance(moved, dict) and moved and _owner_alive(moved):
            try:
                os.link(aside, self.path)  # give the live lock back (fails only if a third one exists now)
            except OSError:
                pass
        aside.unlink(missing_ok=True)

    def release(self) -> None:
        """Remove the lock file if it is still this lock's (a taken-over lock is left alone)."""
        token, self._token = self._token, None
        if token is None:
            return
        owner = lock_owner(self.folder)
        if owner and owner.get("token") == token:
            self.path.unlink(missing_ok=True)


def _resolved(path: str | os.PathLike[str]) -> Path:
    return Path(path).expanduser().resolve(strict=False)


def _within(path: Path, folder: Path) -> bool:
    """``path`` is ``folder`` or inside it (both resolved)."""
    return path == folder or folder in path.parents


def check_can_clear(target: str | os.PathLike[str], *, markers: Sequence[str],
                    protected: Iterable[str | os.PathLike[str]] = (), what: str = "output folder") -> None:
    """Raise ``ValueError`` (one line) unless deleting ``target`` for ``--overwrite`` is safe.

    Safe: ``target`` does not exist, is empty (a lock file aside), or holds at least one of ``markers``
    (files or folders only this toolkit writes: ``dataset.json``, ``manifest.csv``, ``.maskgen`` for a
    dataset; ``run.json``, ``run.partial.json`` for a run); and it is neither the root, nor equal to or a
    parent of the working directory, the home folder or any ``protected`` path (the inputs). Symlinks are
    resolved first.

    Args:
        what: what ``target`` should be, for the message ("maskgen dataset", "benchmark run").
    """
    resolved = _resolved(target)
    shown = str(target)
    if resolved == Path(resolved.anchor):
        raise ValueError(f"refusing to delete {shown!r}: it is the file-system root")
    guarded = [(_resolved(p), f"input folder {str(p)!r}") for p in protected]
    guarded += [(_resolved(Path.cwd()), "the working directory"), (_resolved(Path.home()), "the home folder")]
    for folder, name in guarded:
        if _within(folder, resolved):
            relation = "is" if folder == resolved else "contains"
            raise ValueError(f"refusing to delete {shown!r} for --overwrite: it {relation} {name}")
    if not resolved.exists():
        return
    if not resolved.is_dir():
        raise ValueError(f"refusing to overwrite {shown!r}: it is a file, not a folder")
    names = {entry.name for entry in resolved.iterdir()} - {LOCK_NAME}
    if not names or names & set(markers):
        return
    raise ValueError(f"refusing to delete {shown!r} for --overwrite: it is not a {what} (none of "
                     f"{', '.join(markers)} in it); delete it yourself or choose another folder")


def check_not_inside(out: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]], *, what: str) -> None:
    """Raise ``ValueError`` (one line) if ``out`` is equal to or inside any of ``inputs`` (resolved).

    Args:
        what: the inputs' option name, for the message (``"--video-dir"``).
    """
    resolved = _resolved(out)
    for folder in inputs:
        if _within(resolved, _resolved(folder)):
            relation = "is" if resolved == _resolved(folder) else "is inside"
            raise ValueError(f"--out {str(out)!r} {relation} {what} {str(folder)!r}: a later run would read "
                             f"its own output as input; choose an --out outside it")


def remove_contents(folder: str | os.PathLike[str], *, keep: Iterable[str] = (LOCK_NAME,)) -> None:
    """Delete everything in ``folder`` but the names in ``keep`` (call :func:`check_can_clear` first)."""
    kept = set(keep)
    folder = Path(folder)
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry.name in kept:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
