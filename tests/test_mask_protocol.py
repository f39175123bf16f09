"""The mask protocol: recorded by build and import in dataset.json, read by Dataset, copied into run.json."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import maskgen.layout as layout_module
from bench_helpers import cell_mask, make_images
from benchmark.runner import CallableProvider, RunError, RunSettings, prepare, score_run
from helpers import released_listing
from inpaint_core.dataset import Dataset, check_mask_protocol, legacy_mask_protocol, mask_protocol_name
from inpaint_core.maskio import write_mask
from maskgen.cli import main
from maskgen.layout import LayoutError, import_masks


def _distinct_mask(index: int) -> np.ndarray:
    """A mask of cell 01-10_B, one hole pixel cleared at a place of its own."""
    mask = cell_mask(0, "B")
    mask[256, 240 + index] = False
    return mask


def _nvidia_named_copy(folder: Path) -> Path:
    """12 distinct masks of cell 01-10_B named 00000.png ... 00011.png (contiguous: 12 files, 12 'blocks' of 1)."""
    for index in range(12):
        write_mask(folder / f"{index:05d}.png", _distinct_mask(index))
    return folder


@pytest.fixture()
def released_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy that the (replaced) released list says is the complete released set."""
    folder = _nvidia_named_copy(tmp_path / "released")
    released = released_listing(folder)
    monkeypatch.setattr(layout_module.ReleasedSet, "load", classmethod(lambda cls: released))
    return folder


def test_names_are_checked_and_built_from_family_and_size() -> None:
    assert mask_protocol_name("maskgen-video", 256) == "maskgen-video-256"
    assert check_mask_protocol("lama-thick-512") == "lama-thick-512"
    for bad in ("", "Upper", "has space", "-leading", "x" * 65, "a/b"):
        with pytest.raises(ValueError, match="mask protocol name"):
            check_mask_protocol(bad)


def test_datasets_written_before_the_protocol_get_a_fallback(tmp_path: Path) -> None:
    built = {"build_key": "k", "options": {"augment": {"size": 384}}}
    assert legacy_mask_protocol(built) == "maskgen-video-384"
    assert legacy_mask_protocol({"imported_from": "/x", "layout": "nvidia"}) == "imported"  # never nvidia-test
    assert legacy_mask_protocol({}) == "unknown"
    write_mask(tmp_path / "src" / "a.png", cell_mask(0, "B"))
    import_masks(tmp_path / "src", tmp_path / "ds", layout="folder", polarity="hole-white")
    info = json.loads((tmp_path / "ds" / "dataset.json").read_text())
    assert info["mask_protocol"] == "imported" and info["nvidia_verified"] == "not-checked"
    del info["mask_protocol"]
    (tmp_path / "ds" / "dataset.json").write_text(json.dumps({**info, **built}))
    assert Dataset(tmp_path / "ds").mask_protocol == "maskgen-video-384"


def test_verified_complete_copy_is_nvidia_test(released_copy: Path, tmp_path: Path) -> None:
    info = import_masks(released_copy, tmp_path / "ds")
    assert info["mask_protocol"] == "nvidia-test" and info["nvidia_verified"] == "complete"
    assert info["block_size"] == 1000  # released files: NVIDIA's blocks, not 12 files / 12
    assert info["layout_mismatches"] == []
    assert info["nvidia_verification"]["counts"]["matching"] == 12
    with pytest.raises(LayoutError, match="drop --protocol"):
        import_masks(released_copy, tmp_path / "named", protocol="my-set")
    with pytest.raises(LayoutError, match="drop --block-size 1"):
        import_masks(released_copy, tmp_path / "blocks", block_size=1)


def test_a_copy_that_is_not_the_released_set_is_imported_under_another_name(released_copy: Path,
                                                                            tmp_path: Path) -> None:
    copy = tmp_path / "mine"
    shutil.copytree(released_copy, copy)
    write_mask(copy / "00003.png", _distinct_mask(20))  # one altered file
    info = import_masks(copy, tmp_path / "ds")
    assert info["mask_protocol"] == "imported" and info["nvidia_verified"] == "not-released"
    assert info["nvidia_verification"]["counts"]["altered"] == 1
    assert info["block_size"] == 1  # a user's own layout keeps its own blocks
    assert info["counts"]["test_total"] == 12  # imported all the same
    info = import_masks(copy, tmp_path / "named", protocol="my-masks-512")
    assert info["mask_protocol"] == "my-masks-512"
    for reserved in ("nvidia-test", "nvidia-test-subset", "maskgen-video-512"):
        with pytest.raises(LayoutError, match="are kept for NVIDIA's released set"):
            import_masks(copy, tmp_path / "refused", protocol=reserved)


def test_real_sample_imports_as_a_verified_subset(shared_data_dir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["import", str(shared_data_dir / "masks" / "nvidia_test_sample"),
                                       "--out", str(tmp_path / "ds")])
    assert result.exit_code == 0, result.output
    assert "NVIDIA check: subset of 120 of 12,000 files, all of them released files" in result.output
    assert "mask protocol: nvidia-test-subset" in result.output
    info = json.loads((tmp_path / "ds" / "dataset.json").read_text())
    assert info["nvidia_verified"] == "subset" and info["layout_mismatches"] == []
    assert Dataset(tmp_path / "ds").mask_protocol == "nvidia-test-subset"


def _mean_fill(pair: object, image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, float]:
    output = image.copy()
    output[mask] = image[~mask].mean(axis=0).astype(np.uint8)
    return output, 0.0


def test_runs_record_the_protocol_and_never_share_a_key_across_protocols(tmp_path: Path) -> None:
    source = tmp_path / "src"
    for cell_index in range(12):
        for variant in range(2):
            write_mask(source / f"c{cell_index}_{variant}.png",
                       cell_mask(cell_index // 2, "BN"[cell_index % 2], variant=variant))
    import_masks(source, tmp_path / "a", layout="folder", polarity="hole-white", protocol="set-a")
    import_masks(source, tmp_path / "b", layout="folder", polarity="hole-white", protocol="set-b")
    images = make_images(tmp_path)
    first = prepare(RunSettings(masks=tmp_path / "a", images=images))
    second = prepare(RunSettings(masks=tmp_path / "b", images=images))
    assert first.dataset_fingerprint == second.dataset_fingerprint  # the same masks ...
    assert first.protocol_key != second.protocol_key  # ... under two protocols: two keys
    quick = prepare(RunSettings(masks=tmp_path / "a", images=images, per_cell=1))
    assert quick.mask_protocol == "set-a@per-cell-1"  # a quick run is not a run of the whole protocol
    assert prepare(RunSettings(masks=tmp_path / "a", images=images, per_cell=2)).mask_protocol == "set-a"
    model = {"name": "mean", "kind": "python", "spec": "test"}
    info = score_run(quick, tmp_path / "run", CallableProvider(_mean_fill), model=model)
    assert info["mask_protocol"] == "set-a@per-cell-1" and info["dataset"]["mask_protocol"] == "set-a"
    assert json.loads((tmp_path / "run" / "run.json").read_text())["mask_protocol"] == "set-a@per-cell-1"
    other = prepare(RunSettings(masks=tmp_path / "b", images=images, per_cell=1))
    with pytest.raises(RunError, match=r"mask protocol set-a@per-cell-1; this run: set-b@per-cell-1"):
        score_run(other, tmp_path / "run", CallableProvider(_mean_fill), model=model)
