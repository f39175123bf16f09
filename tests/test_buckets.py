from __future__ import annotations

import numpy as np
import pytest

from inpaint_core.buckets import CELLS, Cell, border_class, cell_by_name, cell_of, hole_ratio, ratio_bin


def _mask_with_holes(count: int, size: int = 100) -> np.ndarray:
    mask = np.zeros(size * size, dtype=bool)
    mask[:count] = True
    return mask.reshape(size, size)


@pytest.mark.parametrize(("ratio", "expected"), [
    (0.01, None), (0.0100001, 0), (0.1, 0), (0.1000001, 1), (0.2, 1), (0.3, 2), (0.5, 4), (0.6, 5),
    (0.605, None), (0.0, None), (1.0, None),
])
def test_ratio_bin_edges_open_below_closed_above(ratio: float, expected: int | None) -> None:
    assert ratio_bin(ratio) == expected


def test_ratio_bin_exact_pixel_counts() -> None:
    # 512 x 512: 10% is not an integer count; the exact rational decides
    total = 512 * 512
    assert ratio_bin(26214, total) == 0  # 0.099998
    assert ratio_bin(26215, total) == 1  # 0.100002
    assert ratio_bin(1000, 10000) == 0  # exactly 0.1
    assert ratio_bin(6000, 10000) == 5  # exactly 0.6
    assert ratio_bin(6001, 10000) is None
    assert ratio_bin(100, 10000) is None  # exactly 0.01


def test_hole_ratio_and_cell_of() -> None:
    mask = _mask_with_holes(1000)  # rows 0..9 of 100x100: 10%, touches the top edge
    assert hole_ratio(mask) == pytest.approx(0.1)
    assert cell_of(mask) == Cell(0, "N")
    assert cell_of(_mask_with_holes(100)) is None


@pytest.mark.parametrize(("position", "expected"), [(49, "N"), (50, "B"), (51, "B")])
def test_border_rule_at_49_and_50_px(position: int, expected: str) -> None:
    size = 512  # the default margin follows the size: 50 px at NVIDIA's 512
    for axis_index in range(4):
        mask = np.zeros((size, size), dtype=bool)
        mask[100, 100] = True
        row, column = [(position, 100), (size - 1 - position, 100), (100, position), (100, size - 1 - position)][axis_index]
        mask[row, column] = True
        assert border_class(mask) == expected, (axis_index, position)


def test_cells_order_names_and_lookup() -> None:
    assert [c.name for c in CELLS[:3]] == ["01-10_B", "01-10_N", "10-20_B"]
    assert [c.index for c in CELLS] == list(range(12))
    assert cell_by_name("50-60_N") == Cell(5, "N")
    with pytest.raises(ValueError, match="unknown cell"):
        cell_by_name("60-70_B")


def test_mask_type_is_checked() -> None:
    with pytest.raises(ValueError, match="bool"):
        hole_ratio(np.zeros((4, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="2-D"):
        border_class(np.zeros((4, 4, 1), dtype=bool))
