from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from helpers import SMALL_BUILD, manifest_rows
from maskgen.build import build_dataset
from inpaint_core.buckets import CELLS
from maskgen.layout import LayoutError, detect_polarity, export_nvidia, import_masks, nvidia_cell
from inpaint_core.maskio import read_mask, write_mask


@pytest.fixture(scope="module")
def small_dataset(clip_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("layout") / "masks"
    build_dataset(clip_dir, out, SMALL_BUILD)
    return out


def test_nvidia_block_order() -> None:
    assert nvidia_cell(0).name == "01-10_B"
    assert nvidia_cell(1999).name == "01-10_N"
    assert nvidia_cell(2000).name == "10-20_B"
    assert nvidia_cell(11999).name == "50-60_N"
    assert nvidia_cell(7, block_size=3).name == "10-20_B"


def test_export_import_round_trip(small_dataset: Path, tmp_path: Path) -> None:
    export_nvidia(small_dataset, tmp_path / "nvidia")
    names = sorted(p.name for p in (tmp_path / "nvidia").glob("*.png"))
    assert names == [f"{i:05d}.png" for i in range(36)]
    marker = json.loads((tmp_path / "nvidia" / "export.json").read_text())
    assert marker["dataset_fingerprint"] == json.loads((small_dataset / "dataset.json").read_text())["fingerprint"]
    assert marker["block_size"] == 3 and marker["files"] == 36
    info = import_masks(tmp_path / "nvidia", tmp_path / "back")
    assert info["layout"] == "nvidia" and info["block_size"] == 3 and info["polarity"] == "hole-white"
    assert info["layout_mismatches"] == []
    assert info["counts"]["test"] == {cell.name: 3 for cell in CELLS}
    original = {r["sha256"]: r["cell"] for r in manifest_rows(small_dataset) if r["split"] == "test"}
    for row in manifest_rows(tmp_path / "back"):
        assert original[row["sha256"]] == row["cell"]  # same pixels, same bytes, same cell


def test_export_refuses_unequal_blocks(small_dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(LayoutError, match="fewer than 4"):
        export_nvidia(small_dataset, tmp_path / "x", per_cell=4)


def test_import_detects_black_holes(small_dataset: Path, tmp_path: Path) -> None:
    inverted = tmp_path / "inverted"
    inverted.mkdir()
    rows = [r for r in manifest_rows(small_dataset) if r["split"] == "test"]
    for index, row in enumerate(rows):
        write_mask(inverted / f"mask_{index}.png", ~read_mask(small_dataset / row["path"]))
    info = import_masks(inverted, tmp_path / "imported")
    assert info["polarity"] == "hole-black" and info["layout"] == "folder"
    assert info["counts"]["test"] == {cell.name: 3 for cell in CELLS}


def test_polarity_needs_a_clear_majority() -> None:
    assert detect_polarity([0.1, 0.3, 0.55]) == "hole-white"
    assert detect_polarity([0.9, 0.7, 0.45]) == "hole-black"
    with pytest.raises(LayoutError, match="--polarity"):
        detect_polarity([0.5, 0.48, 0.52])


def test_import_grey_and_unreadable_files(tmp_path: Path) -> None:
    import cv2

    source = tmp_path / "src"
    source.mkdir()
    grey = np.zeros((200, 200), dtype=np.uint8)
    grey[80:120, 80:120] = 200  # 4% holes, grey value above the threshold
    grey[0, 0] = 90  # a grey pixel below it
    cv2.imwrite(str(source / "a.png"), grey)
    (source / "b.png").write_bytes(b"not a png")
    info = import_masks(source, tmp_path / "out", polarity="hole-white")
    assert info["files_with_grey_pixels"] == 1
    assert [s["path"] for s in info["skipped"]] == ["b.png"]
    row, = manifest_rows(tmp_path / "out")
    assert row["cell"] == "01-10_B" and float(row["hole_ratio"]) == 0.04
    assert set(np.unique(cv2.imread(str(tmp_path / "out" / row["path"]), 0))) == {0, 255}


@pytest.mark.shared_data
def test_nvidia_sample_lands_in_its_cells(shared_data_dir: Path, tmp_path: Path) -> None:
    info = import_masks(shared_data_dir / "masks" / "nvidia_test_sample", tmp_path / "nvidia")
    assert info["layout"] == "nvidia" and info["polarity"] == "hole-white" and info["block_size"] == 1000
    assert info["layout_mismatches"] == []
    assert info["counts"]["test"] == {cell.name: 10 for cell in CELLS}
    assert json.loads((tmp_path / "nvidia" / "dataset.json").read_text())["counts"]["test_total"] == 120
