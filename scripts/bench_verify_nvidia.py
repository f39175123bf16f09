#!/usr/bin/env python3
"""Speed of ``maskgen verify-nvidia``: hashing and classifying NVIDIA's test masks, by thread count.

    python scripts/bench_verify_nvidia.py [--data ../shared/data] [--work /tmp/bench_verify] [--repeats 5]

Two folders are timed, each with warm files (read once before) and with each file's pages dropped from the
page cache before every pass (``posix_fadvise(DONTNEED)``: the closest to a first read that needs no root;
the disk's own cache is not dropped):

* ``sample``: the 720 real NVIDIA masks of the shared data (``masks/nvidia_test_sample`` and
  ``masks/nvidia_calibration`` copied into one folder), a subset of 720 of 12,000;
* ``full``: 12,000 files made of those 720 copied under the names ``00000.png ... 11999.png`` (same byte sizes
  as real masks; their classification differs, the work does not): a measurement at full size, not an
  extrapolation.

Prints the median seconds per pass, the microseconds per file and the status found.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def drop_cache(folder: Path) -> None:
    """Ask the kernel to drop the cached pages of every file under ``folder``."""
    for path in folder.iterdir():
        with open(path, "rb") as handle:
            os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def make_folders(data: Path, work: Path) -> dict[str, Path]:
    sources = sorted((data / "masks" / "nvidia_test_sample").glob("*.png")) + \
        sorted((data / "masks" / "nvidia_calibration").glob("*.png"))
    if len(sources) != 720:
        raise SystemExit(f"expected the 720 NVIDIA masks of the shared data under {data / 'masks'}, "
                         f"found {len(sources)}")
    shutil.rmtree(work, ignore_errors=True)
    sample, full = work / "sample", work / "full"
    sample.mkdir(parents=True)
    full.mkdir()
    for path in sources:
        shutil.copyfile(path, sample / path.name)
    for number in range(12_000):
        shutil.copyfile(sources[number % len(sources)], full / f"{number:05d}.png")
    return {"sample": sample, "full": full}


def time_passes(folder: Path, threads: int, repeats: int, *, cold: bool) -> tuple[float, str]:
    from maskgen.verify import ReleasedSet, verify_nvidia

    released = ReleasedSet.load()
    times = []
    status = ""
    for _ in range(repeats):
        if cold:
            drop_cache(folder)
        started = time.perf_counter()
        status = verify_nvidia(folder, threads=threads, released=released).status
        times.append(time.perf_counter() - started)
    return statistics.median(times), status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA, help="The shared data folder.")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_verify"), help="Scratch folder (replaced).")
    parser.add_argument("--repeats", type=int, default=5, help="Passes per setting (the median is shown).")
    parser.add_argument("--threads", default="1,2,4,8", help="Thread counts to time.")
    arguments = parser.parse_args()

    from maskgen.verify import ReleasedSet

    started = time.perf_counter()
    ReleasedSet.load()
    print(f"loading the packaged sha256 list: {1000 * (time.perf_counter() - started):.1f} ms; "
          f"{os.cpu_count()} CPUs")
    folders = make_folders(arguments.data, arguments.work)
    for label, folder in folders.items():
        count = sum(1 for _ in folder.iterdir())
        for cold in (False, True):
            for threads in (int(t) for t in arguments.threads.split(",")):
                seconds, status = time_passes(folder, threads, arguments.repeats, cold=cold)
                print(f"{label:6s} {count:6d} files  {'cache dropped' if cold else 'warm         '}  "
                      f"threads {threads}: {seconds:.3f} s  ({1e6 * seconds / count:.0f} us/file)  -> {status}")
    shutil.rmtree(arguments.work, ignore_errors=True)


if __name__ == "__main__":
    main()
