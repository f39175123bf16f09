from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from click.testing import CliRunner

from helpers import SMALL_BUILD
from maskgen.build import build_dataset
from maskgen.cli import main


def test_missing_video_dir_is_a_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["build", "--video-dir", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"error: video folder {str(tmp_path / 'nope')!r} does not exist"]


def test_unknown_flow_is_a_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["build", "--video-dir", str(tmp_path), "--out", str(tmp_path / "o"),
                                       "--flow", "nosuch"])
    assert result.exit_code == 1 and result.output.startswith("error: unknown flow method 'nosuch'")
    assert len(result.output.strip().splitlines()) == 1


def test_stats_and_import_commands(clip_dir: Path, tmp_path: Path) -> None:
    build_dataset(clip_dir, tmp_path / "ds", SMALL_BUILD)
    stats = CliRunner().invoke(main, ["stats", str(tmp_path / "ds")])
    assert stats.exit_code == 0, stats.output
    lines = stats.output.splitlines()
    assert lines[0].split()[:2] == ["cell", "count"]
    assert lines[1].split()[:2] == ["01-10_B", "3"]
    assert "test cells total: 36" in stats.output
    exported = CliRunner().invoke(main, ["export", str(tmp_path / "ds"), "--out", str(tmp_path / "nv")])
    assert exported.exit_code == 0 and "36 masks" in exported.output
    imported = CliRunner().invoke(main, ["import", str(tmp_path / "nv"), "--out", str(tmp_path / "back")])
    assert imported.exit_code == 0 and "layout check: 0 files outside" in imported.output
    again = CliRunner().invoke(main, ["import", str(tmp_path / "nv"), "--out", str(tmp_path / "back")])
    assert again.exit_code == 1 and again.output.startswith("error: ") and "--overwrite" in again.output


def test_build_options_come_from_the_options_dataclasses() -> None:
    from inpaint_core.cli import cli_help
    from maskgen.augment import AugmentOptions
    from maskgen.build import BuildOptions
    from maskgen.extract import ExtractOptions
    from maskgen.occlusion import OcclusionOptions

    key, = cli_help("").keys()  # where a field's command-line settings are kept
    options = {param.name: param for param in main.commands["build"].params}
    for cls in (BuildOptions, ExtractOptions, AugmentOptions, OcclusionOptions):
        for item in dataclasses.fields(cls):
            if key in item.metadata:
                assert options[item.name].default == (",".join(item.default) if item.name == "test_clips"
                                                      else item.default)
                assert options[item.name].help == item.metadata[key]["help"]
    assert list(options)[:5] == ["video_dir", "out", "seed", "workers", "per_cell"]
    assert list(options)[-2:] == ["overwrite", "quiet"]


def test_per_cell_below_one_is_a_one_line_error(tmp_path: Path) -> None:
    for value in ("0", "-3"):
        result = CliRunner().invoke(main, ["build", "--video-dir", str(tmp_path), "--out", str(tmp_path / "o"),
                                           "--per-cell", value])
        assert result.exit_code == 1
        assert result.output.strip().splitlines() == [f"error: per_cell (--per-cell) must be >= 1, got {value}"]
    assert not (tmp_path / "o").exists()


def test_version_on_every_command_line() -> None:
    import importlib

    from inpaint_core import __version__

    for module in ("maskgen.cli", "benchmark.cli", "pconv_baseline.cli"):
        group = importlib.import_module(module).main
        result = CliRunner().invoke(group, ["--version"], prog_name="tool")
        assert result.exit_code == 0, (module, result.output)
        assert result.output.startswith(f"tool {__version__} (inpaint-masks-toolkit, Python ")


@pytest.mark.parametrize("module", ["maskgen.cli", "benchmark.cli", "pconv_baseline.cli"])
def test_every_option_of_every_command_has_help(module: str) -> None:
    import importlib

    import click

    group = importlib.import_module(module).main
    commands = [group, *group.commands.values()]
    missing = [f"{command.name} {param.opts[0]}" for command in commands for param in command.params
               if isinstance(param, click.Option) and not (param.help or "").strip()]
    assert missing == []
    assert all((command.help or "").strip() for command in commands)


def test_opencv_log_lines_are_kept_off_the_terminal(tmp_path: Path) -> None:
    import subprocess
    import sys

    import numpy as np

    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "corrupt.mp4").write_bytes(np.random.default_rng(0).bytes(4096))
    result = subprocess.run([sys.executable, "-m", "maskgen.cli", "build", "--video-dir", str(tmp_path / "clips"),
                             "--out", str(tmp_path / "out"), "--quiet"], capture_output=True, text=True)
    assert result.returncode == 1
    # was: "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x...] moov atom not found" and "[ WARN:0@0.1] global cap.cpp:212 ..." first
    assert result.stderr.splitlines() == [f"error: no usable clip under {str(tmp_path / 'clips')!r}: corrupt.mp4: "
                                          "OpenCV/FFmpeg cannot open it as a video (corrupt or unsupported codec)"]
