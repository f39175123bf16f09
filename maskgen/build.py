"""``maskgen build``: clips -> raw occlusion masks -> steered augmentation -> a binned mask dataset.

Work is split into pure, independent units so that the output is byte-identical whatever the number of
workers and the order they finish in, and so that an interrupted build resumes. :func:`build_dataset`
runs five stages in order:

1. **Discover** (:func:`_discover`): the clips under ``--video-dir`` and the files that are not clips.
2. **Extract** (:func:`_extract`, :func:`maskgen.extract.extract_clip`): raw masks per clip, one task each,
   cached in ``OUT/.maskgen/raw/`` under a key of the clip's files and the extraction options.
3. **Plan** (:func:`_plan`): split by clip: clips are ordered by a seeded hash of their id and given to the
   test split until it holds ``test_fraction`` of all raw masks; the others form the training split (never
   split by frame). The raw masks of each split form its pool; the build key (options, pools, versions)
   says whether ``OUT`` already holds this dataset, holds another one (``overwrite``) or none.
4. **Rounds** (:func:`_run_rounds`): output mask ``slot`` of a cell is a pure function of (seed, split,
   cell, slot) and the raw pool: its generator is ``numpy.random.default_rng([seed, split, cell, slot])``,
   its first source is the slot's entry in a seeded permutation of the pool (so a cell uses every raw mask
   once before any twice, and near-duplicates cannot flood it), later sources are drawn from the raw masks
   larger or smaller than the one that failed. Slots run in chunks (:class:`ChunkWorker`); each finished
   chunk's rows are saved in ``OUT/.maskgen/chunks/``. A cell that came out short gets a further round of
   exactly as many new slots as it misses, up to ``max_slot_factor`` x its target.
5. **Write** (:func:`_write`, :func:`maskgen.writer.finish_dataset`): ``manifest.csv``, pictures, and ``dataset.json``
   last, from the saved rows, in slot order.

Nothing lost, nothing stuck: the build holds ``OUT/.lock`` (:class:`inpaint_core.outdir.FolderLock`) for its
whole run; ``--overwrite`` empties ``OUT`` (caches included) and only a maskgen dataset; a saved chunk is
reused only while its mask files have the sha256 its rows record; a clip that failed for another reason
than its content is not cached; pool workers die with the build, and SIGTERM stops it like Ctrl-C.

Tasks run on an engine (:mod:`inpaint_core.engines`): ``local`` (this process or a process pool) or
``ray`` (a Ray cluster). Tasks only read the clips and compute: the driver (this process) writes every file
of ``OUT`` -- raw-mask caches, mask PNGs, chunk records -- so only the clips must be where every node sees
them, and the bytes do not depend on the engine.
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
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Mapping, Sequence

import numpy as np

from inpaint_core.buckets import CELLS, Cell, cell_by_name, cell_rank
from inpaint_core.cli import cli_help
from inpaint_core.dataset import DATASET_FORMAT, MaskRecord, read_dataset_json
from inpaint_core.dataset import MASK_PROTOCOL_KEY, MASKGEN_VIDEO_FAMILY, mask_protocol_name
from inpaint_core.engines import Engine, TransientError, create_engine
from inpaint_core.files import atomic_write_bytes, atomic_write_text, read_json, sha256_bytes, sha256_file
from inpaint_core.maskio import encode_mask_png
from inpaint_core.outdir import FolderLock, check_can_clear, check_not_inside, remove_contents
from inpaint_core.seeds import Stream, rng
from inpaint_core.versions import software_versions

from .augment import AugmentOptions, AugmentResult, augment_free, augment_to_cell, impossible_cells
from .extract import (EXTRACT_FORMAT, ClipMasks, ExtractOptions, RawMask, extract_clip, load_cached, pair_count,
                      save_cached)
from .writer import DATASET_MARKERS, finish_dataset
from .sources import is_url, local_folder
from .video import Clip, clip_fingerprint, discover_clips, frame_count, frame_names, opened

if TYPE_CHECKING:  # pragma: no cover
    from tqdm import tqdm

__all__ = ["BuildOptions", "BuildResult", "build_dataset", "BuildError", "ChunkWorker"]

log = logging.getLogger(__name__)

WORK_DIR = ".maskgen"  # one of maskgen.writer.DATASET_MARKERS: made first, so a build cut short is a dataset
CHUNK_SIZE = 50
MASK_FAMILY = MASKGEN_VIDEO_FAMILY  # dataset.json "mask_protocol": maskgen-video-<size> (inpaint_core.dataset)
SPLIT_CODES = {"test": 0, "train": 1}
TRAIN_CELL_CODE = 99
# a test cell of bin b draws its first source from the raw masks above this quantile of raw hole ratio
SOURCE_QUANTILE = (0.0, 0.0, 0.2, 0.4, 0.5, 0.6)

CellKey = tuple[str, str]  # (split, cell name); the training split is ("train", "train")


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
    seed: int = field(default=0, metadata=cli_help("Build seed."))
    per_cell: int = field(default=1000, metadata=cli_help("Test masks per (bin, border) cell."))
    train_count: int = field(default=5000, metadata=cli_help("Training masks (other clips, no ratio cap)."))
    test_fraction: float = field(default=0.7, metadata=cli_help("Share of raw masks whose clips form the test split."))
    test_clips: tuple[str, ...] = field(default=(), metadata=cli_help(
        "Comma-separated clip-id patterns forming the test split (overrides --test-fraction)."))
    max_slot_factor: int = 3
    source_tries: int = 4

    def __post_init__(self) -> None:
        if self.per_cell < 1:
            raise ValueError(f"per_cell (--per-cell) must be >= 1, got {self.per_cell}")
        if self.train_count < 0:
            raise ValueError(f"train_count (--train-count) must be >= 0, got {self.train_count}")
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


def build_dataset(video_dir: str | os.PathLike[str], out: str | os.PathLike[str],
                  options: BuildOptions = BuildOptions(), *, workers: int | None = 1, overwrite: bool = False,
                  progress: bool = False, engine: str = "local", address: str | None = None) -> BuildResult:
    """Build (or resume) a mask dataset in ``out`` from the clips under ``video_dir``.

    Stages: discover -> extract -> plan -> rounds -> write (see the module doc). The build holds ``out``'s
    lock (:class:`inpaint_core.outdir.FolderLock`) from start to end: one build per folder at a time.

    Args:
        workers: local engine: processes (1: this process); ray: at most this many tasks at once (``None``:
            as many as the cluster has CPUs).
        overwrite: start from an empty ``out``: its dataset and every cache (raw masks, chunks) are deleted
            first. Refused unless ``out`` is a maskgen dataset (or empty), and never the input folder, one of
            its parents, the working directory or the home folder.
        engine: ``local`` or ``ray`` (:mod:`inpaint_core.engines`); the bytes written do not depend on it.
            With ``ray`` the clips must be at the same path on every node (a shared file system) or behind
            an fsspec URL every node can read; ``out`` is written by this process only.
        address: the Ray cluster (``ray`` only; default ``$RAY_ADDRESS``, else a Ray instance on this machine).

    Raises:
        BuildError: missing input folder, no usable clip, ``out`` inside ``video_dir``, ``out`` holds a
            dataset built with other options (pass ``overwrite=True`` to replace it), or ``overwrite`` on a
            folder that is not a dataset.
        FolderBusyError: another live process builds into ``out``.
    """
    if workers is not None and workers < 1:
        raise BuildError(f"workers must be >= 1, got {workers}")
    out = Path(out)
    _check_folders(video_dir, out)
    inputs = _discover(video_dir)
    with FolderLock(out, purpose="maskgen build"):
        if overwrite:
            _clear_output(out, video_dir)
        (out / WORK_DIR).mkdir(exist_ok=True)
        runner = create_engine(engine, workers=workers, address=address)
        try:
            with _one_opencv_thread():
                extracted = _extract(inputs, options.extract, out / WORK_DIR / "raw", runner, progress)
                plan = _plan(extracted, options, out)
                if plan.up_to_date is not None:
                    return BuildResult(out, [], plan.up_to_date, up_to_date=True)
                rounds = _run_rounds(plan, options, out, runner, progress)
        finally:
            runner.close()
        return _write(out, options, extracted, plan, rounds)


def _local_inputs(video_dir: str | os.PathLike[str]) -> list[str | os.PathLike[str]]:
    """``video_dir`` as a local folder to protect (a path, a ``file://`` URL's path; none for other URLs)."""
    if not is_url(video_dir):
        return [video_dir]
    folder = local_folder(video_dir)
    return [folder] if folder is not None else []


def _check_folders(video_dir: str | os.PathLike[str], out: Path) -> None:
    try:
        check_not_inside(out, _local_inputs(video_dir), what="--video-dir")
    except ValueError as exc:
        raise BuildError(str(exc)) from None


def _clear_output(out: Path, video_dir: str | os.PathLike[str]) -> None:
    """``--overwrite``: empty ``out`` (its lock aside), caches included, once it is known to be a dataset."""
    try:
        check_can_clear(out, markers=DATASET_MARKERS, protected=_local_inputs(video_dir), what="maskgen dataset")
    except ValueError as exc:
        raise BuildError(str(exc)) from None
    remove_contents(out)


# ----------------------------------------------------------------------------------------------------------
# stage 1: discover


@dataclass(frozen=True)
class Inputs:
    """What ``--video-dir`` holds: the clips, and the files that are not clips (with the reason)."""

    video_dir: str
    clips: list[Clip]
    skipped: list[dict[str, object]]


def _discover(video_dir: str | os.PathLike[str]) -> Inputs:
    try:
        clips, skipped = discover_clips(video_dir)
    except ValueError as exc:
        raise BuildError(str(exc)) from None
    if not clips:
        reason = f"; {len(skipped)} other files skipped" if skipped else ""
        raise BuildError(f"no video file or frame folder under {str(video_dir)!r}{reason}")
    return Inputs(str(video_dir), clips, [s.to_dict() for s in skipped])


# ----------------------------------------------------------------------------------------------------------
# stage 2: extract raw masks per clip, cached


@dataclass(frozen=True)
class Extracted:
    """Every clip's raw masks (or why it gave none), in discovery order, and every input left out."""

    clips: list[ClipMasks]
    skipped: list[dict[str, object]]

    @property
    def usable(self) -> list[ClipMasks]:
        return [clip for clip in self.clips if clip.error is None]


def _extract(inputs: Inputs, options: ExtractOptions, raw_dir: Path, runner: Engine,
             progress: bool) -> Extracted:
    results = _clip_masks(inputs.clips, options, raw_dir, runner, progress)
    clip_results = [results[clip.clip_id] for clip in inputs.clips]
    skipped = inputs.skipped + [entry for clip in inputs.clips for entry in _skipped_parts(clip, results[clip.clip_id])]
    for entry in skipped:
        log.info("skipped %s: %s", entry["path"], entry["reason"])  # the command lists them all at the end
    extracted = Extracted(clip_results, skipped)
    if not extracted.usable:
        raise BuildError("no usable clip under " + repr(inputs.video_dir) + ": "
                         + "; ".join(f"{s['path']}: {s['reason']}" for s in skipped))
    return extracted


def _skipped_parts(clip: Clip, result: ClipMasks) -> list[dict[str, object]]:
    """What of a clip was left out: the whole clip (with ``retry`` when the cause was not its content, so
    the next run tries it again), or its unreadable frames (only the pairs touching them were skipped)."""
    if result.error is not None:
        if result.retry:
            return [{"path": clip.clip_id, "reason": f"{result.error} (not cached: tried again on the next run)",
                     "retry": True}]
        return [{"path": clip.clip_id, "reason": result.error}]
    if not result.unreadable_frames:
        return []
    names = frame_names(clip) if clip.kind == "frames" else []
    return [{"path": f"{clip.clip_id}/{names[i]}" if i < len(names) else f"{clip.clip_id}#frame{i}",
             "reason": "unreadable frame: only the frame pairs touching it were skipped"}
            for i in result.unreadable_frames]


def _clip_masks(clips: Sequence[Clip], options: ExtractOptions, raw_dir: Path, runner: Engine,
                progress: bool) -> dict[str, ClipMasks]:
    """Raw masks by clip id: from the cache in ``raw_dir``, else extracted (longest clips first) and cached.

    The bar counts frame pairs (known from the frame counts before any flow runs, corrected as each clip
    ends), so it moves from the first pair on and its rate gives an honest time left."""
    results: dict[str, ClipMasks] = {}
    todo: list[tuple[Clip, ExtractOptions]] = []
    caches: dict[str, Path] = {}  # by clip id, for the clips to extract
    for clip in clips:
        cache = raw_dir / f"{_clip_cache_key(clip, options)}.npz"
        cached = load_cached(cache) if cache.is_file() else None
        if cached is not None:
            results[clip.clip_id] = cached
        else:
            todo.append((clip, options))
            caches[clip.clip_id] = cache
    todo.sort(key=lambda task: -_clip_size(task[0]))  # longest first balances the workers
    estimates = {clip.clip_id: pair_count(frame_count(clip), options) if clip.clip_id not in results else 0
                 for clip in clips}
    with _bar(sum(estimates.values()), "frame pairs", "pair", progress) as bar:
        feed = _PairProgress(bar, estimates, done_before=len(results), clips=len(clips))
        with runner.reports(feed.report, tasks=len(todo)) as (report, poll):
            for result in runner.map(_engine_clip_task, todo, context=report, setup=_start_clip_worker,
                                     on_failure=_clip_failed, poll=poll):
                if not result.retry:  # written here, not by the task: only the clips must be shared
                    save_cached(caches[result.clip_id], result)
                results[result.clip_id] = result
                feed.complete(result.clip_id, result.pairs)
    return results


class _PairProgress:
    """The extraction bar in frame pairs. Workers report ``(clip_id, "pair")`` per frame pair and
    ``(clip_id, "done")`` at the end of a clip, in process or through a queue; a clip's estimate (from its
    frame count) is replaced by the pairs it really had when it ends, so the bar ends at exactly its total."""

    def __init__(self, bar: "tqdm", estimates: Mapping[str, int], *, done_before: int, clips: int) -> None:
        self.bar = bar
        self.estimates = dict(estimates)
        self.seen: Counter[str] = Counter()
        self.finished: set[str] = set()
        self.done_before = done_before
        self.clips = clips
        self._show_clips()

    def report(self, clip_id: str, event: str) -> None:
        """A report while a clip runs: ``"pair"`` (one more frame pair done) or ``"done"`` (the clip ended
        after the pairs reported)."""
        if clip_id in self.finished:
            return
        if event == "done":
            self.complete(clip_id, self.seen[clip_id])
            return
        self.seen[clip_id] += 1
        if self.seen[clip_id] > self.estimates[clip_id]:
            self._retotal(clip_id, self.seen[clip_id])
        self.bar.update(1)

    def complete(self, clip_id: str, pairs: int) -> None:
        """A clip's result is in: it had ``pairs`` frame pairs (those not reported yet are counted now: an
        engine without reports while tasks run moves the bar clip by clip)."""
        if clip_id in self.finished:
            return
        self.finished.add(clip_id)
        pairs = max(pairs, self.seen[clip_id])
        self.bar.update(pairs - self.seen[clip_id])
        self.seen[clip_id] = pairs
        self._retotal(clip_id, pairs)
        self._show_clips()

    def _retotal(self, clip_id: str, pairs: int) -> None:
        self.bar.total += pairs - self.estimates[clip_id]
        self.estimates[clip_id] = pairs
        self.bar.refresh()

    def _show_clips(self) -> None:
        self.bar.set_postfix_str(f"clips {self.done_before + len(self.finished)}/{self.clips}")


def _json_key(payload: object) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


_Report = Callable[[str, str], None]  # a clip task's progress: report(clip_id, "pair") per frame pair


def _clip_task(report: _Report, args: tuple[Clip, ExtractOptions]) -> ClipMasks:
    """One clip's raw masks (the driver caches them unless the failure was not the clip's content -- a flow
    plug-in's exception, an unreadable file: that clip is tried again on the next run); each frame pair
    done is reported to ``report``."""
    clip, options = args
    try:
        with opened(clip) as local:  # a clip under a URL: copied here once, read as a local clip, removed
            sha = clip_fingerprint(local)
            return extract_clip(local, options, sha256=sha, on_pair=lambda: report(clip.clip_id, "pair"))
    except OSError as exc:  # the copy (a network or permission error) or reading the clip for its fingerprint
        return ClipMasks(clip.clip_id, "", error=f"cannot read: {exc}", retry=True)


class _ClipRetry(TransientError):
    """A clip failed for a reason other than its content: the engine may run it again (Ray does)."""

    def __init__(self, result: ClipMasks) -> None:
        super().__init__(result)
        self.result = result

    def __str__(self) -> str:
        return str(self.result.error)


def _engine_clip_task(report: _Report, task: tuple[Clip, ExtractOptions]) -> ClipMasks:
    """Engine task: :func:`_clip_task`, reporting to the state the engine hands over (made by
    :func:`_start_clip_worker`); a failure that was not the clip's content is raised as transient."""
    result = _clip_task(report, task)
    if result.retry:
        raise _ClipRetry(result)
    return result


def _clip_failed(task: tuple[Clip, ExtractOptions], error: BaseException) -> ClipMasks:
    """A clip whose every attempt failed: reported as skipped and tried again on the next run."""
    if isinstance(error, _ClipRetry):
        return error.result
    return ClipMasks(task[0].clip_id, "", error=f"{type(error).__name__}: {error}", retry=True)


def _clip_cache_key(clip: Clip, options: ExtractOptions) -> str:
    stat_parts: list[object] = []
    if clip.remote is not None:  # under a URL: the listed sizes and versions (ETag, generation, mtime, ...)
        stat_parts = [[file.name, file.size, file.version] for file in clip.remote.files]
    paths = [] if clip.remote is not None else sorted(clip.path.iterdir()) if clip.kind == "frames" else [clip.path]
    for path in paths:
        try:
            info = path.stat()
        except OSError:
            continue
        stat_parts.append([path.name, info.st_size, info.st_mtime_ns])
    return _json_key({"format": EXTRACT_FORMAT, "clip": clip.clip_id, "files": stat_parts,
                      "options": options.to_dict()})


def _clip_size(clip: Clip) -> int:
    if clip.remote is not None:
        return sum(file.size for file in clip.remote.files)
    try:
        if clip.kind == "frames":
            return sum(p.stat().st_size for p in clip.path.iterdir() if p.is_file())
        return clip.path.stat().st_size
    except OSError:
        return 0


# ----------------------------------------------------------------------------------------------------------
# stage 3: plan (split, pools, build key, the output folder)


@dataclass(frozen=True)
class PoolEntry:
    clip: str
    raw: RawMask


@dataclass(frozen=True)
class Plan:
    """What the rounds make and where they keep their chunks.

    Attributes:
        test_ids: the clips of the test split.
        pools: the raw masks of each split (``"test"``, ``"train"``), clip by clip.
        targets: masks wanted per (split, cell); a split with an empty pool has none.
        build_key: hash of the options, the pools and the software versions.
        chunk_dir: where finished chunks are saved (a folder per build key).
        up_to_date: ``dataset.json`` when ``out`` already holds this very dataset, else ``None``.
    """

    test_ids: frozenset[str]
    pools: dict[str, list[PoolEntry]]
    targets: dict[CellKey, int]
    build_key: str
    chunk_dir: Path
    up_to_date: dict[str, object] | None = None


def _plan(extracted: Extracted, options: BuildOptions, out: Path) -> Plan:
    test_ids = frozenset(_select_test_clips(extracted.usable, options))
    pools: dict[str, list[PoolEntry]] = {"test": [], "train": []}
    for result in extracted.usable:
        split = "test" if result.clip_id in test_ids else "train"
        pools[split].extend(PoolEntry(result.clip_id, raw) for raw in result.masks)
    targets: dict[CellKey, int] = {}
    impossible = impossible_cells(options.augment)
    for name, reason in impossible.items():
        log.warning("cell %s %s", name, reason)
    if pools["test"]:
        targets.update({("test", cell.name): 0 if cell.name in impossible else options.per_cell for cell in CELLS})
    if pools["train"]:
        targets[("train", "train")] = options.train_count
    build_key = _build_key(options, pools)
    plan = Plan(test_ids, pools, targets, build_key, out / WORK_DIR / "chunks" / build_key[:16])
    previous = read_dataset_json(out)
    if previous is not None and previous.get("build_key") == build_key and (out / "manifest.csv").is_file():
        return replace(plan, up_to_date=previous)
    _prepare_output(out, previous, options, plan.chunk_dir)
    return plan


def _select_test_clips(usable: list[ClipMasks], options: BuildOptions) -> set[str]:
    if options.test_clips:
        chosen = {c.clip_id for c in usable if any(fnmatch.fnmatch(c.clip_id, p) for p in options.test_clips)}
        if not chosen:
            raise BuildError(f"--test-clips {','.join(options.test_clips)} matches no usable clip; usable clips: "
                             + ", ".join(c.clip_id for c in usable))
        return chosen
    if len(usable) == 1:
        return {usable[0].clip_id}
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


def _build_key(options: BuildOptions, pools: Mapping[str, Sequence[PoolEntry]]) -> str:
    pool_fingerprint = _json_key({s: [[e.clip, e.raw.frame_a, e.raw.source, sha256_bytes(e.raw.png)]
                                      for e in pool] for s, pool in pools.items()})
    return _json_key({"format": DATASET_FORMAT, "options": options.to_dict(), "pool": pool_fingerprint,
                      "versions": software_versions()})


def _prepare_output(out: Path, previous: dict[str, object] | None, options: BuildOptions, chunk_dir: Path) -> None:
    """Refuse another dataset in ``out`` (``--overwrite`` has emptied ``out`` before this), except one this
    very command left with clips to retry; drop chunks of other build keys."""
    if previous is not None:
        if not _retry_of(previous, options):
            raise BuildError(f"{str(out)!r} holds a dataset built from other clips or options; "
                             "use --overwrite to replace it, or another --out")
        for name in ("test", "train", "pictures"):
            shutil.rmtree(out / name, ignore_errors=True)
        for name in ("manifest.csv", "dataset.json"):
            (out / name).unlink(missing_ok=True)
    if chunk_dir.parent.is_dir():
        for stale in chunk_dir.parent.iterdir():
            if stale != chunk_dir:
                shutil.rmtree(stale, ignore_errors=True)
    chunk_dir.mkdir(parents=True, exist_ok=True)


def _retry_of(previous: Mapping[str, object], options: BuildOptions) -> bool:
    """Whether ``previous`` was built with these very options and left out a clip to retry (a failure
    that was not the clip's content), so that this run, with that clip back, replaces it."""
    skipped = previous.get("skipped")
    retried = isinstance(skipped, list) and any(isinstance(e, dict) and e.get("retry") for e in skipped)
    return retried and previous.get("options") == json.loads(json.dumps(options.to_dict()))


# ----------------------------------------------------------------------------------------------------------
# stage 4: rounds of chunks until each cell is full or out of tries


@dataclass(frozen=True)
class Chunk:
    split: str
    cell: str  # cell name, or "train"
    start: int
    stop: int

    @property
    def key(self) -> CellKey:
        return self.split, self.cell

    @property
    def file_name(self) -> str:
        return f"{self.split}_{self.cell}_{self.start:06d}_{self.stop:06d}.json"


@dataclass(frozen=True)
class ChunkResult:
    """The masks one chunk made (in slot order) and its failed slots counted by reason (sorted); a chunk
    just made also holds the PNG of each row (``pngs``, not saved: :meth:`write_masks` writes them)."""

    chunk: Chunk
    rows: list[MaskRecord]
    failures: dict[str, int]
    pngs: tuple[bytes, ...] = ()

    def write_masks(self, out: Path) -> None:
        """The mask files of a chunk just made, under ``out`` (before :meth:`save` records the chunk)."""
        for row, data in zip(self.rows, self.pngs, strict=True):
            atomic_write_bytes(out / row.path, data)

    def save(self, folder: Path) -> None:
        payload = {"chunk": asdict(self.chunk), "rows": [asdict(row) for row in self.rows], "failures": self.failures}
        atomic_write_text(folder / self.chunk.file_name, json.dumps(payload))

    @classmethod
    def load(cls, folder: Path, chunk: Chunk, out: Path) -> ChunkResult | None:
        """The result of ``chunk`` saved in ``folder``, or ``None`` when it is missing or unreadable, or when
        one of its mask files (under ``out``) is missing or no longer has the sha256 its row records (a file
        deleted or changed since: the chunk is made again)."""
        saved = read_json(folder / chunk.file_name)
        if saved is None:
            return None
        try:
            result = cls(chunk, [MaskRecord(**row) for row in saved["rows"]], dict(saved["failures"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return result if all(_file_matches(out / row.path, row.sha256) for row in result.rows) else None


def _file_matches(path: Path, sha256: str) -> bool:
    try:
        return sha256_file(path) == sha256
    except OSError:
        return False


@dataclass(frozen=True, eq=False)
class ChunkWorker:
    """Makes the masks of chunks. Holds everything a chunk needs: built once per build and sent once as the
    engine's context (the pools can be ~10 MB: never pickled per task; each local worker process gets it
    once, Ray keeps it once in its object store).

    Attributes:
        pools: raw masks per split.
        rank: per split, the pool indices sorted by raw hole ratio.
        position: per split, the inverse of ``rank`` (a pool index's place in that order).
    """

    pools: Mapping[str, Sequence[PoolEntry]]
    options: BuildOptions
    out: Path
    rank: Mapping[str, np.ndarray]
    position: Mapping[str, np.ndarray]
    decoded: "RawCache" = field(default_factory=lambda: RawCache())

    @classmethod
    def create(cls, pools: Mapping[str, Sequence[PoolEntry]], options: BuildOptions, out: Path) -> ChunkWorker:
        rank: dict[str, np.ndarray] = {}
        position: dict[str, np.ndarray] = {}
        for split, pool in pools.items():
            order = np.argsort(np.array([entry.raw.hole_ratio for entry in pool]), kind="stable")
            inverse = np.empty_like(order)
            inverse[order] = np.arange(len(order))
            rank[split], position[split] = order, inverse
        return cls(pools, options, out, rank, position)

    def run(self, chunk: Chunk) -> ChunkResult:
        """Make the masks of slots [start, stop) of one cell."""
        cell = None if chunk.cell == "train" else cell_by_name(chunk.cell)
        cell_code = TRAIN_CELL_CODE if cell is None else cell.index
        order = self._source_order(chunk.split, cell, cell_code)
        rows: list[MaskRecord] = []
        pngs: list[bytes] = []
        failures: Counter[str] = Counter()
        for slot in range(chunk.start, chunk.stop):
            generator = rng(self.options.seed, Stream.SLOT, SPLIT_CODES[chunk.split], cell_code, slot)
            entry, result = self._fill_slot(chunk.split, cell, generator, int(order[slot % len(order)]))
            if result.ok:
                row, png = self._record(chunk, slot, entry, result)
                rows.append(row)
                pngs.append(png)
            else:
                failures[result.reason] += 1
        return ChunkResult(chunk, rows, dict(sorted(failures.items())), tuple(pngs))

    def _source_order(self, split: str, cell: Cell | None, cell_code: int) -> np.ndarray:
        """The pool indices in the order a cell's slots take their first source."""
        rank = self.rank[split]
        # the larger bins start from the larger raw masks: a thin sliver rarely reaches 50 % holes
        floor = 0 if cell is None else int(len(rank) * SOURCE_QUANTILE[cell.bin_index])
        candidates = rank[floor:]
        seed = self.options.seed
        return candidates[rng(seed, Stream.SOURCE_ORDER, SPLIT_CODES[split], cell_code).permutation(len(candidates))]

    def _fill_slot(self, split: str, cell: Cell | None, generator: np.random.Generator,
                   source_index: int) -> tuple[PoolEntry, AugmentResult]:
        """Up to ``source_tries`` raw masks for one slot: after a miss the next is larger (too small),
        smaller (too large) or any. Returns the last source tried and its result."""
        pool, rank, position = self.pools[split], self.rank[split], self.position[split]
        augment = self.options.augment
        def more(generator: np.random.Generator) -> np.ndarray:  # a further raw mask to combine
            index = int(generator.integers(len(pool)))
            return self.decoded.get((split, index), pool[index].raw)

        for _ in range(self.options.source_tries):
            entry = pool[source_index]
            raw = self.decoded.get((split, source_index), entry.raw)
            result = augment_free(raw, generator, augment) if cell is None else \
                augment_to_cell(raw, cell, generator, augment, more=more)
            if result.ok:
                break
            here = int(position[source_index])
            if result.reason == "too-small" and here + 1 < len(rank):
                source_index = int(rank[generator.integers(here + 1, len(rank))])
            elif result.reason == "too-large" and here > 0:
                source_index = int(rank[generator.integers(0, here)])
            else:
                source_index = int(generator.integers(len(pool)))
        return entry, result

    def _record(self, chunk: Chunk, slot: int, entry: PoolEntry, result: AugmentResult) -> tuple[MaskRecord, bytes]:
        """The slot's row and its PNG (written by the driver: see :meth:`ChunkResult.write_masks`)."""
        relative = f"test/{chunk.cell}/{slot:06d}.png" if chunk.split == "test" else f"train/{slot:06d}.png"
        data = encode_mask_png(result.mask)
        raw = entry.raw
        return MaskRecord.of_mask(relative, chunk.split, result.mask, data, clip=entry.clip, frame_a=raw.frame_a,
                                  frame_b=raw.frame_b, source=raw.source, flow=self.options.extract.flow,
                                  **asdict(result.augmentation), seed=self.options.seed, slot=slot,
                                  margin=self.options.augment.margin), data


class RawCache:
    """Decoded raw masks kept bit-packed (1/8 byte per pixel), least recently used dropped beyond
    ``budget`` bytes, so a chunk worker that combines several raw masks per output mask does not decode the
    same PNG again and again, with memory bounded whatever the pool size. Never changes a result."""

    def __init__(self, budget: int = 64 << 20) -> None:
        from collections import OrderedDict

        self.budget = budget
        self.used = 0
        self.items: OrderedDict[tuple[str, int], tuple[np.ndarray, tuple[int, int]]] = OrderedDict()

    def get(self, key: tuple[str, int], raw: RawMask) -> np.ndarray:
        """The bool mask of ``raw`` (the entry ``key`` of a pool)."""
        item = self.items.get(key)
        if item is not None:
            self.items.move_to_end(key)
            packed, shape = item
            return np.unpackbits(packed, count=shape[0] * shape[1]).reshape(shape).view(bool)
        mask = raw.decode()
        packed = np.packbits(mask)
        self.items[key] = (packed, mask.shape)
        self.used += packed.nbytes
        while self.used > self.budget and len(self.items) > 1:
            _, (dropped, _) = self.items.popitem(last=False)
            self.used -= dropped.nbytes
        return mask


def _engine_chunk_task(worker: ChunkWorker, chunk: Chunk) -> ChunkResult:
    """Engine task: one chunk, made by the worker the engine hands over (its state, made by
    :func:`_start_chunk_worker` from the context)."""
    return worker.run(chunk)


@dataclass
class CellState:
    """How far one (split, cell) got: its target, the next slot to try, the masks made so far."""

    target: int
    next_slot: int = 0
    made: int = 0
    exhausted: bool = False


@dataclass
class Rounds:
    """What the rounds did: each cell's state, and every chunk's result (saved or new)."""

    cells: dict[CellKey, CellState]
    chunks: dict[Chunk, ChunkResult] = field(default_factory=dict)


def _run_rounds(plan: Plan, options: BuildOptions, out: Path, runner: Engine, progress: bool) -> Rounds:
    """Rounds of chunks until every cell is full or has tried ``max_slot_factor`` x its target slots (a cell
    that made nothing in a round, even its first, is tried again in the next)."""
    rounds = Rounds({key: CellState(target, exhausted=target == 0) for key, target in plan.targets.items()})
    worker = ChunkWorker.create(plan.pools, options, out)
    with _bar(sum(plan.targets.values()), "masks", "mask", progress) as bar:
        counter = _MaskCounter(bar, plan.targets)
        while True:
            chunks = _next_round(rounds.cells, options.max_slot_factor)
            if not chunks:
                break
            _run_round(chunks, plan.chunk_dir, runner, worker, rounds.chunks, counter)
            for key, state in rounds.cells.items():
                state.made = min(state.target, counter.made[key])
                if state.made >= state.target or state.next_slot >= state.target * options.max_slot_factor:
                    state.exhausted = True
    return rounds


@dataclass
class _MaskCounter:
    """Masks made per cell, and the masks bar: it counts at most each cell's target (a last round's surplus,
    dropped when writing, does not push the bar past its total)."""

    bar: "tqdm"
    targets: Mapping[CellKey, int]
    made: Counter[CellKey] = field(default_factory=Counter)

    def add(self, result: ChunkResult) -> None:
        key, target = result.chunk.key, self.targets[result.chunk.key]
        before = min(self.made[key], target)
        self.made[key] += len(result.rows)
        self.bar.update(min(self.made[key], target) - before)


def _next_round(cells: Mapping[CellKey, CellState], max_slot_factor: int) -> list[Chunk]:
    """The chunks of the next round (none when every cell is done), advancing each cell's next slot."""
    chunks: list[Chunk] = []
    for (split, cell), state in cells.items():
        if state.exhausted:
            continue
        # a later round tries at least a chunk's worth of slots (not just the few missing), so that
        # one unlucky slot does not end the cell; surplus masks are dropped when writing, by slot order
        deficit = state.target - state.made
        start = state.next_slot
        size = deficit if start == 0 else max(deficit, min(CHUNK_SIZE, state.target))
        stop = min(start + size, state.target * max_slot_factor)
        for first in range(start, stop, CHUNK_SIZE):
            chunks.append(Chunk(split, cell, first, min(first + CHUNK_SIZE, stop)))
        state.next_slot = stop
    return chunks


def _run_round(chunks: Sequence[Chunk], chunk_dir: Path, runner: Engine, worker: ChunkWorker,
               results: dict[Chunk, ChunkResult], counter: _MaskCounter) -> None:
    """Add the results of ``chunks`` to ``results``: saved ones from ``chunk_dir``, the others made and saved."""
    todo = []
    for chunk in chunks:
        saved = ChunkResult.load(chunk_dir, chunk, worker.out)
        if saved is not None:
            results[chunk] = saved
            counter.add(saved)
        else:
            todo.append(chunk)
    for result in runner.map(_engine_chunk_task, todo, context=worker, setup=_start_chunk_worker):
        result.write_masks(worker.out)
        result.save(chunk_dir)
        results[result.chunk] = result
        counter.add(result)


# ----------------------------------------------------------------------------------------------------------
# stage 5: write


def _write(out: Path, options: BuildOptions, extracted: Extracted, plan: Plan, rounds: Rounds) -> BuildResult:
    rows = _kept_rows(out, plan.targets, rounds.chunks)
    info = finish_dataset(out, rows, lambda fingerprint: _build_info(fingerprint, options, extracted, plan, rounds))
    shutil.rmtree(out / WORK_DIR / "chunks", ignore_errors=True)
    return BuildResult(out, rows, info)


def _kept_rows(out: Path, targets: Mapping[CellKey, int], chunks: Mapping[Chunk, ChunkResult]) -> list[MaskRecord]:
    """The rows in (split, cell, slot) order, at most each cell's target; a last round's surplus files go."""
    ordered = sorted(chunks.items(), key=lambda item: (SPLIT_CODES[item[0].split], cell_rank(item[0].cell),
                                                       item[0].start))
    rows: list[MaskRecord] = []
    kept: Counter[CellKey] = Counter()
    for chunk, result in ordered:
        for row in result.rows:
            if kept[chunk.key] < targets[chunk.key]:
                rows.append(row)
                kept[chunk.key] += 1
            else:
                (out / row.path).unlink(missing_ok=True)
    return rows


def _build_info(fingerprint: str, options: BuildOptions, extracted: Extracted, plan: Plan,
                rounds: Rounds) -> dict[str, object]:
    made = {key: state.made for key, state in rounds.cells.items()}
    counts_test = {cell.name: made.get(("test", cell.name), 0) for cell in CELLS}
    return {
        "format": DATASET_FORMAT,
        "build_key": plan.build_key,
        "fingerprint": fingerprint,
        MASK_PROTOCOL_KEY: mask_protocol_name(MASK_FAMILY, options.augment.size),
        "versions": software_versions(),
        "options": options.to_dict(),
        "counts": {"test": counts_test, "test_total": sum(counts_test.values()),
                   "train": made.get(("train", "train"), 0)},
        "targets": {"per_cell": options.per_cell, "train": options.train_count},
        "border_margin": options.augment.margin,
        "shortfalls": _shortfalls(options, plan, rounds),
        "clips": [dict(r.summary(), split=("test" if r.clip_id in plan.test_ids else "train") if r.error is None
                       else "skipped") for r in extracted.clips],
        "skipped": extracted.skipped,
    }


def _shortfalls(options: BuildOptions, plan: Plan, rounds: Rounds) -> list[dict[str, object]]:
    failures: dict[CellKey, Counter[str]] = {key: Counter() for key in plan.targets}
    for chunk, result in rounds.chunks.items():
        failures[chunk.key].update(result.failures)
    shortfalls = [_shortfall(key, state.target, state.made, failures[key], state.next_slot, len(plan.pools[key[0]]))
                  for key, state in rounds.cells.items() if state.made < state.target]
    if plan.pools["test"]:
        shortfalls += [{"split": "test", "cell": name, "target": options.per_cell, "made": 0, "reason": reason}
                       for name, reason in impossible_cells(options.augment).items()]
    if options.per_cell and not plan.pools["test"]:
        shortfalls.insert(0, {"split": "test", "cell": "all", "target": options.per_cell, "made": 0,
                              "reason": "no clip was given to the test split"})
    if options.train_count and not plan.pools["train"]:
        shortfalls.append({"split": "train", "cell": "train", "target": options.train_count, "made": 0,
                           "reason": "no clip left for the training split (it needs clips other than the "
                                     "test split's; add clips or lower --test-fraction)"})
    return shortfalls


def _shortfall(key: CellKey, target: int, made: int, failures: Counter[str], tried: int,
               pool_size: int) -> dict[str, object]:
    explanations = {
        "too-small": "the raw masks are too thin or sparse: even the widest dilation at the closest crop "
                     "stays below the bin (add clips with larger moving objects, a larger --step, or a larger "
                     "--max-dilation)",
        "too-large": "the raw masks cover too much: even the thinnest dilation at the widest crop exceeds the bin",
        "no-border-contact": "no hole could be placed within the border margin of the edge",
        "empty": "empty raw masks",
    }
    main = failures.most_common(1)[0][0] if failures else "too-small"
    return {"split": key[0], "cell": key[1], "target": target, "made": made, "slots_tried": tried,
            "raw_masks": pool_size, "failures": dict(failures),
            "reason": f"{target - made} short after {tried} slots: {explanations.get(main, main)}"}


# ----------------------------------------------------------------------------------------------------------
# running tasks


# The engine keeps each worker's state and hands it to every task (``function(state, task)``): a setup
# below makes that state from the context; nothing here is kept in module variables.


def _start_clip_worker(report: _Report | None) -> _Report:
    """Engine setup of the clip tasks (once per worker process; per task on Ray): one OpenCV thread (see
    :func:`_one_opencv_thread`); the state is where progress goes (``report`` from
    :meth:`Engine.reports`, ``None`` when reports cannot reach the driver while tasks run)."""
    _single_opencv_thread()
    return report if report is not None else _no_report


def _no_report(clip_id: str, event: str) -> None:
    """The reporter of an engine whose tasks cannot report while they run (progress follows results)."""


def _start_chunk_worker(worker: ChunkWorker) -> ChunkWorker:
    """Engine setup of the chunk tasks (once per worker process; per task on Ray): one OpenCV thread; the
    state is ``worker`` itself (the context, sent once)."""
    _single_opencv_thread()
    return worker


def _single_opencv_thread() -> None:
    """One OpenCV thread in this worker (the bytes must not depend on --workers: :func:`_one_opencv_thread`)."""
    import cv2

    cv2.setNumThreads(1)


@contextmanager
def _one_opencv_thread() -> Iterator[None]:
    """One OpenCV thread in this process too while the build runs: some OpenCV float kernels (the precise
    distance transform, ...) change their last bits with the thread count, which would tie the bytes to
    --workers. The previous count is restored afterwards."""
    import cv2

    saved = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(saved)


def _bar(total: int, desc: str, unit: str, progress: bool, *, initial: int = 0) -> "tqdm":
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit=unit, disable=not progress, file=sys.stderr)
