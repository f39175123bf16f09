#!/usr/bin/env python3
"""Speed of maskgen's hot paths on the shared clips: flow pairs/s at 720p, masks/s, peak memory.

    python scripts/bench_maskgen.py [--clip ../shared/data/clips/sam2_01_dog.mp4] [--pairs 6] [--masks 120]

Prints, in one run (so the ratios hold on a noisy machine):
* frame decoding + resize, frames/s;
* forward+backward flow per pair for each built-in DIS setting, and the full pair step
  (flow + occlusion + disocclusion + clean-up), pairs/s, at the default working size (1024 long side);
* steered augmentation into each bin, masks/s (one process, one OpenCV thread, as in a build worker);
* peak resident memory of this process.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path


def main() -> int:
    import cv2
    import numpy as np

    from maskgen.augment import AugmentOptions, augment_to_cell
    from inpaint_core.buckets import CELLS
    from maskgen.extract import ExtractOptions
    from maskgen.flow import create_flow, forward_backward
    from maskgen.occlusion import occlusion_and_disocclusion
    from maskgen.video import Clip, iter_frames

    default_data = Path(os.environ.get("MASKGEN_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", type=Path, default=default_data / "clips" / "sam2_01_dog.mp4")
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--masks", type=int, default=120)
    args = parser.parse_args()
    if not args.clip.is_file():
        print(f"error: clip {args.clip} not found (set MASKGEN_TEST_DATA or --clip)", file=sys.stderr)
        return 1
    cv2.setNumThreads(1)
    options = ExtractOptions()
    clip = Clip(args.clip.name, args.clip, "video")
    started = time.perf_counter()
    frames = []
    for _, frame in iter_frames(clip, work_size=options.work_size):
        frames.append(frame)
        if len(frames) == args.pairs + 1:
            break
    decode = (time.perf_counter() - started) / len(frames)
    print(f"clip {args.clip.name}: working frames {frames[0].shape[1]}x{frames[0].shape[0]}, one OpenCV thread")
    print(f"decode+resize: {1 / decode:8.1f} frames/s")
    pairs = list(zip(frames[:-1], frames[1:]))
    baseline = None
    for name in ("dis-fast", "dis-medium", "dis"):
        method = create_flow(name)
        started = time.perf_counter()
        for a, b in pairs:
            forward_backward(method, a, b)
        per_pair = (time.perf_counter() - started) / len(pairs)
        baseline = baseline or per_pair
        print(f"flow {name:<11} fwd+bwd: {1 / per_pair:8.2f} pairs/s  ({per_pair / baseline:.2f}x dis-fast's time)")
    method = create_flow(options.flow)
    raws = []
    started = time.perf_counter()
    for a, b in pairs:
        forward, backward = forward_backward(method, a, b)
        raws.extend(occlusion_and_disocclusion(forward, backward, options.occlusion, frame_a=a, frame_b=b))
    per_pair = (time.perf_counter() - started) / len(pairs)
    print(f"full pair step (default): {1 / per_pair:8.2f} pairs/s")
    raws = [r for r in raws if r.mean() > options.min_ratio]
    if not raws:
        print("no raw mask (static clip?)")
        return 0
    augment = AugmentOptions()
    for cell in (CELLS[0], CELLS[5], CELLS[11]):
        made = 0
        started = time.perf_counter()
        for index in range(args.masks // 3):
            mask = augment_to_cell(raws[index % len(raws)], cell, np.random.default_rng(index), augment).mask
            made += mask is not None
        elapsed = time.perf_counter() - started
        print(f"augment to {cell.name}: {args.masks // 3 / elapsed:8.1f} slots/s, {made}/{args.masks // 3} filled "
              "from this clip's raw masks alone")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory: {peak:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
