from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from bench_helpers import make_images, make_mask_dataset
from benchmark.cli import main
from inpaint_core.nets.inception import FIDInception
from inpaint_core.nets.vgg import LPIPS, VGG16Features
from inpaint_core.nets.weights import FID_INCEPTION, locate_weights
from benchmark.setmetrics import FeatureLog, frechet_distance


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Weight files with the published layouts and random values (nothing is downloaded in tests)."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("weights")
    vgg = {f"features.{k}": v for k, v in VGG16Features().state_dict().items()}
    vgg["classifier.0.weight"] = torch.zeros(1)  # torchvision's file also holds the classifier
    torch.save(vgg, folder / "vgg16-397923af.pth")
    torch.save({f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1) for k, c in enumerate((64, 128, 256, 512, 512))},
               folder / "vgg.pth")
    torch.save(FIDInception().state_dict(), folder / "pt_inception-2015-12-05-6726825d.pth")
    return {"vgg": folder / "vgg16-397923af.pth", "lpips": folder / "vgg.pth",
            "fid": folder / "pt_inception-2015-12-05-6726825d.pth"}


def test_vgg16_layout_matches_torchvision_indices() -> None:
    keys = list(VGG16Features().state_dict())
    convs = sorted({int(k.split(".")[0]) for k in keys})
    assert convs == [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
    assert len(VGG16Features()) == 31


def test_lpips_properties_and_loading(random_weights: dict[str, Path]) -> None:
    model = LPIPS.from_files(random_weights["vgg"], random_weights["lpips"])
    generator = torch.Generator().manual_seed(1)
    first = torch.rand(2, 3, 64, 64, generator=generator) * 2 - 1
    second = torch.rand(2, 3, 64, 64, generator=generator) * 2 - 1
    assert torch.allclose(model(first, first), torch.zeros(2))
    forward, backward = model(first, second), model(second, first)
    assert torch.allclose(forward, backward) and (forward > 0).all()  # lin weights are non-negative here
    expected = torch.load(random_weights["lpips"], weights_only=True)["lin2.model.1.weight"]
    assert torch.equal(model.lin2.model[1].weight, expected)
    with pytest.raises(ValueError, match="lack"):
        model.load_lin({})


def test_fid_inception_loads_and_gives_pool3_features(random_weights: dict[str, Path]) -> None:
    path, reason = locate_weights(FID_INCEPTION, random_weights["fid"])
    assert path == random_weights["fid"] and reason == ""
    model = FIDInception()
    model.load_state_dict(torch.load(path, weights_only=True))
    assert "Mixed_7c.branch_pool.conv.weight" in model.state_dict()
    features = model.features(torch.rand(2, 3, 64, 80))
    assert features.shape == (2, 2048) and (features >= 0).all()


def test_missing_weights_are_a_reason_not_an_error(tmp_path: Path) -> None:
    path, reason = locate_weights(FID_INCEPTION, tmp_path / "nope.pth")
    assert path is None and "does not exist" in reason


def test_frechet_distance_closed_form() -> None:
    rng = np.random.default_rng(0)
    mean1, mean2 = rng.normal(size=4), rng.normal(size=4)
    var1, var2 = rng.uniform(0.5, 2, 4), rng.uniform(0.5, 2, 4)
    expected = np.sum((mean1 - mean2) ** 2) + np.sum(var1 + var2 - 2 * np.sqrt(var1 * var2))
    assert frechet_distance(mean1, np.diag(var1), mean2, np.diag(var2)) == pytest.approx(expected)
    assert frechet_distance(mean1, np.diag(var1), mean1, np.diag(var1)) == pytest.approx(0, abs=1e-9)


def test_feature_log_survives_a_cut_record(tmp_path: Path) -> None:
    log = FeatureLog(tmp_path / "f")
    log.append(3, np.ones((2, 2048)))
    log.append(7, np.zeros((2, 2048)))
    with open(tmp_path / "f", "ab") as handle:
        handle.write(b"\x01\x02")  # a record cut by a kill
    records = log.read()
    assert sorted(records) == [3, 7] and records[3].sum() == 4096


def test_run_with_set_metrics(random_weights: dict[str, Path], tmp_path: Path) -> None:
    # one pair in each of four cells and four area bins: set metrics only in "all" (a 2048-d FID costs a minute)
    masks = make_mask_dataset(tmp_path, cells=("01-10_B", "10-20_N", "30-40_N", "50-60_B"))
    images = make_images(tmp_path)
    result = CliRunner().invoke(main, [
        "run", "--model", "opencv-telea", "--masks", str(masks), "--images", str(images), "--out", str(tmp_path / "runs"),
        "--quiet", "--vgg-weights", str(random_weights["vgg"]), "--lpips-weights", str(random_weights["lpips"]),
        "--fid-weights", str(random_weights["fid"])])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "runs" / "opencv-telea"
    info = json.loads((folder / "run.json").read_text())
    assert info["set_metrics"]["lpips"] == "computed" and info["set_metrics"]["fid"] == "computed"
    assert set(info["set_metrics"]["weights_sha256"]) == {"vgg16", "lpips", "fid"}
    with open(folder / "per_image.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert all(float(r["lpips"]) > 0 for r in rows)
    with open(folder / "summary.csv", newline="") as handle:
        summary = {r["cell"]: r for r in csv.DictReader(handle)}
    assert summary["all"]["fid_count"] == "4" and float(summary["all"]["fid"]) >= 0
    assert summary["01-10_B"]["fid"] == "" and summary["01-10_B"]["fid_count"] == "0"  # one pair: no FID
    # KID from the same features: 4 pairs, below the subset size of 1000: the whole set once, std 0
    assert info["set_metrics"]["kid"] == "computed" and summary["all"]["kid_std"] == "0.000000"
    assert summary["all"]["kid"] != "" and summary["01-10_B"]["kid"] == ""
    # P-/U-IDS need 4 x 2048 pairs: none in a 4-pair run
    assert info["set_metrics"]["p_ids"] == "computed" and summary["all"]["p_ids"] == summary["all"]["u_ids"] == ""
    assert not (folder / "fid_features.partial").exists()
    plain = CliRunner().invoke(main, ["run", "--model", "mean-fill", "--masks", str(masks), "--images", str(images),
                                      "--out", str(tmp_path / "runs"), "--quiet", "--no-set-metrics"])
    assert plain.exit_code == 0
    info = json.loads((tmp_path / "runs" / "mean-fill" / "run.json").read_text())
    assert info["set_metrics"]["fid"] == "set-level metrics turned off"
    board = CliRunner().invoke(main, ["leaderboard", str(tmp_path / "runs"), "-o", str(tmp_path / "lb.csv")])
    assert board.exit_code == 0, board.output
    with open(tmp_path / "lb.csv", newline="") as handle:
        by_model = {r["model"]: r for r in csv.DictReader(handle)}
    assert by_model["mean-fill"]["fid"] == "" and not math.isnan(float(by_model["opencv-telea"]["fid"]))


def test_resumed_run_summarises_lpips_and_fid_like_an_uninterrupted_one(random_weights: dict[str, Path],
                                                                        tmp_path: Path) -> None:
    from benchmark.runner import CallableProvider, RunSettings, prepare, score_run
    from benchmark.setmetrics import SetMetricOptions, SetMetrics

    masks = make_mask_dataset(tmp_path, cells=("01-10_B", "10-20_N", "30-40_N", "50-60_B"))  # FID only in all
    prepared = prepare(RunSettings(masks=masks, images=make_images(tmp_path)))
    metrics = SetMetrics(SetMetricOptions(vgg_weights=str(random_weights["vgg"]),
                                          lpips_weights=str(random_weights["lpips"]),
                                          fid_weights=str(random_weights["fid"])))
    calls = {"n": 0}

    def flaky(pair, image, mask):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return np.clip(image.astype(int) + 40, 0, 255).astype(np.uint8), 0.5

    model = {"name": "brighter", "kind": "python", "spec": "test"}
    with pytest.raises(KeyboardInterrupt):
        score_run(prepared, tmp_path / "cut", CallableProvider(flaky), model=model, set_metrics=metrics)
    assert (tmp_path / "cut" / "fid_features.partial").stat().st_size > 0
    score_run(prepared, tmp_path / "cut", CallableProvider(flaky), model=model, set_metrics=metrics)
    calls["n"] = 100
    score_run(prepared, tmp_path / "whole", CallableProvider(flaky), model=model, set_metrics=metrics)
    for table in ("summary.csv", "summary_area.csv"):  # intervals, FID and KID too
        assert (tmp_path / "cut" / table).read_bytes() == (tmp_path / "whole" / table).read_bytes()
    with open(tmp_path / "cut" / "summary.csv", newline="") as handle:
        overall = {r["cell"]: r for r in csv.DictReader(handle)}["all"]
    assert overall["count"] == "4" and overall["fid_count"] == "4" and float(overall["lpips_mean"]) > 0
    assert overall["kid"] != "" and float(overall["lpips_ci_low"]) <= float(overall["lpips_mean"])
