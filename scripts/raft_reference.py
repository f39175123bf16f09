"""Compare maskgen's RAFT (maskgen/raft.py) with torchvision's and write the reference files the tests use.

    PYTHONPATH=.:/path/to/unpacked/torchvision python scripts/raft_reference.py [--write]

Needs torchvision's Python files (an unpacked wheel is enough). Where torchvision's compiled operators do
not load next to this torch (its CUDA wheels beside the CPU torch: ``operator torchvision::nms does not
exist``), the import is retried without ``torchvision._meta_registrations`` (the fake kernels of detection
operators, which RAFT does not use).

It checks, for RAFT-large and RAFT-small:

1. the ``state_dict()`` keys and shapes of ``maskgen.raft.build_raft(v)`` and torchvision's ``raft_v()``;
2. the flow of both networks with the same seeded random weights (:func:`maskgen.raft.random_weights`) on the
   same uint8 frames, through the public paths: torchvision's ``OpticalFlow`` preset and model (last of its
   per-update flows) against ``create_flow("raft-v", weights=FILE)``; it prints the largest absolute
   difference in pixels.

With ``--write`` it stores torchvision's side in ``tests/data/``: ``raft_state_dict.json`` (keys and shapes)
and ``raft_reference.npz`` (the flow at 128x160 on every 3rd pixel, which covers all 8x8 positions of the
upsampling), which ``tests/test_raft.py`` checks maskgen's RAFT against without torchvision.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPOSITORY = Path(__file__).resolve().parents[1]
DATA = REPOSITORY / "tests" / "data"
SEED = 7
SIZE = (128, 160)  # H, W: multiples of 8, at least 128 (torchvision's RAFT takes these as they are)
STRIDE = 3  # stored flow: every 3rd pixel (3 is coprime to 8: all sub-pixel positions of the upsampling)


def reference_frames(height: int, width: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two uint8 RGB frames: blocky texture plus fine noise, the second moved by (+5, -3) pixels and rescaled
    a little, from numpy alone (the same on every platform)."""
    from inpaint_core.seeds import Stream, rng

    generator = rng(seed, Stream.RANDOM_WEIGHTS, height, width)
    coarse = generator.uniform(0, 255, size=(height // 8 + 2, width // 8 + 2, 3))
    texture = np.kron(coarse, np.ones((8, 8, 1)))[: height + 8, : width + 8]
    texture = texture + generator.normal(0, 20, size=texture.shape)
    first = np.clip(texture[4: 4 + height, 4: 4 + width], 0, 255).astype(np.uint8)
    second = np.clip(texture[7: 7 + height, :width] * 0.95 + 6, 0, 255).astype(np.uint8)
    return first, second


def import_torchvision() -> object:
    try:
        return importlib.import_module("torchvision")
    except RuntimeError as error:
        if "torchvision::" not in str(error):
            raise
    import types

    for name in [name for name in sys.modules if name == "torchvision" or name.startswith("torchvision.")]:
        del sys.modules[name]
    sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")
    return importlib.import_module("torchvision")


def torchvision_flow(variant: str, state: dict, first: np.ndarray, second: np.ndarray, iterations: int) -> np.ndarray:
    import torch
    from torchvision.models import optical_flow
    from torchvision.transforms._presets import OpticalFlow

    model = getattr(optical_flow, f"raft_{variant}")().eval()
    model.load_state_dict(state, strict=True)
    images = [torch.from_numpy(frame).permute(2, 0, 1)[None] for frame in (first, second)]
    image1, image2 = OpticalFlow()(*images)
    with torch.inference_mode():
        flow = model(image1, image2, num_flow_updates=iterations)[-1]
    return flow[0].permute(1, 2, 0).numpy()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="write tests/data/raft_state_dict.json and "
                                                             "raft_reference.npz")
    parser.add_argument("--sizes", default="128x160,256x448", help="HxW sizes to compare at (comma-separated)")
    parser.add_argument("--iterations", default="12,32", help="flow updates to compare with (comma-separated)")
    args = parser.parse_args()

    import torch

    from maskgen.flow import create_flow
    from maskgen.raft import build_raft, random_weights

    torchvision = import_torchvision()
    from torchvision.models import optical_flow

    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, {torch.get_num_threads()} threads")
    keys: dict[str, list[list[object]]] = {}
    reference: dict[str, np.ndarray] = {}
    worst = 0.0
    with tempfile.TemporaryDirectory() as folder:
        for variant in ("large", "small"):
            theirs = getattr(optical_flow, f"raft_{variant}")().state_dict()
            ours = build_raft(variant).state_dict()
            keys[variant] = [[key, list(tensor.shape)] for key, tensor in theirs.items()]
            same = [[key, list(tensor.shape)] for key, tensor in ours.items()] == keys[variant]
            print(f"raft-{variant}: {len(theirs)} state-dict entries, "
                  f"{sum(t.numel() for k, t in theirs.items() if 'running' not in k and 'num_batches' not in k)} "
                  f"parameters; keys, order and shapes {'identical' if same else 'DIFFERENT'}")
            if not same:
                return 1
            state = random_weights(build_raft(variant), seed=SEED)
            path = Path(folder) / f"raft_{variant}_seed{SEED}.pth"
            torch.save(state, path)
            for size in args.sizes.split(","):
                height, width = (int(part) for part in size.split("x"))
                first, second = reference_frames(height, width, SEED)
                for iterations in (int(part) for part in args.iterations.split(",")):
                    started = time.perf_counter()
                    expected = torchvision_flow(variant, state, first, second, iterations)
                    middle = time.perf_counter()
                    got = create_flow(f"raft-{variant}", weights=str(path), device="cpu",
                                      iterations=iterations)(first, second)
                    ended = time.perf_counter()
                    difference = float(np.abs(got - expected).max())
                    worst = max(worst, difference)
                    print(f"raft-{variant} {height}x{width} {iterations:>2} updates: max |flow| "
                          f"{np.abs(expected).max():7.2f} px, max |maskgen - torchvision| {difference:.2e} px "
                          f"(torchvision {middle - started:.2f} s, maskgen {ended - middle:.2f} s)")
                    if (height, width) == SIZE and iterations == 12:
                        reference[variant] = expected[::STRIDE, ::STRIDE].astype(np.float32)
    print(f"largest difference: {worst:.2e} px")
    if args.write:
        if set(reference) != {"large", "small"}:
            print(f"error: --write needs {SIZE[0]}x{SIZE[1]} in --sizes and 12 in --iterations", file=sys.stderr)
            return 1
        DATA.mkdir(parents=True, exist_ok=True)
        meta = {"torch": torch.__version__, "torchvision": torchvision.__version__, "seed": SEED,
                "size": list(SIZE), "stride": STRIDE, "iterations": 12,
                "max_abs_difference_px": worst, "compared": {"sizes": args.sizes, "iterations": args.iterations}}
        lines = [f'{{"source": {json.dumps(meta)},']
        for index, (variant, entries) in enumerate(keys.items()):
            lines.append(f'"{variant}": [')
            lines += [json.dumps(entry) + ("," if row < len(entries) - 1 else "") for row, entry in enumerate(entries)]
            lines.append("]" + ("," if index < len(keys) - 1 else "}"))
        (DATA / "raft_state_dict.json").write_text("\n".join(lines) + "\n")
        np.savez_compressed(DATA / "raft_reference.npz", **reference,
                            meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
        print(f"wrote {DATA / 'raft_state_dict.json'} and {DATA / 'raft_reference.npz'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
