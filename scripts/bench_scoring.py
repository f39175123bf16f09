#!/usr/bin/env python3
"""Scoring speed: L1 + PSNR + SSIM on 512x512 RGB pairs, ours against scikit-image's functions, one run.

    python scripts/bench_scoring.py [--pairs 40]

Prints pairs/s for each and the ratio, and checks the values are equal (SSIM within 1e-6).
"""
from __future__ import annotations

import argparse
import sys
import time


def main() -> int:
    import cv2
    import numpy as np
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from benchmark.metrics import l1_percent
    from benchmark.metrics import peak_signal_noise_ratio as our_psnr
    from benchmark.metrics import structural_similarity as our_ssim

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--threads", type=int, default=None, help="OpenCV threads (default: OpenCV's choice)")
    args = parser.parse_args()
    if args.threads is not None:
        cv2.setNumThreads(args.threads)
    rng = np.random.default_rng(0)
    pairs = []
    for _ in range(args.pairs):
        noise = rng.uniform(0, 255, (512, 512, 3)).astype(np.float32)
        truth = np.clip(cv2.GaussianBlur(noise, (0, 0), 3) * 3 - 250, 0, 255).astype(np.uint8)
        test = np.clip(truth.astype(int) + rng.integers(-20, 21, truth.shape), 0, 255).astype(np.uint8)
        pairs.append((truth, test))

    def reference(truth: np.ndarray, test: np.ndarray) -> tuple[float, float, float]:
        l1 = float(np.mean(np.abs(truth.astype(np.float64) - test))) / 255 * 100
        return (l1, peak_signal_noise_ratio(truth, test, data_range=255),
                structural_similarity(truth, test, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                      data_range=255, channel_axis=-1))

    def ours(truth: np.ndarray, test: np.ndarray) -> tuple[float, float, float]:
        return l1_percent(truth, test), our_psnr(truth, test), our_ssim(truth, test)

    timings = {}
    values = {}
    for name, function in (("scikit-image", reference), ("benchmark.metrics", ours)):
        function(*pairs[0])  # warm-up
        started = time.perf_counter()
        values[name] = [function(*pair) for pair in pairs]
        timings[name] = len(pairs) / (time.perf_counter() - started)
    worst = np.max(np.abs(np.array(values["scikit-image"]) - np.array(values["benchmark.metrics"])), axis=0)
    print(f"{len(pairs)} pairs 512x512 RGB, OpenCV threads {cv2.getNumThreads()}")
    for name, rate in timings.items():
        print(f"{name:<18} {rate:8.1f} pairs/s")
    print(f"speed-up: {timings['benchmark.metrics'] / timings['scikit-image']:.2f}x")
    print(f"largest difference: L1 {worst[0]:.2e}, PSNR {worst[1]:.2e}, SSIM {worst[2]:.2e}")
    return 0 if worst[2] <= 1e-6 else 1


if __name__ == "__main__":
    sys.exit(main())
