#!/usr/bin/env python3
"""CPU cost of RAFT (maskgen/raft.py) per frame pair, forward + backward, against DIS in the same run.

    python scripts/bench_raft.py [--sizes 256x448,436x1024] [--variants small,large] [--threads 1,2]
                                 [--iterations 1,12,32] [--repeat 2]

Per size: DIS (``dis``, maskgen's default, one OpenCV thread as in a build worker) computes forward and
backward flow; RAFT computes both with ``pair`` (one batch of 2, each frame encoded once) for every torch
thread count in ``--threads`` (1 is what a build worker uses) at 12 updates, and at the other ``--iterations``
with the first thread count, so that the cost of one update shows. Seeded random weights
(:func:`maskgen.raft.random_weights`): the work does not depend on the weights' values. Each timing is the
best of ``--repeat`` runs after one warm-up run, the methods interleaved, so the ratios hold on a busy
machine. Frames: textured
random frames, the second shifted by (3, 5) pixels.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path


def _frames(height: int, width: int):
    import numpy as np

    from inpaint_core.seeds import Stream, rng

    generator = rng(0, Stream.RANDOM_WEIGHTS, height, width)
    coarse = generator.uniform(0, 255, size=(height // 8 + 2, width // 8 + 2, 3))
    texture = np.kron(coarse, np.ones((8, 8, 1))) + generator.normal(0, 20, size=(height // 8 * 8 + 16,
                                                                                  width // 8 * 8 + 16, 3))
    texture = np.clip(texture, 0, 255).astype(np.uint8)
    return texture[5: 5 + height, 5: 5 + width].copy(), texture[8: 8 + height, 10: 10 + width].copy()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="256x448,436x1024", help="HxW frame sizes (comma-separated)")
    parser.add_argument("--variants", default="small,large")
    parser.add_argument("--threads", default="1,2", help="torch thread counts (the first also for --iterations)")
    parser.add_argument("--iterations", default="1,12,32", help="flow updates timed with the first thread count")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    import cv2
    import torch

    from maskgen.flow import create_flow, forward_backward
    from maskgen.raft import DEFAULT_ITERATIONS, build_raft, random_weights

    cv2.setNumThreads(1)
    threads = [int(t) for t in args.threads.split(",")]
    iterations = sorted({int(i) for i in args.iterations.split(",")} | {DEFAULT_ITERATIONS})
    variants = args.variants.split(",")
    print(f"torch {torch.__version__}, OpenCV {cv2.__version__}; machine: {torch.get_num_threads()} torch threads "
          f"by default; best of {args.repeat}; seconds per frame pair (forward + backward)")
    with tempfile.TemporaryDirectory() as folder:
        paths = {}
        for variant in variants:
            paths[variant] = Path(folder) / f"{variant}.pth"
            torch.save(random_weights(build_raft(variant), seed=0), paths[variant])
        dis = create_flow("dis")
        for size in args.sizes.split(","):
            height, width = (int(part) for part in size.split("x"))
            first, second = _frames(height, width)
            runs: dict[str, object] = {"dis": lambda: forward_backward(dis, first, second)}
            for variant in variants:
                for count in threads:
                    method = create_flow(f"raft-{variant}", weights=str(paths[variant]), device="cpu",
                                         threads=count)
                    runs[f"raft-{variant} {count} thr {DEFAULT_ITERATIONS:>2} upd"] = (
                        lambda method=method: method.pair(first, second))
                for updates in iterations:
                    if updates != DEFAULT_ITERATIONS:
                        method = create_flow(f"raft-{variant}", weights=str(paths[variant]), device="cpu",
                                             threads=threads[0], iterations=updates)
                        runs[f"raft-{variant} {threads[0]} thr {updates:>2} upd"] = (
                            lambda method=method: method.pair(first, second))
            for run in runs.values():  # warm-up: first-call allocations and kernel selection
                run()
            best = {name: float("inf") for name in runs}
            for _ in range(args.repeat):
                for name, run in runs.items():
                    started = time.perf_counter()
                    run()
                    best[name] = min(best[name], time.perf_counter() - started)
            print(f"{height}x{width}:")
            for name, seconds in best.items():
                print(f"  {name:<26}{seconds:8.3f} s  {seconds / best['dis']:6.1f} x DIS")
            for variant in variants:
                keys = {u: f"raft-{variant} {threads[0]} thr {u:>2} upd" for u in iterations}
                low, high = iterations[0], iterations[-1]
                if high > low:
                    per_update = (best[keys[high]] - best[keys[low]]) / (high - low)
                    fixed = best[keys[low]] - low * per_update
                    print(f"  raft-{variant}, {threads[0]} thread(s): {fixed:.3f} s encoders + correlation volume, "
                          f"{per_update:.3f} s per update (share of the updates at {DEFAULT_ITERATIONS}: "
                          f"{DEFAULT_ITERATIONS * per_update / best[keys[DEFAULT_ITERATIONS]]:.0%})")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
