from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from maskgen.flow import FlowOptionError, create_flow, forward_backward, list_flows, register_flow

from helpers import ZERO_FLOW_PLUGIN


def test_builtin_flows_are_listed() -> None:
    assert {"dis", "dis-medium", "dis-fast", "farneback", "deepflow"} <= set(list_flows())


def test_unknown_flow_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown flow method 'raft'"):
        create_flow("raft")


def test_an_option_the_method_does_not_take_is_named() -> None:
    with pytest.raises(FlowOptionError) as error:
        create_flow("dis", colour="red")
    assert error.value.option == "colour" and isinstance(error.value, ValueError)
    assert str(error.value) == "flow method 'dis' does not take the option 'colour'"


def test_register_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_flow("dis")(lambda **_: None)


def test_flow_plugin_from_a_file(tmp_path: Path) -> None:
    plugin = tmp_path / "zero_flow.py"
    plugin.write_text(ZERO_FLOW_PLUGIN)
    method = create_flow(f"{plugin}:make")
    frame = np.zeros((6, 8, 3), dtype=np.uint8)
    forward, backward = forward_backward(method, frame, frame)
    assert forward.shape == (6, 8, 2) and not forward.any() and not backward.any()
    with pytest.raises(ValueError, match="has no attribute"):
        create_flow(f"{plugin}:missing")


@pytest.mark.parametrize("name", ["dis", "farneback"])
def test_flow_recovers_a_translation(name: str) -> None:
    import cv2

    noise = np.random.default_rng(0).uniform(0, 255, size=(240, 320, 3)).astype(np.float32)
    background = np.clip(cv2.GaussianBlur(noise, (0, 0), 2.0) * 4 - 384, 0, 255).astype(np.uint8)
    shifted = np.roll(background, shift=(2, 3), axis=(0, 1))
    flow = create_flow(name)(background, shifted)
    centre = flow[40:-40, 40:-40]
    np.testing.assert_allclose(np.median(centre.reshape(-1, 2), axis=0), [3.0, 2.0], atol=0.1)


def test_dis_refines_an_initial_flow_and_forgets_it() -> None:
    import cv2

    noise = np.random.default_rng(0).uniform(0, 255, size=(240, 320, 3)).astype(np.float32)
    background = np.clip((cv2.GaussianBlur(noise, (0, 0), 20.0) - 128) * 80 + 128, 0, 255).astype(np.uint8)
    shifted = np.roll(background, shift=(2, 3), axis=(0, 1))  # smooth: DIS does not forget a start there
    method = create_flow("dis")
    plain = method(background, shifted)
    initial = np.full((240, 320, 2), 9.0, dtype=np.float32)
    started = method(background, shifted, initial)
    assert not np.array_equal(started, plain) and (initial == 9.0).all()
    # OpenCV's DIS would take its last output as the start of every later call: the method starts from zero
    np.testing.assert_array_equal(method(background, shifted), plain)
    np.testing.assert_array_equal(method(background, shifted), create_flow("dis")(background, shifted))
