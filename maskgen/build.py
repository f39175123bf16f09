"""``maskgen build``: clips -> raw occlusion masks -> steered augmentation -> a binned mask dataset.

Work is split into pure, independent units so that the output is byte-identical whatever the number of
workers and the order they finish in, and so that an interrupted build resumes:

1. **Clips** (:func:`maskgen.extract.extract_clip`), one task each, cached in ``OUT/.maskgen/raw/``
   under a key of the clip's sha256 and the extraction options.
2. **Split by clip**: clips are ordered by a seeded hash of their id and given to the test split until it
   holds ``test_fraction`` of all raw masks; the others form the training split (never split by frame).
3. **Slots**: output mask ``slot`` of a cell is a pure function of (seed, split, cell, slot) and the raw
   pool: its generator is ``numpy.random.default_rng([seed, split, cell, slot])``, its first source is
   the slot's entry in a seeded permutation of the pool (so a cell uses every raw mask once before any
   twice, and near-duplicates cannot flood it), later sources are drawn from the raw masks larger or
   smaller than the one that failed. Slots run in chunks; each finished chunk's rows are saved in
   ``OUT/.maskgen/chunks/``. A cell that came out short gets a further round of exactly as many new slots
   as it misses, up to ``max_slot_factor`` x its target.
4. **Writer**: ``manifest.csv``, ``dataset.json``, and pictures, from the saved rows, in slot order.
"""
from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import os
import shutil
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from .augment import AugmentOptions, Augmentation, augment_free, augment_to_cell
from inpaint_core.buckets import CELLS, cell_by_name, cell_rank
from .extract import EXTRACT_FORMAT, ClipMasks, ExtractOptions, RawMask, extract_clip, load_cached, save_cached
from inpaint_core.dataset import DATASET_FORMAT, MaskRecord, read_dataset_json, write_dataset_json, write_manifest
from inpaint_core.seeds import Stream, rng
from inpaint_core.versions import software_versions
from inpaint_core.files import atomic_write_text, sha256_bytes
from inpaint_core.maskio import write_mask
from .video import Clip, clip_fingerprint, discover_clips

__all__ = ["BuildOptions", "BuildResult", "build_dataset", "BuildError"]

log = logging.getLogger(__name__)

WORK_DIR = ".maskgen"
CHUNK_SIZE = 50
SPLIT_CODES = {"test": 0, "train": 1}
TRAIN_CELL_CODE = 99
# a test cell of bin b draws its first source from the raw masks above this quantile of raw hole ratio
SOURCE_QUANTILE = (0.0, 0.0, 0.2, 0.4, 0.5, 0.6)


class BuildError(ValueError):
    """Bad build input (missing folder, no usable clip, a different dataset in the output folder)."""


@dataclass(frozen=True)
class BuildOptions:
    """Everything that determines a dataset (``workers`` does not: it only changes the speed).

    Attributes:
        extract: how raw masks are taken from clips.
        augment: augmentation ranges and the output size.
        seed: build seed.
        per_cell: target number of test masks per (bin, border) cell.
        train_count: target number of training masks.
        test_fraction: share of the raw masks whose clips go to the test split.
        test_clips: fnmatch patterns of clip ids forming the test split (overrides ``test_fraction``).
        max_slot_factor: a cell tries at most ``max_slot_factor * per_cell`` slots.
        source_tries: raw masks tried per slot.
    """

    extract: ExtractOptions = field(default_factory=ExtractOptions)
    augment: AugmentOptions = field(default_factory=AugmentOptions)
    seed: int = 0
    per_cell: int = 1000
    train_count: int = 5000
    test_fraction: float = 0.7
    test_clips: tuple[str, ...] = ()
    max_slot_factor: int = 3
    source_tries: int = 4

    def __post_init__(self) -> None:
        if self.per_cell < 0 or self.train_count < 0:
            raise ValueError("per_cell and train_count must be >= 0")
        if not 0 <= self.test_fraction <= 1:
            raise ValueError(f"test_fraction must be in [0, 1], got {self.test_fraction}")
        if self.max_slot_factor < 1 or self.source_tries < 1:
            raise ValueError("max_slot_factor and source_tries must be >= 1")

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class BuildResult:
    out: Path
    rows: list[MaskRecord]
    info: dict[str, object]
    up_to_date: bool = False


# ----------------------------------------------------------------------------------------------------------
# phase 1: clips


def _json_key(payload: object) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _clip_task(args: tuple[Clip, ExtractOptions, Path]) -> ClipMasks:
    clip, options, cache_path = args
    try:
        sha = clip_fingerprint(clip)
    except OSError as exc:
        return ClipMasks(clip.clip_id, "", error=f"cannot read: {exc}")
    result = extract_clip(clip, options, sha256=sha)
    save_cached(cache_path, result)
    return result


