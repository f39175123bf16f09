from __future__ import annotations

import dataclasses
from pathlib import Path

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
