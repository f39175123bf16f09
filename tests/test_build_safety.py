"""maskgen build: nothing lost, nothing stuck (issue 10) -- the lock, --overwrite, caches that are checked,
failures that are retried, processes that end with the build, inputs that are all reported."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import maskgen.build as build_module
from helpers import SMALL_BUILD, SMALL_BUILD_ARGS, dataset_files, flaky_flow_options, interrupt_after
from inpaint_core.outdir import LOCK_NAME, FolderBusyError, FolderLock
from maskgen.build import BuildError, build_dataset
from maskgen.cli import main
from maskgen.synthetic import SpriteScene, write_frames

HOLD_LOCK = """
import sys, time
from inpaint_core.outdir import FolderLock
with FolderLock(sys.argv[1], purpose="another build"):
    print("locked", flush=True)
    time.sleep(60)
"""

@pytest.fixture(scope="module")
def built(clip_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reference") / "masks"
    build_dataset(clip_dir, out, SMALL_BUILD, workers=1)
    return out


def test_overwrite_after_an_interrupted_build_starts_afresh(clip_dir: Path, built: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "masks"
    interrupt_after(monkeypatch, 5)
    with pytest.raises(KeyboardInterrupt):
        build_dataset(clip_dir, out, SMALL_BUILD)
    monkeypatch.undo()
    assert list((out / ".maskgen" / "chunks").rglob("*.json")) and not (out / LOCK_NAME).exists()
    # was: "mask file '.../test/01-10_B/000000.png' does not exist" on this and every later run
    result = build_dataset(clip_dir, out, SMALL_BUILD, overwrite=True)
    assert not result.up_to_date and dataset_files(out) == dataset_files(built)
    assert not (out / LOCK_NAME).exists()


def test_kill_9_then_overwrite_is_identical(clip_dir: Path, built: Path, tmp_path: Path) -> None:
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "maskgen.cli", "build", "--video-dir", str(clip_dir), "--out", str(out),
               *SMALL_BUILD_ARGS, "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and process.poll() is None and not any((out / ".maskgen").rglob("chunks/*/*.json")):
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    finished = subprocess.run(command + ["--overwrite"], capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    assert dataset_files(out) == dataset_files(built)


def test_saved_chunk_is_trusted_only_while_its_files_match(clip_dir: Path, built: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "masks"
    interrupt_after(monkeypatch, 6)
    with pytest.raises(KeyboardInterrupt):
        build_dataset(clip_dir, out, SMALL_BUILD)
    monkeypatch.undo()
    files = sorted((out / "test").rglob("*.png"))
    files[0].unlink()  # one mask file of a saved chunk lost, another one altered
    files[-1].write_bytes(b"not the mask the chunk recorded")
    build_dataset(clip_dir, out, SMALL_BUILD)
    assert dataset_files(out) == dataset_files(built)


def test_two_writers_on_one_folder(clip_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "masks"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        result = CliRunner().invoke(main, ["build", "--video-dir", str(clip_dir), "--out", str(out), "--quiet"])
        assert result.exit_code == 1
        line, = result.output.strip().splitlines()
        assert line.startswith(f"error: {str(out)!r} is in use by another build (pid {holder.pid}")
        assert list(out.iterdir()) == [out / LOCK_NAME]  # nothing written
    finally:
        holder.kill()
        holder.wait()
    with FolderLock(out, purpose="a test"):  # in one process too
        with pytest.raises(FolderBusyError, match="in use by a test"):
            build_dataset(clip_dir, out, SMALL_BUILD)


def test_out_inside_video_dir_is_refused(clip_dir: Path, tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    shutil.copytree(clip_dir, videos)
    for out in (videos / "masks", videos, videos / "walk_right" / "masks"):
        with pytest.raises(BuildError, match="inside --video-dir|is --video-dir"):
            build_dataset(videos, out, SMALL_BUILD)
    result = CliRunner().invoke(main, ["build", "--video-dir", str(videos), "--out", str(videos / "masks")])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert sorted(p.name for p in videos.iterdir()) == ["walk_diag.avi", "walk_right"]


def test_overwrite_deletes_only_a_dataset(clip_dir: Path, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "holiday.jpg").write_bytes(b"precious")
    with pytest.raises(BuildError, match="not a maskgen dataset"):
        build_dataset(clip_dir, photos, SMALL_BUILD, overwrite=True)
    assert (photos / "holiday.jpg").read_bytes() == b"precious" and not (photos / LOCK_NAME).exists()
    videos = tmp_path / "work" / "videos"
    shutil.copytree(clip_dir, videos)
    (tmp_path / "work" / ".maskgen").mkdir()  # even a folder that looks like a dataset, when it holds the input
    with pytest.raises(BuildError, match="contains input folder"):
        build_dataset(videos, tmp_path / "work", SMALL_BUILD, overwrite=True)
    assert (videos / "walk_diag.avi").is_file()


def test_transient_plugin_failure_is_retried(clip_dir: Path, tmp_path: Path) -> None:
    options = flaky_flow_options(tmp_path / "plugin")
    clean = build_dataset(clip_dir, tmp_path / "clean", options)
    (tmp_path / "plugin" / "fail_once").touch()
    out = tmp_path / "masks"
    first = build_dataset(clip_dir, out, options)
    retried, = [entry for entry in first.info["skipped"] if entry.get("retry")]
    assert "CUDA out of memory" in retried["reason"] and "tried again on the next run" in retried["reason"]
    assert len(list((out / ".maskgen" / "raw").glob("*.npz"))) == 1  # the failure was not cached
    second = build_dataset(clip_dir, out, options)  # the cause is gone: the same command completes the dataset
    assert not second.up_to_date and second.info["skipped"] == []
    assert dataset_files(out) == dataset_files(tmp_path / "clean") and clean.info["skipped"] == []
    assert build_dataset(clip_dir, out, options).up_to_date


def test_content_failure_is_cached_and_a_rerun_is_up_to_date(clip_dir: Path, tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    shutil.copytree(clip_dir, videos)
    write_frames([SpriteScene(frames=1).render()[0]] * 4, videos / "static")
    first = build_dataset(videos, tmp_path / "out", SMALL_BUILD)
    entry, = [e for e in first.info["skipped"] if e["path"] == "static"]
    assert "no motion" in entry["reason"] and "retry" not in entry
    assert len(list((tmp_path / "out" / ".maskgen" / "raw").glob("*.npz"))) == 3
    assert build_dataset(videos, tmp_path / "out", SMALL_BUILD).up_to_date


def test_cell_that_makes_nothing_in_its_first_round_is_tried_again(clip_dir: Path, built: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    real = build_module.ChunkWorker.run

    def first_round_empty(worker: build_module.ChunkWorker, chunk: build_module.Chunk) -> build_module.ChunkResult:
        if chunk.cell == "20-30_N" and chunk.start == 0:  # every slot of its first round fails
            return build_module.ChunkResult(chunk, [], {"too-small": chunk.stop - chunk.start})
        return real(worker, chunk)

    monkeypatch.setattr(build_module.ChunkWorker, "run", first_round_empty)
    result = build_dataset(clip_dir, tmp_path / "masks", SMALL_BUILD)
    assert result.info["counts"]["test"]["20-30_N"] == 3 and result.info["shortfalls"] == []
    slots = sorted(row.slot for row in result.rows if row.split == "test" and row.cell == "20-30_N")
    assert min(slots) >= 3  # from the later rounds


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        listed = subprocess.run(["pgrep", "-P", str(todo.pop())], capture_output=True, text=True).stdout.split()
        children = {int(child) for child in listed} - found
        found |= children
        todo.extend(children)
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not Path("/proc").is_dir() or shutil.which("pgrep") is None, reason="needs /proc and pgrep")
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_no_process_outlives_a_stopped_build(clip_dir: Path, built: Path, tmp_path: Path,
                                             how: signal.Signals) -> None:
    out = tmp_path / "masks"
    command = [sys.executable, "-m", "maskgen.cli", "build", "--video-dir", str(clip_dir), "--out", str(out),
               *SMALL_BUILD_ARGS, "--quiet", "--workers", "2"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    children: set[int] = set()
    while time.time() < deadline and process.poll() is None and len(children) < 3:  # 2 workers + resource tracker
        children = _descendants(process.pid)
        time.sleep(0.02)
    assert len(children) >= 3, "the build ended before its workers could be seen"
    process.send_signal(how)
    _, stderr = process.communicate(timeout=30)
    deadline = time.time() + 10
    while time.time() < deadline and any(_running(pid) for pid in children):
        time.sleep(0.05)
    assert not [pid for pid in children if _running(pid)], f"left running after {how.name}"
    assert not (out / "dataset.json").exists()
    if how == signal.SIGTERM:
        assert process.returncode == 143
        assert "terminated (SIGTERM): run the same command again to resume" in stderr.splitlines()
        finished = subprocess.run(command, capture_output=True, text=True)  # and it resumes
        assert finished.returncode == 0, finished.stderr
        assert dataset_files(out) == dataset_files(built)


def test_skipped_inputs_are_all_reported(clip_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from maskgen.video import discover_clips

    videos = tmp_path / "videos"
    videos.mkdir()
    outside = write_frames(SpriteScene(frames=3).render(), tmp_path / "elsewhere" / "linked_clip")
    (videos / "linked").symlink_to(outside)  # a symlinked frame folder from elsewhere is followed
    (videos / "again").symlink_to(videos)  # a loop back into --video-dir is reported, not searched twice
    shutil.copy(clip_dir / "walk_diag.avi", videos / "walk_diag.avi")
    (videos / "same.avi").symlink_to(videos / "walk_diag.avi")
    (videos / "locked").mkdir()
    real_scandir = os.scandir

    def scandir(path: object = ".") -> object:
        if Path(str(path)).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", scandir)
    clips, skipped = discover_clips(videos)
    monkeypatch.undo()
    assert [c.clip_id for c in clips] == ["linked", "walk_diag.avi"]
    reasons = {s.path: s.reason for s in skipped}
    assert set(reasons) == {"again", "same.avi", "locked"}
    assert "cannot read folder: Permission denied" in reasons["locked"]
    assert "already under --video-dir" in reasons["again"] and "already under --video-dir" in reasons["same.avi"]


def test_unreadable_frame_is_reported_and_skips_only_its_pairs(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import SCENES

    import maskgen.video as video_module

    videos = tmp_path / "videos"
    folder = write_frames(SCENES["walk_right"].render(), videos / "walk_right")
    write_frames(SCENES["walk_diag"].render(), videos / "walk_diag")
    denied = folder / "frame_0003.png"
    real_open, real_fromfile = open, np.fromfile

    def refuse(path: object) -> None:
        if Path(str(path)) == denied:
            raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(video_module, "open", lambda path, *a, **k: refuse(path) or real_open(path, *a, **k),
                        raising=False)
    monkeypatch.setattr(np, "fromfile", lambda path, *a, **k: refuse(path) or real_fromfile(path, *a, **k))
    result = build_dataset(videos, tmp_path / "out", SMALL_BUILD)
    clip, = [c for c in result.info["clips"] if c["clip"] == "walk_right"]
    assert clip["split"] != "skipped" and clip["unreadable_frames"] == [3] and clip["pairs"] == 4
    entry, = result.info["skipped"]
    assert entry["path"] == "walk_right/frame_0003.png" and "pairs touching it" in entry["reason"]


def test_progress_bars_count_pairs_and_stop_at_their_totals(clip_dir: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import re
    from collections import Counter

    reports: Counter[tuple[str, str]] = Counter()
    real_report = build_module._PairProgress.report

    def counted(progress: build_module._PairProgress, clip_id: str, event: str) -> None:
        reports[clip_id, event] += 1
        real_report(progress, clip_id, event)

    monkeypatch.setattr(build_module._PairProgress, "report", counted)
    options = replace(SMALL_BUILD, per_cell=2)
    build_dataset(clip_dir, tmp_path / "masks", options, workers=2, progress=True)
    # every frame pair was reported from the worker processes while their clip ran (their state's reporter)
    assert reports == {("walk_right", "pair"): 6, ("walk_diag.avi", "pair"): 6}
    bars = capsys.readouterr().err.replace("\r", "\n")
    pairs = [(int(n), int(total)) for n, total in re.findall(r"frame pairs:.*?(\d+)/(\d+)", bars)]
    assert pairs[-1] == (12, 12) and all(n <= total for n, total in pairs)  # 2 clips x 6 pairs
    masks = [(int(n), int(total)) for n, total in re.findall(r"masks:.*?(\d+)/(\d+)", bars)]
    assert masks[-1] == (28, 28) and all(n <= total for n, total in masks)


def test_pair_bar_follows_reports_and_corrects_its_estimates() -> None:
    import io

    from tqdm import tqdm

    with tqdm(total=5, file=io.StringIO()) as bar:
        feed = build_module._PairProgress(bar, {"a": 3, "b": 2}, done_before=1, clips=3)
        for _ in range(2):
            feed.report("a", "pair")
        assert bar.n == 2
        feed.report("a", "done")  # a had 2 pairs, not 3
        for _ in range(4):
            feed.report("b", "pair")  # b had 4, not 2
        assert (bar.n, bar.total) == (6, 6)
        feed.report("b", "done")
        feed.report("b", "pair")  # late reports of a finished clip are ignored
        assert (bar.n, bar.total) == (6, 6) and feed.finished == {"a", "b"}
