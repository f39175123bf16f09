"""The shared core: seed streams keep the first release's entropy, records round-trip the manifest byte for
byte, atomic files get the umask's permissions, CLI options come from the dataclass fields."""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from inpaint_core.buckets import CELL_NAMES, cell_rank, sort_by_cell
from inpaint_core.cli import cli_help, dataclass_options, options_from
from inpaint_core.conventions import binarize, check_image, check_mask, hole_to_valid, white_fraction
from inpaint_core.dataset import MANIFEST_COLUMNS, Dataset, MaskRecord, manifest_text, write_manifest
from inpaint_core.files import atomic_write_text, read_json, sha256_bytes
from inpaint_core.seeds import Stream, entropy, rng


def test_streams_keep_the_first_release_entropy() -> None:
    # the salts the first release wrote inline; changing one changes every dataset, pairing and batch
    assert entropy(5, Stream.SLOT, 0, 3, 17) == [5, 0, 3, 17]
    assert entropy(5, Stream.SOURCE_ORDER, 1, 99) == [5, 1, 99, 1_000_003]
    assert entropy(5, Stream.PAIRING) == [5, 20180415]
    assert entropy(5, Stream.IMAGE_SPLIT) == [5, 7]
    assert entropy(5, Stream.IMAGE_ORDER, 2) == [5, 1, 2]
    assert entropy(5, Stream.MASK_ORDER, 2) == [5, 2, 2]
    assert entropy(5, Stream.CROP, 4, 1) == [5, 3, 4, 1]
    assert entropy(5, Stream.VALIDATION_CROP, 0, 1) == [6, 3, 0, 1]
    assert rng(5, Stream.PAIRING).permutation(10).tolist() == \
        np.random.default_rng([5, 20180415]).permutation(10).tolist()
    with pytest.raises(ValueError, match="non-negative"):
        entropy(-1, Stream.SLOT)


def test_record_round_trips_a_manifest_byte_for_byte(tmp_path: Path) -> None:
    made = MaskRecord(path="test/01-10_B/000000.png", split="test", cell="01-10_B", bin=0, bin_low=0.01,
                      bin_high=0.1, border="B", hole_ratio=0.0921784, clip="a.mp4", frame_a=216, frame_b=217,
                      source="disocclusion", flow="dis", dilation=44.75, rotation=49.3062, crop_scale=0.709109,
                      center_x=736.0, center_y=288.0, clear_border=True, seed=0, slot=0, attempt=0, sha256="ab")
    imported = MaskRecord(path="test/unbinned/x.png", split="test", border="N", hole_ratio=0.9, source="x.png",
                          slot=3, dilation=9, sha256="cd")
    text = manifest_text([made, imported])
    assert text.splitlines()[1] == ("test/01-10_B/000000.png,test,01-10_B,0,0.01,0.1,B,0.092178,a.mp4,216,217,"
                                    "disocclusion,dis,44.75,49.3062,0.709109,736.0,288.0,1,0,0,0,ab")
    assert text.splitlines()[2] == "test/unbinned/x.png,test,,,,,N,0.900000,,,,x.png,,9,,,,,,,3,,cd"
    assert write_manifest(tmp_path, [made, imported]) == sha256_bytes(text.encode())
    dataset = Dataset(tmp_path)
    assert manifest_text(dataset.records()) == text
    assert dataset.fingerprint == sha256_bytes(text.encode())
    assert dataset.records("test", binned=True) == [dataset.records()[0]]
    assert tuple(made.to_row()) == MANIFEST_COLUMNS


def test_record_of_mask_takes_cell_and_ratio_from_the_pixels() -> None:
    mask = np.zeros((200, 200), bool)
    mask[60:100, 60:100] = True  # 4 % holes, 60 px from every edge
    record = MaskRecord.of_mask("m.png", "test", mask, b"png", slot=1)
    assert (record.cell, record.bin, record.border, record.hole_ratio) == ("01-10_B", 0, "B", 0.04)
    assert record.sha256 == sha256_bytes(b"png")


def test_records_per_cell_keep_the_first_of_each_cell_in_cell_order(tmp_path: Path) -> None:
    names = ["50-60_N", "01-10_B", "50-60_N", "01-10_B", "01-10_B", ""]
    write_manifest(tmp_path, [MaskRecord(path=f"{i}.png", split="test", cell=c) for i, c in enumerate(names)])
    chosen = Dataset(tmp_path).records("test", per_cell=2)
    assert [(r.cell, r.path) for r in chosen] == [("01-10_B", "1.png"), ("01-10_B", "3.png"),
                                                  ("50-60_N", "0.png"), ("50-60_N", "2.png")]


def test_cell_order_is_nvidias_then_the_other_groups() -> None:
    assert CELL_NAMES[:3] == ("01-10_B", "01-10_N", "10-20_B") and len(CELL_NAMES) == 12
    assert sort_by_cell(["all", "train", "50-60_N", "unbinned", "01-10_N"], key=str) == \
        ["01-10_N", "50-60_N", "unbinned", "train", "all"]
    assert cell_rank("01-10_B") == 0


def test_atomic_write_respects_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o027)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o640
    assert read_json(tmp_path / "a.txt") is None and read_json(tmp_path / "missing.json") is None


def test_conventions_binarise_and_check() -> None:
    values = np.array([[0, 127, 128, 255]], np.uint8)
    assert binarize(values).tolist() == [[False, False, True, True]]
    assert binarize(values, "hole-black").tolist() == [[True, True, False, False]]
    assert white_fraction(values) == 0.5
    assert hole_to_valid(np.array([[True, False]])).tolist() == [[[0.0, 1.0]]]
    with pytest.raises(ValueError, match="bool array"):
        check_mask(np.zeros((2, 2), np.uint8))
    with pytest.raises(ValueError, match=r"output shape \(2, 2, 3\), expected \(4, 4, 3\)"):
        check_image(np.zeros((2, 2, 3), np.uint8), shape=(4, 4, 3), name="output")
    with pytest.raises(ValueError, match="polarity must be"):
        binarize(values, "auto")


@dataclass(frozen=True)
class _Options:
    count: int = field(default=3, metadata=cli_help("How many."))
    rate: float | None = field(default=None, metadata=cli_help("Rate."))
    fast: bool = field(default=False, metadata=cli_help("Go fast.", flag=True))
    check: bool = field(default=True, metadata=cli_help("Check."))
    names: tuple[str, ...] = field(default=(), metadata=cli_help("Names, comma-separated."))
    internal: int = 7


def test_cli_options_come_from_the_dataclass() -> None:
    import click

    @click.command()
    @dataclass_options(_Options)
    def command(**params: object) -> None:
        click.echo(repr(options_from(_Options, params)))

    runner = CliRunner()
    assert runner.invoke(command, []).output.strip() == repr(_Options())
    result = runner.invoke(command, ["--count", "5", "--rate", "0.5", "--fast", "--no-check", "--names", "a, b"])
    assert result.output.strip() == repr(_Options(count=5, rate=0.5, fast=True, check=False, names=("a", "b")))
    help_text = runner.invoke(command, ["--help"]).output
    assert "How many.  [default: 3]" in help_text and "--internal" not in help_text
