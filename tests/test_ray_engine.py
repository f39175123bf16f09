"""``--engine ray`` on a local Ray instance (``ray.init(num_cpus=2)``, one per module): the same bytes as the
local engine for a build and the same rows for a benchmark run; transient failures and lost tasks are
run again by Ray. Skipped when Ray is not installed (``pip install ".[ray]"``), except the test that the
missing extra is a one-line error."""
from __future__ import annotations

import csv
import os
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench_helpers import make_images, make_mask_dataset
from helpers import dataset_files, flaky_flow_options, interrupt_after
from inpaint_core.engines import TransientError, create_engine
from maskgen.build import build_dataset


def _flaky_task(folder: str, task: int) -> tuple[int, int]:
    """Fails once per task 3 (a marker file remembers), transiently; dies once in task 4 (a lost task)."""
    marker = Path(folder) / f"attempted_{task}"
    first = not marker.exists()
    marker.touch()
    if first and task == 3:
        raise OSError("network file system hiccup (simulated)")
    if first and task == 4:
        os._exit(1)  # the worker process is lost with the task
    return task, task * task


def _always_fails(_: object, task: int) -> int:
    raise TransientError(f"task {task} failed (simulated)")


def _setup_twice(folder: str) -> str:
    return folder


def test_ray_retries_failed_and_lost_tasks(ray_instance, tmp_path: Path) -> None:
    engine = create_engine("ray")
    expected = [(task, task * task) for task in range(6)]
    (tmp_path / "tasks").mkdir()
    assert sorted(engine.map(_flaky_task, list(range(6)), context=str(tmp_path / "tasks"))) == expected
    assert {p.name for p in (tmp_path / "tasks").iterdir()} == {f"attempted_{task}" for task in range(6)}
    (tmp_path / "actors").mkdir()  # the same through actors (a per-worker state: a model replica)
    assert sorted(engine.map(_flaky_task, list(range(6)), context=str(tmp_path / "actors"), setup=_setup_twice,
                             keep_state=True)) == expected
    failed = list(engine.map(_always_fails, [7], retries=1, on_failure=lambda task, error: (task, str(error))))
    assert failed == [(7, "task 7 failed (simulated)")]
    with pytest.raises(TransientError, match="task 8 failed"):
        list(engine.map(_always_fails, [8], retries=0))
    engine.close()
    assert ray_instance.is_initialized()  # an instance the caller started is left to the caller


def _bar_ends(text: str, desc: str) -> tuple[int, int]:
    found = re.findall(desc + r":.*?(\d+)/(\d+)", text.replace("\r", "\n"))
    return int(found[-1][0]), int(found[-1][1])


def test_ray_build_is_byte_identical_retries_and_resumes(ray_instance, clip_dir: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    options = flaky_flow_options(tmp_path / "plugin")
    local = build_dataset(clip_dir, tmp_path / "local", options, workers=1)
    (tmp_path / "plugin" / "fail_once").touch()  # the first flow call on Ray fails: Ray runs that clip again
    out = tmp_path / "ray"
    result = build_dataset(clip_dir, out, options, engine="ray", progress=True)
    assert not (tmp_path / "plugin" / "fail_once").exists() and result.info["skipped"] == []
    assert dataset_files(out) == dataset_files(tmp_path / "local")
    assert result.info["fingerprint"] == local.info["fingerprint"]
    bars = capsys.readouterr().err
    assert _bar_ends(bars, "frame pairs") == (12, 12) and _bar_ends(bars, "masks") == (40, 40)
    assert build_dataset(clip_dir, out, options, engine="ray").up_to_date
    # an interrupted local build finished on Ray: the chunks saved by the first run are kept
    interrupt_after(monkeypatch, 5)
    with pytest.raises(KeyboardInterrupt):
        build_dataset(clip_dir, tmp_path / "resumed", options, workers=1)
    monkeypatch.undo()
    saved = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "resumed" / ".maskgen" / "chunks").rglob("*.json")}
    assert len(saved) == 5
    resumed = build_dataset(clip_dir, tmp_path / "resumed", options, engine="ray")
    assert dataset_files(tmp_path / "resumed") == dataset_files(tmp_path / "local")
    assert resumed.info["fingerprint"] == local.info["fingerprint"]


def _rows(path: Path, timing: tuple[str, ...]) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return [{k: v for k, v in row.items() if k not in timing} for row in csv.DictReader(handle)]


