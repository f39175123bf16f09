"""A benchmark run: pairs -> model outputs -> composite -> per-image metrics -> run folder.

Run folder (``OUT``):

* ``pairs.csv``: the (image, mask) pairs, in order;
* ``per_image.csv``: one row per pair (:data:`PER_IMAGE_COLUMNS`), ``status`` ``ok`` or ``failed`` with the
  reason in ``error``;
* ``summary.csv``: per cell and overall: count, failures, mean, std and bootstrap 95 % interval of each
  metric, FID, KID, P-IDS and U-IDS (:mod:`benchmark.aggregate`);
* ``summary_area.csv``: the same per 10 % hole-area bin (LaMa's grouping, :mod:`benchmark.areabins`);
* ``run.json``: model, weights sha256, dataset / image-set / pairs fingerprints, protocol (evaluation size,
  preprocessing, composite, input), ``mask_protocol`` (:func:`run_mask_protocol`), versions, hardware, date;
* ``samples/grid_<cell>.png``: input, output (composite) and ground truth of the first pairs of each cell.

:func:`score_run` runs four stages: :func:`plan_run` (the run folder's state: finished, resumed or new;
the pending pairs), :class:`OutputFeed` (requests: ground truth, mask and masked input of each pending pair,
in batches, the provider's answers fetched one batch ahead in a thread), :func:`score_pending` (one
:class:`~benchmark.results.PairResult` per pair, appended to ``per_image.partial.csv``; sample rows) and
:func:`write_report` (``per_image.csv``, ``summary.csv``, sample grids, ``run.json``). Every pair, whether
scored now or read back from an interrupted run, goes into one :class:`~benchmark.aggregate.CellAccumulator`,
which gives ``summary.csv``.

Rows are appended to ``per_image.partial.csv`` as pairs finish (flushed each row), so an interrupted run
started again with the same settings skips the pairs already scored; ``per_image.csv`` is written when all
pairs are done.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import platform
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator, NamedTuple, Protocol

import numpy as np

from inpaint_core.buckets import hole_ratio
from inpaint_core.cli import cli_help
from inpaint_core.dataset import Dataset
from inpaint_core.files import atomic_write_text, sha256_file, write_png
from inpaint_core.images import discover_images, load_image, sample_row, write_rgb_png
from inpaint_core.outdir import FolderLock
from inpaint_core.versions import software_versions

from . import __version__
from .aggregate import CellAccumulator
from .inputs import InputError, RunError, check_images, check_masks, read_recorded_mask
from .images import PREPROCESSING, fingerprint_of_hashes, preprocess
from .metrics import image_metrics
from .pairing import Pair, make_pairs, pairs_csv, pairs_fingerprint
from .protocol import PROTOCOL, check_output, composite, masked_input
from .results import (PER_IMAGE_COLUMNS, RUN_FILES_RECORDED, SUMMARY_METRICS, PairResult, drop_cut_line, per_image_csv,
                      read_results, summary_csv)
from .setmetrics import SET_METRIC_NAMES, FeatureLog, SetMetricOptions, SetMetrics

__all__ = ["RunSettings", "Prepared", "prepare", "score_run", "PER_IMAGE_COLUMNS", "PROTOCOL", "RunError",
           "OutputProvider", "CallableProvider", "PairRequest", "OutputFeed", "RunPlan", "plan_run",
           "score_pending", "write_report", "score_pair", "run_mask_protocol", "ShardModel", "score_pending_on",
           "score_run_on"]

SAMPLES_PER_CELL = 4
EXPORT_FORMAT = "benchmark-export/1"
# files of an unfinished or finished run that --overwrite (or other settings) removes
RUN_FILES = ("per_image.csv", "per_image.partial.csv", "summary.csv", "summary_area.csv", "run.json",
             "fid_features.partial")
RUN_FOLDERS = ("samples", "command")  # sample rows and grids; a --model-cmd's inputs, outputs and log


@dataclass(frozen=True)
class RunSettings:
    """What defines a run's pairs (``benchmark run / score / export-inputs`` options)."""

    masks: Path
    images: Path
    size: int = field(default=512, metadata=cli_help("Evaluation size (square)."))
    seed: int = field(default=0, metadata=cli_help("Pairing seed."))
    per_cell: int | None = field(default=None, metadata=cli_help("At most N masks per cell (quick runs)."))


