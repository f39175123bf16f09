#!/usr/bin/env python3
"""Cost of a run's summary tables: before (mean and std per group) and now (plus bootstrap intervals and the
hole-area table), on a synthetic per_image table of NVIDIA's size; optionally the set-level metrics.

    PYTHONPATH=. python scripts/bench_summary.py [--rows 12000] [--repeat 3] [--features 0] [--with-features]

Part 1 builds ``--rows`` ok rows spread evenly over the 12 cells (hole ratios inside each cell's bin), with
every per-image metric of ``summary.csv`` (l1, l1_hole, psnr, ssim, lpips, seconds), and times, best of
``--repeat``: "before" = feeding a :class:`CellAccumulator` and taking each group's mean and std (what
``compute`` did before the intervals; no FID), "now" = feeding it and ``compute()`` + ``compute_area()`` with
1000 bootstrap resamples. Prints both and their ratio.

``--with-features`` feeds every row a synthetic 2 x 2048 feature pair too, so "before" also takes FID of each
cell and ``all`` (as before) and "now" FID, KID and P-/U-IDS of every cell, ``all`` and area bin (slow: minutes).

Part 2 (``--features N`` > 0) times, on one group of N synthetic 2048-d feature pairs, FID, KID (100 subsets of
min(1000, N)) and P-/U-IDS (LinearSVC) once each.
"""
from __future__ import annotations

import argparse
import time


def main() -> int:
    import numpy as np

    from benchmark.aggregate import CellAccumulator
    from benchmark.results import SUMMARY_METRICS
    from inpaint_core.buckets import BIN_EDGES, CELLS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=12000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--features", type=int, default=0, help="pairs for the set-level timing (0: skip)")
    parser.add_argument("--with-features", action="store_true", help="time the full tables with FID, KID, IDS")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    rows = []
    for index in range(args.rows):
        cell = CELLS[index * len(CELLS) // args.rows]
        ratio = float(f"{rng.uniform(BIN_EDGES[cell.bin_index] + 1e-6, BIN_EDGES[cell.bin_index + 1]):.6f}")
        values = {"l1": rng.gamma(2, 1.5), "l1_hole": rng.gamma(2, 8), "psnr": rng.normal(25, 4),
                  "ssim": rng.beta(8, 2), "lpips": rng.beta(2, 8), "seconds": rng.gamma(3, 0.01)}
        rows.append((cell.name, {k: float(f"{v:.6f}") for k, v in values.items()}, ratio))
    assert set(rows[0][1]) == set(SUMMARY_METRICS)
    features = None
    if args.with_features:
        truth = np.abs(rng.normal(size=(args.rows, 2048)))
        features = np.stack([truth, truth + rng.normal(scale=0.3, size=truth.shape)], axis=1)

    def feed() -> CellAccumulator:
        accumulator = CellAccumulator(SUMMARY_METRICS)
        for index, (cell, values, ratio) in enumerate(rows):
            accumulator.update(cell, values, None if features is None else features[index], hole_ratio=ratio,
                               key=index)
        return accumulator

    def before() -> None:
        from benchmark.setmetrics import frechet_distance

        accumulator = feed()
        for name, group in accumulator._groups.items():  # the former compute(): mean and std (and FID) per group
            for metric in SUMMARY_METRICS:
                group.mean_std(metric)
            if len(group.features) >= 2:
                data = group.feature_pairs()
                frechet_distance(data[:, 0].mean(0), np.cov(data[:, 0], rowvar=False),
                                 data[:, 1].mean(0), np.cov(data[:, 1], rowvar=False))

    def now() -> None:
        accumulator = feed()
        accumulator.compute()
        accumulator.compute_area()

    timings = {}
    for name, function in (("before", before), ("now", now)):
        best = float("inf")
        for _ in range(args.repeat):
            start = time.perf_counter()
            function()
            best = min(best, time.perf_counter() - start)
        timings[name] = best
    extra = features is not None
    labels = {"before": "before (mean, std" + (", FID" if extra else "") + ")",
              "now": "now (+ bootstrap 95 % CI, area table" + (", KID, P-/U-IDS" if extra else "") + ")"}
    print(f"{args.rows} rows, {len(SUMMARY_METRICS)} metrics, 13 groups + area bins"
          f"{', 2048-d features' if extra else ''}, best of {args.repeat}:")
    for name, label in labels.items():
        print(f"  {label + ':':<56} {timings[name]:.3f} s")
    print(f"  {'ratio now / before:':<56} {timings['now'] / timings['before']:.1f}x "
          f"(+{timings['now'] - timings['before']:.3f} s)")

    if args.features > 0:
        from benchmark.ids import inception_discriminative_scores
        from benchmark.kid import kernel_inception_distance
        from benchmark.setmetrics import frechet_distance

        truth = np.abs(rng.normal(size=(args.features, 2048)))
        output = truth + rng.normal(scale=0.3, size=truth.shape)
        print(f"set-level metrics on one group of {args.features} pairs of 2048-d features (one run each):")
        start = time.perf_counter()
        frechet_distance(truth.mean(0), np.cov(truth, rowvar=False), output.mean(0), np.cov(output, rowvar=False))
        print(f"  FID:          {time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        kernel_inception_distance(truth, output, generator=np.random.default_rng(0))
        print(f"  KID:          {time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        inception_discriminative_scores(truth, output)
        print(f"  P-/U-IDS:     {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
