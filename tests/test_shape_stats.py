from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from inpaint_core.buckets import border_margin_for
from inpaint_core.maskio import write_mask
from inpaint_core.shape import component_count, mask_shape, stroke_width, thickness
from maskgen.augment import dilate
from maskgen.cli import main
from maskgen.stats import MaskSet, dataset_stats, likeness, measure_mask_set, normalised_wasserstein


def test_components_and_stroke_width_of_bands() -> None:
    mask = np.zeros((100, 100), dtype=bool)
    mask[10:90, 20:26] = True  # 6 px wide band
    mask[10:90, 60:66] = True
    assert component_count(mask) == 2
    # boundary pixels: 2 x 80 (sides) + 2 x 4 (ends, corners already counted) per band
    assert stroke_width(mask) == 2 * 960 / (2 * (2 * 80 + 2 * 4))
    assert component_count(np.zeros((5, 5), dtype=bool)) == 0
    assert stroke_width(np.zeros((5, 5), dtype=bool)) == 0.0


def test_hole_cut_by_the_image_edge_is_not_thinned() -> None:
    mask = np.zeros((50, 50), dtype=bool)
    mask[:, :10] = True  # 10 px band along the left edge
    assert stroke_width(mask) == 2 * 500 / 50


@pytest.mark.parametrize("half", [0, 1, 3, 6])
def test_thickness_of_a_band_is_exact(half: int) -> None:
    # a band 2k+1 px wide from the top edge to the bottom edge: distances 1, 2, ..., k+1, ..., 2, 1 across it
    width = 2 * half + 1
    mask = np.zeros((40, 60), dtype=bool)
    mask[:, 20:20 + width] = True
    expected = 2 * (half + 1) ** 2 / width
    assert thickness(mask) == pytest.approx(expected, abs=1e-4)
    shape = mask_shape(mask)
    assert shape.components == 1 and shape.largest_share == 1.0
    assert shape.thickness == pytest.approx(expected, abs=1e-4)
    assert shape.boundary_per_pixel == pytest.approx(2 / shape.stroke_width)


