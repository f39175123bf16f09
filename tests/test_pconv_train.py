from __future__ import annotations

import csv
import socket
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from bench_helpers import cell_mask, make_images, make_mask_dataset
from inpaint_core.dataset import Dataset, MaskRecord, write_manifest
from inpaint_core.files import encode_png, write_png
from inpaint_core.nets.vgg import VGG16Features
from pconv_baseline.loss import PConvLoss, load_vgg16
from pconv_baseline.network import PConvUNet
from pconv_baseline.train import TrainOptions, train


def add_train_split(dataset: Path, count: int = 4) -> Path:
    """Give a mask dataset of test masks only a training split of ``count`` masks."""
    records = Dataset(dataset).records()
    for index in range(count):
        mask = cell_mask(index % 6, "BN"[index % 2], variant=index % 3)
        png = encode_png(mask.astype(np.uint8) * 255)
        relative = f"train/{index:06d}.png"
        write_png(dataset / relative, mask.astype(np.uint8) * 255)
        records.append(MaskRecord.of_mask(relative, "train", mask, png))
    write_manifest(dataset, records)
    return dataset


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pconv")
    torch.manual_seed(0)
    vgg = root / "vgg16-397923af.pth"
    torch.save({f"features.{k}": v for k, v in VGG16Features().state_dict().items()}, vgg)
    test_only = make_mask_dataset(root / "test_only")
    return {"masks": add_train_split(make_mask_dataset(root)), "test_only_masks": test_only,
            "images": make_images(root, count=4), "vgg": vgg, "root": root}


def _options(setup: dict[str, Path], out: Path, **changes) -> TrainOptions:
    base = TrainOptions(images=str(setup["images"]), masks=str(setup["masks"]), out=str(out), steps=4, batch_size=2,
                        size=64, checkpoint_every=2, validate_every=4, val_images=1, val_masks=2, workers=0,
                        vgg_weights=str(setup["vgg"]), device="cpu")
    return replace(base, **changes)


def _losses(run: Path) -> dict[int, str]:
    with open(run / "train_log.csv", newline="") as handle:
        return {int(row["step"]): row["loss"] for row in csv.DictReader(handle)}


def test_overfitting_one_batch_halves_the_loss() -> None:
    torch.manual_seed(0)
    net = PConvUNet(levels=4)
    criterion = PConvLoss(VGG16Features())
    images = torch.rand(4, 3, 32, 32)
    valid = (torch.rand(4, 1, 32, 32) > 0.3).float()
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-4)
    losses = []
    for _ in range(40):
        output, composite = net(images * valid, valid)
        loss, _ = criterion(output, composite, images, valid)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0] / 2


def test_resume_gives_the_same_next_losses(setup: dict[str, Path], tmp_path: Path) -> None:
    train(_options(setup, tmp_path / "straight"), progress=False)
    train(_options(setup, tmp_path / "resumed", steps=2), progress=False)
    summary = train(_options(setup, tmp_path / "resumed"), progress=False)
    assert summary["start_step"] == 2
    straight, resumed = _losses(tmp_path / "straight"), _losses(tmp_path / "resumed")
    assert resumed[3] == straight[3] and resumed[4] == straight[4]
    assert (tmp_path / "straight" / "checkpoints" / "step_0000004.pt").is_file()
    assert list((tmp_path / "straight" / "samples").glob("step_*.png"))
    with open(tmp_path / "straight" / "train_log.csv", newline="") as handle:
        last = list(csv.DictReader(handle))[-1]
    assert float(last["val_psnr"]) > 0 and 0 < float(last["val_ssim"]) <= 1


def test_keep_checkpoints_deletes_all_but_the_newest(setup: dict[str, Path], tmp_path: Path) -> None:
    train(_options(setup, tmp_path / "run", steps=5, checkpoint_every=1, validate_every=10), progress=False)
    kept = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())  # default: the 3 newest
    assert kept == ["step_0000003.pt", "step_0000004.pt", "step_0000005.pt", "weights.pt"]
    train(_options(setup, tmp_path / "all", steps=3, checkpoint_every=1, validate_every=10, keep_checkpoints=0),
          progress=False)
    kept = sorted(p.name for p in (tmp_path / "all" / "checkpoints").iterdir())
    assert kept == ["step_0000001.pt", "step_0000002.pt", "step_0000003.pt", "weights.pt"]


