"""Hole-ratio distribution and NVIDIA cell counts of every random mask family, from N masks each.

Draws slots 0 .. N-1 of each family exactly as ``maskgen generate`` does (same per-slot seeds, so the numbers
describe the datasets it writes), in memory, and prints per family and size: the ratio percentiles, the
share outside the 12 cells, the count per cell, how many candidates the keep rule redrew, and the time
per mask (drawing only, one process).

    PYTHONPATH=. python scripts/family_stats.py --count 1000
    PYTHONPATH=. python scripts/family_stats.py --count 200 --size 512 --family lama-thick --json
"""
from __future__ import annotations

import argparse
import json
import time
from collections import Counter

import numpy as np

from inpaint_core.buckets import CELL_NAMES, cell_of
from maskgen.families import create_family, list_families
from maskgen.families.generate import slot_mask


def family_stats(name: str, size: int, *, count: int, seed: int) -> dict[str, object]:
    """Statistics of slots ``0 .. count - 1`` of family ``name`` at ``size`` for ``seed``."""
    family = create_family(name, size=size)
    ratios = np.empty(count)
    cells: Counter[str] = Counter()
    redrawn = 0
    started = time.perf_counter()
    for slot in range(count):
        mask, attempt = slot_mask(family, seed, slot)
        hole = mask.astype(bool)
        ratios[slot] = hole.mean()
        cell = cell_of(hole)
        cells[cell.name if cell else "unbinned"] += 1
        redrawn += attempt
    elapsed = time.perf_counter() - started
    percentiles = np.percentile(ratios, [5, 25, 50, 75, 95])
    return {
        "protocol": family.protocol,
        "count": count,
        "ratio_mean": round(float(ratios.mean()), 4),
        "ratio_percentiles_5_25_50_75_95": [round(float(p), 4) for p in percentiles],
        "ratio_min": round(float(ratios.min()), 4),
        "ratio_max": round(float(ratios.max()), 4),
        "share_above_60": round(float(np.mean(ratios > 0.6)), 4),
        "share_at_most_1": round(float(np.mean(ratios <= 0.01)), 4),
        "cells": {name: cells.get(name, 0) for name in (*CELL_NAMES, "unbinned")},
        "candidates_redrawn": redrawn,
        "ms_per_mask": round(1000 * elapsed / count, 2),
    }


def _table(rows: list[dict[str, object]]) -> str:
    header = ["protocol", "mean", "p5", "p25", "p50", "p75", "p95", ">60%", "redrawn", "ms", *CELL_NAMES, "unbinned"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        p = row["ratio_percentiles_5_25_50_75_95"]
        cells = row["cells"]
        values = [row["protocol"], f"{row['ratio_mean']:.3f}", *(f"{v:.3f}" for v in p),
                  f"{100 * row['share_above_60']:.1f} %", row["candidates_redrawn"], row["ms_per_mask"],
                  *(cells[name] for name in (*CELL_NAMES, "unbinned"))]
        lines.append("| " + " | ".join(str(v) for v in values) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="Masks per family and size.")
    parser.add_argument("--size", type=int, choices=(256, 512), action="append",
                        help="Mask size (repeatable; default 256 and 512).")
    parser.add_argument("--family", action="append", help="Family (repeatable; default all).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="Print JSON instead of a Markdown table.")
    args = parser.parse_args()
    rows = [family_stats(name, size, count=args.count, seed=args.seed)
            for name in (args.family or list_families()) for size in (args.size or (256, 512))]
    print(json.dumps(rows, indent=2) if args.json else _table(rows))


if __name__ == "__main__":
    main()
