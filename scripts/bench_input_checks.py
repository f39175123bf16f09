#!/usr/bin/env python3
"""What the input checks before a run cost: ``prepare`` (every mask read, hashed and checked against its
cell; every image decoded) against the scoring of the cheapest model (mean-fill), in one process and run.

    python scripts/bench_input_checks.py --masks MASK_DATASET --images IMAGE_FOLDER [--out /tmp/bench_checks]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--masks", type=Path, required=True, help="A mask dataset (maskgen build / import).")
    parser.add_argument("--images", type=Path, required=True, help="An image folder.")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_checks"), help="Run folder (replaced).")
    arguments = parser.parse_args()

    from benchmark.inpainters import create_inpainter
    from benchmark.runner import CallableProvider, RunSettings, prepare, score_run

    started = time.perf_counter()
    prepared = prepare(RunSettings(masks=arguments.masks, images=arguments.images))
    checked = time.perf_counter()
    model = create_inpainter("mean-fill")
    score_run(prepared, arguments.out, CallableProvider(lambda pair, image, mask: (model(image, mask), 0.0)),
              model={"name": "mean-fill", "kind": "python", "spec": "mean-fill"}, overwrite=True)
    done = time.perf_counter()
    print(f"{len(prepared.pairs)} pairs, {prepared.image_count} images: input checks {checked - started:.2f} s, "
          f"scoring (mean-fill) {done - checked:.2f} s; checks are {(checked - started) / (done - started):.1%} "
          "of the run")


if __name__ == "__main__":
    main()
