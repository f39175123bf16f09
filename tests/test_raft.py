"""RAFT (maskgen/raft.py): torchvision's architecture and arithmetic without torchvision, the flow method's
contract, its weights-file errors, and how ``--flow-weights`` reaches the build."""
from __future__ import annotations

import dataclasses
import json
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

from maskgen.extract import ExtractOptions
from maskgen.flow import create_flow, list_flows

from helpers import ZERO_FLOW_PLUGIN

DATA = Path(__file__).resolve().parent / "data"
SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"

try:
    import torch
except ImportError:  # the base install: only the tests that need no torch run
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")


def _reference_script():
    sys.path.insert(0, str(SCRIPTS))
    try:
        import raft_reference
    finally:
        sys.path.remove(str(SCRIPTS))
    return raft_reference


def _frames(height: int, width: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    return _reference_script().reference_frames(height, width, seed)


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Seeded random weights of both variants, saved as torchvision-format state dicts (seed 7: the one of
    tests/data/raft_reference.npz)."""
    from maskgen.raft import build_raft, random_weights

    folder = tmp_path_factory.mktemp("raft")
    paths = {}
    for variant in ("large", "small"):
        paths[variant] = folder / f"raft_{variant}.pth"
        torch.save(random_weights(build_raft(variant), seed=7), paths[variant])
    return paths


def test_raft_methods_are_registered() -> None:
    assert {"raft-large", "raft-small"} <= set(list_flows())


@pytest.mark.parametrize("variant", ["large", "small"])
def test_without_weights_is_a_one_line_error_naming_the_files(variant: str) -> None:
    with pytest.raises(ValueError) as error:
        create_flow(f"raft-{variant}")
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"flow method 'raft-{variant}' needs torchvision-format")
    for part in ("raft_large_C_T_SKHT_V2-ff5fadd5.pth", "raft_small_C_T_V2-01064c6d.pth", "Raft_Large_Weights",
                 "Raft_Small_Weights", "https://download.pytorch.org/models/", "--flow-weights"):
        assert part in message


@needs_torch
@pytest.mark.parametrize("variant", ["large", "small"])
def test_state_dict_keys_and_shapes_are_torchvisions(variant: str) -> None:
    from maskgen.raft import build_raft

    reference = json.loads((DATA / "raft_state_dict.json").read_text())[variant]
    ours = [[key, list(tensor.shape)] for key, tensor in build_raft(variant).state_dict().items()]
    assert ours == reference
    parameters = sum(p.numel() for p in build_raft(variant).parameters())
    assert parameters == {"large": 5_257_536, "small": 990_162}[variant]  # torchvision's num_params


@needs_torch
@pytest.mark.parametrize("variant", ["large", "small"])
def test_flow_equals_torchvisions_for_the_same_weights(variant: str, weights: dict[str, Path]) -> None:
    """torchvision's flow (scripts/raft_reference.py --write) for seeded random weights on 128x160 frames."""
    with np.load(DATA / "raft_reference.npz") as data:
        expected = data[variant]
        meta = json.loads(data["meta"].tobytes())
    first, second = _frames(*meta["size"], meta["seed"])
    flow = create_flow(f"raft-{variant}", weights=str(weights[variant]), device="cpu")(first, second)
    assert flow.shape == (*meta["size"], 2) and flow.dtype == np.float32
    got = flow[::meta["stride"], ::meta["stride"]]
    assert np.abs(expected).max() > 5  # a real flow field, not zeros
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-3)