def test_stage_two_freezes_the_encoder_batch_norm(setup: dict[str, Path], tmp_path: Path) -> None:
    train(_options(setup, tmp_path / "s1", steps=2), progress=False)
    first = torch.load(tmp_path / "s1" / "checkpoints" / "step_0000002.pt", weights_only=True)["model"]
    train(_options(setup, tmp_path / "s2", stage=2, steps=2,
                   init=str(tmp_path / "s1" / "checkpoints" / "step_0000002.pt")), progress=False)
    second = torch.load(tmp_path / "s2" / "checkpoints" / "step_0000002.pt", weights_only=True)
    assert second["stage"] == 2 and second["optimizer"]["param_groups"][0]["lr"] == 5e-5
    for key in ("encoder.1.bn.weight", "encoder.1.bn.running_mean"):
        assert torch.equal(first[key], second["model"][key])  # frozen
    assert not torch.equal(first["decoder.0.bn.weight"], second["model"]["decoder.0.bn.weight"])


def test_missing_vgg_weights_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(ValueError, match="--no-perceptual"):
        load_vgg16(None)
    with pytest.warns(UserWarning, match="without the perceptual"):
        PConvLoss(None)


def _ddp_worker(rank: int, options: TrainOptions, port: int) -> None:
    import os

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2", RANK=str(rank),
                      LOCAL_RANK=str(rank))
    train(options, progress=False)
    torch.distributed.destroy_process_group()


def test_two_process_ddp_with_gloo(setup: dict[str, Path], tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = _options(setup, tmp_path / "ddp", steps=2)
    mp.spawn(_ddp_worker, args=(options, port), nprocs=2, join=True)
    assert (tmp_path / "ddp" / "checkpoints" / "step_0000002.pt").is_file()
    assert sorted(_losses(tmp_path / "ddp")) == [1, 2]


def test_pconv_inpainter_any_size_and_in_the_benchmark(setup: dict[str, Path], tmp_path: Path) -> None:
    from click.testing import CliRunner

    from benchmark.cli import main
    from benchmark.inpainters import create_inpainter

    train(_options(setup, tmp_path / "run", steps=2), progress=False)
    weights = tmp_path / "run" / "checkpoints" / "weights.pt"
    model = create_inpainter("pconv_baseline", weights=str(weights))
    image = np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    mask = np.zeros((50, 70), dtype=bool)
    mask[10:30, 20:40] = True
    output = model(image, mask)
    assert output.shape == image.shape and output.dtype == np.uint8
    assert np.array_equal(output[~mask], image[~mask])
    with pytest.raises(ValueError, match="needs --weights"):
        create_inpainter("pconv_baseline")
    result = CliRunner().invoke(main, ["run", "--model", "pconv_baseline", "--weights", str(weights),
                                       "--masks", str(setup["masks"]), "--images", str(setup["images"]),
                                       "--out", str(tmp_path / "runs"), "--per-cell", "1", "--batch-size", "4",
                                       "--quiet", "--no-set-metrics"])
    assert result.exit_code == 0, result.output
    assert "12 pairs scored, 0 failed" in result.output


def test_validation_masks_cover_every_cell(tmp_path: Path) -> None:
    from inpaint_core.dataset import Dataset
    from pconv_baseline.data import validation_masks

    dataset = make_mask_dataset(tmp_path, per_cell=3)  # 36 test masks, listed cell by cell
    cell_of = {dataset / row.path: row.cell for row in Dataset(dataset).records()}
    picked = validation_masks(dataset, 12)
    assert len(picked) == 12 and len({cell_of[p] for p in picked}) == 12
    assert len(validation_masks(dataset, 100)) == 36


def test_cli_options_come_from_train_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    import pconv_baseline.cli as cli

    seen: list[TrainOptions] = []
    summary = {"step": 0, "start_step": 0, "steps": 1000, "weights": "w.pt"}
    monkeypatch.setattr(cli, "run_training", lambda options, overwrite: seen.append(options) or summary)
    folders = ["--images", str(tmp_path), "--masks", str(tmp_path), "--out", str(tmp_path / "run")]
    init = tmp_path / "weights.pt"
    init.touch()
    result = CliRunner().invoke(cli.main, ["train", *folders, "--stage", "2", "--init", str(init), "--size", "512",
                                           "--compile"])
    assert result.exit_code == 0, result.output
    assert seen[-1] == TrainOptions(images=str(tmp_path), masks=str(tmp_path), out=str(tmp_path / "run"), stage=2,
                                    init=str(init), size=512, compile=True)
    result = CliRunner().invoke(cli.main, ["train", *folders[2:]])
    assert result.exit_code == 2 and "Missing option '--images'" in result.output
    assert len(seen) == 1
