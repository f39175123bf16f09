"""Processes the toolkit starts end with it: a child asks to die with its parent, however the parent ends.

* :func:`die_with_parent` -- in a worker or model process: on Linux the kernel signals the process when its
  parent dies (``prctl(PR_SET_PDEATHSIG)``, kill -9 of the parent included); elsewhere, or if prctl fails, a
  daemon thread checks every half second whether the parent is still its parent. With ``whole_group`` the
  process's whole process group ends with it (a model that started processes of its own).
* :func:`kill_process_group` -- the parent's side: end a child's process group (the child and whatever it
  started), on a timeout or at the end.
* :func:`supervised` -- the argument list that runs an external command under :mod:`inpaint_core.supervise`:
  started in a session of its own, the command and every process it starts end with the toolkit's process
  (kill -9 included), not only the command itself.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import time
from typing import Callable

__all__ = ["die_with_parent", "supervised", "kill_process_group"]

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _prctl() -> Callable[..., int] | None:
    """libc's ``prctl`` (Linux), or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _end(whole_group: bool) -> None:
    if whole_group:
        os.killpg(0, signal.SIGKILL)
    os._exit(1)


def _watch_parent(parent: int, whole_group: bool) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    _end(whole_group)


def die_with_parent(parent: int, *, whole_group: bool = False) -> None:
    """End this process (with ``whole_group``: its process group, which it should lead) when ``parent``
    ends. Call it first thing in the child, with the parent's pid passed from the parent: a parent already
    gone ends the child at once."""
    prctl = _prctl()
    armed = False
    if prctl is not None:
        if whole_group:  # the kernel's signal reaches this process only: its handler ends the group
            signal.signal(signal.SIGTERM, lambda signum, frame: _end(True))
        armed = prctl(PR_SET_PDEATHSIG, signal.SIGTERM if whole_group else signal.SIGKILL, 0, 0, 0) == 0
    if armed:
        if os.getppid() != parent:
            _end(whole_group)
        return
    threading.Thread(target=_watch_parent, args=(parent, whole_group), name="parent-watch", daemon=True).start()


def supervised(command: list[str]) -> list[str]:
    """``command`` wrapped in the supervisor (:mod:`inpaint_core.supervise`) tied to this process.

    Start the result with ``start_new_session=True``: the supervisor then leads a process group holding the
    command and all it starts, ends that group when this process dies, and exits with the command's status.
    The command's environment is this process's, unchanged (the supervisor finds this package through its
    own ``sys.path`` entry, not through ``PYTHONPATH``).
    """
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[1])
    code = (f"import sys; sys.path.insert(0, {root!r}); from inpaint_core.supervise import main; "
            "sys.exit(main(sys.argv[1:]))")
    return [sys.executable, "-c", code, str(os.getpid()), "--", *command]


def kill_process_group(leader: int) -> None:
    """SIGKILL to the process group led by ``leader`` (a child started in a group or session of its own);
    nothing when the group is gone already."""
    try:
        os.killpg(leader, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
