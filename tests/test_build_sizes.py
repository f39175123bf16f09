"""Other mask sizes: the border margin follows the size, is recorded, and a cell that cannot exist is
refused up front with the geometric reason (not "the raw masks are too thin")."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmark.inputs import mask_problem
from helpers import SMALL_BUILD
from inpaint_core.buckets import border_margin_for, cell_of
from inpaint_core.dataset import Dataset
from inpaint_core.maskio import read_mask, write_mask
from maskgen.augment import AugmentOptions
from maskgen.build import build_dataset
from maskgen.layout import import_masks
from maskgen.stats import measure_mask_set


def test_small_size_with_a_wide_margin(clip_dir: Path, tmp_path: Path) -> None:
    # 128 px with a 30 px margin: a 68x68 interior, 28.2 % of the mask: B cells from 30 % on cannot exist
    options = replace(SMALL_BUILD, per_cell=2, train_count=0,
                      augment=AugmentOptions(size=128, border_margin=30))
    out = tmp_path / "masks"
    result = build_dataset(clip_dir, out, options, workers=1)
    assert result.info["mask_protocol"] == "maskgen-video-128"  # the family and the size
    info = json.loads((out / "dataset.json").read_text())
    assert info["border_margin"] == 30
    refused = {s["cell"]: s["reason"] for s in info["shortfalls"]}
    assert sorted(refused) == ["30-40_B", "40-50_B", "50-60_B"]
    assert refused["30-40_B"].startswith("cannot exist: a 30 px border leaves a 68x68 interior, 28.2% of a 128x128")
    counts = info["counts"]["test"]
    assert all(counts[name] == 0 for name in refused)
    dataset = Dataset(out)
    assert dataset.border_margin == 30 and dataset.mask_protocol == "maskgen-video-128"
    for record in dataset.records("test"):
        mask = read_mask(dataset.path(record))
        assert mask.shape == (128, 128) and cell_of(mask, margin=30).name == record.cell
    assert measure_mask_set(out).border_margin == 30
    # importing the masks as a plain folder with the same margin gives the same cells
    imported = import_masks(out / "test", tmp_path / "imported", layout="folder", border_margin=30)
    assert imported["border_margin"] == 30
    assert {k: v for k, v in imported["counts"]["test"].items() if v} == {k: v for k, v in counts.items() if v}
    # by default the margin follows the size: 13 px at 128 (50 px per 512)
    default = import_masks(out / "test", tmp_path / "imported13", layout="folder")
    assert default["border_margin"] == 13


def test_import_of_mixed_sizes_records_no_single_margin(tmp_path: Path) -> None:
    # a hole 30 px from the edges: B at 256 px (25 px margin), N at 512 px (50 px margin)
    source = tmp_path / "mixed"
    source.mkdir()
    small = np.zeros((256, 256), dtype=bool)
    small[30:80, 30:80] = True
    large = np.zeros((512, 512), dtype=bool)
    large[30:130, 30:130] = True
    write_mask(source / "a_256.png", small)
    write_mask(source / "b_512.png", large)
    info = import_masks(source, tmp_path / "imported", layout="folder")
    assert info["border_margin"] is None  # each mask used the default of its own size
    assert {k: v for k, v in info["counts"]["test"].items() if v} == {"01-10_B": 1, "01-10_N": 1}
    dataset = Dataset(tmp_path / "imported")
    assert dataset.border_margin is None
    for record in dataset.records("test"):
        mask = read_mask(dataset.path(record))
        assert cell_of(mask, margin=border_margin_for(mask.shape)).name == record.cell
        assert mask_problem(dataset, record, mask.shape[0]) == ""
    same = import_masks(source, tmp_path / "same", layout="folder", border_margin=40)
    assert same["border_margin"] == 40
