"""Size and time of the leaderboard page (``benchmark leaderboard --html``) for real runs, light and full.

    python scripts/bench_page.py RUN_OR_FOLDER... [--out /tmp/page-bench] [--repeat 3]

Writes the page twice per variant (previews only; ``--full-grids``) into ``--out``, checks the two copies are
byte-identical, and prints per variant: files, total bytes (index.html, previews, full grids, the rest), the
best wall time of ``publish_page`` (the runs read once, before the clock) and whether a local path shows
(the folders given, the recorded mask and image folders, the home folder) in any file. The run folders are only read.
"""
from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from benchmark.leaderboard import collect_runs
from benchmark.publish import publish_page


def _files(site: Path) -> dict[str, bytes]:
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("/tmp/page-bench"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    board = collect_runs(args.runs)
    grids = [p for record in board.runs for p in (record.folder / "samples").glob("grid_*.png")]
    print(f"{len(board.runs)} runs, {len(grids)} sample grids, {sum(p.stat().st_size for p in grids):,} bytes of grids")
    local = {str(path.resolve()) for path in args.runs} | {str(Path.home())} | {
        str(record.info[key]["path"]) for record in board.runs for key in ("dataset", "images")
        if isinstance(record.info.get(key), dict) and record.info[key].get("path")}
    for label, options in (("previews", {}), ("--full-grids", {"full_grids": True})):
        times, copies = [], []
        for index in range(max(args.repeat, 2)):
            site = args.out / f"{label.strip('-')}-{index}"
            shutil.rmtree(site, ignore_errors=True)
            start = time.perf_counter()
            publish_page(board, site, **options)
            times.append(time.perf_counter() - start)
            copies.append(_files(site))
        files = copies[0]
        parts = {"index.html": len(files["index.html"]),
                 "previews": sum(len(d) for n, d in files.items() if n.endswith(".jpg")),
                 "full grids": sum(len(d) for n, d in files.items() if n.startswith("runs/") and n.endswith(".png")),
                 "rest": sum(len(d) for n, d in files.items() if n != "index.html" and not n.endswith(".jpg")
                             and not (n.startswith("runs/") and n.endswith(".png")))}
        leaks = sorted({name for name, data in files.items() for path in local if path.encode() in data})
        print(f"{label}: {len(files)} files, {sum(map(len, files.values())):,} bytes ("
              + ", ".join(f"{name} {size:,}" for name, size in parts.items()) + f"); best of {len(times)} "
              f"{min(times):.2f} s; identical copies: {all(copy == files for copy in copies)}; "
              f"local paths shown: {leaks or 'none'}")


if __name__ == "__main__":
    main()
