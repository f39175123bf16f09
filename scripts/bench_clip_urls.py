"""What reading clips through an fsspec URL costs: discovery, the per-task copy, and a whole build from a local
folder, a ``file://`` URL and a ``memory://`` URL (in process, ``--workers 1``), with byte-identity checked.

    PYTHONPATH=. python scripts/bench_clip_urls.py --video-dir ../shared/data/clips --repeat 2
"""
from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video-dir", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--max-pairs", type=int, default=3)
    args = parser.parse_args()

    import fsspec

    from maskgen.build import BuildOptions, build_dataset
    from maskgen.extract import ExtractOptions
    from maskgen.video import discover_clips, opened

    folder = args.video_dir.resolve()
    fs = fsspec.filesystem("memory")
    root = f"/bench-{uuid.uuid4().hex}"
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            fs.pipe_file(f"{root}/{path.relative_to(folder).as_posix()}", path.read_bytes())
    sources = {"local": folder, "file://": folder.as_uri(), "memory://": f"memory://{root}"}
    options = BuildOptions(extract=ExtractOptions(max_pairs=args.max_pairs), per_cell=5, train_count=20)
    total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    print(f"{folder}: {total / 1e6:.1f} MB; --max-pairs {args.max_pairs} --per-cell 5 --train-count 20")
    with tempfile.TemporaryDirectory() as work:
        fingerprints = set()
        for round_ in range(args.repeat):
            for name, source in sources.items():
                start = time.perf_counter()
                clips, _ = discover_clips(source)
                listed = time.perf_counter() - start
                start = time.perf_counter()
                for clip in clips:
                    with opened(clip):
                        pass
                copied = time.perf_counter() - start
                start = time.perf_counter()
                result = build_dataset(source, Path(work) / f"{round_}_{name.rstrip(':/')}", options, workers=1)
                built = time.perf_counter() - start
                fingerprints.add(result.info["fingerprint"])
                print(f"round {round_ + 1} {name:10s} discovery {listed * 1e3:7.1f} ms  copy of {len(clips)} clips "
                      f"{copied * 1e3:7.1f} ms  build {built:6.2f} s")
        print("fingerprints:", ", ".join(sorted(fingerprints)), "(identical)" if len(fingerprints) == 1 else "DIFFER")
    fs.rm(root, recursive=True)


if __name__ == "__main__":
    main()
