from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import maskgen.build as build_module
from helpers import SMALL_BUILD, dataset_files, manifest_rows
from maskgen.build import BuildError, build_dataset
from inpaint_core.buckets import CELLS, cell_of
from inpaint_core.files import sha256_file
from inpaint_core.maskio import read_mask, read_mask_values
from maskgen.synthetic import SpriteScene, write_frames


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
    real_run_chunk = build_module._run_chunk
    calls = {"n": 0}

    def interrupted(chunk):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return real_run_chunk(chunk)

    monkeypatch.setattr(build_module, "_run_chunk", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build_dataset(clip_dir, tmp_path / "resumed", SMALL_BUILD, workers=1)
    assert build_module._WORKER is None  # the in-process chunk worker (and its pools) is let go
    assert not (tmp_path / "resumed" / "manifest.csv").exists()
    saved = list((tmp_path / "resumed" / ".maskgen" / "chunks").rglob("*.json"))
    assert len(saved) == 5
    monkeypatch.setattr(build_module, "_run_chunk", real_run_chunk)
    build_dataset(clip_dir, tmp_path / "resumed", SMALL_BUILD, workers=1)
    assert dataset_files(tmp_path / "resumed") == dataset_files(built)
    assert build_module._WORKER is None


def test_kill_9_then_resume_is_identical(clip_dir: Path, built: Path, tmp_path: Path) -> None:
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "maskgen.cli", "build", "--video-dir", str(clip_dir), "--out", str(out),
               "--per-cell", "3", "--train-count", "4", "--test-fraction", "0.5", "--stride", "1", "--quiet"]
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