@needs_torch
def test_flow_equals_torchvision_live_when_it_imports(weights: dict[str, Path]) -> None:
    try:  # as scripts/raft_reference.py does: also where only torchvision's compiled operators fail to load
        _reference_script().import_torchvision()
        from torchvision.models.optical_flow import raft_small
        from torchvision.transforms._presets import OpticalFlow
    except Exception as error:  # noqa: BLE001 - absent, or its CUDA build beside the CPU torch (RuntimeError)
        pytest.skip(f"torchvision does not import here ({type(error).__name__}: {str(error)[:80]})")
    first, second = _frames(136, 200, 3)
    model = raft_small().eval()
    model.load_state_dict(torch.load(weights["small"], weights_only=True))
    image1, image2 = OpticalFlow()(*(torch.from_numpy(f).permute(2, 0, 1)[None] for f in (first, second)))
    with torch.inference_mode():
        expected = model(image1, image2, num_flow_updates=12)[-1][0].permute(1, 2, 0).numpy()
    got = create_flow("raft-small", weights=str(weights["small"]), device="cpu")(first, second)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-3)


@needs_torch
def test_pair_equals_two_single_calls_and_odd_sizes_are_padded_then_cropped(weights: dict[str, Path]) -> None:
    flow = create_flow("raft-small", weights=str(weights["small"]), device="cpu")
    first, second = _frames(101, 130, 5)  # not multiples of 8, and below the 128 minimum in height
    forward, backward = flow.pair(first, second)
    for got, single in ((forward, flow(first, second)), (backward, flow(second, first))):
        assert got.shape == (101, 130, 2) and got.dtype == np.float32
        np.testing.assert_allclose(got, single, rtol=0, atol=1e-4)
    # the same as padding by hand (edge replication, right and bottom, to 128 x 136) and cropping
    padded = [np.pad(f, ((0, 27), (0, 6), (0, 0)), mode="edge") for f in (first, second)]
    np.testing.assert_allclose(forward, flow(*padded)[:101, :130], rtol=0, atol=1e-4)
    assert np.abs(forward).max() > 1


@needs_torch
def test_pickled_flow_rebuilds_from_the_file_and_refuses_a_changed_one(weights: dict[str, Path],
                                                                      tmp_path: Path) -> None:
    import shutil

    path = tmp_path / "small.pth"
    shutil.copy(weights["small"], path)
    flow = create_flow("raft-small", weights=str(path), device="cpu", iterations=3)
    first, second = _frames(128, 128, 2)
    copy = pickle.loads(pickle.dumps(flow))
    assert (copy.name, copy.iterations, copy.weights_sha256) == ("raft-small", 3, flow.weights_sha256)
    np.testing.assert_array_equal(copy(first, second), flow(first, second))
    state = torch.load(path, weights_only=True)
    state["update_block.flow_head.conv2.bias"] += 1.0
    torch.save(state, path)
    with pytest.raises(ValueError, match=r"RAFT weights file .* changed: its sha256 is [0-9a-f]{64}, [0-9a-f]{64} "
                                         "was expected$"):
        pickle.loads(pickle.dumps(flow))


def _one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


@needs_torch
def test_bad_weights_files_are_one_line_errors_naming_the_file_and_key(weights: dict[str, Path],
                                                                       tmp_path: Path) -> None:
    missing = tmp_path / "nope.pth"
    with pytest.raises(ValueError) as error:
        create_flow("raft-large", weights=str(missing))
    assert _one_line(error) == f"RAFT-large weights file {str(missing)!r} does not exist"

    text = tmp_path / "notes.pth"
    text.write_text("not a torch file")
    with pytest.raises(ValueError) as error:
        create_flow("raft-large", weights=str(text))
    assert _one_line(error).startswith(f"RAFT-large weights file {str(text)!r} was refused: it is not a plain tensor")

    a_list = tmp_path / "list.pth"
    torch.save([torch.zeros(2)], a_list)
    with pytest.raises(ValueError) as error:
        create_flow("raft-large", weights=str(a_list))
    assert _one_line(error).startswith(f"RAFT-large weights file {str(a_list)!r} does not hold a state dict")

    with pytest.raises(ValueError) as error:  # the small file given to the large network
        create_flow("raft-large", weights=str(weights["small"]))
    assert _one_line(error).startswith(
        f"RAFT-large weights file {str(weights['small'])!r} does not fit RAFT-large: "
        "'feature_encoder.convnormrelu.0.weight' has shape (32, 3, 7, 7), RAFT-large needs (64, 3, 7, 7); give "
        "torchvision's Raft_Large_Weights (e.g. raft_large_C_T_SKHT_V2-ff5fadd5.pth")

    state = torch.load(weights["small"], weights_only=True)
    del state["update_block.flow_head.conv1.weight"]
    torch.save({"model": state}, tmp_path / "wrapped.pth")  # a training checkpoint holding it under "model"
    with pytest.raises(ValueError) as error:
        create_flow("raft-small", weights=str(tmp_path / "wrapped.pth"))
    assert "does not fit RAFT-small: it has no 'update_block.flow_head.conv1.weight' (105 keys" in _one_line(error)

    state = torch.load(weights["small"], weights_only=True)
    state["mask_predictor.conv.weight"] = torch.zeros(576, 256, 1, 1)
    torch.save(state, tmp_path / "extra.pth")
    with pytest.raises(ValueError) as error:
        create_flow("raft-small", weights=str(tmp_path / "extra.pth"))
    assert "does not fit RAFT-small: unexpected key 'mask_predictor.conv.weight'" in _one_line(error)