def _clip_cache_key(clip: Clip, options: ExtractOptions) -> str:
    stat_parts: list[object] = []
    paths = sorted(clip.path.iterdir()) if clip.kind == "frames" else [clip.path]
    for path in paths:
        try:
            info = path.stat()
        except OSError:
            continue
        stat_parts.append([path.name, info.st_size, info.st_mtime_ns])
    return _json_key({"format": EXTRACT_FORMAT, "clip": clip.clip_id, "files": stat_parts,
                      "options": options.to_dict()})


# ----------------------------------------------------------------------------------------------------------
# phase 3 helpers run in workers: pool state is set once per process


@dataclass(frozen=True)
class PoolEntry:
    clip: str
    raw: RawMask


_POOLS: dict[str, list[PoolEntry]] = {}
_RANK: dict[str, np.ndarray] = {}  # pool indices sorted by raw hole ratio
_POSITION: dict[str, np.ndarray] = {}  # inverse of _RANK: a pool index's place in that order
_CONTEXT: dict[str, object] = {}


def _init_worker(pools: dict[str, list[PoolEntry]], context: dict[str, object]) -> None:
    _init_clip_worker()
    _POOLS.clear()
    _POOLS.update(pools)
    _RANK.clear()
    _POSITION.clear()
    for split, pool in pools.items():
        rank = np.argsort(np.array([entry.raw.hole_ratio for entry in pool]), kind="stable")
        position = np.empty_like(rank)
        position[rank] = np.arange(len(rank))
        _RANK[split], _POSITION[split] = rank, position
    _CONTEXT.clear()
    _CONTEXT.update(context)


@dataclass(frozen=True)
class Chunk:
    split: str
    cell: str  # cell name, or "train"
    start: int
    stop: int

    @property
    def file_name(self) -> str:
        return f"{self.split}_{self.cell}_{self.start:06d}_{self.stop:06d}.json"


def _permutation(split: str, cell_code: int, size: int, seed: int) -> np.ndarray:
    return rng(seed, Stream.SOURCE_ORDER, SPLIT_CODES[split], cell_code).permutation(size)


def _mask_path(split: str, cell: str, slot: int) -> str:
    return f"{split}/{cell}/{slot:06d}.png" if split == "test" else f"train/{slot:06d}.png"


def _run_chunk(chunk: Chunk) -> dict[str, object]:
    """Make the masks of slots [start, stop) of one cell; returns rows and failure reasons."""
    options: BuildOptions = _CONTEXT["options"]  # type: ignore[assignment]
    out = Path(str(_CONTEXT["out"]))
    pool = _POOLS[chunk.split]
    rank = _RANK[chunk.split]
    position = _POSITION[chunk.split]
    cell = None if chunk.cell == "train" else cell_by_name(chunk.cell)
    cell_code = TRAIN_CELL_CODE if cell is None else cell.index
    # the larger bins start from the larger raw masks: a thin sliver rarely reaches 50 % holes
    floor = 0 if cell is None else int(len(rank) * SOURCE_QUANTILE[cell.bin_index])
    candidates = rank[floor:]
    permutation = candidates[_permutation(chunk.split, cell_code, len(candidates), options.seed)]
    rows: list[dict[str, object]] = []
    failures: Counter[str] = Counter()
    for slot in range(chunk.start, chunk.stop):
        generator = rng(options.seed, Stream.SLOT, SPLIT_CODES[chunk.split], cell_code, slot)
        source_index = int(permutation[slot % len(permutation)])
        reason = "empty"
        for _ in range(options.source_tries):
            raw = pool[source_index].raw.decode()
            if cell is None:
                mask, detail = augment_free(raw, generator, options.augment)
            else:
                mask, detail = augment_to_cell(raw, cell, generator, options.augment)
            if mask is not None:
                rows.append(asdict(_record(chunk, slot, pool[source_index], mask, detail, options, out)))
                break
            reason = str(detail)
            here = int(position[source_index])
            if reason == "too-small" and here + 1 < len(rank):
                source_index = int(rank[generator.integers(here + 1, len(rank))])
            elif reason == "too-large" and here > 0:
                source_index = int(rank[generator.integers(0, here)])
            else:
                source_index = int(generator.integers(len(pool)))
        else:
            failures[reason] += 1
    return {"chunk": asdict(chunk), "rows": rows, "failures": dict(sorted(failures.items()))}


