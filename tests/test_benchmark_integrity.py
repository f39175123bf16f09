"""Results a user can trust: every way a run could report a number better than the truth is refused."""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bench_helpers import MEAN_FILL_COMMAND, MISBEHAVING_MODELS, cell_mask, make_images, make_mask_dataset
from benchmark.cli import main
from benchmark.leaderboard import LeaderboardError, collect_runs
from benchmark.results import drop_cut_line
from benchmark.runner import RunSettings, prepare
from benchmark.sources import command_name
from inpaint_core.dataset import Dataset
from inpaint_core.maskio import write_mask


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("integrity")
    return {"masks": make_mask_dataset(root, per_cell=2), "images": make_images(root)}


def _invoke(args: list[str]):
    return CliRunner().invoke(main, args)


def _data_args(data: dict[str, Path], masks: Path | None = None, *, per_cell: int = 1, seed: int = 0) -> list[str]:
    return ["--masks", str(masks or data["masks"]), "--images", str(data["images"]), "--per-cell", str(per_cell),
            "--seed", str(seed), "--quiet", "--no-set-metrics"]


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _copy_masks(data: dict[str, Path], tmp_path: Path) -> Path:
    copy = tmp_path / "masks"
    shutil.copytree(data["masks"], copy)
    return copy


def _manifest_rewrite(folder: Path, change) -> None:  # noqa: ANN001 - change(rows) edits the rows in place
    rows = _rows(folder / "manifest.csv")
    change(rows)
    with open(folder / "manifest.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


# -- predictions for other pairs -------------------------------------------------------------------------------


def _export_and_predict(data: dict[str, Path], tmp_path: Path, *, per_cell: int, seed: int = 0) -> Path:
    from benchmark.inpainters import MeanFill
    from inpaint_core.images import load_image, write_rgb_png
    from inpaint_core.maskio import read_mask

    export = tmp_path / "export"
    result = _invoke(["export-inputs", "--masks", str(data["masks"]), "--images", str(data["images"]),
                      "--per-cell", str(per_cell), "--seed", str(seed), "--out", str(export)])
    assert result.exit_code == 0, result.output
    record = json.loads((export / "export.json").read_text())
    assert record["pairs"]["per_cell"] == per_cell and record["pairs"]["count"] == 12 * per_cell
    for path in sorted((export / "inputs").glob("*.png")):
        write_rgb_png(export / "outputs" / path.name,
                      MeanFill()(load_image(path), read_mask(export / "masks" / path.name)))
    return export


def test_score_refuses_predictions_made_for_other_pairs(data: dict[str, Path], tmp_path: Path) -> None:
    export = _export_and_predict(data, tmp_path, per_cell=2)
    out = tmp_path / "runs"
    other_count = _invoke(["score", "--predictions", str(export / "outputs"), "--name", "m", "--out", str(out),
                           *_data_args(data, per_cell=1)])
    assert other_count.exit_code == 1 and len(other_count.output.splitlines()) == 1
    assert "the predictions answer other pairs than these" in other_count.output
    assert "--per-cell 2 there, 1 here" in other_count.output and "pairs fingerprint" in other_count.output
    other_seed = _invoke(["score", "--predictions", str(export / "outputs"), "--name", "m", "--out", str(out),
                          *_data_args(data, per_cell=2, seed=1)])
    assert other_seed.exit_code == 1 and "--seed 0 there, 1 here" in other_seed.output
    assert not out.exists()
    # the export found as the predictions' parent; the same options score all 24 pairs
    same = _invoke(["score", "--predictions", str(export / "outputs"), "--name", "m", "--out", str(out),
                    *_data_args(data, per_cell=2)])
    assert same.exit_code == 0, same.output
    assert json.loads((out / "m" / "run.json").read_text())["counts"] == {"pairs": 24, "ok": 24, "failed": 0}
    lost = _invoke(["score", "--predictions", str(export / "outputs"), "--export", str(tmp_path), "--name", "m",
                    "--out", str(out), *_data_args(data, per_cell=2)])
    assert lost.exit_code == 1 and "no export.json in" in lost.output


def test_a_new_export_replaces_the_old_inputs(data: dict[str, Path], tmp_path: Path) -> None:
    _export_and_predict(data, tmp_path, per_cell=2)
    again = _invoke(["export-inputs", "--masks", str(data["masks"]), "--images", str(data["images"]),
                     "--per-cell", "1", "--out", str(tmp_path / "export")])
    assert again.exit_code == 0
    assert len(list((tmp_path / "export" / "inputs").glob("*.png"))) == 12  # not 24: no stale inputs
    assert len(list((tmp_path / "export" / "outputs").glob("*.png"))) == 24  # the user's files are kept


def test_prediction_links_out_of_the_folder_fail_their_pair(data: dict[str, Path], tmp_path: Path) -> None:
    export = _export_and_predict(data, tmp_path, per_cell=1)
    outside = tmp_path / "elsewhere.png"
    shutil.move(export / "outputs" / "00003.png", outside)
    os.symlink(outside, export / "outputs" / "00003.png")
    result = _invoke(["score", "--predictions", str(export / "outputs"), "--name", "m", "--out",
                      str(tmp_path / "runs"), *_data_args(data)])
    assert result.exit_code == 0, result.output
    failed = [row for row in _rows(tmp_path / "runs" / "m" / "per_image.csv") if row["status"] == "failed"]
    assert [row["pair_id"] for row in failed] == ["00003"]
    assert failed[0]["error"] == f"prediction 00003.png is a link to '{outside}', outside the predictions folder"


# -- ranking, failures -----------------------------------------------------------------------------------------


def test_partial_runs_are_never_ranked_above_complete_runs(data: dict[str, Path], tmp_path: Path) -> None:
    plugin = tmp_path / "models.py"
    plugin.write_text(MISBEHAVING_MODELS + "\n\nclass Identity:\n    name = 'identity-all'\n"
                      "    def __call__(self, image, mask):\n        return image\n")
    runs = tmp_path / "runs"
    for spec in ("RaisesOnLargeHoles", "Identity"):
        result = _invoke(["run", "--model", f"{plugin}:{spec}", "--out", str(runs), *_data_args(data)])
        assert result.exit_code == 0, result.output
    # the partial run (6 of 12 pairs failed, the large holes) has the lower mean L1 ...
    board = collect_runs([runs])
    partial, complete = sorted(board.runs, key=lambda r: r.complete)
    assert partial.failures == 6 and complete.failures == 0
    assert partial.values["all"]["l1"] < complete.values["all"]["l1"]
    # ... and is still listed after the complete run, without a rank
    result = _invoke(["leaderboard", str(runs), "-o", str(tmp_path / "board.csv")])
    assert result.exit_code == 0, result.output
    rows = _rows(tmp_path / "board.csv")
    assert [(r["rank"], r["status"], r["model"], r["failures"]) for r in rows] == [
        ("1", "complete", "identity-all", "0"), ("", "partial", "raises", "6")]
    markdown = (tmp_path / "board.md").read_text()
    assert markdown.index("identity-all") < markdown.index("Partial runs, not ranked") < markdown.index("| raises |")


def test_a_run_where_every_pair_failed_exits_non_zero_and_leaves_the_leaderboard(
        data: dict[str, Path], tmp_path: Path) -> None:
    plugin = tmp_path / "models.py"
    plugin.write_text(MISBEHAVING_MODELS)
    runs = tmp_path / "runs"
    failed = _invoke(["run", "--model", f"{plugin}:WrongShape", "--out", str(runs), *_data_args(data)])
    assert failed.exit_code == 1
    assert "failed (12): output shape (100, 512, 3), expected (512, 512, 3)" in failed.output
    assert "error: no pair was scored: all 12 failed (1 distinct reason" in failed.output
    missing_script = _invoke(["run", "--model-cmd", f"{sys.executable} {tmp_path / 'nosuch.py'} {{input_dir}} "
                              "{mask_dir} {output_dir}", "--name", "nosuch", "--out", str(runs), *_data_args(data)])
    assert missing_script.exit_code == 1 and "no pair was scored" in missing_script.output
    assert _invoke(["run", "--model", "mean-fill", "--out", str(runs), *_data_args(data)]).exit_code == 0
    board = collect_runs([runs])
    assert [record.name for record in board.runs] == ["mean-fill"]
    assert len(board.notes) == 2 and all("all 12 pairs failed" in note for note in board.notes)
    result = _invoke(["leaderboard", str(runs), "-o", str(tmp_path / "board.csv")])
    assert result.exit_code == 0 and "note: left out wrong-shape" in result.output
    assert [row["model"] for row in _rows(tmp_path / "board.csv")] == ["mean-fill"]


# -- tampering ---------------------------------------------------------------------------------------------------


def test_a_changed_mask_file_is_refused_before_the_run(data: dict[str, Path], tmp_path: Path) -> None:
    masks = _copy_masks(data, tmp_path)
    record = Dataset(masks).records("test", binned=True)[0]
    write_mask(masks / record.path, cell_mask(0, "B", variant=3))  # still in its cell, other pixels
    result = _invoke(["run", "--model", "mean-fill", "--out", str(tmp_path / "runs"), *_data_args(data, masks)])
    assert result.exit_code == 1 and len(result.output.splitlines()) == 1
    assert result.output.startswith(f"error: input error: 1 masks cannot be scored: {record.path}: not the file "
                                    "the manifest records (sha256 differs")
    assert not (tmp_path / "runs").exists()


def test_masks_outside_their_cell_are_refused(data: dict[str, Path], tmp_path: Path) -> None:
    """An inverted mask under 01-10 (ratio 0.94) and an empty mask: each is refused even when whoever swapped
    the file also wrote its sha256 into the manifest."""
    from inpaint_core.files import sha256_file

    masks = _copy_masks(data, tmp_path)
    first, second = Dataset(masks).records("test", binned=True)[:2]
    inverted = ~cell_mask(0, "B")
    write_mask(masks / first.path, inverted)
    write_mask(masks / second.path, np.zeros_like(inverted))

    def reseal(rows: list[dict[str, str]]) -> None:
        for row in rows:
            row["sha256"] = sha256_file(masks / row["path"])
    _manifest_rewrite(masks, reseal)
    with pytest.raises(ValueError) as caught:
        prepare(RunSettings(masks=masks, images=data["images"]))
    message = str(caught.value)
    assert message.startswith("input error: 2 masks cannot be scored: ")
    ratio = inverted.mean()
    assert (f"{first.path}: filed under 01-10_B (0.01, 0.1] but its hole ratio {ratio:.4f} and border class N "
            "mean it is in no cell") in message
    assert f"{second.path}: filed under 01-10_B (0.01, 0.1] but its hole ratio 0.0000 and border class B" in message


@pytest.mark.parametrize("path", ["../../../etc/passwd", "/etc/passwd", "test/../../outside.png"])
def test_manifest_paths_stay_inside_the_dataset(data: dict[str, Path], tmp_path: Path, path: str) -> None:
    masks = _copy_masks(data, tmp_path)

    def escape(rows: list[dict[str, str]]) -> None:
        rows[0]["path"] = path
    _manifest_rewrite(masks, escape)
    result = _invoke(["run", "--model", "mean-fill", "--out", str(tmp_path / "runs"), *_data_args(data, masks)])
    assert result.exit_code == 1 and len(result.output.splitlines()) == 1
    assert f"line 2: mask path {path!r}" in result.output
    assert ("is absolute" if path.startswith("/") else "leaves the dataset folder ('..')") in result.output


def test_a_mask_linked_out_of_the_dataset_is_refused(data: dict[str, Path], tmp_path: Path) -> None:
    masks = _copy_masks(data, tmp_path)
    record = Dataset(masks).records("test", binned=True)[0]
    outside = tmp_path / "outside.png"
    shutil.move(masks / record.path, outside)
    os.symlink(outside, masks / record.path)
    with pytest.raises(ValueError, match=f"mask path '{record.path}' of .* leads out of the dataset folder"):
        prepare(RunSettings(masks=masks, images=data["images"]))


def test_leaderboard_refuses_a_run_whose_files_disagree(data: dict[str, Path], tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for model in ("mean-fill", "opencv-telea"):
        assert _invoke(["run", "--model", model, "--out", str(runs), *_data_args(data)]).exit_code == 0
    summary = runs / "mean-fill" / "summary.csv"
    original = summary.read_bytes()
    rows = _rows(summary)
    rows[-1]["l1_mean"] = "0.010000"  # mean-fill would rank first
    with open(summary, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(LeaderboardError, match="summary.csv is not the file run.json recorded"):
        collect_runs([runs])
    # without the recorded sha256 (a run from an older release) the recomputation still catches it
    info = json.loads((runs / "mean-fill" / "run.json").read_text())
    del info["files"]
    (runs / "mean-fill" / "run.json").write_text(json.dumps(info))
    with pytest.raises(LeaderboardError, match=r"summary.csv gives l1_mean '0.010000' for all but per_image.csv "
                                               r"gives '\d+\.\d{6}'"):
        collect_runs([runs])
    summary.write_bytes(original)
    per_image = runs / "mean-fill" / "per_image.csv"
    per_image.write_text("\n".join(per_image.read_text().splitlines()[:-1]) + "\n")  # a row dropped
    with pytest.raises(LeaderboardError, match="per_image.csv does not hold one row per pair"):
        collect_runs([runs])


# -- options -------------------------------------------------------------------------------------------------


def test_missing_metric_weights_and_bad_timeouts_are_errors(data: dict[str, Path], tmp_path: Path) -> None:
    args = ["run", "--model", "mean-fill", "--masks", str(data["masks"]), "--images", str(data["images"]),
            "--out", str(tmp_path), "--per-cell", "1", "--quiet"]
    weights = _invoke([*args, "--vgg-weights", "/nonexistent.pth"])
    assert weights.exit_code == 1 and weights.output.startswith("error: --vgg-weights '/nonexistent.pth' does not exist")
    for value in ("0", "-3"):
        timeout = _invoke([*args, "--timeout", value])
        assert timeout.exit_code == 2 and "must be a positive number of seconds" in timeout.output
    per_cell = _invoke([*args, "--per-cell", "0"])
    assert per_cell.exit_code == 1 and "--per-cell must be at least 1, got 0" in per_cell.output


def test_command_names_differ_by_command() -> None:
    first = command_name("python /x/infer.py {input_dir} {mask_dir} {output_dir}")
    assert first.startswith("infer-") and len(first) == len("infer-") + 8
    assert command_name("python /x/infer.py --big {input_dir} {mask_dir} {output_dir}") != first
    assert command_name("./run_model {input_dir} {mask_dir} {output_dir}").startswith("run_model-")


# -- the external command --------------------------------------------------------------------------------------

FLAKY_COMMAND = MEAN_FILL_COMMAND.replace(
    "for path in sorted(inputs.glob(\"*.png\")):",
    "calls = Path(sys.argv[4])\ncalls.write_text(calls.read_text() + str(len(list(inputs.glob('*.png')))) + '\\n' "
    "if calls.exists() else str(len(list(inputs.glob('*.png')))) + '\\n')\n"
    "print('working on', len(list(inputs.glob('*.png'))), 'images', flush=True)\n"
    "for number, path in enumerate(sorted(inputs.glob(\"*.png\"))):\n"
    "    if number == 5 and Path(sys.argv[5]).exists():\n        raise SystemExit('crashed (simulated)')")


def test_command_output_is_streamed_logged_and_a_crash_resumes(data: dict[str, Path], tmp_path: Path) -> None:
    script = tmp_path / "flaky.py"
    script.write_text(FLAKY_COMMAND)
    calls, crash = tmp_path / "calls.txt", tmp_path / "crash"
    crash.touch()
    command = f"{sys.executable} {script} {{input_dir}} {{mask_dir}} {{output_dir}} {calls} {crash}"
    args = ["run", "--model-cmd", command, "--out", str(tmp_path / "runs"), *_data_args(data)]
    first = _invoke(args)
    name = command_name(command)
    folder = tmp_path / "runs" / name
    assert first.exit_code == 0  # 5 pairs scored, 7 failed with the exit status
    assert "working on 12 images" in first.output and "crashed (simulated)" in first.output
    log = (folder / "command" / "command.log").read_text()
    assert "working on 12 images" in log and "crashed (simulated)" in log
    errors = {row["error"] for row in _rows(folder / "per_image.csv") if row["status"] == "failed"}
    assert errors == {f"command exited with status 1 (its output: {folder / 'command' / 'command.log'})"}
    # started again after the cause is gone (--overwrite: the failed pairs are scored anew), the command
    # runs for all 12 (a finished run's folders are removed) ...
    crash.unlink()
    assert _invoke([*args, "--overwrite"]).exit_code == 0
    assert calls.read_text().split() == ["12", "12"]
    assert not (folder / "command" / "inputs").exists() and (folder / "command" / "command.log").is_file()


def test_an_interrupted_command_run_resumes_from_the_outputs_it_left(data: dict[str, Path], tmp_path: Path) -> None:
    from benchmark.runner import score_run
    from benchmark.sources import CommandModel

    script = tmp_path / "flaky.py"
    script.write_text(FLAKY_COMMAND)
    calls, crash = tmp_path / "calls.txt", tmp_path / "crash"
    command = f"{sys.executable} {script} {{input_dir}} {{mask_dir}} {{output_dir}} {calls} {crash}"
    prepared = prepare(RunSettings(masks=data["masks"], images=data["images"], per_cell=1))
    folder = tmp_path / "run"
    model = {"name": "flaky", "kind": "command", "spec": command}
    crash.touch()

    class Interrupted(CommandModel):
        def outputs(self, requests):  # the harness is stopped right after the command
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        score_run(prepared, folder, Interrupted(command, work_dir=folder / "command"), model=model)
    assert len(list((folder / "command" / "outputs").glob("*.png"))) == 5
    crash.unlink()
    info = score_run(prepared, folder, CommandModel(command, work_dir=folder / "command"), model=model)
    assert info["counts"] == {"pairs": 12, "ok": 12, "failed": 0}
    assert calls.read_text().split() == ["12", "7"]  # the second call only for the pairs without an output


def test_command_timeout_is_for_the_whole_command_and_kills_its_children(data: dict[str, Path],
                                                                          tmp_path: Path) -> None:
    script = tmp_path / "slow.py"
    pid_file = tmp_path / "child.pid"
    script.write_text("import subprocess, sys, time\n"
                      f"child = subprocess.Popen(['sleep', '300'])\nopen({str(pid_file)!r}, 'w').write(str(child.pid))\n"
                      "time.sleep(300)\n")
    started = time.monotonic()
    result = _invoke(["run", "--model-cmd", f"{sys.executable} {script} {{input_dir}} {{mask_dir}} {{output_dir}}",
                      "--name", "slow", "--timeout", "2", "--out", str(tmp_path / "runs"), *_data_args(data)])
    assert time.monotonic() - started < 30  # 2 s for the command, not 2 s x 12 pairs
    assert result.exit_code == 1 and "failed (12): timeout: command did not finish within 2 s" in result.output
    child = int(pid_file.read_text())
    assert not _alive(child), "the command's child survived the timeout"


def _alive(pid: int) -> bool:
    status = Path(f"/proc/{pid}/stat")
    return status.exists() and status.read_text().split(")")[-1].split()[0] != "Z"


CHILD_AND_NOISE_MODEL = '''
import subprocess


class Spawner:
    name = "spawner"

    def __init__(self):
        self.child = subprocess.Popen(["sleep", "300"])
        with open(PID_FILE, "w") as handle:
            handle.write(str(self.child.pid))

    def __call__(self, image, mask):
        print("NOISE FROM THE MODEL", flush=True)
        return image
'''


def test_model_children_end_with_the_run_and_model_prints_stay_off_stdout(data: dict[str, Path],
                                                                          tmp_path: Path) -> None:
    plugin = tmp_path / "spawner.py"
    pid_file = tmp_path / "child.pid"
    plugin.write_text(f"PID_FILE = {str(pid_file)!r}\n" + CHILD_AND_NOISE_MODEL)
    finished = subprocess.run([sys.executable, "-m", "benchmark.cli", "run", "--model", f"{plugin}:Spawner",
                               "--out", str(tmp_path / "runs"), *_data_args(data)],
                              capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert "NOISE FROM THE MODEL" not in finished.stdout and "NOISE FROM THE MODEL" in finished.stderr
    assert finished.stdout.startswith("spawner: 12 pairs scored, 0 failed")
    deadline = time.monotonic() + 5
    while _alive(int(pid_file.read_text())) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(int(pid_file.read_text())), "the model's child outlived the run"


def test_a_row_cut_by_a_full_disk_is_dropped_before_appending(data: dict[str, Path], tmp_path: Path) -> None:
    from benchmark.runner import CallableProvider, score_run

    prepared = prepare(RunSettings(masks=data["masks"], images=data["images"], per_cell=1))
    model = {"name": "flat", "kind": "python", "spec": "test"}
    calls = {"n": 0}

    def stops_after_four(pair, image, mask):  # noqa: ANN001
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return np.full_like(image, 100), 0.5

    with pytest.raises(KeyboardInterrupt):
        score_run(prepared, tmp_path / "run", CallableProvider(stops_after_four), model=model)
    partial = tmp_path / "run" / "per_image.partial.csv"
    partial.write_bytes(partial.read_bytes()[:-30])  # the disk filled up in the middle of the fourth row
    info = score_run(prepared, tmp_path / "run", CallableProvider(lambda p, i, m: (np.full_like(i, 100), 0.5)),
                     model=model)
    assert info["counts"] == {"pairs": 12, "ok": 12, "failed": 0}
    whole = score_run(prepared, tmp_path / "whole", CallableProvider(lambda p, i, m: (np.full_like(i, 100), 0.5)),
                      model=model)
    assert whole["files"]["per_image.csv"] == info["files"]["per_image.csv"]
    cut = tmp_path / "cut.csv"
    cut.write_bytes(b"a,b\n1,2\n3,")
    drop_cut_line(cut)
    assert cut.read_bytes() == b"a,b\n1,2\n"


def test_one_run_at_a_time_in_a_run_folder(data: dict[str, Path], tmp_path: Path) -> None:
    from benchmark.runner import CallableProvider, score_run
    from inpaint_core.outdir import FolderBusyError

    prepared = prepare(RunSettings(masks=data["masks"], images=data["images"], per_cell=1))
    model = {"name": "flat", "kind": "python", "spec": "test"}
    refusals: list[str] = []

    def second_run_meanwhile(pair, image, mask):  # noqa: ANN001
        if not refusals:
            with pytest.raises(FolderBusyError) as caught:
                score_run(prepared, tmp_path / "run", CallableProvider(lambda p, i, m: (i, 0.0)), model=model)
            refusals.append(str(caught.value))
        return np.full_like(image, 100), 0.5

    info = score_run(prepared, tmp_path / "run", CallableProvider(second_run_meanwhile), model=model)
    assert info["counts"]["ok"] == 12 and len(refusals) == 1
    assert f"pid {os.getpid()}" in refusals[0] and "benchmark run of flat" in refusals[0]
    assert not (tmp_path / "run" / ".lock").exists()


def test_there_is_a_version() -> None:
    version = CliRunner().invoke(main, ["--version"], prog_name="benchmark")
    assert version.exit_code == 0 and version.output.startswith("benchmark 0.")


def test_model_processes_end_when_the_harness_is_killed(data: dict[str, Path], tmp_path: Path) -> None:
    """kill -9 of the harness: the model process and the process the model started end with it."""
    import signal

    plugin = tmp_path / "spawner.py"
    pid_file = tmp_path / "child.pid"
    plugin.write_text(f"PID_FILE = {str(pid_file)!r}\n" + CHILD_AND_NOISE_MODEL.replace(
        "        return image", "        import time\n        time.sleep(300)\n        return image"))
    harness = subprocess.Popen([sys.executable, "-m", "benchmark.cli", "run", "--model", f"{plugin}:Spawner",
                                "--out", str(tmp_path / "runs"), *_data_args(data)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    model_pid = os.getpgid(int(pid_file.read_text()))  # the model leads the group its child is in
    assert model_pid != os.getpgid(harness.pid)
    time.sleep(1)  # the model is inside its first call
    harness.send_signal(signal.SIGKILL)
    harness.wait()
    deadline = time.monotonic() + 10
    while (_alive(model_pid) or _alive(int(pid_file.read_text()))) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(model_pid) and not _alive(int(pid_file.read_text()))


def test_a_model_command_and_what_it_started_end_when_the_harness_is_killed(data: dict[str, Path],
                                                                          tmp_path: Path) -> None:
    """kill -9 of the harness during --model-cmd: the command's own child (a shell's ``sleep`` here, as
    ``conda run`` starts ``python``) ends too, not only the command."""
    import signal

    pid_file = tmp_path / "grandchild.pid"
    command = (f"sh -c 'sleep 300 & echo $! > {pid_file}; wait' sh {{input_dir}} {{mask_dir}} {{output_dir}}")
    harness = subprocess.Popen([sys.executable, "-m", "benchmark.cli", "run", "--model-cmd", command, "--name", "sleeper",
                                "--out", str(tmp_path / "runs"), *_data_args(data)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (pid_file.exists() and pid_file.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.2)
    grandchild = int(pid_file.read_text())
    assert _alive(grandchild) and os.getpgid(grandchild) != os.getpgid(harness.pid)
    harness.send_signal(signal.SIGKILL)
    harness.wait()
    deadline = time.monotonic() + 10
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(grandchild)


def test_a_model_command_keeps_its_exit_status_and_a_missing_program_is_named(data: dict[str, Path],
                                                                             tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    exits = _invoke(["run", "--model-cmd", "sh -c 'exit 3' sh {input_dir} {mask_dir} {output_dir}", "--name", "three",
                     "--out", str(runs), *_data_args(data)])
    assert exits.exit_code == 1
    errors = {row["error"] for row in _rows(runs / "three" / "per_image.csv")}
    assert errors == {f"command exited with status 3 (its output: {runs / 'three' / 'command' / 'command.log'})"}
    missing = _invoke(["run", "--model-cmd", "no-such-program-xyz {input_dir} {mask_dir} {output_dir}", "--name", "gone",
                       "--out", str(runs), *_data_args(data)])
    assert missing.exit_code == 1
    assert {row["error"] for row in _rows(runs / "gone" / "per_image.csv")} == {
        "cannot run command: no executable 'no-such-program-xyz'"}


def test_the_image_set_fingerprint_is_over_paths_and_file_hashes(data: dict[str, Path]) -> None:
    import hashlib

    prepared = prepare(RunSettings(masks=data["masks"], images=data["images"], per_cell=1))
    digest = hashlib.sha256()
    for path in sorted(data["images"].glob("*.png")):
        digest.update(f"{path.name}\0{hashlib.sha256(path.read_bytes()).hexdigest()}\n".encode())
    assert prepared.image_fingerprint == digest.hexdigest() and prepared.image_count == 3