@dataclass
class Prepared:
    """A run's inputs, checked (:mod:`benchmark.inputs`): the pairs, the mask set and the fingerprints."""

    settings: RunSettings
    pairs: list[Pair]
    dataset: Dataset
    dataset_fingerprint: str
    image_fingerprint: str
    image_count: int
    protocol_key: str = ""
    mask_protocol: str = ""  # run_mask_protocol(): the dataset's, marked when --per-cell leaves masks out
    _cache: dict[str, np.ndarray] = field(default_factory=dict)

    def image(self, relative: str) -> np.ndarray:
        """The preprocessed ground-truth image (small LRU cache: images repeat)."""
        if relative not in self._cache:
            if len(self._cache) > 64:
                self._cache.pop(next(iter(self._cache)))
            self._cache[relative] = preprocess(load_image(self.settings.images / relative), self.settings.size)
        return self._cache[relative]

    def mask(self, pair: Pair) -> np.ndarray:
        """The pair's mask (checked before the run: a file that changed since is an :class:`InputError`)."""
        mask, recorded = read_recorded_mask(self.dataset.file(pair.mask), pair.mask_sha256)
        if not recorded or mask.shape != (self.settings.size, self.settings.size):
            raise InputError(f"input error: mask {pair.mask} changed during the run; check the mask set and "
                             "start the run again")
        return mask

    @property
    def pairs_fingerprint(self) -> str:
        return pairs_fingerprint(self.pairs)

    def export_record(self) -> dict[str, object]:
        """What ``benchmark export-inputs`` records of the pairs (``export.json``), and ``score`` compares."""
        settings = self.settings
        return {"format": EXPORT_FORMAT, "protocol_key": self.protocol_key, "mask_protocol": self.mask_protocol,
                "dataset": {"path": str(settings.masks.resolve()), "fingerprint": self.dataset_fingerprint},
                "images": {"path": str(settings.images.resolve()), "fingerprint": self.image_fingerprint},
                "pairs": {"count": len(self.pairs), "fingerprint": self.pairs_fingerprint, "seed": settings.seed,
                          "per_cell": settings.per_cell},
                "size": settings.size}


def prepare(settings: RunSettings, *, progress: bool = False) -> Prepared:
    """Load the mask rows and the image list, check them (:mod:`benchmark.inputs`), make the pairs and
    compute the fingerprints. Raises :class:`RunError` (:class:`InputError` for unusable files)."""
    if settings.size < 16:
        raise RunError(f"evaluation size must be at least 16, got {settings.size}")
    if settings.per_cell is not None and settings.per_cell < 1:
        raise RunError(f"--per-cell must be at least 1, got {settings.per_cell}")
    try:
        dataset = Dataset(settings.masks)
        rows = dataset.records("test", per_cell=settings.per_cell, binned=True)
        if not rows:
            raise ValueError(f"mask dataset {str(settings.masks)!r} has no binned test mask")
        images = discover_images(settings.images)
    except ValueError as exc:
        raise RunError(str(exc)) from None
    check_masks(dataset, _bar(rows, "checking masks", progress), settings.size)
    image_hashes = check_images(settings.images, _bar(images, "checking images", progress))
    dataset_fingerprint = dataset.fingerprint
    pairs = make_pairs(rows, images, seed=settings.seed)
    prepared = Prepared(settings, pairs, dataset, dataset_fingerprint, fingerprint_of_hashes(image_hashes),
                        len(images))
    prepared.mask_protocol = run_mask_protocol(dataset.mask_protocol, settings.per_cell,
                                               limited=len(rows) < len(dataset.records("test", binned=True)))
    prepared.protocol_key = hashlib.sha256(json.dumps({
        "dataset": dataset_fingerprint, "images": prepared.image_fingerprint, "pairs": prepared.pairs_fingerprint,
        "size": settings.size, "preprocessing": PREPROCESSING, "protocol": PROTOCOL,
        "mask_protocol": prepared.mask_protocol,
    }, sort_keys=True).encode()).hexdigest()
    return prepared


