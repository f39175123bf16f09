#!/usr/bin/env python3
"""Occlusion F1 and IoU of maskgen's pipeline on MPI-Sintel ground truth: per case, both passes, means.

    python scripts/eval_occlusion_sintel.py [--data DIR] [--held-out DIR ...] [--flow dis] [--pass final --pass clean]
        [--flow raft-large --flow-weights raft_large_C_T_V2-1bb1363a.pth]

With RAFT, give weights not trained on Sintel (torchvision's ``C_T`` files, FlyingChairs + FlyingThings3D):
the default ``C_T_SKHT`` files were fine-tuned on the Sintel training scenes these cases come from.

``--data`` (default ../shared/data/flow_gt/sintel) holds the cases the tests use (tests/test_sintel.py);
each ``--held-out`` folder (same layout: ``<scene>/gt/occlusions/frame_T.png``, ``<scene>/<pass>/frame_T.png``)
adds cases the tests do not use. A held-out case whose scene also appears under ``--data`` (another frame of
a test scene) is listed as ``same scene`` and left out of the held-out mean.

Three columns of F1, from one flow computation per case:
* ``default``: the current default pipeline (:class:`maskgen.occlusion.OcclusionOptions()`);
* ``before``: the default before issue 11 (pixels that leave the frame never marked, no region check);
* ``plain``: the plain Sundaram et al. consistency check only (same clean-up).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path


def main() -> int:
    from maskgen.evaluate import evaluate_case_variants, find_sintel_cases
    from maskgen.extract import ExtractOptions
    from maskgen.occlusion import OcclusionOptions

    default = Path(os.environ.get("MASKGEN_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=default / "flow_gt" / "sintel",
                        help="the Sintel cases the tests use")
    parser.add_argument("--held-out", type=Path, action="append", default=[],
                        help="a folder of Sintel cases the tests do not use (repeatable)")
    parser.add_argument("--flow", default="dis", help="flow method (maskgen flows)")
    parser.add_argument("--flow-weights", default=None,
                        help="weights file of a learned flow method (raft-large, raft-small: torchvision's files)")
    parser.add_argument("--pass", dest="passes", action="append", choices=["final", "clean"],
                        help="render pass (repeatable; default: final and clean)")
    parser.add_argument("--work-size", type=int, default=ExtractOptions().work_size)
    args = parser.parse_args()
    passes = args.passes or ["final", "clean"]
    variants = {
        "default": OcclusionOptions(),
        "before": OcclusionOptions(exclude_out_of_frame=True, min_evidence=0.0),
        "plain": OcclusionOptions(range_map=False, photometric=False, min_votes=1, min_evidence=0.0),
    }
    test_scenes = {path.name for path in args.data.iterdir() if path.is_dir()} if args.data.is_dir() else set()
    cases = []
    for group, root in [("test", args.data)] + [("held-out", folder) for folder in args.held_out]:
        if not root.is_dir():
            print(f"error: no folder {root}", file=sys.stderr)
            return 1
        for render_pass in passes:
            for case in find_sintel_cases(root, render_pass=render_pass):
                label = group if group == "test" or case.scene not in test_scenes else "same scene"
                cases.append((label, render_pass, case))
    if not cases:
        print(f"error: no Sintel case under {args.data} {' '.join(map(str, args.held_out))}", file=sys.stderr)
        return 1
    try:
        options = replace(ExtractOptions(), flow=args.flow, flow_weights=args.flow_weights, work_size=args.work_size)
        flow = options.make_flow()
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    weights = f" weights={options.flow_weights} (sha256 {options.flow_weights_sha256})" if args.flow_weights else ""
    print(f"flow={args.flow}{weights} work_size={args.work_size} passes={','.join(passes)}")
    header = "".join(f"{name:>9}" for name in variants)
    print(f"{'set':<11}{'pass':<7}{'case':<17}{header}{'IoU':>7}{'seconds':>9}")
    rows = []
    for label, render_pass, case in cases:
        started = time.perf_counter()
        scores = evaluate_case_variants(case, options, list(variants.values()), flow=flow)
        rows.append((label, render_pass, case.scene, scores))
        f1s = "".join(f"{f1:>9.3f}" for f1, _ in scores)
        print(f"{label:<11}{render_pass:<7}{case.name:<17}{f1s}{scores[0][1]:>7.3f}"
              f"{time.perf_counter() - started:>9.2f}", flush=True)
    for unit in ("cases", "scenes"):
        note = " (the cases of each scene and pass averaged first)" if unit == "scenes" else ""
        print(f"mean F1 over {unit}{note}")
        for label in ("test", "held-out", "same scene"):
            for render_pass in passes + ["all"]:
                groups: dict[tuple[str, str], list[list[tuple[float, float]]]] = {}
                for row_label, row_pass, scene, scores in rows:
                    if row_label == label and render_pass in (row_pass, "all"):
                        key = (row_pass, scene) if unit == "scenes" else (row_pass, str(len(groups)))
                        groups.setdefault(key, []).append(scores)
                if not groups:
                    continue
                units = [[tuple(sum(s[k][i] for s in group) / len(group) for i in range(2))
                          for k in range(len(variants))] for group in groups.values()]
                means = "".join(f"{sum(u[k][0] for u in units) / len(units):>9.3f}" for k in range(len(variants)))
                mean_iou = sum(u[0][1] for u in units) / len(units)
                print(f"{label:<11}{render_pass:<7}{f'({len(units)} {unit})':<17}{means}{mean_iou:>7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
