from __future__ import annotations

import numpy as np
import pytest

from maskgen.augment import AugmentOptions, augment_free, augment_to_cell, dilate, warp_crop
from inpaint_core.buckets import CELLS, cell_of


def _raw_mask(spacing: int = 100) -> np.ndarray:
    """Occlusion strips 8 px wide, ``spacing`` px apart (no single raw mask serves all bins)."""
    raw = np.zeros((180, 320), dtype=bool)
    for left in range(20, 300, spacing):
        raw[30:150, left:left + 8] = True
    return raw


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.name)
def test_augment_to_cell_lands_in_the_cell(cell) -> None:
    rng = np.random.default_rng([7, cell.index])
    raw = _raw_mask(spacing=(100, 100, 40, 40, 20, 20)[cell.bin_index])
    # further raw masks to combine (match_shapes does when the strokes are too wide): other strip patterns
    result = augment_to_cell(raw, cell, rng, AugmentOptions(attempts=20),
                             more=lambda generator: _raw_mask(spacing=int(generator.integers(20, 100))))
    mask, augmentation = result.mask, result.augmentation
    assert mask is not None, result.reason
    assert result.ok and result.reason == ""
    assert mask.dtype == bool and mask.shape == (512, 512)
    assert cell_of(mask) == cell
    assert 5 <= augmentation.dilation <= 47  # NVIDIA: dilation kernels of 5 to 47 px


def test_same_generator_seed_gives_the_same_mask() -> None:
    cell = CELLS[4]
    raw = _raw_mask(spacing=(100, 100, 40, 40, 20, 20)[cell.bin_index])
    first = augment_to_cell(raw, cell, np.random.default_rng(3), AugmentOptions(attempts=20)).mask
    second = augment_to_cell(raw, cell, np.random.default_rng(3), AugmentOptions(attempts=20)).mask
    other = augment_to_cell(raw, cell, np.random.default_rng(4), AugmentOptions(attempts=20)).mask
    assert first is not None and cell_of(first) == cell
    assert np.array_equal(first, second) and not np.array_equal(first, other)


def test_impossible_cell_reports_why() -> None:
    tiny = np.zeros((180, 320), dtype=bool)
    tiny[90, 160] = True
    result = augment_to_cell(tiny, CELLS[-1], np.random.default_rng(0), AugmentOptions(attempts=3))
    mask, reason = result.mask, result.reason
    assert mask is None and reason == "too-small"
    assert not result.ok and result.augmentation is None


def test_dilate_is_a_disk() -> None:
    mask = np.zeros((41, 41), dtype=bool)
    mask[20, 20] = True
    grown = dilate(mask, 9)
    squared = (np.mgrid[:41, :41] - 20) ** 2
    distance = np.sqrt(squared[0] + squared[1])
    assert np.array_equal(grown, grown.T) and np.array_equal(grown, grown[::-1])
    assert grown[distance <= 3.9].all() and not grown[distance > 4.1].any()  # radius 4 within chamfer error
    with pytest.raises(ValueError, match="odd"):
        dilate(mask, 8)


def test_warp_crop_identity_and_rotation() -> None:
    raw = np.zeros((64, 64), dtype=bool)
    raw[10:30, 20:24] = True
    same = warp_crop(raw, rotation=0.0, crop_scale=1.0, center=(31.5, 31.5), size=64)
    assert np.array_equal(same, raw)
    quarter = warp_crop(raw, rotation=90.0, crop_scale=1.0, center=(31.5, 31.5), size=64)
    assert np.array_equal(quarter, np.rot90(raw))


def test_free_augmentation_has_no_ratio_cap() -> None:
    raw = np.zeros((180, 320), dtype=bool)
    raw[20:160, 40:280] = True
    mask = augment_free(raw, np.random.default_rng(1), AugmentOptions(min_crop=0.3, max_crop=0.3)).mask
    assert mask is not None and mask.mean() > 0.6


def test_combining_raw_masks_makes_thinner_strokes_at_the_same_ratio() -> None:
    # sparse strips need a wide dilation to reach 10-20 %; with further raw masks to combine, the
    # augmentation reaches the bin with more material and a smaller dilation, as NVIDIA's thin masks
    from inpaint_core.shape import stroke_width

    cell = CELLS[2]  # 10-20_B
    raw = _raw_mask(spacing=100)
    alone, combined = [], []
    for slot in range(12):
        one = augment_to_cell(raw, cell, np.random.default_rng([1, slot]), AugmentOptions())
        more = augment_to_cell(raw, cell, np.random.default_rng([1, slot]), AugmentOptions(),
                               more=lambda generator: _raw_mask(spacing=int(generator.integers(20, 100))))
        assert one.ok and more.ok and cell_of(one.mask) == cell_of(more.mask) == cell
        alone.append(stroke_width(one.mask))
        combined.append(stroke_width(more.mask))
    assert np.median(combined) < 0.8 * np.median(alone)


def test_cells_that_cannot_exist_at_a_size() -> None:
    from maskgen.augment import impossible_cells

    assert impossible_cells(AugmentOptions()) == {}
    assert impossible_cells(AugmentOptions(size=256)) == {}  # 25 px margin: a 206x206 interior, 64.7 %
    refused = impossible_cells(AugmentOptions(size=256, border_margin=50))
    assert sorted(refused) == ["40-50_B", "50-60_B"]  # 156x156 interior: 37.1 % of the image
    assert "156x156 interior, 37.1% of a 256x256 mask" in refused["40-50_B"]
    assert AugmentOptions(size=256).margin == 25 and AugmentOptions().margin == 50
    with pytest.raises(ValueError, match="border_margin must be >= 1"):
        AugmentOptions(border_margin=0)


