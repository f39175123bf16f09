#!/usr/bin/env python3
"""Cost of the occlusion step per frame pair, default options against the options before issue 11.

    python scripts/bench_occlusion.py [--clip ../shared/data/clips/sam2_02_cups.mp4] [--pairs 8] [--repeat 3]

One OpenCV thread (as in a build worker), working size 1024. The forward and backward flow of each pair is
computed once and timed; then each occlusion setting runs on the same flows, interleaved, ``--repeat``
times, and the best time is kept (so the ratio holds on a busy machine). Prints seconds per pair for flow,
for each setting's occlusion + disocclusion + clean-up, and the ratio of flow + occlusion, new to old; then,
per setting, the mean hole ratio of the masks, their hole regions (8-connected) per mask, and the hole
fraction in the bottom ``--bottom`` of the frame (on sam2_02_cups.mp4: the white tabletop).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def main() -> int:
    import cv2

    from maskgen.extract import ExtractOptions
    from maskgen.flow import create_flow, forward_backward
    from maskgen.occlusion import OcclusionOptions, occlusion_and_disocclusion
    from maskgen.video import Clip, iter_frames

    data = Path(os.environ.get("MASKGEN_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", type=Path, default=data / "clips" / "sam2_02_cups.mp4")
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--stride", type=int, default=ExtractOptions().stride)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--bottom", type=float, default=0.3, help="fraction of the rows counted as the bottom")
    args = parser.parse_args()
    if not args.clip.exists():
        print(f"error: clip {args.clip} not found (set MASKGEN_TEST_DATA or --clip)", file=sys.stderr)
        return 1
    cv2.setNumThreads(1)
    options = ExtractOptions()
    clip = Clip(args.clip.name, args.clip, "video" if args.clip.is_file() else "frames")
    frames = {}
    for index, frame in iter_frames(clip, work_size=options.work_size):
        if frame is not None and index % args.stride in (0, options.step):
            frames[index] = frame
        if len(frames) >= 2 * args.pairs:
            break
    pairs = [(frames[t], frames[t + options.step]) for t in sorted(frames) if t + options.step in frames
             and t % args.stride == 0][:args.pairs]
    if not pairs:
        print(f"error: no frame pair in {args.clip}", file=sys.stderr)
        return 1
    method = create_flow(options.flow)
    started = time.perf_counter()
    flows = [forward_backward(method, a, b) for a, b in pairs]
    flow_time = (time.perf_counter() - started) / len(pairs)
    settings = {
        "before": OcclusionOptions(exclude_out_of_frame=True, min_evidence=0.0),
        "default": OcclusionOptions(),
    }
    best = {name: float("inf") for name in settings}
    stats: dict[str, list[tuple[float, int, float]]] = {name: [] for name in settings}
    for _ in range(args.repeat):
        for name, occlusion in settings.items():
            started = time.perf_counter()
            masks = [occlusion_and_disocclusion(forward, backward, occlusion, frame_a=a, frame_b=b)
                     for (a, b), (forward, backward) in zip(pairs, flows)]
            best[name] = min(best[name], (time.perf_counter() - started) / len(pairs))
            if not stats[name]:
                stats[name] = [_describe(mask, args.bottom) for pair in masks for mask in pair]
    height, width = pairs[0][0].shape[:2]
    print(f"clip {args.clip.name}: {len(pairs)} pairs at {width}x{height}, one OpenCV thread, best of {args.repeat}")
    print(f"flow fwd+bwd ({options.flow}): {flow_time:.3f} s/pair")
    for name, seconds in best.items():
        print(f"occlusion+disocclusion+clean-up, {name:<8}: {seconds:.3f} s/pair")
    ratio = (flow_time + best["default"]) / (flow_time + best["before"])
    print(f"flow + occlusion, default / before: {ratio:.3f}")
    for name, rows in stats.items():
        count = len(rows)
        print(f"{name:<8} masks: mean hole ratio {sum(r[0] for r in rows) / count:.4f}, "
              f"regions per mask {sum(r[1] for r in rows) / count:.1f}, "
              f"hole fraction in the bottom {args.bottom:.0%} {sum(r[2] for r in rows) / count:.4f}")
    return 0


def _describe(mask: "np.ndarray", bottom: float) -> tuple[float, int, float]:
    """Hole ratio, number of 8-connected hole regions, hole fraction in the bottom rows of one mask."""
    import cv2
    import numpy as np

    regions = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)[0] - 1
    first_row = int(round(mask.shape[0] * (1 - bottom)))
    return float(mask.mean()), regions, float(mask[first_row:].mean())


if __name__ == "__main__":
    sys.exit(main())