@needs_torch
@pytest.mark.parametrize(("options", "message"), [
    ({"device": "tpu"}, "RAFT device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got 'tpu'"),
    ({"iterations": 0}, "RAFT iterations must be an integer >= 1, got 0"),
    ({"threads": 0}, "RAFT threads must be an integer >= 1, got 0"),
    ({"colour": "red"}, "flow method 'raft-small' does not take the option 'colour'"),
])
def test_bad_options_are_one_line_errors(options: dict, message: str, weights: dict[str, Path]) -> None:
    with pytest.raises(ValueError) as error:
        create_flow("raft-small", weights=str(weights["small"]), **options)
    assert _one_line(error) == message


@needs_torch
def test_missing_cuda_is_a_one_line_error(weights: dict[str, Path]) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError) as error:
        create_flow("raft-small", weights=str(weights["small"]), device="cuda:0")
    assert _one_line(error) == "RAFT device 'cuda:0': this torch sees no CUDA device (use 'cpu' or 'auto')"


@needs_torch
def test_the_thread_count_is_fixed_during_a_call_and_restored(weights: dict[str, Path]) -> None:
    first, second = _frames(128, 128, 4)
    saved = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        one = create_flow("raft-small", weights=str(weights["small"]), device="cpu")(first, second)
        assert torch.get_num_threads() == 2
        torch.set_num_threads(1)
        again = create_flow("raft-small", weights=str(weights["small"]), device="cpu")(first, second)
    finally:
        torch.set_num_threads(saved)
    np.testing.assert_array_equal(one, again)  # threads=1 whatever the process's count: the same bits


def test_flow_weights_are_recorded_with_their_sha256(tmp_path: Path) -> None:
    import hashlib

    path = tmp_path / "w.pth"
    path.write_bytes(b"first")
    options = ExtractOptions(flow="raft-small", flow_weights=str(path))
    assert options.flow_weights == str(path.absolute())
    assert options.flow_weights_sha256 == hashlib.sha256(b"first").hexdigest()
    recorded = options.to_dict()
    assert recorded["flow_weights"] == str(path) and recorded["flow_weights_sha256"] == options.flow_weights_sha256
    path.write_bytes(b"second")  # the same path with other content: other options, so another cache key
    assert ExtractOptions(flow="raft-small", flow_weights=str(path)).to_dict() != recorded
    assert "flow_weights_sha256" not in [f.name for f in dataclasses.fields(ExtractOptions)
                                         if "cli_help" in str(f.metadata)]
    with pytest.raises(ValueError, match=r"^flow weights file \(--flow-weights\) '\S+nope.pth' does not exist$"):
        ExtractOptions(flow="raft-small", flow_weights=str(tmp_path / "nope.pth"))