def test_shape_targets_draw_inside_nvidia_deciles() -> None:
    from maskgen.shape_targets import NVIDIA_TARGETS, targets_for

    assert sorted(NVIDIA_TARGETS) == sorted(c.name for c in CELLS)
    for cell in CELLS:
        table = targets_for(cell)
        for values in (table.ratio, table.width, table.components):
            assert len(values) == 11 and list(values) == sorted(values)
        assert cell.low < table.ratio[0] and table.ratio[-1] <= cell.high
        goal = table.draw(np.random.default_rng(cell.index), size=256)
        assert table.width[0] / 2 <= goal.width <= table.width[-1] / 2  # widths scale with the size


def _steer_for(cell, ratio: float):
    from maskgen.augment import RADIUS_STEPS, _interior, _Steer

    options = AugmentOptions()
    k_min = (options.min_dilation - 1) // 2 * RADIUS_STEPS
    k_max = (options.max_dilation - 1) // 2 * RADIUS_STEPS
    outside = ~_interior(options.size, options.margin) if cell.border == "B" else None
    return _Steer(cell, options, outside, k_min, k_max, ratio * options.size ** 2)


def test_thin_turns_a_blob_into_strokes_of_the_target_width() -> None:
    # a 40x440 bar (6.7 % of 512x512) is 44 px wide even at the smallest dilation (5 px); asked for a 5 %
    # mask with 20-px strokes, the thin step dilates its skeleton (the bar's midline) instead, to ~30 px
    from maskgen.augment import _dilation_levels
    from maskgen.shape_targets import ShapeTarget
    from inpaint_core.shape import component_count, stroke_width

    cell = CELLS[0]  # 01-10_B
    steer = _steer_for(cell, 0.05)
    base = np.zeros((512, 512), dtype=bool)
    base[236:276, 36:476] = True
    levels, cumulative = _dilation_levels(base, steer.k_max, steer.outside)
    before = stroke_width(levels <= steer.level(cumulative))
    assert 38 < before < 42
    goal = ShapeTarget(ratio=0.05, width=20.0, components=1)
    thinned, levels, cumulative = steer.thin(base, levels, cumulative, goal)
    mask = levels <= steer.level(cumulative)
    rows = np.nonzero(thinned.any(axis=1))[0]
    assert thinned.sum() < 0.05 * base.sum() and 250 <= rows.min() <= rows.max() <= 261  # the midline
    assert cell_of(mask) == cell and component_count(mask) == 1
    assert 20 < stroke_width(mask) < 0.8 * before
    # strokes already near the target width: left alone
    same = steer.thin(base, *_dilation_levels(base, steer.k_max, steer.outside), ShapeTarget(0.05, 40.0, 1))
    assert same[0] is base


def test_scatter_adds_the_missing_small_parts_and_stays_in_the_bin() -> None:
    # one 10-px-wide bar at 5 % wanting 6 parts: pieces of another raw mask (many small squares) are added,
    # the smallest first, as many as are missing, and the mask still lands in 01-10
    from maskgen.augment import _dilation_levels
    from maskgen.shape_targets import ShapeTarget
    from inpaint_core.shape import component_count

    cell = CELLS[1]  # 01-10_N
    steer = _steer_for(cell, 0.05)
    base = np.zeros((512, 512), dtype=bool)
    base[250:260, 0:400] = True

    def squares(_generator) -> np.ndarray:
        raw = np.zeros((480, 640), dtype=bool)
        for y in range(20, 460, 60):
            for x in range(20, 620, 60):
                raw[y:y + 6, x:x + 6] = True
        return raw

    levels, cumulative = _dilation_levels(base, steer.k_max, steer.outside)
    goal = ShapeTarget(ratio=0.05, width=12.0, components=6)
    out, levels, cumulative = steer.scatter(base, levels, cumulative, goal, squares, np.random.default_rng(3),
                                            (0.9, 1.0))
    mask = levels <= steer.level(cumulative)
    assert (out & base).sum() == base.sum() and out.sum() > base.sum()
    assert component_count(mask) >= 5 and cell_of(mask) == cell
    unchanged = steer.scatter(base, *_dilation_levels(base, steer.k_max, steer.outside), goal, None,
                              np.random.default_rng(3), (0.9, 1.0))
    assert unchanged[0] is base


def test_skeleton_part_by_part_equals_thinning_the_whole_image() -> None:
    import cv2

    from maskgen.augment import _skeleton

    rng = np.random.default_rng(0)
    for _ in range(6):
        image = np.zeros((300, 400), dtype=np.uint8)
        for _ in range(12):  # ellipses, some cut by the image edge, some overlapping
            cv2.ellipse(image, (int(rng.integers(-20, 420)), int(rng.integers(-20, 320))),
                        (int(rng.integers(2, 80)), int(rng.integers(2, 40))), float(rng.uniform(0, 180)), 0, 360,
                        255, -1)
        whole = cv2.ximgproc.thinning(image, thinningType=cv2.ximgproc.THINNING_ZHANGSUEN) > 0
        assert np.array_equal(_skeleton(image > 0), whole) and whole.any()