def _record(chunk: Chunk, slot: int, entry: PoolEntry, mask: np.ndarray, augmentation: Augmentation,
            options: BuildOptions, out: Path) -> MaskRecord:
    relative = _mask_path(chunk.split, chunk.cell, slot)
    data = write_mask(out / relative, mask)
    raw = entry.raw
    return MaskRecord.of_mask(relative, chunk.split, mask, data, clip=entry.clip, frame_a=raw.frame_a,
                              frame_b=raw.frame_b, source=raw.source, flow=options.extract.flow, **asdict(augmentation),
                              seed=options.seed, slot=slot)


# ----------------------------------------------------------------------------------------------------------
# orchestration


class _Runner:
    """Runs tasks in-process (workers=1) or in a spawn process pool, yielding results as they finish."""

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def map(self, function: Callable, tasks: Sequence, initializer: Callable | None = None,
            initargs: tuple = ()) -> Iterator:
        if not tasks:
            return iter(())
        if self.workers <= 1 or len(tasks) == 1:
            if initializer is not None:
                initializer(*initargs)
            return (function(task) for task in tasks)
        return self._parallel(function, tasks, initializer, initargs)

    def _parallel(self, function: Callable, tasks: Sequence, initializer: Callable | None,
                  initargs: tuple) -> Iterator:
        from concurrent.futures import as_completed

        executor = ProcessPoolExecutor(max_workers=min(self.workers, len(tasks)), mp_context=get_context("spawn"),
                                       initializer=initializer, initargs=initargs)
        try:
            futures = [executor.submit(function, task) for task in tasks]
            for future in as_completed(futures):
                yield future.result()
        except BaseException:
            # stop the workers first (shutdown forgets them): an interrupt must not wait for running clips
            workers = list((getattr(executor, "_processes", None) or {}).values())
            for process in workers:
                process.terminate()
            executor.shutdown(wait=False, cancel_futures=True)
            for process in workers:
                process.join(5)
            raise
        executor.shutdown(wait=True)


def _init_clip_worker() -> None:
    """One OpenCV thread per worker process (see ``build_dataset``)."""
    import cv2

    cv2.setNumThreads(1)


def _select_test_clips(usable: list[ClipMasks], options: BuildOptions) -> set[str]:
    if options.test_clips:
        chosen = {c.clip_id for c in usable if any(fnmatch.fnmatch(c.clip_id, p) for p in options.test_clips)}
        if not chosen:
            raise BuildError(f"--test-clips {','.join(options.test_clips)} matches no usable clip; usable clips: "
                             + ", ".join(c.clip_id for c in usable))
        return chosen
    if len(usable) == 1:
        return {usable[0].clip_id} if options.per_cell > 0 or options.train_count == 0 else set()
    order = sorted(usable, key=lambda c: hashlib.sha256(f"{options.seed}:{c.clip_id}".encode()).hexdigest())
    total = sum(len(c.masks) for c in usable)
    chosen: set[str] = set()
    held = 0
    for clip in order:
        if held >= options.test_fraction * total or len(chosen) == len(usable) - 1:
            break
        chosen.add(clip.clip_id)
        held += len(clip.masks)
    if not chosen and options.test_fraction > 0:
        chosen.add(order[0].clip_id)
    return chosen


