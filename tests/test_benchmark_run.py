from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bench_helpers import MEAN_FILL_COMMAND, MISBEHAVING_MODELS, make_images, make_mask_dataset
from benchmark.cli import main
from benchmark.inpainters import create_inpainter, list_inpainters, register_inpainter
from benchmark.leaderboard import LeaderboardError, collect_runs
from benchmark.pairing import make_pairs
from inpaint_core.dataset import Dataset
from benchmark.runner import CallableProvider, RunSettings, prepare, score_run
from inpaint_core.buckets import CELLS


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bench")
    return {"masks": make_mask_dataset(root, per_cell=2), "images": make_images(root)}


def _per_image(folder: Path) -> list[dict[str, str]]:
    with open(folder / "per_image.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def _without_seconds(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Rows minus the timing column (the only one that may differ between equal runs)."""
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def _run(args: list[str]) -> object:
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    return result


def _common(data: dict[str, Path], out: Path, per_cell: int = 1) -> list[str]:
    return ["--masks", str(data["masks"]), "--images", str(data["images"]), "--out", str(out),
            "--per-cell", str(per_cell), "--quiet"]


def test_pairing_is_deterministic_and_uses_each_mask_once(data: dict[str, Path]) -> None:
    rows = Dataset(data["masks"]).records("test", binned=True)
    images = ["a.png", "b.png", "c.png"]
    first = make_pairs(rows, images, seed=3)
    assert first == make_pairs(rows, images, seed=3)
    assert first != make_pairs(rows, images, seed=4)
    assert sorted(p.mask for p in first) == sorted(r.path for r in rows)
    counts = [sum(p.image == name for p in first) for name in images]
    assert max(counts) - min(counts) <= 1  # 24 masks over 3 images: 8 each
    assert [p.cell for p in first[:4]] == ["01-10_B", "01-10_B", "01-10_N", "01-10_N"]


def test_builtin_models_are_registered() -> None:
    assert {"opencv-telea", "opencv-ns", "opencv-shiftmap", "biharmonic", "mean-fill"} <= set(list_inpainters())
    with pytest.raises(ValueError, match="already registered"):
        register_inpainter("mean-fill")(lambda: None)
    with pytest.raises(ValueError, match="unknown model 'nosuch'"):
        create_inpainter("nosuch")


def test_run_builtin_model_writes_a_complete_run_folder(data: dict[str, Path], tmp_path: Path) -> None:
    result = _run(["run", "--model", "mean-fill", *_common(data, tmp_path)])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "mean-fill"
    rows = _per_image(folder)
    assert len(rows) == 12 and {r["status"] for r in rows} == {"ok"}
    info = json.loads((folder / "run.json").read_text())
    assert info["counts"] == {"pairs": 12, "ok": 12, "failed": 0}
    assert info["protocol"]["size"] == 512 and "composite" in info["protocol"]
    assert len(list((folder / "samples").glob("grid_*.png"))) == 12
    with open(folder / "summary.csv", newline="") as handle:
        summary = {row["cell"]: row for row in csv.DictReader(handle)}
    assert set(summary) == {cell.name for cell in CELLS} | {"all"}
    # mean-fill on bigger holes is worse: L1 grows with the bin
    assert float(summary["50-60_B"]["l1_mean"]) > float(summary["01-10_B"]["l1_mean"])
    again = _run(["run", "--model", "mean-fill", *_common(data, tmp_path)])
    assert again.exit_code == 0 and _per_image(folder) == rows


def test_plugins_from_file_module_and_command_agree(data: dict[str, Path], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "my_models.py").write_text(MISBEHAVING_MODELS)
    (plugins / "mean_fill_cmd.py").write_text(MEAN_FILL_COMMAND)
    monkeypatch.setenv("PYTHONPATH", str(plugins))
    monkeypatch.syspath_prepend(str(plugins))
    by_file = _run(["run", "--model", f"{plugins / 'my_models.py'}:Grey", "--name", "grey-file", *_common(data, tmp_path)])
    by_module = _run(["run", "--model", "my_models:Grey", "--name", "grey-module", *_common(data, tmp_path)])
    assert by_file.exit_code == 0 and by_module.exit_code == 0, by_file.output + by_module.output
    assert _without_seconds(_per_image(tmp_path / "grey-file")) == _without_seconds(_per_image(tmp_path / "grey-module"))
    command = f"{sys.executable} {plugins / 'mean_fill_cmd.py'} {{input_dir}} {{mask_dir}} {{output_dir}}"
    by_command = _run(["run", "--model-cmd", command, "--name", "mean-cmd", *_common(data, tmp_path)])
    assert by_command.exit_code == 0, by_command.output
    in_process = _run(["run", "--model", "mean-fill", *_common(data, tmp_path)])
    assert in_process.exit_code == 0
    command_rows, python_rows = _per_image(tmp_path / "mean-cmd"), _per_image(tmp_path / "mean-fill")
    for first, second in zip(command_rows, python_rows):
        assert first["status"] == "ok"
        # cv2's BGR mean equals the RGB mean per channel: identical outputs, identical metrics
        assert {k: first[k] for k in ("l1", "psnr", "ssim")} == {k: second[k] for k in ("l1", "psnr", "ssim")}


def test_predictions_folder_scores_like_the_model(data: dict[str, Path], tmp_path: Path) -> None:
    from inpaint_core.images import load_image
    from benchmark.inpainters import MeanFill
    from inpaint_core.images import write_rgb_png
    from inpaint_core.maskio import read_mask

    exported = _run(["export-inputs", "--masks", str(data["masks"]), "--images", str(data["images"]),
                     "--out", str(tmp_path / "inputs"), "--per-cell", "1"])
    assert exported.exit_code == 0, exported.output
    predictions = tmp_path / "predictions"
    model = MeanFill()
    for path in sorted((tmp_path / "inputs" / "inputs").glob("*.png")):
        mask = read_mask(tmp_path / "inputs" / "masks" / path.name)
        write_rgb_png(predictions / path.name, model(load_image(path), mask))
    scored = _run(["score", "--predictions", str(predictions), "--export", str(tmp_path / "inputs"),
                   "--name", "mean-fill-elsewhere", *_common(data, tmp_path)])
    direct = _run(["run", "--model", "mean-fill", *_common(data, tmp_path)])
    assert scored.exit_code == 0 and direct.exit_code == 0, scored.output
    assert _without_seconds(_per_image(tmp_path / "mean-fill-elsewhere")) == _without_seconds(_per_image(tmp_path / "mean-fill"))


@pytest.mark.parametrize(("model", "expected_error", "failures"), [
    ("WrongShape", "output shape (100, 512, 3), expected (512, 512, 3)", 12),
    ("NaNFloat", "output dtype float64 with NaN values, expected uint8", 12),
    ("RaisesOnLargeHoles", "model raised RuntimeError: out of memory (simulated)", 6),
    ("HangsOnLargeHoles", "timeout: no answer within 3 s", 2),
    ("DiesOnLargeHoles", "model process died (exit code 3)", 2),
])
def test_misbehaving_models_fail_per_pair_and_the_run_goes_on(data: dict[str, Path], tmp_path: Path,
                                                               model: str, expected_error: str, failures: int) -> None:
    plugin = tmp_path / "bad_models.py"
    plugin.write_text(MISBEHAVING_MODELS)
    result = _run(["run", "--model", f"{plugin}:{model}", "--name", model, "--timeout", "3", *_common(data, tmp_path)])
    assert result.exit_code == (1 if failures == 12 else 0), result.output  # no pair scored: a non-zero exit
    assert f"failed ({failures}): {expected_error}" in result.output
    rows = _per_image(tmp_path / model)
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == failures and {r["error"] for r in failed} == {expected_error}
    assert len(rows) == 12
    info = json.loads((tmp_path / model / "run.json").read_text())
    assert info["counts"]["failed"] == failures


def test_interrupted_run_resumes(data: dict[str, Path], tmp_path: Path) -> None:
    prepared = prepare(RunSettings(masks=data["masks"], images=data["images"], per_cell=1))
    calls = {"n": 0}

    def flaky(pair, image, mask):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return np.full_like(image, 100), 0.5

    model = {"name": "flat", "kind": "python", "spec": "test"}
    with pytest.raises(KeyboardInterrupt):
        score_run(prepared, tmp_path / "flat", CallableProvider(flaky), model=model)
    assert not (tmp_path / "flat" / "per_image.csv").exists()
    calls["n"] = 100
    score_run(prepared, tmp_path / "flat", CallableProvider(flaky), model=model)
    assert calls["n"] == 100 + 8  # only the 8 pairs not scored before
    score_run(prepared, tmp_path / "whole", CallableProvider(lambda pair, image, mask: (np.full_like(image, 100), 0.5)),
              model=model)
    assert (tmp_path / "flat" / "per_image.csv").read_bytes() == (tmp_path / "whole" / "per_image.csv").read_bytes()
    # rows read back and rows scored now go into one accumulator: the same summary
    assert (tmp_path / "flat" / "summary.csv").read_bytes() == (tmp_path / "whole" / "summary.csv").read_bytes()
    # the sample grids include the pairs scored before the interruption
    grids = sorted(p.name for p in (tmp_path / "flat" / "samples").glob("grid_*.png"))
    assert len(grids) == 12 and not (tmp_path / "flat" / "samples" / ".rows").exists()
    for name in grids:
        assert (tmp_path / "flat" / "samples" / name).read_bytes() == (tmp_path / "whole" / "samples" / name).read_bytes()


def test_a_portable_prepared_differs_only_in_absolute_paths(data: dict[str, Path],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmark.runner import _portable

    monkeypatch.chdir(data["masks"].parent)
    prepared = prepare(RunSettings(masks=Path(data["masks"].name), images=Path(data["images"].name), per_cell=1))
    portable = _portable(prepared)
    assert portable.mask_protocol == prepared.mask_protocol and prepared.mask_protocol.endswith("@per-cell-1")
    assert portable.export_record() == prepared.export_record()
    assert portable.settings.masks == data["masks"].resolve() and portable.settings.images == data["images"].resolve()
    assert portable.dataset.folder == data["masks"].resolve() and prepared.dataset.folder == Path(data["masks"].name)


def test_leaderboard_merges_and_refuses(data: dict[str, Path], tmp_path: Path) -> None:
    for model in ("mean-fill", "opencv-telea"):
        assert _run(["run", "--model", model, *_common(data, tmp_path / "runs")]).exit_code == 0
    result = _run(["leaderboard", str(tmp_path / "runs"), "-o", str(tmp_path / "leaderboard.csv")])
    assert result.exit_code == 0, result.output
    with open(tmp_path / "leaderboard.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["model"] for r in rows) == ["mean-fill", "opencv-telea"]
    assert float(rows[0]["l1"]) <= float(rows[1]["l1"])  # ranked by L1, lower first
    assert "l1@50-60_N" in rows[0] and rows[0]["pairs"] == "12"
    assert (tmp_path / "leaderboard.md").is_file() and (tmp_path / "leaderboard.png").is_file()
    # same masks and mask protocol, other pairs (another seed): refused (other --per-cell is another protocol)
    assert _run(["run", "--model", "mean-fill", *_common(data, tmp_path / "other"), "--seed", "1"]).exit_code == 0
    with pytest.raises(LeaderboardError, match="differ in pairs"):  # noqa: PT012
        collect_runs([tmp_path / "runs", tmp_path / "other"])
    refused = CliRunner().invoke(main, ["leaderboard", str(tmp_path / "runs"), str(tmp_path / "other"),
                                        "-o", str(tmp_path / "x.csv")])
    assert refused.exit_code == 1 and refused.output.startswith("error: runs ")


def test_cli_errors_are_one_line(data: dict[str, Path], tmp_path: Path) -> None:
    missing = CliRunner().invoke(main, ["run", "--model", "mean-fill", "--masks", str(tmp_path / "none"),
                                        "--images", str(data["images"]), "--out", str(tmp_path)])
    assert missing.exit_code == 1 and len(missing.output.strip().splitlines()) == 1
    assert "no manifest.csv" in missing.output
    unknown = CliRunner().invoke(main, ["run", "--model", "nosuch", *_common(data, tmp_path)])
    assert unknown.exit_code == 1 and "unknown model 'nosuch'" in unknown.output
    both = CliRunner().invoke(main, ["run", *_common(data, tmp_path)])
    assert both.exit_code == 2 and "exactly one of --model and --model-cmd" in both.output


def test_batched_torch_path_equals_single_calls(data: dict[str, Path], tmp_path: Path) -> None:
    from bench_helpers import TORCH_MODELS

    plugin = tmp_path / "torch_models.py"
    plugin.write_text(TORCH_MODELS)
    spec = f"{plugin}:TorchMeanFill"
    batched = _run(["run", "--model", spec, "--name", "batched", "--batch-size", "5", *_common(data, tmp_path)])
    single = _run(["run", "--model", spec, "--name", "single", *_common(data, tmp_path)])
    assert batched.exit_code == 0 and single.exit_code == 0, batched.output + single.output
    rows = _per_image(tmp_path / "batched")
    assert _without_seconds(rows) == _without_seconds(_per_image(tmp_path / "single"))
    assert {r["status"] for r in rows} == {"ok"}
    nan = _run(["run", "--model", f"{plugin}:TorchNaNSecond", "--name", "nan", "--batch-size", "4",
                *_common(data, tmp_path)])
    assert nan.exit_code == 0
    failed = [r["pair_id"] for r in _per_image(tmp_path / "nan") if r["status"] == "failed"]
    assert failed == ["00001", "00005", "00009"]  # the second of each batch of 4
    assert {r["error"] for r in _per_image(tmp_path / "nan") if r["status"] == "failed"} == {
        "output has NaN or infinite values"}


def test_unreadable_image_is_an_input_error_before_any_pair(data: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    images = tmp_path / "images"
    shutil.copytree(data["images"], images)
    (images / "photo_1.png").write_bytes(b"not a png")  # listed (by extension) but unreadable
    result = CliRunner().invoke(main, ["run", "--model", "mean-fill", "--masks", str(data["masks"]), "--images",
                                       str(images), "--out", str(tmp_path / "runs"), "--per-cell", "1", "--quiet",
                                       "--no-set-metrics"])
    assert result.exit_code == 1
    assert result.output == (f"error: input error: 1 images cannot be read: photo_1.png: cannot read "
                             f"'{images / 'photo_1.png'}' as an image; remove or replace them\n")
    assert not (tmp_path / "runs").exists()  # never a model failure: nothing scored, nothing written


def test_entry_point_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "site"
    (package / "demo_plugin-1.0.dist-info").mkdir(parents=True)
    (package / "demo_plugin-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: demo-plugin\nVersion: 1.0\n")
    (package / "demo_plugin-1.0.dist-info" / "entry_points.txt").write_text(
        "[benchmark.inpainters]\ngrey-plugin = demo_plugin_models:Grey\n")
    (package / "demo_plugin_models.py").write_text(MISBEHAVING_MODELS)
    monkeypatch.syspath_prepend(str(package))
    assert "grey-plugin" in list_inpainters()
    model = create_inpainter("grey-plugin")
    assert model(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), bool)).max() == 128


def test_parallel_model_processes_give_the_same_rows(data: dict[str, Path], tmp_path: Path) -> None:
    one = _run(["run", "--model", "opencv-telea", "--name", "one", *_common(data, tmp_path)])
    two = _run(["run", "--model", "opencv-telea", "--name", "two", "--workers", "2", *_common(data, tmp_path)])
    assert one.exit_code == 0 and two.exit_code == 0, one.output + two.output
    assert _without_seconds(_per_image(tmp_path / "one")) == _without_seconds(_per_image(tmp_path / "two"))


def test_wrong_evaluation_size_is_refused_before_anything_is_written(data: dict[str, Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["run", "--model", "mean-fill", "--size", "256", *_common(data, tmp_path / "runs")])
    assert result.exit_code == 1
    assert result.output.startswith("error: input error: 12 masks cannot be scored: test/01-10_B/")
    assert "512x512 but the evaluation size is 256 (use --size 512 or masks of that size)" in result.output
    assert not (tmp_path / "runs").exists()


def test_sample_row_whitens_the_holes_and_frames_each_tile() -> None:
    from inpaint_core.images import sample_row

    image = np.full((8, 8, 3), 40, np.uint8)
    output = np.full((8, 8, 3), 90, np.uint8)
    hole = np.zeros((8, 8), bool)
    hole[2:4, 2:5] = True
    row = sample_row(image, hole, output, image, tile=None)
    assert row.shape == (12, 36, 3)
    assert (row[4:6, 4:7] == 255).all() and (row[2:10, 2:10][~hole] == 40).all()
    assert (row[2:10, 14:22] == 90).all() and (row[0] == 128).all() and (row[:, 12] == 128).all()
    assert sample_row(image, hole, output, image, tile=16).shape == (20, 60, 3)


def test_pair_result_row_round_trip_and_output_checks() -> None:
    from benchmark.pairing import Pair
    from benchmark.protocol import check_output, composite, masked_input
    from benchmark.results import PER_IMAGE_COLUMNS, PairResult

    pair = Pair("00003", "10-20_N", "test/10-20_N/000001.png", "ab", "photo_2.png")
    result = PairResult.ok(pair, 0.15, {"l1": 1.23456789, "l1_hole": float("nan"), "psnr": float("inf"),
                                        "ssim": 0.5, "seconds": 0.25})
    row = result.to_row()
    assert list(row) == list(PER_IMAGE_COLUMNS) and "_composite" not in row
    assert row["l1"] == "1.234568" and row["l1_hole"] == "" and row["psnr"] == "inf" and row["lpips"] == ""
    assert PairResult.from_row(row).to_row() == row and result.as_written().metrics["l1"] == 1.234568
    failed = PairResult.failed(pair, "model raised RuntimeError: boom")
    assert failed.scored is None and failed.to_row()["seconds"] == "" and failed.to_row()["hole_ratio"] == ""
    image = np.full((4, 4, 3), 9, np.uint8)
    hole = np.zeros((4, 4), bool)
    hole[1, 2] = True
    assert masked_input(image, hole)[1, 2].tolist() == [0, 0, 0] and masked_input(image, hole)[0, 0, 0] == 9
    assert composite(np.zeros_like(image), image, hole).sum() == image.sum() - 27
    with pytest.raises(ValueError, match=r"^output is list, expected a numpy uint8 array$"):
        check_output([1], (4, 4, 3))
    with pytest.raises(ValueError, match=r"^output shape \(4, 3, 3\), expected \(4, 4, 3\)$"):
        check_output(image[:, :3], (4, 4, 3))