def run_mask_protocol(dataset_protocol: str, per_cell: int | None, *, limited: bool) -> str:
    """A run's mask protocol (``run.json["mask_protocol"]``): the dataset's
    (:attr:`inpaint_core.dataset.Dataset.mask_protocol`), with ``@per-cell-N`` appended when ``--per-cell N``
    left binned test masks out (a quick run is not a run of the whole protocol and is never ranked with one).
    It is part of the protocol key."""
    return f"{dataset_protocol}@per-cell-{per_cell}" if limited and per_cell is not None else dataset_protocol


def _bar(items: list, desc: str, progress: bool) -> Iterator:
    from tqdm import tqdm

    return iter(tqdm(items, desc=desc, unit="file", disable=not progress, file=sys.stderr, leave=False))


class OutputProvider(Protocol):
    """Where a run's outputs come from (a model host, an external command, a predictions folder).

    ``outputs`` answers a batch of at most ``batch_size`` requests (pair, masked input, mask) with one
    ``(output, seconds)`` per request, where ``output`` is the array or the exception explaining the
    failure. An optional ``prepare(requests)`` sees every pending request first (a command writes its
    input folders and runs once).
    """

    batch_size: int

    def outputs(self, requests: list[tuple[Pair, np.ndarray, np.ndarray]]) -> list[tuple[object, float]]:
        ...  # pragma: no cover - protocol


class CallableProvider:
    """Adapts ``function(pair, masked_input, mask) -> (output, seconds)`` (exceptions are failures)."""

    batch_size = 1

    def __init__(self, function: Callable[[Pair, np.ndarray, np.ndarray], tuple[object, float]]) -> None:
        self.function = function

    def outputs(self, requests: list[tuple[Pair, np.ndarray, np.ndarray]]) -> list[tuple[object, float]]:
        results: list[tuple[object, float]] = []
        for pair, model_input, mask in requests:
            try:
                results.append(self.function(pair, model_input, mask))
            except Exception as exc:  # noqa: BLE001 - one failed pair
                results.append((exc, float("nan")))
        return results


# -- stage 1: plan -------------------------------------------------------------------------------------------


@dataclass
class RunPlan:
    """A run folder's state: ``finished`` (its ``run.json``, when this very run is done) or the pairs
    already scored (``done``, read back from ``per_image.partial.csv``) and those still to score."""

    out: Path
    pairs: list[Pair]
    done: dict[str, PairResult] = field(default_factory=dict)
    pending: list[Pair] = field(default_factory=list)
    finished: dict[str, object] | None = None

    @property
    def partial_path(self) -> Path:
        return self.out / "per_image.partial.csv"

    @property
    def state_path(self) -> Path:
        return self.out / "run.partial.json"

    @property
    def feature_log(self) -> FeatureLog:
        return FeatureLog(self.out / "fid_features.partial")

    @property
    def sample_ids(self) -> set[str]:
        """The first :data:`SAMPLES_PER_CELL` pairs of each cell, shown in ``samples/grid_<cell>.png``."""
        chosen: dict[str, list[str]] = {}
        for pair in self.pairs:
            if len(chosen.setdefault(pair.cell, [])) < SAMPLES_PER_CELL:
                chosen[pair.cell].append(pair.pair_id)
        return {pair_id for ids in chosen.values() for pair_id in ids}


def plan_run(prepared: Prepared, out: Path, model: dict[str, object], *, overwrite: bool = False) -> RunPlan:
    """Check ``out`` against this run (same protocol key and model) and set it up: a finished run is
    returned as is, an unfinished one resumes, another run is refused unless ``overwrite``."""
    out.mkdir(parents=True, exist_ok=True)
    plan = RunPlan(out, prepared.pairs)
    state = {"protocol_key": prepared.protocol_key, "model": model}
    previous_state = json.loads(plan.state_path.read_text()) if plan.state_path.is_file() else None
    finished = json.loads((out / "run.json").read_text()) if (out / "run.json").is_file() else None
    if finished is not None and not overwrite:
        if finished.get("protocol_key") == prepared.protocol_key and finished.get("model") == model:
            plan.finished = finished
            return plan
        other = finished.get("mask_protocol")
        detail = (f" (mask protocol {other or 'not recorded'}; this run: {prepared.mask_protocol})"
                  if other != prepared.mask_protocol else "")
        raise RunError(f"{str(out)!r} holds another finished run{detail}; use --overwrite or another --out/--name")
    if previous_state is not None and previous_state != state and not overwrite:
        raise RunError(f"{str(out)!r} holds an unfinished run with other settings; use --overwrite")
    if overwrite or previous_state != state:
        for name in RUN_FILES:
            (out / name).unlink(missing_ok=True)
        for name in RUN_FOLDERS:
            shutil.rmtree(out / name, ignore_errors=True)
    atomic_write_text(plan.state_path, json.dumps(state, indent=2))
    atomic_write_text(out / "pairs.csv", pairs_csv(prepared.pairs))
    drop_cut_line(plan.partial_path)
    plan.done = read_results(plan.partial_path)
    plan.pending = [pair for pair in prepared.pairs if pair.pair_id not in plan.done]
    return plan


