#!/usr/bin/env python3
"""How alike maskgen's masks are to NVIDIA's, and the per-cell targets the augmentation steers toward.

    # the decile table of maskgen/shape_targets.py, from NVIDIA's calibration masks
    python scripts/calibrate_masks.py targets ../shared/data/masks/nvidia_calibration

    # build from clips (test split only, all clips) and compare with a reference set
    python scripts/calibrate_masks.py measure --video-dir ../shared/data/clips --out /tmp/m100 \
        --reference ../shared/data/masks/nvidia_calibration --per-cell 100 --workers 2 [--png cmp.png]

``measure`` runs ``maskgen build --test-clips '*' --train-count 0`` (the extraction cache in OUT is reused on
a rerun), then the same comparison as ``maskgen stats OUT --vs REFERENCE``: per bin and feature the 1-D
Wasserstein distance divided by the reference's std (the headline is their mean), and per-cell medians.
To judge a calibration, measure on clips it was not tuned on (``--video-dir`` a folder of held-out clips).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def _targets(reference: Path) -> int:
    import numpy as np

    from maskgen.stats import measure_mask_set

    measured = measure_mask_set(reference)
    levels = np.linspace(0.0, 1.0, 11)
    for cell, shapes in measured.shapes.items():
        if not shapes:
            continue
        columns = {"ratio": (4, [s.hole_ratio for s in shapes]), "width": (1, [s.stroke_width for s in shapes]),
                   "components": (1, [s.components for s in shapes])}
        print(f'    "{cell}": CellTargets(')
        for index, (name, (digits, values)) in enumerate(columns.items()):
            deciles = ", ".join(f"{v:.{digits}f}" for v in np.quantile(values, levels))
            print(f"        {name}=({deciles}){'),' if index == 2 else ','}")
    return 0


def _measure(args: argparse.Namespace) -> int:
    from maskgen.build import BuildOptions, build_dataset
    from maskgen.augment import AugmentOptions
    from maskgen.stats import format_likeness, likeness, likeness_png, measure_mask_set

    options = BuildOptions(per_cell=args.per_cell, train_count=0, test_clips=("*",), seed=args.seed,
                           augment=AugmentOptions(size=args.size))
    started = time.perf_counter()
    result = build_dataset(args.video_dir, args.out, options, workers=args.workers, overwrite=args.overwrite)
    print(f"build: {time.perf_counter() - started:.0f} s{' (up to date)' if result.up_to_date else ''}")
    ours, reference = measure_mask_set(args.out), measure_mask_set(args.reference)
    compared = likeness(ours, reference)
    print(format_likeness(compared, ours=args.out.name, reference=args.reference.name))
    if args.png:
        args.png.write_bytes(likeness_png(ours, reference, compared, labels=(args.out.name, args.reference.name)))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    targets = commands.add_parser("targets", help="print the decile table of a reference mask set")
    targets.add_argument("reference", type=Path)
    measure = commands.add_parser("measure", help="build from clips and compare with a reference set")
    measure.add_argument("--video-dir", type=Path, required=True)
    measure.add_argument("--out", type=Path, required=True)
    measure.add_argument("--reference", type=Path, required=True)
    measure.add_argument("--per-cell", type=int, default=100)
    measure.add_argument("--size", type=int, default=512)
    measure.add_argument("--seed", type=int, default=0)
    measure.add_argument("--workers", type=int, default=2)
    measure.add_argument("--overwrite", action="store_true")
    measure.add_argument("--png", type=Path, default=None)
    args = parser.parse_args()
    return _targets(args.reference) if args.command == "targets" else _measure(args)


if __name__ == "__main__":
    sys.exit(main())
