#!/usr/bin/env python3
"""Sizes of pconv_baseline's files at 256 and 512: a full training checkpoint (``step_*.pt``, after one Adam
step so that both moments exist) and the inference file (``weights.pt``), written by the training code's own
writers. ``python scripts/checkpoint_sizes.py OUT_DIR``."""
from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path, help="Folder for the files (about 820 MB).")
    arguments = parser.parse_args()
    import torch

    from pconv_baseline.checkpoint import atomic_torch_save, inference_state, training_state
    from pconv_baseline.network import PConvUNet, levels_for_size
    from pconv_baseline.train import TrainOptions

    arguments.out.mkdir(parents=True, exist_ok=True)
    print("| size | levels | parameters | full checkpoint step_*.pt | inference file weights.pt |")
    for size in (256, 512):
        model = PConvUNet(levels=levels_for_size(size))
        optimizer = torch.optim.Adam(model.parameters(), lr=2e-4)
        for parameter in model.parameters():
            parameter.grad = torch.zeros_like(parameter)
        optimizer.step()
        options = asdict(TrainOptions(images="i", masks="m", out="o", size=size))
        full, weights = arguments.out / f"step_{size}.pt", arguments.out / f"weights_{size}.pt"
        atomic_torch_save(training_state(model, optimizer, torch.amp.GradScaler("cpu", enabled=False), step=1,
                                         options=options), full)
        atomic_torch_save(inference_state(model, step=1, stage=1, size=size), weights)
        count = sum(parameter.numel() for parameter in model.parameters())
        print(f"| {size} | {levels_for_size(size)} | {count:,} | {full.stat().st_size:,} B | "
              f"{weights.stat().st_size:,} B |")


if __name__ == "__main__":
    main()