def test_ray_benchmark_run_equals_a_local_run(ray_instance, tmp_path: Path) -> None:
    from benchmark.cli import main

    masks, images = make_mask_dataset(tmp_path, per_cell=1), make_images(tmp_path)
    common = ["--model", "opencv-telea", "--masks", str(masks), "--images", str(images), "--per-cell", "1",
              "--quiet", "--no-set-metrics"]
    local = CliRunner().invoke(main, ["run", *common, "--out", str(tmp_path / "local")], catch_exceptions=False)
    on_ray = CliRunner().invoke(main, ["run", *common, "--out", str(tmp_path / "ray"), "--engine", "ray",
                                       "--shard-size", "5"], catch_exceptions=False)
    assert local.exit_code == 0 and on_ray.exit_code == 0, local.output + on_ray.output
    first, second = tmp_path / "local" / "opencv-telea", tmp_path / "ray" / "opencv-telea"
    rows = _rows(second / "per_image.csv", ("seconds",))
    assert len(rows) == 12 and {row["status"] for row in rows} == {"ok"}  # 3 shards of 5, 5 and 2 pairs
    assert rows == _rows(first / "per_image.csv", ("seconds",))
    timing = ("seconds_mean", "seconds_std", "seconds_ci_low", "seconds_ci_high")
    assert _rows(second / "summary.csv", timing) == _rows(first / "summary.csv", timing)
    assert _rows(second / "summary_area.csv", timing) == _rows(first / "summary_area.csv", timing)
    for name in ["pairs.csv", *sorted(p.relative_to(first).as_posix() for p in (first / "samples").glob("*.png"))]:
        assert (second / name).read_bytes() == (first / name).read_bytes(), name
    assert not (second / "per_image.partial.csv").exists()


def test_without_ray_the_ray_engine_is_a_one_line_error(clip_dir: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from maskgen.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails as when it is not installed
    result = CliRunner().invoke(main, ["build", "--video-dir", str(clip_dir), "--out", str(tmp_path / "masks"),
                                       "--engine", "ray", "--quiet"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "error: --engine ray needs Ray, which is not installed: install Ray with: "
        "pip install \"inpaint-masks-toolkit[ray]\" (or pip install \".[ray]\" in a checkout)"]
    local = CliRunner().invoke(main, ["build", "--video-dir", str(clip_dir), "--out", str(tmp_path / "x"),
                                      "--ray-address", "auto"])
    assert local.exit_code == 2 and "--ray-address needs --engine ray" in local.output
    from benchmark.cli import main as benchmark

    (tmp_path / "bench").mkdir()
    masks, images = make_mask_dataset(tmp_path / "bench", per_cell=1), make_images(tmp_path / "bench")
    run = CliRunner().invoke(benchmark, ["run", "--model", "mean-fill", "--masks", str(masks), "--images",
                                         str(images), "--out", str(tmp_path / "runs"), "--engine", "ray", "--quiet",
                                         "--no-set-metrics"])
    assert run.exit_code == 1 and run.output.strip().splitlines() == [
        "error: --engine ray needs Ray, which is not installed: install Ray with: "
        "pip install \"inpaint-masks-toolkit[ray]\" (or pip install \".[ray]\" in a checkout)"]


def test_an_unreachable_cluster_is_a_one_line_error_at_once() -> None:
    from inpaint_core.engines import _check_reachable

    with pytest.raises(ValueError, match=r"^cannot reach the Ray cluster at '127.0.0.1:1': Connection refused; "):
        _check_reachable("127.0.0.1:1")  # Ray itself would try again for minutes
    _check_reachable("auto")  # left to Ray


@pytest.mark.parametrize("workers", [1, 2])
def test_local_engine_retries_only_when_asked(tmp_path: Path, workers: int) -> None:
    engine = create_engine("local", workers=workers)
    with pytest.raises(OSError, match="hiccup"):  # by default the local engine leaves it to the next run
        list(engine.map(_flaky_task, [3], context=str(tmp_path)))
    (tmp_path / "attempted_3").unlink()
    results = engine.map(_flaky_task, [0, 1, 2, 3], context=str(tmp_path), retries=1)
    assert sorted(results) == [(task, task * task) for task in range(4)]
    failed = engine.map(_always_fails, [5, 6], retries=2, on_failure=lambda task, error: (task, str(error)))
    assert sorted(failed) == [(5, "task 5 failed (simulated)"), (6, "task 6 failed (simulated)")]
