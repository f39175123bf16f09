#!/usr/bin/env python3
"""Occlusion F1 and IoU of maskgen's default pipeline on MPI-Sintel ground truth, per scene and mean.

    python scripts/eval_occlusion_sintel.py [--data ../shared/data/flow_gt/sintel] [--flow dis] [--pass final]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path


def main() -> int:
    from maskgen.evaluate import evaluate_case, find_sintel_cases
    from maskgen.extract import ExtractOptions
    from maskgen.occlusion import OcclusionOptions

    default = Path(os.environ.get("MASKGEN_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=default / "flow_gt" / "sintel")
    parser.add_argument("--flow", default="dis")
    parser.add_argument("--pass", dest="render_pass", default="final")
    parser.add_argument("--work-size", type=int, default=ExtractOptions().work_size)
    parser.add_argument("--plain", action="store_true",
                        help="the plain Sundaram et al. check only (no range map, photometric cue or vote)")
    args = parser.parse_args()
    cases = find_sintel_cases(args.data, render_pass=args.render_pass)
    if not cases:
        print(f"error: no Sintel case under {args.data}", file=sys.stderr)
        return 1
    occlusion = OcclusionOptions(range_map=False, photometric=False, min_votes=1) if args.plain else OcclusionOptions()
    options = replace(ExtractOptions(), flow=args.flow, work_size=args.work_size, occlusion=occlusion)
    print(f"flow={args.flow} pass={args.render_pass} work_size={args.work_size} plain={args.plain}")
    print(f"{'case':<18}{'F1':>7}{'IoU':>7}{'seconds':>9}")
    scores = []
    for case in cases:
        started = time.perf_counter()
        f1, iou = evaluate_case(case, options)
        scores.append((f1, iou))
        print(f"{case.name:<18}{f1:>7.3f}{iou:>7.3f}{time.perf_counter() - started:>9.2f}")
    mean_f1 = sum(s[0] for s in scores) / len(scores)
    mean_iou = sum(s[1] for s in scores) / len(scores)
    print(f"{'mean':<18}{mean_f1:>7.3f}{mean_iou:>7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
