from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inpaint_core.outdir import (LOCK_NAME, FolderBusyError, FolderLock, check_can_clear, check_not_inside,
                                 lock_owner, remove_contents)

DATASET_MARKERS = ("dataset.json", "manifest.csv", ".maskgen")

HOLD_LOCK = """
import sys, time
from inpaint_core.outdir import FolderLock
with FolderLock(sys.argv[1], purpose="test holder"):
    print("locked", flush=True)
    time.sleep(60)
"""


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_lock_writes_owner_and_releases(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    with FolderLock(folder, purpose="maskgen build") as lock:
        owner = lock_owner(folder)
        assert owner is not None and owner["pid"] == os.getpid() and owner["purpose"] == "maskgen build"
        assert owner["host"] == socket.gethostname() and owner["started"] <= time.time()
        with pytest.raises(FolderBusyError, match="in use by maskgen build"):
            FolderLock(folder, purpose="second").acquire()  # not re-entrant, even in one process
        assert lock.path.is_file()
    assert not (folder / LOCK_NAME).exists()


def test_lock_held_by_another_process_is_a_one_line_error(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(FolderBusyError) as caught:
            with FolderLock(folder, purpose="maskgen build"):
                pass
        message = str(caught.value)
        assert "\n" not in message and isinstance(caught.value, ValueError)
        assert f"pid {holder.pid}" in message and "test holder" in message and socket.gethostname() in message
        assert "started 20" in message and "delete" in message and "wait" in message
    finally:
        holder.kill()
        holder.wait()
    # killed with SIGKILL: its lock stays behind, stale, and is taken over
    assert lock_owner(folder)["pid"] == holder.pid  # type: ignore[index]
    with FolderLock(folder, purpose="after the kill"):
        assert lock_owner(folder)["pid"] == os.getpid()  # type: ignore[index]
    assert not (folder / LOCK_NAME).exists()
    assert [p.name for p in folder.iterdir()] == []  # no leftover of the takeover


def test_stale_and_foreign_locks(tmp_path: Path) -> None:
    stale = {"pid": _dead_pid(), "host": socket.gethostname(), "purpose": "old", "started": 1.0}
    (tmp_path / LOCK_NAME).write_text(json.dumps(stale))
    with FolderLock(tmp_path, purpose="new"):
        assert lock_owner(tmp_path)["purpose"] == "new"  # type: ignore[index]
    reused = {"pid": os.getpid(), "host": socket.gethostname(), "purpose": "old", "started": 1.0,
              "pid_start": "1"}  # our pid, but a process that started at another time: the pid was reused
    (tmp_path / LOCK_NAME).write_text(json.dumps(reused))
    if Path("/proc/self/stat").exists():
        with FolderLock(tmp_path, purpose="new"):
            pass
    foreign = {"pid": 1, "host": "another-host.example", "purpose": "old", "started": 1.0}
    (tmp_path / LOCK_NAME).write_text(json.dumps(foreign))
    with pytest.raises(FolderBusyError, match="another-host.example"):
        FolderLock(tmp_path, purpose="new").acquire()
    assert lock_owner(tmp_path) == foreign  # left alone


def test_unreadable_lock_being_written_is_busy_and_old_is_stale(tmp_path: Path) -> None:
    (tmp_path / LOCK_NAME).write_text("")
    with pytest.raises(FolderBusyError):
        FolderLock(tmp_path, purpose="new").acquire()
    old = time.time() - 3600
    os.utime(tmp_path / LOCK_NAME, (old, old))
    with FolderLock(tmp_path, purpose="new"):
        pass


def test_release_leaves_a_lock_that_is_no_longer_ours(tmp_path: Path) -> None:
    lock = FolderLock(tmp_path, purpose="first")
    lock.acquire()
    other = {"pid": 1, "host": "elsewhere", "purpose": "other", "started": 1.0}
    (tmp_path / LOCK_NAME).write_text(json.dumps(other))
    lock.release()
    assert lock_owner(tmp_path) == other


def test_check_can_clear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    check_can_clear(tmp_path / "missing", markers=DATASET_MARKERS)
    (tmp_path / "empty").mkdir()
    check_can_clear(tmp_path / "empty", markers=DATASET_MARKERS)
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / LOCK_NAME).write_text("{}")
    check_can_clear(tmp_path / "locked", markers=DATASET_MARKERS)
    dataset = tmp_path / "work" / "ds"
    dataset.mkdir(parents=True)
    (dataset / ".maskgen").mkdir()
    check_can_clear(dataset, markers=DATASET_MARKERS)
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.png").write_bytes(b"x")
    with pytest.raises(ValueError, match="not a maskgen dataset.*dataset.json") as caught:
        check_can_clear(tmp_path / "photos", markers=DATASET_MARKERS, what="maskgen dataset")
    assert "\n" not in str(caught.value)
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ValueError, match="a file"):
        check_can_clear(tmp_path / "file.txt", markers=DATASET_MARKERS)
    for target, reason in ((tmp_path, "working directory"), (Path("."), "working directory"),
                           (Path("/"), "root"), (Path.home(), "home folder")):
        with pytest.raises(ValueError, match=reason):
            check_can_clear(target, markers=DATASET_MARKERS)
    (dataset / "clips").mkdir()
    with pytest.raises(ValueError, match="it is input folder"):
        check_can_clear(dataset / "clips", markers=DATASET_MARKERS, protected=[dataset / "clips"])
    with pytest.raises(ValueError, match="it contains input folder"):
        check_can_clear(dataset, markers=DATASET_MARKERS, protected=[dataset / "clips"])
    (tmp_path / "link").symlink_to(dataset)  # a symlink to the source is the source
    with pytest.raises(ValueError, match="it is input folder"):
        check_can_clear(tmp_path / "link", markers=DATASET_MARKERS, protected=[dataset])


