"""Bootstrap intervals, KID, P-IDS / U-IDS and the hole-area grouping, against known answers."""
from __future__ import annotations

import csv
import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bench_helpers import make_images, make_mask_dataset
from benchmark.aggregate import CellAccumulator
from benchmark.areabins import AREA_BIN_NAMES, area_bin
from benchmark.bootstrap import group_key, group_rng, percentile_intervals
from benchmark.cli import main
from benchmark.ids import inception_discriminative_scores
from benchmark.kid import kernel_inception_distance, mmd2_unbiased
from benchmark.leaderboard import LeaderboardError, read_run
from benchmark.results import summary_csv
from inpaint_core.seeds import name_key
from maskgen.families.generate import protocol_code


# -- bootstrap -------------------------------------------------------------------------------------------------


def test_constant_data_gives_a_zero_width_interval_at_the_constant() -> None:
    bounds = percentile_intervals(np.full((1, 500), 0.3), generator=np.random.default_rng(0))
    assert bounds[0, 0] == bounds[0, 1] == pytest.approx(0.3, abs=1e-15)


def test_normal_sample_interval_is_mean_plus_minus_1_96_standard_errors() -> None:
    rng = np.random.default_rng(11)
    sample = rng.normal(5.0, 2.0, size=20000)
    (low, high), = percentile_intervals(sample[None], generator=group_rng("all", sample.size))
    half = 1.96 * sample.std() / math.sqrt(sample.size)  # 0.0277
    assert low == pytest.approx(sample.mean() - half, abs=0.1 * half)
    assert high == pytest.approx(sample.mean() + half, abs=0.1 * half)
    assert (high - low) == pytest.approx(2 * half, rel=0.1)
    wider = percentile_intervals(sample[None], generator=group_rng("all", sample.size), confidence=0.99)[0]
    assert wider[0] < low and wider[1] > high


def test_interval_depends_on_the_values_not_their_order_and_is_seeded_by_group() -> None:
    values = np.random.default_rng(3).exponential(size=(2, 300))
    shuffled = values[:, np.random.default_rng(4).permutation(300)]
    first = percentile_intervals(values, generator=group_rng("01-10_B", 300))
    assert np.array_equal(first, percentile_intervals(shuffled, generator=group_rng("01-10_B", 300)))
    assert not np.array_equal(first, percentile_intervals(values, generator=group_rng("01-10_N", 300)))
    assert np.isnan(percentile_intervals(values[:, :1], generator=group_rng("x", 1))).all()  # one value: no spread
    with pytest.raises(ValueError, match="finite"):
        percentile_intervals(np.array([[1.0, np.inf]]), generator=group_rng("x", 2))


def test_name_keys_are_the_crc32_of_the_name() -> None:
    # the seed keys of group and protocol names: pinned, so bootstrap intervals and generated masks keep their bytes
    assert group_key("01-10_B") == name_key("01-10_B") == 175464162
    assert protocol_code("lama-thick-512") == name_key("lama-thick-512") == 2540557701


def test_accumulator_intervals_are_the_same_bytes_in_any_arrival_order() -> None:
    rng = np.random.default_rng(5)
    rows = [("20-30_N" if i % 3 else "01-10_B", {"l1": float(rng.uniform(0, 9)), "psnr": float(rng.normal(25, 3))},
             float(rng.uniform(0.01, 0.6)), rng.normal(size=(2, 6))) for i in range(60)]
    tables = []
    for order in (range(60), np.random.default_rng(6).permutation(60)):
        accumulator = CellAccumulator(("l1", "psnr"), kid_subset_size=10, kid_subsets=5)
        for index in order:
            cell, values, ratio, features = rows[index]
            accumulator.update(cell, values, features, hole_ratio=ratio, key=int(index))
        tables.append((summary_csv(accumulator.compute()), summary_csv(accumulator.compute_area())))
    assert tables[0] == tables[1]
    area = accumulator.compute_area()
    assert sum(entry["count"] for entry in area) == 60 and all(entry["fid_count"] >= 2 for entry in area)
    assert all(math.isfinite(entry["fid"]) and math.isfinite(entry["kid"]) for entry in area)
    accumulator = CellAccumulator(("l1",))
    for cell, values, _, _ in rows:
        accumulator.update(cell, values)
    for entry in accumulator.compute():
        assert entry["l1_ci_low"] < entry["l1_mean"] < entry["l1_ci_high"]


# -- KID -------------------------------------------------------------------------------------------------------