def build_dataset(video_dir: str | os.PathLike[str], out: str | os.PathLike[str],
                  options: BuildOptions = BuildOptions(), *, workers: int = 1, overwrite: bool = False,
                  progress: bool = False) -> BuildResult:
    """Build (or resume) a mask dataset in ``out`` from the clips under ``video_dir``.

    Raises:
        BuildError: missing input folder, no usable clip, or ``out`` holds a dataset built with other
            options (pass ``overwrite=True`` to replace it).
    """
    from tqdm import tqdm

    if workers < 1:
        raise BuildError(f"workers must be >= 1, got {workers}")
    out = Path(out)
    try:
        clips, skipped = discover_clips(video_dir)
    except ValueError as exc:
        raise BuildError(str(exc)) from None
    if not clips:
        reason = f"; {len(skipped)} other files skipped" if skipped else ""
        raise BuildError(f"no video file or frame folder under {str(video_dir)!r}{reason}")
    out.mkdir(parents=True, exist_ok=True)
    work = out / WORK_DIR
    # one OpenCV thread per process, in-process too: some OpenCV float kernels (the precise distance
    # transform, ...) change their last bits with the thread count, which would tie the bytes to --workers
    import cv2

    saved_threads = cv2.getNumThreads()
    runner = _Runner(workers)

    # phase 1: raw masks per clip, cached
    keys = {clip.clip_id: _clip_cache_key(clip, options.extract) for clip in clips}
    raw_dir = work / "raw"
    results: dict[str, ClipMasks] = {}
    todo: list[tuple[Clip, ExtractOptions, Path]] = []
    for clip in clips:
        cache = raw_dir / f"{keys[clip.clip_id]}.npz"
        cached = load_cached(cache) if cache.is_file() else None
        if cached is not None:
            results[clip.clip_id] = cached
        else:
            todo.append((clip, options.extract, cache))
    todo.sort(key=lambda task: -_clip_size(task[0]))  # longest first balances the workers
    bar = tqdm(total=len(clips), initial=len(clips) - len(todo), desc="clips", unit="clip", disable=not progress,
               file=sys.stderr)
    for result in runner.map(_clip_task, todo, _init_clip_worker, ()):
        results[result.clip_id] = result
        bar.update(1)
    bar.close()

    clip_results = [results[clip.clip_id] for clip in clips]
    usable = [r for r in clip_results if r.error is None]
    skipped_all = [s.to_dict() for s in skipped] + [{"path": r.clip_id, "reason": r.error}
                                                    for r in clip_results if r.error is not None]
    for entry in skipped_all:
        log.warning("skipped %s: %s", entry["path"], entry["reason"])
    if not usable:
        raise BuildError("no usable clip under " + repr(str(video_dir)) + ": "
                         + "; ".join(f"{s['path']}: {s['reason']}" for s in skipped_all))

    test_ids = _select_test_clips(usable, options)
    pools: dict[str, list[PoolEntry]] = {"test": [], "train": []}
    for result in usable:
        split = "test" if result.clip_id in test_ids else "train"
        pools[split].extend(PoolEntry(result.clip_id, raw) for raw in result.masks)

    pool_fingerprint = _json_key({s: [[e.clip, e.raw.frame_a, e.raw.source, sha256_bytes(e.raw.png)]
                                      for e in pool] for s, pool in pools.items()})
    build_key = _json_key({"format": DATASET_FORMAT, "options": options.to_dict(), "pool": pool_fingerprint,
                           "versions": software_versions()})
    previous = read_dataset_json(out)
    if previous is not None:
        if previous.get("build_key") == build_key and (out / "manifest.csv").is_file():
            return BuildResult(out, [], previous, up_to_date=True)
        if not overwrite:
            raise BuildError(f"{str(out)!r} holds a dataset built from other clips or options; "
                             "use --overwrite to replace it, or another --out")
    if previous is not None or overwrite:
        for name in ("test", "train", "pictures"):
            shutil.rmtree(out / name, ignore_errors=True)
        for name in ("manifest.csv", "dataset.json"):
            (out / name).unlink(missing_ok=True)
    chunk_dir = work / "chunks" / build_key[:16]
    if (work / "chunks").is_dir():
        for stale in (work / "chunks").iterdir():
            if stale != chunk_dir:
                shutil.rmtree(stale, ignore_errors=True)
    chunk_dir.mkdir(parents=True, exist_ok=True)

    # phase 2: slots, in rounds until each cell is full or out of tries
    targets: dict[tuple[str, str], int] = {}
    if pools["test"]:
        targets.update({("test", cell.name): options.per_cell for cell in CELLS})
    if pools["train"]:
        targets[("train", "train")] = options.train_count
    context = {"options": options, "out": str(out)}
    chunk_results: dict[Chunk, dict[str, object]] = {}
    next_slot = {key: 0 for key in targets}
    made = {key: 0 for key in targets}
    exhausted: dict[tuple[str, str], bool] = {key: target == 0 for key, target in targets.items()}
    total_target = sum(targets.values())
    bar = tqdm(total=total_target, desc="masks", unit="mask", disable=not progress, file=sys.stderr)
    while True:
        round_chunks: list[Chunk] = []
        for key, target in targets.items():
            if exhausted[key]:
                continue
            # a later round tries at least a chunk's worth of slots (not just the few missing), so that
            # one unlucky slot does not end the cell; surplus masks are dropped below, by slot order
            deficit = target - made[key]
            start = next_slot[key]
            size = deficit if start == 0 else max(deficit, min(CHUNK_SIZE, target))
            stop = min(start + size, target * options.max_slot_factor)
            for first in range(start, stop, CHUNK_SIZE):
                round_chunks.append(Chunk(key[0], key[1], first, min(first + CHUNK_SIZE, stop)))
            next_slot[key] = stop
        if not round_chunks:
            break
        todo_chunks = []
        for chunk in round_chunks:
            saved = _load_chunk(chunk_dir / chunk.file_name)
            if saved is not None:
                chunk_results[chunk] = saved
                bar.update(len(saved["rows"]))  # type: ignore[arg-type]
            else:
                todo_chunks.append(chunk)
        for result in runner.map(_run_chunk, todo_chunks, _init_worker, (pools, context)):
            chunk = Chunk(**result["chunk"])  # type: ignore[arg-type]
            atomic_write_text(chunk_dir / chunk.file_name, json.dumps(result))
            chunk_results[chunk] = result
            bar.update(len(result["rows"]))  # type: ignore[arg-type]
        before = dict(made)
        for key in targets:
            made[key] = min(targets[key], sum(len(r["rows"]) for c, r in chunk_results.items()  # type: ignore[arg-type]
                                              if (c.split, c.cell) == key))
            if made[key] >= targets[key] or made[key] == before[key] \
                    or next_slot[key] >= targets[key] * options.max_slot_factor:
                exhausted[key] = True
    bar.close()
    cv2.setNumThreads(saved_threads)

    # phase 3: manifest, dataset.json, pictures
    ordered = sorted(chunk_results.items(), key=lambda item: (SPLIT_CODES[item[0].split],
                                                              cell_rank(item[0].cell), item[0].start))
    rows: list[MaskRecord] = []
    kept: Counter[tuple[str, str]] = Counter()
    for chunk, result in ordered:
        key = (chunk.split, chunk.cell)
        for row in result["rows"]:  # type: ignore[union-attr]
            if kept[key] < targets[key]:
                rows.append(MaskRecord(**row))
                kept[key] += 1
            else:  # surplus of a last round
                (out / str(row["path"])).unlink(missing_ok=True)
    fingerprint = write_manifest(out, rows)
    failures: dict[tuple[str, str], Counter[str]] = {key: Counter() for key in targets}
    for chunk, result in chunk_results.items():
        failures[(chunk.split, chunk.cell)].update(result["failures"])  # type: ignore[arg-type]
    counts_test = {cell.name: made.get(("test", cell.name), 0) for cell in CELLS}
    shortfalls = [_shortfall(key, targets[key], made[key], failures[key], next_slot[key], len(pools[key[0]]))
                  for key in targets if made[key] < targets[key]]
    if options.per_cell and not pools["test"]:
        shortfalls.insert(0, {"split": "test", "cell": "all", "target": options.per_cell, "made": 0,
                              "reason": "no clip was given to the test split"})
    if options.train_count and not pools["train"]:
        shortfalls.append({"split": "train", "cell": "train", "target": options.train_count, "made": 0,
                           "reason": "no clip left for the training split (it needs clips other than the "
                                     "test split's; add clips or lower --test-fraction)"})
    info: dict[str, object] = {
        "format": DATASET_FORMAT,
        "build_key": build_key,
        "fingerprint": fingerprint,
        "versions": software_versions(),
        "options": options.to_dict(),
        "counts": {"test": counts_test, "test_total": sum(counts_test.values()),
                   "train": made.get(("train", "train"), 0)},
        "targets": {"per_cell": options.per_cell, "train": options.train_count},
        "shortfalls": shortfalls,
        "clips": [dict(r.summary(), split=("test" if r.clip_id in test_ids else "train") if r.error is None
                       else "skipped") for r in clip_results],
        "skipped": skipped_all,
    }
    from .pictures import write_pictures

    write_pictures(out, rows)
    write_dataset_json(out, info)
    shutil.rmtree(work / "chunks", ignore_errors=True)
    return BuildResult(out, rows, info)


def _shortfall(key: tuple[str, str], target: int, made: int, failures: Counter[str], tried: int,
               pool_size: int) -> dict[str, object]:
    explanations = {
        "too-small": "the raw masks are too thin or sparse: even the widest dilation at the closest crop "
                     "stays below the bin (add clips with larger moving objects, a larger --step, or a larger "
                     "--max-dilation)",
        "too-large": "the raw masks cover too much: even the thinnest dilation at the widest crop exceeds the bin",
        "no-border-contact": "no hole could be placed within 50 px of the edge",
        "empty": "empty raw masks",
    }
    main = failures.most_common(1)[0][0] if failures else "too-small"
    return {"split": key[0], "cell": key[1], "target": target, "made": made, "slots_tried": tried,
            "raw_masks": pool_size, "failures": dict(failures),
            "reason": f"{target - made} short after {tried} slots: {explanations.get(main, main)}"}


def _load_chunk(path: Path) -> dict[str, object] | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _clip_size(clip: Clip) -> int:
    try:
        if clip.kind == "frames":
            return sum(p.stat().st_size for p in clip.path.iterdir() if p.is_file())
        return clip.path.stat().st_size
    except OSError:
        return 0