def resumed_accumulator(plan: RunPlan, *, fid: bool) -> CellAccumulator:
    """The accumulator holding the pairs scored before an interruption (their rows as written, and their
    FID features from the feature log when ``fid``), in pair order."""
    accumulator = CellAccumulator(SUMMARY_METRICS)
    features = plan.feature_log.read() if fid and plan.done else {}
    for index, pair in enumerate(plan.pairs):
        result = plan.done.get(pair.pair_id)
        if result is not None:
            accumulator.update(result.cell, result.scored, features.get(index), hole_ratio=result.hole_ratio,
                               key=index)
    return accumulator


# -- stage 2: provider ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PairRequest:
    """One pending pair, loaded: the ground truth, the mask and the model's (masked) input."""

    pair: Pair
    truth: np.ndarray
    mask: np.ndarray
    model_input: np.ndarray

    @property
    def for_model(self) -> tuple[Pair, np.ndarray, np.ndarray]:
        """What an :class:`OutputProvider` gets: (pair, masked input, mask)."""
        return self.pair, self.model_input, self.mask


class Fetched(NamedTuple):
    """A pair with its request and the provider's ``(output, seconds)``."""

    pair: Pair
    request: PairRequest
    answer: tuple[object, float] | None


class OutputFeed:
    """Loads the requests of pending pairs and asks the provider for their outputs, batch by batch
    (``provider.batch_size`` pairs); :meth:`stream` fetches the next batch in a thread while the caller
    scores the current one, so the model and the metrics overlap."""

    def __init__(self, prepared: Prepared, provider: OutputProvider) -> None:
        self.prepared = prepared
        self.provider = provider

    def request(self, pair: Pair) -> PairRequest:
        """The loaded request. The inputs were checked before the run (:func:`prepare`): one that cannot be
        read now changed during the run, an :class:`InputError` that stops it (it resumes when fixed)."""
        try:
            mask = self.prepared.mask(pair)
            image = self.prepared.image(pair.image)
        except InputError:
            raise
        except (ValueError, OSError) as exc:
            raise InputError(f"input error: pair {pair.pair_id} ({pair.image}, {pair.mask}): "
                             f"{str(exc).splitlines()[0]}; its file changed during the run") from None
        return PairRequest(pair, image, mask, masked_input(image, mask))

    def prepare(self, pending: list[Pair]) -> None:
        """Show every pending request to a provider with ``prepare`` (a command writes its inputs, runs once)."""
        prepare_all = getattr(self.provider, "prepare", None)
        if prepare_all is not None and pending:
            prepare_all(self.request(pair).for_model for pair in pending)

    def fetch(self, batch: list[Pair]) -> list[Fetched]:
        requests = [self.request(pair) for pair in batch]
        answers = self.provider.outputs([request.for_model for request in requests]) if requests else []
        answers = [*answers, *[None] * (len(requests) - len(answers))]
        return [Fetched(request.pair, request, answer) for request, answer in zip(requests, answers)]

    def stream(self, pending: list[Pair]) -> Iterator[Fetched]:
        """Every pending pair in order, its batch fetched while the previous batch is scored."""
        step = max(1, int(self.provider.batch_size))
        batches = [pending[start:start + step] for start in range(0, len(pending), step)]
        executor = ThreadPoolExecutor(max_workers=1)
        try:
            future = executor.submit(self.fetch, batches[0]) if batches else None
            for index in range(len(batches)):
                fetched = future.result()
                if index + 1 < len(batches):
                    future = executor.submit(self.fetch, batches[index + 1])
                yield from fetched
        finally:
            executor.shutdown(wait=False, cancel_futures=True)