def test_check_not_inside(tmp_path: Path) -> None:
    clips = tmp_path / "clips"
    clips.mkdir()
    check_not_inside(tmp_path / "masks", [clips], what="--video-dir")
    check_not_inside(tmp_path, [clips], what="--video-dir")
    for out in (clips, clips / "masks", clips / "a" / ".." / "masks"):
        with pytest.raises(ValueError, match="--video-dir") as caught:
            check_not_inside(out, [clips], what="--video-dir")
        assert "\n" not in str(caught.value)
    (tmp_path / "link").symlink_to(clips)
    with pytest.raises(ValueError, match="is inside --video-dir"):
        check_not_inside(tmp_path / "link" / "masks", [clips], what="--video-dir")


def test_remove_contents_keeps_the_lock(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "b.txt").write_text("x")
    (tmp_path / "c.txt").write_text("x")
    (tmp_path / "target").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "target")
    with FolderLock(tmp_path, purpose="clear"):
        remove_contents(tmp_path, keep=(LOCK_NAME, "target"))
        assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK_NAME, "target"]


RACE = """
import sys, time
from inpaint_core.outdir import FolderBusyError, FolderLock
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
try:
    with FolderLock(sys.argv[1], purpose="racer"):
        print("won", flush=True)
        time.sleep(1.0)
except FolderBusyError:
    print("busy", flush=True)
"""


def test_racing_processes_on_a_stale_lock_give_one_winner(tmp_path: Path) -> None:
    stale = {"pid": _dead_pid(), "host": socket.gethostname(), "purpose": "old", "started": 1.0}
    (tmp_path / LOCK_NAME).write_text(json.dumps(stale))
    start = time.time() + 1.5
    racers = [subprocess.Popen([sys.executable, "-c", RACE, str(tmp_path), str(start)], stdout=subprocess.PIPE,
                               text=True) for _ in range(4)]
    outcomes = sorted(racer.communicate(timeout=60)[0].strip() for racer in racers)
    assert outcomes == ["busy", "busy", "busy", "won"]
    assert list(tmp_path.iterdir()) == []
