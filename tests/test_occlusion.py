from __future__ import annotations

import numpy as np
import pytest

from maskgen.flow import create_flow, forward_backward
from maskgen.occlusion import (
    OcclusionOptions, clean_mask, consistency_violation, leaves_frame, motion_boundaries, occlusion_and_disocclusion,
    range_map, warp_by_flow,
)
from maskgen.synthetic import SpriteScene


def _iou(first: np.ndarray, second: np.ndarray) -> float:
    return float(np.count_nonzero(first & second)) / float(np.count_nonzero(first | second))


def _constant_flow(height: int, width: int, dx: float, dy: float) -> np.ndarray:
    flow = np.zeros((height, width, 2), dtype=np.float32)
    flow[..., 0] = dx
    flow[..., 1] = dy
    return flow


@pytest.mark.parametrize("velocity", [(0, 8), (-6, -6)])
def test_sprite_occlusion_matches_known_region(velocity: tuple[int, int]) -> None:
    scene = SpriteScene(velocity=velocity, frames=3)
    frames = scene.render()
    forward, backward = forward_backward(create_flow("dis"), frames[1], frames[2])
    occluded, disoccluded = occlusion_and_disocclusion(forward, backward, frame_a=frames[1], frame_b=frames[2])
    assert _iou(occluded, scene.occlusion(1)) >= 0.8
    assert _iou(disoccluded, scene.disocclusion(1)) >= 0.7


def test_zero_motion_gives_no_occlusion() -> None:
    frame = SpriteScene(frames=1).render()[0]
    forward, backward = forward_backward(create_flow("dis"), frame, frame)
    occluded, disoccluded = occlusion_and_disocclusion(forward, backward, frame_a=frame, frame_b=frame)
    assert not occluded.any() and not disoccluded.any()


def test_consistency_check_formula() -> None:
    forward = _constant_flow(20, 30, 3.0, 0.0)
    assert not consistency_violation(forward, _constant_flow(20, 30, -3.0, 0.0)).any()
    # |w_f + w_b|^2 = 9 > 0.01 (9 + 0) + 0.5
    assert consistency_violation(forward, _constant_flow(20, 30, 0.0, 0.0)).all()
    # a round-trip error of 0.7 px: 0.49 <= 0.01 (9 + 5.29) + 0.5 = 0.643 -> consistent
    assert not consistency_violation(forward, _constant_flow(20, 30, -2.3, 0.0)).any()
    # 0.8 px: 0.64 > 0.01 (9 + 4.84) + 0.5 = 0.638 -> violation
    assert consistency_violation(forward, _constant_flow(20, 30, -2.2, 0.0)).all()


def test_warp_by_flow_samples_the_target() -> None:
    field = np.arange(30, dtype=np.float32)[None, :].repeat(10, axis=0)
    warped = warp_by_flow(field, _constant_flow(10, 30, 2.5, 0.0))
    np.testing.assert_allclose(warped[:, :27], field[:, :27] + 2.5)


def test_leaves_frame_marks_exactly_the_columns_that_exit() -> None:
    mask = leaves_frame(_constant_flow(8, 20, 3.0, 0.0))
    assert mask[:, 17:].all() and not mask[:, :17].any()


def test_range_map_of_a_shift() -> None:
    # B -> A shifted left by 4 px: the last 4 columns of A receive nothing
    counts = range_map(_constant_flow(8, 20, -4.0, 0.0))
    np.testing.assert_allclose(counts[:, :16], 1.0)
    np.testing.assert_allclose(counts[:, 16:], 0.0)


def test_motion_boundaries_at_a_flow_step() -> None:
    flow = np.zeros((10, 20, 2), dtype=np.float32)
    flow[:, 10:, 0] = 5.0
    boundary = motion_boundaries(flow)
    assert boundary[:, 9:11].all()
    assert not boundary[:, :8].any() and not boundary[:, 12:].any()


def test_clean_mask_removes_speckles_and_closes_gaps() -> None:
    mask = np.zeros((60, 60), dtype=bool)
    mask[5, 5] = True  # speckle
    mask[20:40, 20:29] = True
    mask[20:40, 31:40] = True  # two bars with a 2 px gap
    cleaned = clean_mask(mask, min_area=40, close_size=5)
    assert not cleaned[5, 5]
    assert cleaned[25:35, 29:31].all()


def test_plain_sundaram_check_is_available() -> None:
    plain = OcclusionOptions(range_map=False, photometric=False, min_votes=1, min_area=0, close_size=0)
    forward = _constant_flow(10, 10, 2.0, 0.0)
    occluded, _ = occlusion_and_disocclusion(forward, _constant_flow(10, 10, 0.0, 0.0), plain)
    assert occluded[:, :8].all()


def test_flow_shape_is_checked() -> None:
    with pytest.raises(ValueError, match=r"\(H, W, 2\)"):
        leaves_frame(np.zeros((4, 4), dtype=np.float32))