def _disks(radii: list[int], size: int = 256) -> np.ndarray:
    mask = np.zeros((size, size), dtype=bool)
    yy, xx = np.mgrid[:size, :size]
    for index, radius in enumerate(radii):
        cy, cx = 50 + 80 * (index // 3), 50 + 80 * (index % 3)
        mask |= (yy - cy) ** 2 + (xx - cx) ** 2 <= radius ** 2
    return mask


@pytest.mark.parametrize("radius", [8, 15, 30])
def test_disk_features(radius: int) -> None:
    shape = mask_shape(_disks([radius]))
    assert shape.components == 1 and shape.largest_share == 1.0
    # mean distance to the outside of a disk of radius R is R / 3 (+ about half a pixel on the grid)
    assert shape.thickness == pytest.approx(2 * radius / 3 + 1, abs=0.6)
    assert shape.hole_ratio == pytest.approx(np.pi * radius ** 2 / 256 ** 2, rel=0.05)


def test_component_count_and_largest_share_of_a_set_of_disks() -> None:
    shape = mask_shape(_disks([10, 10, 10, 20]))
    assert shape.components == 4
    assert shape.largest_share == pytest.approx(4 / 7, abs=0.02)  # areas 1 : 1 : 1 : 4
    empty = mask_shape(np.zeros((8, 8), dtype=bool))
    assert (empty.components, empty.largest_share, empty.thickness) == (0, 0.0, 0.0)
    assert thickness(np.ones((4, 4), dtype=bool)) == float("inf")


def test_border_margin_follows_the_size() -> None:
    assert [border_margin_for(s) for s in (512, 256, 1024, 128)] == [50, 25, 100, 13]  # 12.5 rounds up
    assert border_margin_for((512, 768)) == 50


def test_normalised_wasserstein_known_values() -> None:
    reference = np.array([0.0, 2.0, 4.0, 6.0])  # std sqrt(5)
    assert normalised_wasserstein(reference, reference) == 0.0
    assert normalised_wasserstein(reference + 3.0, reference) == pytest.approx(3.0 / np.sqrt(5))
    assert normalised_wasserstein(np.array([1.0]), np.array([1.0, 1.0])) == 0.0
    assert normalised_wasserstein(np.array([2.0]), np.array([1.0])) == float("inf")
    with pytest.raises(ValueError, match="at least one"):
        normalised_wasserstein(np.array([]), reference)


def _strokes(seed: int, count: int, size: int = 256) -> list[np.ndarray]:
    """Random thin polylines, dilated into masks of 1-10 % holes (bin 01-10 at 256 px)."""
    import cv2

    rng = np.random.default_rng(seed)
    masks = []
    while len(masks) < count:
        canvas = np.zeros((size, size), dtype=np.uint8)
        for _ in range(int(rng.integers(2, 6))):
            points = rng.integers(40, size - 40, size=(4, 2)).astype(np.int32)
            cv2.polylines(canvas, [points], False, 255, int(rng.integers(2, 6)))
        mask = canvas > 0
        if 0.01 < mask.mean() <= 0.1:
            masks.append(mask)
    return masks


def _write_set(folder: Path, masks: list[np.ndarray]) -> Path:
    folder.mkdir(parents=True)
    for index, mask in enumerate(masks):
        write_mask(folder / f"{index:03d}.png", mask)
    return folder


def test_distance_is_zero_against_itself_and_grows_with_dilation(tmp_path: Path) -> None:
    masks = _strokes(0, 24)
    reference = measure_mask_set(_write_set(tmp_path / "ref", masks))
    assert likeness(reference, reference).mean == 0.0
    distances = []
    for diameter in (3, 7, 11):
        grown = [dilate(mask, diameter) for mask in masks]
        grown = [g for g in grown if g.mean() <= 0.1]
        ours = measure_mask_set(_write_set(tmp_path / f"d{diameter}", grown))
        result = likeness(ours, reference)
        assert result.missing_bins == ["10-20", "20-30", "30-40", "40-50", "50-60"]
        distances.append(result.distances["01-10"]["thickness"])
    assert 0 < distances[0] < distances[1] < distances[2]


def test_stats_vs_command_with_png_and_polarity(tmp_path: Path) -> None:
    ours = _write_set(tmp_path / "ours", _strokes(1, 12))
    theirs = tmp_path / "theirs_black"
    theirs.mkdir()
    for index, mask in enumerate(_strokes(2, 12)):
        write_mask(theirs / f"{index}.png", ~mask)  # holes black: detected per folder
    png = tmp_path / "cmp.png"
    result = CliRunner().invoke(main, ["stats", str(ours), "--vs", str(theirs), "--png", str(png)])
    assert result.exit_code == 0, result.output
    assert "distance to theirs_black" in result.output and "01-10_B" in result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert measure_mask_set(theirs).polarity == "hole-black"
    bad = CliRunner().invoke(main, ["stats", str(ours), "--png", str(png)])
    assert bad.exit_code == 2 and "--png draws the comparison: it needs --vs" in bad.output


def test_bins_missing_from_both_sets_cannot_be_compared(tmp_path: Path) -> None:
    empty = MaskSet(tmp_path, "hole-white")
    with pytest.raises(ValueError, match="share no hole-ratio bin"):
        likeness(empty, empty)


def test_stats_border_margin_without_vs(tmp_path: Path) -> None:
    folder = tmp_path / "square"
    folder.mkdir()
    mask = np.zeros((256, 256), dtype=bool)
    mask[40:80, 40:80] = True  # 2.4 % hole, 40 px from the edges: B at the default 25 px, N at 50 px
    write_mask(folder / "000.png", mask)
    default = CliRunner().invoke(main, ["stats", str(folder), "--json"])
    assert default.exit_code == 0, default.output
    assert json.loads(default.output)["border_margin"] == 25 and "01-10_B" in json.loads(default.output)["groups"]
    wide = CliRunner().invoke(main, ["stats", str(folder), "--border-margin", "50", "--json"])
    assert wide.exit_code == 0, wide.output
    result = json.loads(wide.output)
    assert result["border_margin"] == 50 and list(result["groups"]) == ["01-10_N"]
    assert dataset_stats(folder, border_margin=50)["groups"].keys() == {"01-10_N"}