# -- stage 3: score ------------------------------------------------------------------------------------------


class Scored(NamedTuple):
    """A pair's record, and for an ``ok`` pair its composite (for the samples) and FID features."""

    result: PairResult
    composite: np.ndarray | None = None
    features: np.ndarray | None = None


def score_pair(request: PairRequest, answer: tuple[object, float], set_metrics: SetMetrics | None) -> Scored:
    """Metrics of the composite of one answer, or the failure and its reason."""
    output, seconds = answer
    pair, truth, mask = request.pair, request.truth, request.mask
    ratio = hole_ratio(mask)
    metrics: dict[str, float] = {}
    features = None
    try:
        if isinstance(output, BaseException):
            raise output
        result = composite(check_output(output, truth.shape), truth, mask)
        metrics.update(image_metrics(truth, result, mask))
        if set_metrics is not None and set_metrics.active:
            metrics["lpips"], features = set_metrics.pair(truth, result)
    except Exception as exc:  # noqa: BLE001 - any model misbehaviour is one failed pair
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return Scored(PairResult.failed(pair, reason, ratio, metrics))
    return Scored(PairResult.ok(pair, ratio, {**metrics, "seconds": seconds}), result, features)


def _score_fetched(item: Fetched, set_metrics: SetMetrics | None) -> Scored:
    if item.answer is None:
        reason = "the provider gave no output for this pair"
        return Scored(PairResult.failed(item.pair, reason, hole_ratio(item.request.mask)))
    return score_pair(item.request, item.answer, set_metrics)


class _PartialWriter:
    """The scoring side of a run folder, as a context manager: ``per_image.partial.csv`` opened for appending
    (its header when new), the FID feature log and the progress bar. :meth:`record` puts one pair on disk
    (its FID features and sample row before its row: a kill never leaves a row without them), :meth:`flush`
    makes the rows written so far survive a kill, :meth:`accumulate` feeds a pair to the accumulator."""

    def __init__(self, plan: RunPlan, accumulator: CellAccumulator, *, progress: bool) -> None:
        self.plan = plan
        self.accumulator = accumulator
        self.progress = progress
        self.index_of = {pair.pair_id: index for index, pair in enumerate(plan.pairs)}
        self.feature_log = plan.feature_log

    def __enter__(self) -> _PartialWriter:
        from tqdm import tqdm

        plan = self.plan
        new_file = not plan.partial_path.is_file() or plan.partial_path.stat().st_size == 0
        self.bar = tqdm(total=len(plan.pairs), initial=len(plan.done), desc="pairs", unit="pair",
                        disable=not self.progress, file=sys.stderr)
        self.handle = open(plan.partial_path, "a", newline="", encoding="utf-8")
        self.writer = csv.DictWriter(self.handle, fieldnames=PER_IMAGE_COLUMNS, lineterminator="\n")
        if new_file:
            self.writer.writeheader()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.handle.close()
        self.bar.close()

    def record(self, result: PairResult, features: np.ndarray | None, sample: np.ndarray | None) -> None:
        """One pair on disk: its FID features, its sample row (shown in the grids), then its row (unflushed)."""
        if features is not None:
            self.feature_log.append(self.index_of[result.pair_id], features)
        if sample is not None:
            _write_sample_row(self.plan.out, result.pair_id, sample)
        self.writer.writerow(result.to_row())

    def flush(self, count: int) -> None:
        """The rows recorded so far on disk (``count`` more pairs done)."""
        self.handle.flush()
        self.bar.update(count)

    def accumulate(self, result: PairResult, features: np.ndarray | None) -> None:
        """One pair into the accumulator, as its row was written (keyed by its place in the pairs)."""
        written = result.as_written()
        self.accumulator.update(result.cell, written.scored, features, hole_ratio=written.hole_ratio,
                                key=self.index_of[result.pair_id])