def _naive_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """The unbiased estimator by loops: off-diagonal within-set means minus twice the cross mean."""
    m, d = x.shape
    kernel = lambda a, b: (sum(a[t] * b[t] for t in range(d)) / d + 1) ** 3  # noqa: E731
    xx = sum(kernel(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(kernel(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(kernel(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_kid_equals_a_direct_loop_over_the_same_subsets() -> None:
    rng = np.random.default_rng(8)
    truth, output = rng.normal(1.0, 1.0, size=(9, 5)), rng.normal(1.3, 1.2, size=(9, 5))
    kid, kid_std = kernel_inception_distance(truth, output, generator=np.random.default_rng(42), subset_size=6,
                                             subsets=4)
    draws = np.random.default_rng(42)
    estimates = []
    for _ in range(4):
        rows_x, rows_y = draws.choice(9, 6, replace=False), draws.choice(9, 6, replace=False)
        estimates.append(_naive_mmd2(truth[rows_x], output[rows_y]))
    assert kid == pytest.approx(np.mean(estimates), rel=1e-12)
    assert kid_std == pytest.approx(np.std(estimates), rel=1e-10)
    # kernels per subset instead of read from the precomputed n x n matrices: the same subsets, the same figures
    per_subset = kernel_inception_distance(truth, output, generator=np.random.default_rng(42), subset_size=6,
                                           subsets=4, gram_limit_bytes=0)
    assert per_subset == (pytest.approx(kid, rel=1e-12), pytest.approx(kid_std, rel=1e-10))
    # subset size >= n: the whole set, once (every subset would be the same set)
    whole = kernel_inception_distance(truth, output, generator=np.random.default_rng(0), subset_size=1000)
    assert whole == (pytest.approx(_naive_mmd2(truth, output), rel=1e-12), 0.0)
    assert mmd2_unbiased(truth, output) == pytest.approx(_naive_mmd2(truth, output), rel=1e-12)
    assert all(math.isnan(v) for v in kernel_inception_distance(truth[:1], output[:1],
                                                                generator=np.random.default_rng(0)))


def test_kid_is_unbiased_near_zero_for_one_distribution_and_positive_for_a_shift() -> None:
    rng = np.random.default_rng(9)
    same = [mmd2_unbiased(rng.normal(size=(40, 8)), rng.normal(size=(40, 8))) for _ in range(200)]
    assert abs(np.mean(same)) < 3 * np.std(same) / math.sqrt(len(same))  # unbiased: centred on 0
    assert min(same) < 0 < max(same)  # an unbiased estimate of 0 takes both signs
    shifted = mmd2_unbiased(rng.normal(size=(40, 8)), rng.normal(0.5, 1.0, size=(40, 8)))
    assert shifted > 10 * np.std(same)


# -- P-IDS / U-IDS ---------------------------------------------------------------------------------------------


def test_ids_on_separable_features_are_zero() -> None:
    rng = np.random.default_rng(10)
    truth = rng.normal(size=(300, 4)) + [6, 0, 0, 0]
    output = rng.normal(size=(300, 4)) - [6, 0, 0, 0]
    assert inception_discriminative_scores(truth, output) == (0.0, 0.0)


def test_ids_on_one_distribution_are_near_one_half() -> None:
    rng = np.random.default_rng(12)
    p_ids, u_ids = inception_discriminative_scores(rng.normal(size=(3000, 4)), rng.normal(size=(3000, 4)))
    assert 0.45 < u_ids < 0.5 and 0.45 < p_ids < 0.55  # in-sample: U-IDS a little under 0.5


def test_ids_only_for_groups_with_enough_pairs_per_dimension() -> None:
    rng = np.random.default_rng(13)
    accumulator = CellAccumulator(("l1",), kid_subset_size=20, kid_subsets=3)
    for index in range(50):  # 40 pairs in one cell, 10 in another; 8-d features: 32 needed
        features = np.stack([rng.normal(size=8), rng.normal(size=8) + 3])
        accumulator.update("01-10_B" if index < 40 else "01-10_N", {"l1": 1.0}, features, key=index)
    entries = {e["cell"]: e for e in accumulator.compute()}
    assert entries["01-10_B"]["u_ids"] == 0.0 and entries["01-10_B"]["p_ids"] == 0.0  # separable shift
    assert math.isnan(entries["01-10_N"]["u_ids"]) and math.isnan(entries["01-10_N"]["p_ids"])
    assert entries["01-10_N"]["kid"] > 0 and entries["01-10_N"]["kid_std"] == 0.0  # 10 pairs < 20: whole set
    assert entries["all"]["fid_count"] == 50 and entries["all"]["kid_std"] > 0


# -- hole-area bins --------------------------------------------------------------------------------------------


def test_area_bins_are_lamas_closed_below_open_above() -> None:
    assert AREA_BIN_NAMES[0] == "0-10%" and AREA_BIN_NAMES[-1] == "90-100%" and len(AREA_BIN_NAMES) == 10
    expected = {0.0: "0-10%", 0.099999: "0-10%", 0.1: "10-20%", 0.3: "30-40%", 0.35: "30-40%", 0.6: "60-70%",
                0.7: "70-80%", 0.9: "90-100%", 1.0: "90-100%"}
    assert {ratio: area_bin(ratio) for ratio in expected} == expected
    assert area_bin(None) is None
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        area_bin(1.5)


def test_area_bins_of_written_ratios_match_lamas_bins_of_every_512_px_mask() -> None:
    """LaMa bins the exact area with np.linspace edges; we bin the 6-decimal ratio of per_image.csv: at
    512 x 512 the two agree for every possible hole-pixel count."""
    from benchmark import areabins

    exact = np.arange(512 * 512 + 1) / (512 * 512)
    lama = np.minimum(np.searchsorted(np.linspace(0, 1, 11), exact, side="right") - 1, 9)
    written = np.array([float(f"{ratio:.6f}") for ratio in exact])
    ours = np.minimum(np.searchsorted(areabins._EDGES, written, side="right") - 1, 9)
    assert np.array_equal(lama, ours)
    assert [area_bin(ratio) for ratio in written[::9973]] == [AREA_BIN_NAMES[i] for i in ours[::9973]]


def test_area_table_of_known_ratios() -> None:
    accumulator = CellAccumulator(("l1",))
    for ratio, l1 in ((0.05, 1.0), (0.08, 3.0), (0.1, 5.0), (0.55, 7.0)):
        accumulator.update("01-10_B", {"l1": l1}, hole_ratio=ratio)
    accumulator.update("01-10_B", None, hole_ratio=0.56)  # failed
    accumulator.update("01-10_B", None)  # failed before its mask was read: in no bin
    table = {e["area_bin"]: e for e in accumulator.compute_area()}
    assert list(table) == ["0-10%", "10-20%", "50-60%"]
    assert (table["0-10%"]["count"], table["0-10%"]["l1_mean"]) == (2, 2.0)
    assert (table["10-20%"]["count"], table["10-20%"]["l1_mean"]) == (1, 5.0)
    assert (table["50-60%"]["count"], table["50-60%"]["failures"]) == (2, 1)
    assert math.isnan(table["10-20%"]["l1_ci_low"])  # one value: no interval


# -- a run and the leaderboard ---------------------------------------------------------------------------------


def _rewrite(path: Path, column: str, group: str, value: str, label: str = "cell") -> None:
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        if row[label] == group:
            row[column] = value
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    info = json.loads((path.parent / "run.json").read_text())
    info["files"][path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    (path.parent / "run.json").write_text(json.dumps(info))


def test_run_writes_both_tables_and_the_leaderboard_recomputes_the_intervals(tmp_path: Path) -> None:
    masks, images = make_mask_dataset(tmp_path, per_cell=2), make_images(tmp_path)
    result = CliRunner().invoke(main, ["run", "--model", "mean-fill", "--masks", str(masks), "--images", str(images),
                                       "--out", str(tmp_path / "runs"), "--per-cell", "2", "--quiet",
                                       "--no-set-metrics"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    folder = tmp_path / "runs" / "mean-fill"
    info = json.loads((folder / "run.json").read_text())
    assert "summary_area.csv" in info["files"]
    with open(folder / "summary_area.csv", newline="") as handle:
        area = {row["area_bin"]: row for row in csv.DictReader(handle)}
    # the helper's masks sit mid-bin (0.055 + 0.01 v, 0.15 + 0.01 v, ...): 4 pairs in each of the first six bins
    assert list(area) == list(AREA_BIN_NAMES[:6]) and {row["count"] for row in area.values()} == {"4"}
    with open(folder / "summary.csv", newline="") as handle:
        summary = {row["cell"]: row for row in csv.DictReader(handle)}
    header = list(summary["all"])
    assert header[header.index("l1_std") + 1:header.index("l1_std") + 3] == ["l1_ci_low", "l1_ci_high"]
    assert header[-6:] == ["fid", "fid_count", "kid", "kid_std", "p_ids", "u_ids"] and summary["all"]["kid"] == ""
    record = read_run(folder)
    assert f"{record.values['all']['l1_ci_low']:.6f}" == summary["all"]["l1_ci_low"]
    assert f"{record.area_values['20-30%']['l1_ci_high']:.6f}" == area["20-30%"]["l1_ci_high"]
    assert float(summary["all"]["l1_ci_low"]) < record.values["all"]["l1"] < float(summary["all"]["l1_ci_high"])
    _rewrite(folder / "summary.csv", "l1_ci_low", "all", "0.000001")
    with pytest.raises(LeaderboardError, match="summary.csv gives l1_ci_low '0.000001' for all"):
        read_run(folder)
    _rewrite(folder / "summary.csv", "l1_ci_low", "all", summary["all"]["l1_ci_low"])
    read_run(folder)
    _rewrite(folder / "summary_area.csv", "l1_mean", "0-10%", "99.000000", label="area_bin")
    with pytest.raises(LeaderboardError, match="summary_area.csv gives l1_mean '99.000000' for 0-10%"):
        read_run(folder)
