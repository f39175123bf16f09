from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio as sk_psnr
from skimage.metrics import structural_similarity as sk_ssim

from benchmark.metrics import (
    MetricSet, image_metrics, l1_hole_percent, l1_percent, peak_signal_noise_ratio, structural_similarity,
)


def _pair(seed: int, shape=(96, 128, 3), noise: int = 30) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 256, shape, dtype=np.uint8)
    test = np.clip(truth.astype(int) + rng.integers(-noise, noise + 1, shape), 0, 255).astype(np.uint8)
    return truth, test


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("shape", [(96, 128, 3), (64, 64), (11, 40, 3)])
def test_ssim_equals_scikit_image(seed: int, shape) -> None:
    truth, test = _pair(seed, shape)
    reference = sk_ssim(truth, test, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255,
                        channel_axis=-1 if len(shape) == 3 else None)
    assert structural_similarity(truth, test) == pytest.approx(reference, abs=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_psnr_equals_scikit_image(seed: int) -> None:
    truth, test = _pair(seed)
    assert peak_signal_noise_ratio(truth, test) == pytest.approx(sk_psnr(truth, test, data_range=255), abs=1e-9)


def test_l1_values() -> None:
    truth = np.zeros((4, 4, 3), dtype=np.uint8)
    test = truth.copy()
    test[0, 0] = 255  # 3 channel values off by 255 out of 48
    assert l1_percent(truth, test) == pytest.approx(3 * 255 / 48 / 255 * 100)
    mask = np.zeros((4, 4), dtype=bool)
    mask[0, :2] = True
    assert l1_hole_percent(truth, test, mask) == pytest.approx(3 * 255 / 6 / 255 * 100)
    assert math.isnan(l1_hole_percent(truth, test, np.zeros((4, 4), dtype=bool)))


def test_identical_images() -> None:
    truth, _ = _pair(0)
    values = image_metrics(truth, truth, np.ones(truth.shape[:2], dtype=bool))
    assert math.isinf(peak_signal_noise_ratio(truth, truth))  # the reference's value ...
    # ... and a run's: the PSNR of the smallest possible error, above that of one value off by one
    assert values["psnr"] == 10 * math.log10(255 ** 2 * truth.size)
    one_off = truth.copy()
    one_off[0, 0, 0] ^= 1
    assert values["psnr"] == pytest.approx(peak_signal_noise_ratio(truth, one_off), abs=1e-9)
    assert values["psnr"] >= image_metrics(truth, one_off, np.ones(truth.shape[:2], dtype=bool))["psnr"]
    assert values["l1"] == 0 and values["l1_hole"] == 0 and values["ssim"] == pytest.approx(1.0)


def test_input_checks() -> None:
    truth, test = _pair(0)
    with pytest.raises(ValueError, match="differ in shape"):
        l1_percent(truth, test[:10])
    with pytest.raises(ValueError, match="uint8"):
        peak_signal_noise_ratio(truth.astype(float), test.astype(float))
    with pytest.raises(ValueError, match="at least 11"):
        structural_similarity(truth[:8, :8], test[:8, :8])


def test_metric_set_running_means_and_reset() -> None:
    metrics = MetricSet()
    mask = np.ones((96, 128), dtype=bool)
    first = metrics.update(*_pair(0), mask)
    second = metrics.update(*_pair(1, noise=5), mask)
    third = metrics.update(*(2 * (_pair(2)[0],)), mask)  # identical: the PSNR ceiling, in the mean
    result = metrics.compute()
    assert third["psnr"] == 10 * math.log10(255 ** 2 * 96 * 128 * 3)
    assert result["psnr"] == pytest.approx((first["psnr"] + second["psnr"] + third["psnr"]) / 3)
    assert result["l1"] == pytest.approx((first["l1"] + second["l1"] + 0.0) / 3)
    assert metrics.psnr_infinite == 0
    metrics.reset()
    assert math.isnan(metrics.compute()["l1"])


def test_cell_accumulator_summarises_like_numpy_per_cell_and_overall() -> None:
    from benchmark.aggregate import CellAccumulator
    from benchmark.setmetrics import frechet_distance

    rng = np.random.default_rng(7)
    accumulator = CellAccumulator(("l1", "psnr"))
    fed: dict[str, list[dict[str, float]]] = {}
    features = []
    for index in range(9):
        cell = "20-30_N" if index % 3 else "01-10_B"
        values = {"l1": float(rng.uniform(0, 10)), "psnr": math.inf if index == 4 else float(rng.uniform(15, 30))}
        if index == 5:
            values["l1"] = float("nan")
        stacked = rng.normal(size=(2, 8)) if cell == "20-30_N" else None
        accumulator.update(cell, values, stacked)
        fed.setdefault(cell, []).append(values)
        fed.setdefault("all", []).append(values)
        if stacked is not None:
            features.append(stacked)
    accumulator.update("01-10_B", None)  # a failed pair
    summary = accumulator.compute()
    assert [entry["cell"] for entry in summary] == ["01-10_B", "20-30_N", "all"]  # NVIDIA order, then all
    assert [(e["count"], e["failures"]) for e in summary] == [(4, 1), (6, 0), (10, 1)]
    for entry in summary:
        for metric in ("l1", "psnr"):
            values = np.array([v[metric] for v in fed[entry["cell"]] if math.isfinite(v[metric])])
            assert entry[f"{metric}_mean"] == float(values.mean()) and entry[f"{metric}_std"] == float(values.std())
    assert list(summary[0]) == ["cell", "count", "failures", "l1_mean", "l1_std", "l1_ci_low", "l1_ci_high",
                                "psnr_mean", "psnr_std", "psnr_ci_low", "psnr_ci_high", "fid", "fid_count", "kid",
                                "kid_std", "p_ids", "u_ids"]
    assert math.isnan(summary[0]["fid"]) and summary[0]["fid_count"] == 0  # no features: no FID
    data = np.stack(features)
    expected = frechet_distance(data[:, 0].mean(0), np.cov(data[:, 0], rowvar=False),
                                data[:, 1].mean(0), np.cov(data[:, 1], rowvar=False))
    assert summary[1]["fid"] == expected and summary[1]["fid_count"] == 6 and summary[2]["fid_count"] == 6
    assert accumulator.infinite("20-30_N") == 1 and accumulator.infinite() == 1
    accumulator.reset()
    assert accumulator.compute() == []