def _sample_of(item: Fetched, scored: Scored, sample_ids: set[str] | frozenset[str]) -> np.ndarray | None:
    """The pair's sample row (input with white holes, output, ground truth; uint8 RGB) when it is one of the
    ``sample_ids`` and has a composite."""
    if scored.composite is None or item.pair.pair_id not in sample_ids:
        return None
    request = item.request
    return sample_row(request.model_input, request.mask, scored.composite, request.truth)


def score_pending(plan: RunPlan, feed: OutputFeed, accumulator: CellAccumulator, *,
                  set_metrics: SetMetrics | None = None, progress: bool = False) -> None:
    """Score every pending pair: its row is appended to ``per_image.partial.csv`` (flushed: a kill loses
    at most the pair in progress), after its FID features and sample row, and fed to ``accumulator``."""
    sample_ids = plan.sample_ids
    with _PartialWriter(plan, accumulator, progress=progress) as partial, \
            closing(feed.stream(plan.pending)) as stream:
        for item in stream:
            scored = _score_fetched(item, set_metrics)
            partial.record(scored.result, scored.features, _sample_of(item, scored, sample_ids))
            partial.flush(1)
            partial.accumulate(scored.result, scored.features)


# -- stage 4: report -----------------------------------------------------------------------------------------


def write_report(plan: RunPlan, prepared: Prepared, accumulator: CellAccumulator, *, model: dict[str, object],
                 set_metrics: SetMetrics | None = None) -> dict[str, object]:
    """``per_image.csv`` (pair order), ``summary.csv`` (from ``accumulator``), the sample grids and
    ``run.json`` (returned); the run's partial files are removed."""
    results = read_results(plan.partial_path)
    ordered = [results[pair.pair_id] for pair in plan.pairs]
    atomic_write_text(plan.out / "per_image.csv", per_image_csv(ordered))
    atomic_write_text(plan.out / "summary.csv", summary_csv(accumulator.compute()))
    atomic_write_text(plan.out / "summary_area.csv", summary_csv(accumulator.compute_area()))
    _write_sample_grids(plan.out, plan.pairs, plan.sample_ids)
    info = _run_info(prepared, model, ordered, set_metrics)
    info["files"] = {name: sha256_file(plan.out / name) for name in RUN_FILES_RECORDED}
    atomic_write_text(plan.out / "run.json", json.dumps(info, indent=2) + "\n")
    for path in (plan.partial_path, plan.feature_log.path, plan.state_path):
        path.unlink(missing_ok=True)
    return info


