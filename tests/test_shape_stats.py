from __future__ import annotations

import numpy as np

from inpaint_core.shape import component_count, stroke_width


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