def test_clip_cache_key_follows_the_weights_content(tmp_path: Path) -> None:
    from maskgen.build import _clip_cache_key
    from maskgen.synthetic import SpriteScene, write_frames
    from maskgen.video import discover_clips

    write_frames(SpriteScene(frames=3).render(), tmp_path / "clips" / "sprite")
    clip = discover_clips(tmp_path / "clips")[0][0]
    path = tmp_path / "w.pth"
    path.write_bytes(b"first")
    before = _clip_cache_key(clip, ExtractOptions(flow="raft-small", flow_weights=str(path)))
    path.write_bytes(b"other")
    assert _clip_cache_key(clip, ExtractOptions(flow="raft-small", flow_weights=str(path))) != before


@pytest.mark.parametrize("flow", ["dis", "farneback"])
def test_a_flow_without_weights_refuses_flow_weights(flow: str, tmp_path: Path) -> None:
    path = tmp_path / "w.pth"
    path.write_bytes(b"x")
    with pytest.raises(ValueError) as error:
        ExtractOptions(flow=flow, flow_weights=str(path)).make_flow()
    assert _one_line(error) == (f"flow method {flow!r} takes no weights file (--flow-weights is for learned "
                                "methods: raft-large, raft-small)")


def test_a_plugin_that_ignores_weights_is_refused(tmp_path: Path) -> None:
    plugin = tmp_path / "lax.py"
    plugin.write_text(ZERO_FLOW_PLUGIN)
    path = tmp_path / "w.pth"
    path.write_bytes(b"x")
    with pytest.raises(ValueError, match="takes no weights file .* sets weights_sha256 to the sha256 of the file"):
        ExtractOptions(flow=f"{plugin}:make", flow_weights=str(path)).make_flow()


def test_cli_refuses_flow_weights_for_dis(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from maskgen.cli import main

    path = tmp_path / "w.pth"
    path.write_bytes(b"x")
    result = CliRunner().invoke(main, ["build", "--video-dir", str(tmp_path), "--out", str(tmp_path / "o"),
                                       "--flow", "dis", "--flow-weights", str(path)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "error: flow method 'dis' takes no weights file (--flow-weights is for learned methods: raft-large, "
        "raft-small)"]


def test_without_torch_raft_says_so_in_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` fails as where it is not installed
    monkeypatch.delitem(sys.modules, "maskgen.raft", raising=False)
    with pytest.raises(ValueError) as error:
        create_flow("raft-small", weights=str(tmp_path / "w.pth"))
    assert _one_line(error) == ("flow method 'raft-small' needs torch, which is not installed (install the [torch] "
                                "extra: pip install 'inpaint-masks-toolkit[torch]')")


@needs_torch
def test_a_build_runs_raft_in_its_workers_with_the_weights_file(weights: dict[str, Path], tmp_path: Path) -> None:
    """``--flow raft-small --flow-weights`` through the CLI, 2 worker processes (the flow is pickled and rebuilt
    there). Random weights give no occlusion, so each clip ends as 'no motion' after its 4 frame pairs ran
    through RAFT: a flow failure would read 'ValueError: ...' instead."""
    from click.testing import CliRunner

    from maskgen.cli import main
    from maskgen.synthetic import SpriteScene, write_frames

    for name in ("a", "b"):  # two clips: a pool of 2 spawned workers (one clip would run in this process)
        write_frames(SpriteScene(height=128, width=160, sprite=(40, 30, 40, 50), frames=5).render(),
                     tmp_path / "clips" / name)
    result = CliRunner().invoke(main, ["build", "--video-dir", str(tmp_path / "clips"), "--out", str(tmp_path / "o"),
                                       "--flow", "raft-small", "--flow-weights", str(weights["small"]), "--stride",
                                       "1", "--workers", "2", "--quiet"])
    assert result.exit_code == 1
    no_motion = "no motion: none of 4 frame pairs gave an occlusion mask covering at least 0.2% of the frame"
    assert result.output.strip().splitlines() == [
        f"error: no usable clip under {str(tmp_path / 'clips')!r}: a: {no_motion}; b: {no_motion}"]