def _run_info(prepared: Prepared, model: dict[str, object], results: list[PairResult],
              set_metrics: SetMetrics | None) -> dict[str, object]:
    settings = prepared.settings
    return {
        "format": "benchmark-run/1",
        "protocol_key": prepared.protocol_key,
        "mask_protocol": prepared.mask_protocol,
        "model": model,
        "dataset": {"path": str(settings.masks.resolve()), "fingerprint": prepared.dataset_fingerprint,
                    "mask_protocol": prepared.dataset.mask_protocol},
        "images": {"path": str(settings.images.resolve()), "fingerprint": prepared.image_fingerprint,
                   "count": prepared.image_count},
        "pairs": {"count": len(prepared.pairs), "fingerprint": pairs_fingerprint(prepared.pairs),
                  "seed": settings.seed, "per_cell": settings.per_cell},
        "protocol": {**PROTOCOL, "size": settings.size, "preprocessing": PREPROCESSING},
        "counts": {"pairs": len(results), "ok": sum(r.status == "ok" for r in results),
                   "failed": sum(r.status == "failed" for r in results)},
        "set_metrics": _set_metric_status(set_metrics),
        "versions": software_versions(benchmark=__version__),
        "hardware": _hardware(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _hardware() -> dict[str, object]:
    hardware: dict[str, object] = {"machine": platform.machine(), "processor": platform.processor(),
                                   "cpus": os.cpu_count(), "system": platform.platform()}
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        hardware["gpu"] = torch.cuda.get_device_name(0)
    return hardware


def _set_metric_status(set_metrics: SetMetrics | None) -> dict[str, object]:
    if set_metrics is None:
        return {name: "not requested" for name in SET_METRIC_NAMES}
    status: dict[str, object] = {name: set_metrics.omitted.get(name, "computed") for name in SET_METRIC_NAMES}
    status["weights_sha256"] = {name: sha256_file(path) for name, path in set_metrics.weights.items()}
    return status


def _write_sample_row(out: Path, pair_id: str, row: np.ndarray) -> None:
    """One grid row (:func:`_sample_of`) as a PNG in samples/.rows."""
    write_rgb_png(out / "samples" / ".rows" / f"{pair_id}.png", row)


def _write_sample_grids(out: Path, pairs: list[Pair], sample_ids: set[str]) -> None:
    """``samples/grid_<cell>.png`` from the saved rows of the first pairs of each cell."""
    import cv2

    rows_dir = out / "samples" / ".rows"
    by_cell: dict[str, list[np.ndarray]] = {}
    for pair in pairs:
        path = rows_dir / f"{pair.pair_id}.png"
        if pair.pair_id in sample_ids and path.is_file():
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is not None:
                by_cell.setdefault(pair.cell, []).append(image)
    for cell_name, rows in by_cell.items():
        write_png(out / "samples" / f"grid_{cell_name}.png", np.vstack(rows))
    shutil.rmtree(rows_dir, ignore_errors=True)


# -- the run -------------------------------------------------------------------------------------------------


def score_run(prepared: Prepared, out: Path, provider: OutputProvider, *, model: dict[str, object],
              overwrite: bool = False, progress: bool = False, set_metrics: SetMetrics | None = None
              ) -> dict[str, object]:
    """Score every pending pair with ``provider``'s outputs and write the run folder; returns ``run.json``.

    The run folder is locked (:class:`~inpaint_core.outdir.FolderLock`) for the whole run: a second run
    into the same folder is refused while this one lives.

    Args:
        provider: see :class:`OutputProvider`; wrap a plain function in :class:`CallableProvider`.
        model: what ``run.json`` records about the model (``name``, ``kind``, ``spec``, ...).
        set_metrics: LPIPS per pair and FID per cell, when their networks are loaded.
    """
    def score(plan: RunPlan, accumulator: CellAccumulator) -> None:
        feed = OutputFeed(prepared, provider)
        feed.prepare(plan.pending)
        score_pending(plan, feed, accumulator, set_metrics=set_metrics, progress=progress)

    return _run_into(prepared, out, score, model=model, overwrite=overwrite, set_metrics=set_metrics)


def _run_into(prepared: Prepared, out: Path, score: Callable[[RunPlan, CellAccumulator], None], *,
              model: dict[str, object], overwrite: bool, set_metrics: SetMetrics | None) -> dict[str, object]:
    """The run folder around ``score`` (which scores ``plan.pending`` into the accumulator), locked for the
    whole run: plan (a finished run is returned as it is), resume the accumulator, score, write the report."""
    with FolderLock(out, purpose=f"benchmark run of {model.get('name')}"):
        plan = plan_run(prepared, out, model, overwrite=overwrite)
        if plan.finished is not None:
            return plan.finished
        fid = set_metrics is not None and set_metrics.inception is not None
        accumulator = resumed_accumulator(plan, fid=fid)
        score(plan, accumulator)
        return write_report(plan, prepared, accumulator, model=model, set_metrics=set_metrics)


# -- the run on an engine (Ray) ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShardModel:
    """What each engine worker needs to score shards: the model (started once per worker, in a
    :class:`~benchmark.modelhost.ModelHost` child as locally: a crash or timeout costs one pair) and the
    set-level metric networks (loaded once per worker, on its GPU when it has one)."""

    spec: str
    options: dict[str, object] | None = None
    timeout: float | None = None
    start_timeout: float = 600.0
    batch_size: int = 1
    set_metric_options: SetMetricOptions | None = None  # None: no LPIPS / FID


@dataclass(frozen=True)
class _ShardContext:
    prepared: Prepared
    model: ShardModel
    sample_ids: frozenset[str]


class ShardRow(NamedTuple):
    """A scored pair as a worker returns it: its record, its FID features, its sample row (uint8 RGB)."""

    result: PairResult
    features: np.ndarray | None
    sample: np.ndarray | None


@dataclass
class _ShardWorker:
    """One engine worker's state: the loaded model (its host), the feed and the set metrics."""

    feed: OutputFeed
    set_metrics: SetMetrics | None
    sample_ids: frozenset[str]


def _start_shard_worker(context: _ShardContext) -> _ShardWorker:
    """Engine setup (once per worker): one OpenCV thread, the model in its host, the set metrics."""
    import cv2

    from .modelhost import HostProvider, ModelHost

    cv2.setNumThreads(1)
    spec = context.model
    host = ModelHost(spec.spec, options=spec.options, timeout=spec.timeout, start_timeout=spec.start_timeout)
    host.__enter__()  # ends with the worker: the host's child dies with its parent
    set_metrics = SetMetrics(spec.set_metric_options) if spec.set_metric_options is not None else None
    feed = OutputFeed(context.prepared, HostProvider(host, batch_size=spec.batch_size))
    return _ShardWorker(feed, set_metrics, context.sample_ids)


def _score_shard(worker: _ShardWorker, shard: tuple[int, list[Pair]]) -> tuple[int, list[ShardRow]]:
    """Engine task: the pairs of one shard, scored as :func:`score_pending` scores them, in order."""
    number, pairs = shard
    rows: list[ShardRow] = []
    for item in worker.feed.stream(pairs):
        scored = _score_fetched(item, worker.set_metrics)
        rows.append(ShardRow(scored.result, scored.features, _sample_of(item, scored, worker.sample_ids)))
    return number, rows


def _portable(prepared: Prepared) -> Prepared:
    """``prepared`` with absolute paths (a worker elsewhere, or in another folder, finds the same files)."""
    import copy

    settings = prepared.settings
    dataset = copy.copy(prepared.dataset)
    dataset.folder = dataset.folder.resolve()
    resolved = replace(settings, masks=settings.masks.resolve(), images=settings.images.resolve())
    return replace(prepared, settings=resolved, dataset=dataset, _cache={})


def score_pending_on(engine: object, plan: RunPlan, prepared: Prepared, shard_model: ShardModel,
                     accumulator: CellAccumulator, *, shard_size: int = 64, gpus: float = 0.0,
                     progress: bool = False) -> None:
    """:func:`score_pending` on an engine (:mod:`inpaint_core.engines`): the pending pairs in shards of
    ``shard_size``, each scored on a worker that holds one model replica (``gpus`` GPUs each). Rows, FID
    features and sample rows are written here as shards finish; ``accumulator`` is fed in pair order, so
    ``summary.csv`` is the local run's (a shard lost with its worker is run again by the engine)."""
    if shard_size < 1:
        raise RunError(f"--shard-size must be at least 1, got {shard_size}")
    shards = [(number, plan.pending[start:start + shard_size])
              for number, start in enumerate(range(0, len(plan.pending), shard_size))]
    context = _ShardContext(_portable(prepared), shard_model, frozenset(plan.sample_ids))
    finished: dict[int, list[ShardRow]] = {}
    next_shard = 0
    with _PartialWriter(plan, accumulator, progress=progress) as partial:
        for number, rows in engine.map(_score_shard, shards, context=context, setup=_start_shard_worker,
                                       keep_state=True, gpus=gpus):
            for row in rows:  # on disk at once (a kill loses only unfinished shards), in any shard order
                partial.record(row.result, row.features, row.sample)
            partial.flush(len(rows))
            finished[number] = rows
            while next_shard in finished:  # the summary's sums in pair order, as in a local run
                for row in finished.pop(next_shard):
                    partial.accumulate(row.result, row.features)
                next_shard += 1


def score_run_on(engine: object, prepared: Prepared, out: Path, shard_model: ShardModel, *,
                 model: dict[str, object], overwrite: bool = False, progress: bool = False,
                 set_metrics: SetMetrics | None = None, shard_size: int = 64, gpus: float = 0.0
                 ) -> dict[str, object]:
    """:func:`score_run` with the pairs scored on ``engine`` (:func:`score_pending_on`); the run folder
    equals a local run's (rows identical apart from the timing column ``seconds``)."""
    def score(plan: RunPlan, accumulator: CellAccumulator) -> None:
        score_pending_on(engine, plan, prepared, shard_model, accumulator, shard_size=shard_size, gpus=gpus,
                         progress=progress)

    return _run_into(prepared, out, score, model=model, overwrite=overwrite, set_metrics=set_metrics)
