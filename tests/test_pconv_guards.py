"""The guards of ``pconv-baseline train`` and the ``pconv_baseline`` model: safe loading, options fixed per run
folder, checkpoint pruning and writing, sizes, ``--init``, stage 2, training masks, the end line."""
from __future__ import annotations

import builtins
import errno
import json
import pickle
import random
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner, Result

from pconv_baseline import cli
from pconv_baseline.checkpoint import rng_state, set_rng_state
from pconv_baseline.inference import PConvInpainter
from pconv_baseline.train import TrainOptions, train
import test_pconv_train as training

Setup = dict[str, Path]
setup = training.setup  # the training tests' fixture: a mask dataset with a training split, photos, VGG16 weights


def _small(setup: Setup, out: Path, **changes: object) -> TrainOptions:
    """The training tests' options with batches of one image and one step unless told."""
    return training._options(setup, out, **{"batch_size": 1, "steps": 1, **changes})


class _OpensAFile:
    """Unpickling it would call ``builtins.open(marker, "w")``: harmless, and the marker shows that it ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return builtins.open, (str(self.marker), "w")


def _hostile(path: Path, marker: Path, *, raw: bool = False) -> Path:
    """A checkpoint-like file whose unpickling would run code (``raw``: a plain pickle, not torch's zip)."""
    payload = {"model": _OpensAFile(marker), "levels": 5, "step": 2}
    path.parent.mkdir(parents=True, exist_ok=True)
    if raw:
        path.write_bytes(pickle.dumps(payload, protocol=2))
    else:
        torch.save(payload, path)
    return path


def _cli_args(options: TrainOptions) -> list[str]:
    """``pconv-baseline train`` arguments giving ``options`` (the test options differ from the defaults)."""
    args = ["train"]
    defaults = TrainOptions(images="", masks="", out="")
    for name, value in asdict(options).items():
        if name == "val_masks" or value == getattr(defaults, name) and name not in ("images", "masks", "out"):
            continue
        flag = "--" + name.replace("_", "-")
        args += [flag] if value is True else [flag, str(value)]
    return args


def _invoke(args: list[str]) -> Result:
    return CliRunner().invoke(cli.main, args)


def _one_line_error(result: Result, *parts: str) -> str:
    """The ``error: ...`` line of a failed command (exit 1, no traceback), checked to contain ``parts``."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if "error: " in line]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]


# ---------------------------------------------------------------------------------------------- safe loading


@pytest.mark.parametrize("raw", [False, True])
def test_a_weights_file_that_would_run_code_is_refused(setup: Setup, tmp_path: Path, raw: bool) -> None:
    from benchmark.cli import main as benchmark_main

    marker = tmp_path / "ran"
    hostile = _hostile(tmp_path / "weights.pt", marker, raw=raw)
    with pytest.raises(ValueError, match="refused"):
        PConvInpainter(weights=str(hostile), device="cpu")
    result = CliRunner().invoke(benchmark_main, ["run", "--model", "pconv_baseline", "--weights", str(hostile),
                                                 "--masks", str(setup["masks"]), "--images", str(setup["images"]),
                                                 "--out", str(tmp_path / "runs"), "--per-cell", "1", "--quiet",
                                                 "--no-set-metrics"])
    _one_line_error(result, "--weights", "refused")
    assert not marker.exists()


def test_init_that_would_run_code_is_refused(setup: Setup, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    hostile = _hostile(tmp_path / "stage1.pt", marker)
    result = _invoke(_cli_args(_small(setup, tmp_path / "run", stage=2, init=str(hostile))))
    _one_line_error(result, "--init", "refused", "it asks for the Python object 'io.open'")
    assert not marker.exists()


def test_resume_from_a_checkpoint_that_would_run_code_is_refused(setup: Setup, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    options = _small(setup, tmp_path / "run", steps=2)
    _hostile(tmp_path / "run" / "checkpoints" / "step_0000001.pt", marker)
    _one_line_error(_invoke(_cli_args(options)), "checkpoint", "step_0000001.pt", "refused")
    assert not marker.exists()


def test_checkpoints_hold_only_tensors_and_plain_values(setup: Setup, tmp_path: Path) -> None:
    train(_small(setup, tmp_path / "run", steps=2), progress=False)
    folder = tmp_path / "run" / "checkpoints"
    state = torch.load(folder / "step_0000002.pt", weights_only=True)  # no allow-list needed
    assert state["step"] == 2 and state["options"]["size"] == 64 and state["levels"] == 5
    weights = torch.load(folder / "weights.pt", weights_only=True)
    assert weights["model"]["encoder.0.conv.weight"].dtype == torch.float16
    assert weights["model"]["encoder.1.bn.running_var"].dtype == torch.float32
    assert (folder / "weights.pt").stat().st_size < (folder / "step_0000002.pt").stat().st_size / 5
    # the float16 file and the full checkpoint give (nearly) the same inpainting
    image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    mask = np.zeros((64, 64), dtype=bool)
    mask[20:40, 10:50] = True
    small = PConvInpainter(weights=str(folder / "weights.pt"), device="cpu")(image, mask)
    full = PConvInpainter(weights=str(folder / "step_0000002.pt"), device="cpu")(image, mask)
    assert np.abs(small.astype(int) - full.astype(int)).max() <= 2


def test_rng_states_round_trip_through_plain_values() -> None:
    state = rng_state()
    expected = (torch.rand(3), np.random.random(3), random.random())
    torch.rand(5), np.random.random(5), random.random()
    set_rng_state(state)
    assert torch.equal(torch.rand(3), expected[0]) and np.array_equal(np.random.random(3), expected[1])
    assert random.random() == expected[2]
    legacy = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    expected = (np.random.random(2), random.random())
    set_rng_state(legacy)  # the first checkpoint format (numpy's tuple) still restores
    assert np.array_equal(np.random.random(2), expected[0]) and random.random() == expected[1]


def test_a_first_format_checkpoint_still_loads_as_weights(tmp_path: Path) -> None:
    from pconv_baseline.network import PConvUNet

    net = PConvUNet(levels=5)
    old = tmp_path / "last.pt"  # numpy's RNG state as an array, as the first release saved it
    torch.save({"model": net.state_dict(), "levels": 5, "rng": {"numpy": np.random.get_state()}}, old)
    model = PConvInpainter(weights=str(old), device="cpu")
    assert torch.equal(model.net.state_dict()["encoder.0.conv.weight"], net.state_dict()["encoder.0.conv.weight"])


# ---------------------------------------------------------------------------------------------- run folder


def test_resume_with_changed_options_is_refused(setup: Setup, tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(_small(setup, out), progress=False)
    before = (out / "options.json").read_text()
    with pytest.raises(ValueError, match=r"--lr None -> 0\.001, --seed 0 -> 1\).*--overwrite.*another --out"):
        train(_small(setup, out, seed=1, lr=1e-3), progress=False)
    assert (out / "options.json").read_text() == before
    _one_line_error(_invoke(_cli_args(_small(setup, out, bf16=True))), "--bf16 False -> True",
                    "--overwrite")
    summary = train(_small(setup, out, steps=2, workers=1), progress=False)  # longer, other loader: resumes
    assert summary["start_step"] == 1 and json.loads((out / "options.json").read_text())["steps"] == 2
    summary = train(_small(setup, out, seed=1), overwrite=True, progress=False)
    assert summary["start_step"] == 0 and json.loads((out / "options.json").read_text())["seed"] == 1
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step_0000001.pt", "weights.pt"]
    recorded = json.loads((out / "options.json").read_text())
    del recorded["allow_test_masks"]  # as a run of the first release recorded it
    (out / "options.json").write_text(json.dumps(recorded))
    assert train(_small(setup, out, seed=1, allow_test_masks=True), progress=False)["start_step"] == 1


def test_no_silent_training_on_test_masks(setup: Setup, tmp_path: Path) -> None:
    options = _small(setup, tmp_path / "run", steps=1, masks=str(setup["test_only_masks"]))
    _one_line_error(_invoke(_cli_args(options)), "no training masks", "--allow-test-masks")
    assert not (tmp_path / "run" / "checkpoints").exists()
    with pytest.warns(UserWarning, match="training on its test masks"):
        train(_small(setup, tmp_path / "run", steps=1, masks=str(setup["test_only_masks"]), allow_test_masks=True),
              progress=False)
    assert json.loads((tmp_path / "run" / "options.json").read_text())["allow_test_masks"] is True


# ---------------------------------------------------------------------------------------------- options


def test_sizes_are_powers_of_two_from_64(setup: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[TrainOptions] = []
    monkeypatch.setattr(cli, "run_training", lambda options, overwrite: seen.append(options) or {})
    for size in (96, 32, 100):
        result = _invoke([*_cli_args(_small(setup, tmp_path / "run")), "--size", str(size)])
        _one_line_error(result, f"--size {size}", "power of two >= 64")
    assert not seen
    monkeypatch.undo()
    summary = train(_small(setup, tmp_path / "run128", size=128, steps=1), progress=False)
    assert summary["step"] == 1
    assert torch.load(tmp_path / "run128" / "checkpoints" / "weights.pt", weights_only=True)["levels"] == 6


def test_init_of_another_size_is_one_line(setup: Setup, tmp_path: Path) -> None:
    train(_small(setup, tmp_path / "s64", steps=1), progress=False)
    weights = tmp_path / "s64" / "checkpoints" / "weights.pt"
    options = _small(setup, tmp_path / "s128", stage=2, init=str(weights), size=128, steps=1)
    _one_line_error(_invoke(_cli_args(options)), "5-level network (size 64)", "--size 128")
    torch.save({"model": {"encoder.0.conv.weight": torch.zeros(3, 3, 3, 3)}, "levels": 5}, tmp_path / "other.pt")
    options = _small(setup, tmp_path / "other", stage=2, init=str(tmp_path / "other.pt"), steps=1)
    _one_line_error(_invoke(_cli_args(options)), "does not fit")


def test_stage_two_without_init_is_refused(setup: Setup, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="stage 2 fine-tunes a stage-1 model: give --init"):
        TrainOptions(images="i", masks="m", out="o", stage=2)
    _one_line_error(_invoke([*_cli_args(_small(setup, tmp_path / "run")), "--stage", "2"]), "--init")
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------------------------------------- writing, output


def test_a_full_disk_is_one_line_and_leaves_no_temporary_file(setup: Setup, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(state: object, target: object) -> None:
        target.write(b"\0" * 4096)  # part of the file made it (torch.save is given the open temporary file)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    options = _small(setup, tmp_path / "run")
    _one_line_error(_invoke(_cli_args(options)), "could not write", "step_0000001.pt", "No space left on device")
    assert list((tmp_path / "run" / "checkpoints").iterdir()) == []
    monkeypatch.undo()
    result = _invoke(_cli_args(options))  # the same command trains once there is space
    assert result.exit_code == 0 and result.stdout.startswith("trained steps 1-1 of 1"), result.output


def test_progress_shows_the_loss_and_the_end_line_is_readable(setup: Setup, tmp_path: Path) -> None:
    result = _invoke(_cli_args(_small(setup, tmp_path / "run", steps=2)))
    assert result.exit_code == 0, result.output
    assert "loss=" in result.stderr  # tqdm's postfix
    assert len(result.stdout.strip().splitlines()) == 1
    last = result.stdout.strip()
    assert last.startswith("trained steps 1-2 of 2 in ") and "images/s overall); final loss " in last
    assert "validation L1" in last and str(tmp_path / "run" / "checkpoints" / "weights.pt") in last
    result = _invoke(_cli_args(_small(setup, tmp_path / "run", steps=2)))
    assert result.stdout.startswith("nothing to train: the run is at step 2 of --steps 2")


def test_a_first_release_run_resumes_from_last_pt(setup: Setup, tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(_small(setup, out), progress=False)
    folder = out / "checkpoints"
    state = torch.load(folder / "step_0000001.pt", weights_only=True)
    state["rng"] = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    del state["format"], state["size"]
    torch.save(state, folder / "last.pt")  # the first release's name and RNG format
    (folder / "step_0000001.pt").unlink()
    (folder / "last.tmp").write_bytes(b"\0" * 16)  # what a killed first-release run left
    summary = train(_small(setup, out, steps=2), progress=False)
    assert summary["start_step"] == 1 and summary["step"] == 2 and not (folder / "last.tmp").exists()
