from __future__ import annotations

import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import weakref
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest

import maskgen.build as build_module
from helpers import SMALL_BUILD, SMALL_BUILD_ARGS, dataset_files, manifest_rows
from maskgen.build import BuildError, build_dataset
from inpaint_core.buckets import CELLS, cell_of
from inpaint_core.engines import create_engine
from inpaint_core.files import sha256_file
from inpaint_core.maskio import read_mask, read_mask_values
from maskgen.synthetic import SpriteScene, write_frames
from maskgen.video import discover_clips


@pytest.fixture(scope="module")
def built(clip_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("built") / "masks"
    build_dataset(clip_dir, out, SMALL_BUILD, workers=1)
    return out


def test_build_fills_every_cell_with_valid_masks(built: Path) -> None:
    info = json.loads((built / "dataset.json").read_text())
    assert info["counts"]["test"] == {cell.name: 3 for cell in CELLS}
    assert info["counts"]["train"] == 4
    assert info["shortfalls"] == [] and info["skipped"] == []
    rows = manifest_rows(built)
    assert len(rows) == 40
    for row in rows:
        values = read_mask_values(built / row["path"])
        assert values.shape == (512, 512) and set(np.unique(values)) <= {0, 255}
        assert sha256_file(built / row["path"]) == row["sha256"]
        mask = read_mask(built / row["path"])
        assert float(row["hole_ratio"]) == pytest.approx(mask.mean(), abs=1e-6)
        if row["split"] == "test":
            assert cell_of(mask).name == row["cell"]
    splits = {row["split"]: {r["clip"] for r in rows if r["split"] == row["split"]} for row in rows}
    assert not splits["test"] & splits["train"]  # split by clip, never by frame
    assert (built / "pictures" / "hole_ratio_hist.png").is_file()
    assert (built / "pictures" / "contact_50-60_N.png").is_file()


def test_same_output_with_one_and_two_workers(clip_dir: Path, built: Path, tmp_path: Path) -> None:
    build_dataset(clip_dir, tmp_path / "two", SMALL_BUILD, workers=2)
    assert dataset_files(tmp_path / "two") == dataset_files(built)


def test_rerun_is_up_to_date_and_other_options_need_overwrite(clip_dir: Path, built: Path) -> None:
    assert build_dataset(clip_dir, built, SMALL_BUILD).up_to_date
    with pytest.raises(BuildError, match="--overwrite"):
        build_dataset(clip_dir, built, build_module.BuildOptions(per_cell=2, train_count=1))


def test_resume_after_interruption_is_identical(clip_dir: Path, built: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    real_run = build_module.ChunkWorker.run
    workers: list[weakref.ref] = []  # the worker that ran each chunk
    stop = {"at": 6}

    def recorded(worker, chunk):
        workers.append(weakref.ref(worker))
        if len(workers) == stop["at"]:
            raise KeyboardInterrupt
        return real_run(worker, chunk)

    monkeypatch.setattr(build_module.ChunkWorker, "run", recorded)
    with pytest.raises(KeyboardInterrupt):
        build_dataset(clip_dir, tmp_path / "resumed", SMALL_BUILD, workers=1)
    gc.collect()
    assert len(workers) == 6 and all(ref() is None for ref in workers)  # the chunk worker and its pools are let go
    assert not (tmp_path / "resumed" / "manifest.csv").exists()
    saved = list((tmp_path / "resumed" / ".maskgen" / "chunks").rglob("*.json"))
    assert len(saved) == 5
    stop["at"] = 0
    build_dataset(clip_dir, tmp_path / "resumed", SMALL_BUILD, workers=1)
    assert dataset_files(tmp_path / "resumed") == dataset_files(built)
    gc.collect()
    assert len(workers) > 6 and all(ref() is None for ref in workers)


class _TaggedWorker:
    """A stand-in chunk worker: says which worker ran a chunk, and with how many OpenCV threads."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def run(self, chunk: build_module.Chunk) -> tuple[str, build_module.Chunk, int]:
        import cv2

        return self.tag, chunk, cv2.getNumThreads()


@pytest.fixture
def opencv_threads() -> Iterator[None]:
    """Two OpenCV threads in this process during the test (a worker setup must bring it to one), then the
    count from before."""
    import cv2

    saved = cv2.getNumThreads()
    cv2.setNumThreads(2)
    yield
    cv2.setNumThreads(saved)


def test_chunk_tasks_run_on_the_worker_the_engine_hands_them(opencv_threads: None) -> None:
    # two maps in one process, their tasks interleaved: each task gets its own map's worker (a worker kept
    # in a module variable would be the last one set up), with one OpenCV thread
    engine = create_engine("local", workers=1)
    chunks = [build_module.Chunk("test", "0-10_B", start, start + 3) for start in (0, 3, 6)]
    maps = {tag: engine.map(build_module._engine_chunk_task, chunks, context=_TaggedWorker(tag),
                            setup=build_module._start_chunk_worker) for tag in ("a", "b")}
    results = [next(maps[tag]) for _ in chunks for tag in ("a", "b")]
    assert results == [(tag, chunk, 1) for chunk in chunks for tag in ("a", "b")]
    assert all(next(results, None) is None for results in maps.values())


def test_clip_tasks_report_to_the_reporter_the_engine_hands_them(clip_dir: Path, opencv_threads: None) -> None:
    import cv2

    clips, _ = discover_clips(clip_dir)
    engine = create_engine("local", workers=1)
    events: dict[str, list[tuple[str, str, int]]] = {"a": [], "b": []}

    def reporter(tag: str) -> Callable[[str, str], None]:
        return lambda clip_id, event: events[tag].append((clip_id, event, cv2.getNumThreads()))

    tasks = [(clip, SMALL_BUILD.extract) for clip in clips]
    maps = {tag: engine.map(build_module._engine_clip_task, tasks, context=reporter(tag),
                            setup=build_module._start_clip_worker) for tag in ("a", "b")}
    results = {tag: [] for tag in maps}
    for _ in tasks:
        for tag in maps:
            results[tag].append(next(maps[tag]))
    for tag in maps:
        pairs = [(result.clip_id, "pair", 1) for result in results[tag] for _ in range(result.pairs)]
        assert [result.clip_id for result in results[tag]] == [clip.clip_id for clip in clips]
        assert all(result.error is None and result.pairs > 0 for result in results[tag])
        assert events[tag] == pairs
    assert [r.summary() for r in results["a"]] == [r.summary() for r in results["b"]]
    # no reporter (an engine whose tasks cannot report while they run): the same result, nothing reported
    reported = {tag: list(tag_events) for tag, tag_events in events.items()}
    silent, = engine.map(build_module._engine_clip_task, tasks[:1], context=None, setup=build_module._start_clip_worker)
    assert silent.summary() == results["a"][0].summary() and events == reported


def test_kill_9_then_resume_is_identical(clip_dir: Path, built: Path, tmp_path: Path) -> None:
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "maskgen.cli", "build", "--video-dir", str(clip_dir), "--out", str(out),
               *SMALL_BUILD_ARGS, "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and process.poll() is None:
        if (out / ".maskgen" / "raw").is_dir() and any((out / ".maskgen" / "raw").glob("*.npz")):
            break
        time.sleep(0.02)
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (out / "dataset.json").exists()
    finished = subprocess.run(command, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    assert dataset_files(out) == dataset_files(built)


def test_bad_inputs_are_skipped_with_reasons(clip_dir: Path, tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    shutil.copytree(clip_dir, videos)
    (videos / "notes.txt").write_text("not a video")
    (videos / "empty.mp4").write_bytes(b"")
    (videos / "corrupt.mp4").write_bytes(np.random.default_rng(0).bytes(4096))
    write_frames(SpriteScene(frames=1).render(), videos / "one_frame")
    write_frames([SpriteScene(frames=1).render()[0]] * 4, videos / "static")
    result = build_dataset(videos, tmp_path / "out", SMALL_BUILD)
    reasons = {entry["path"]: entry["reason"] for entry in result.info["skipped"]}
    assert "not a video" in reasons["notes.txt"]
    assert "0 bytes" in reasons["empty.mp4"]
    assert "cannot open" in reasons["corrupt.mp4"] or "decodes no frame" in reasons["corrupt.mp4"]
    assert "fewer than 2 frames" in reasons["one_frame"]
    assert "no motion" in reasons["static"]
    assert result.info["counts"]["test_total"] == 36


def test_unusable_input_folders_raise(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="does not exist"):
        build_dataset(tmp_path / "missing", tmp_path / "out", SMALL_BUILD)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BuildError, match="no video file or frame folder"):
        build_dataset(tmp_path / "empty", tmp_path / "out", SMALL_BUILD)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "broken.avi").write_bytes(b"\x00" * 100)
    with pytest.raises(BuildError, match="no usable clip.*broken.avi"):
        build_dataset(tmp_path / "junk", tmp_path / "out", SMALL_BUILD)


def test_unreadable_frame_skips_only_its_pairs(tmp_path: Path) -> None:
    from maskgen.extract import ExtractOptions, extract_clip
    from maskgen.video import Clip

    folder = write_frames(SpriteScene(frames=6).render(), tmp_path / "clip")
    (folder / "frame_0003.png").write_bytes(b"broken")
    result = extract_clip(Clip("clip", folder, "frames"), ExtractOptions(stride=1))
    assert result.error is None and result.frames == 6 and result.unreadable_frames == [3]
    assert result.pairs == 3  # (0,1), (1,2), (4,5): the pairs touching frame 3 are skipped
    assert {(m.frame_a, m.frame_b) for m in result.masks} <= {(0, 1), (1, 2), (4, 5)}
