"""A benchmark run: pairs -> model outputs -> composite -> per-image metrics -> run folder.

Run folder (``OUT``):

* ``pairs.csv``: the (image, mask) pairs, in order;
* ``per_image.csv``: one row per pair (:data:`PER_IMAGE_COLUMNS`), ``status`` ``ok`` or ``failed`` with the
  reason in ``error``;
* ``summary.csv``: per cell and overall: mean and std of each metric, count, failures;
* ``run.json``: model, weights sha256, dataset / image-set / pairs fingerprints, protocol (evaluation size,
  preprocessing, composite, input), versions, hardware, date;
* ``samples/grid_<cell>.png``: input, output (composite) and ground truth of the first pairs of each cell.

Rows are appended to ``per_image.partial.csv`` as pairs finish (flushed each row), so an interrupted run
started again with the same settings skips the pairs already scored; ``per_image.csv`` is written when all
pairs are done.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import platform
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Protocol

import numpy as np

from inpaint_core.buckets import CELL_NAMES, hole_ratio
from inpaint_core.dataset import Dataset
from inpaint_core.versions import software_versions
from inpaint_core.files import atomic_write_text, sha256_file, write_png
from inpaint_core.maskio import read_mask

from inpaint_core.images import discover_images, load_image, sample_row, write_rgb_png

from . import __version__
from .images import PREPROCESSING, image_set_fingerprint, preprocess
from .metrics import METRIC_NAMES, image_metrics
from .pairing import Pair, make_pairs, pairs_csv, pairs_fingerprint
from .setmetrics import FeatureLog, SetMetrics

__all__ = ["RunSettings", "Prepared", "prepare", "score_run", "PER_IMAGE_COLUMNS", "PROTOCOL", "RunError",
           "OutputProvider", "CallableProvider"]

PER_IMAGE_COLUMNS = ("pair_id", "cell", "image", "mask", "hole_ratio", "status", "error", *METRIC_NAMES, "lpips",
                     "seconds")
SUMMARY_METRICS = (*METRIC_NAMES, "lpips", "seconds")
PROTOCOL = {
    "input": "hole pixels set to 0; mask bool, True = hole",
    "composite": "model output in the holes, original pixels elsewhere",
    "metrics": "l1 %: MAE/255*100; l1_hole: over hole pixels; psnr: data range 255; ssim: Gaussian sigma 1.5, "
               "11 taps, population covariance, RGB mean (= skimage gaussian_weights=True)",
    "version": 1,
}
SAMPLES_PER_CELL = 4



class RunError(ValueError):
    """Bad run input or a run folder holding another run."""


@dataclass(frozen=True)
class RunSettings:
    masks: Path
    images: Path
    size: int = 512
    seed: int = 0
    per_cell: int | None = None


@dataclass
class Prepared:
    settings: RunSettings
    pairs: list[Pair]
    dataset_fingerprint: str
    image_fingerprint: str
    image_count: int
    protocol_key: str = ""
    _cache: dict[str, np.ndarray] = field(default_factory=dict)

    def image(self, relative: str) -> np.ndarray:
        """The preprocessed ground-truth image (small LRU cache: images repeat)."""
        if relative not in self._cache:
            if len(self._cache) > 64:
                self._cache.pop(next(iter(self._cache)))
            self._cache[relative] = preprocess(load_image(self.settings.images / relative), self.settings.size)
        return self._cache[relative]

    def mask(self, pair: Pair) -> np.ndarray:
        mask = read_mask(self.settings.masks / pair.mask)
        if mask.shape != (self.settings.size, self.settings.size):
            raise RunError(f"mask {pair.mask} is {mask.shape[1]}x{mask.shape[0]} but the evaluation size is "
                           f"{self.settings.size}: use --size {mask.shape[0]} or masks of that size")
        return mask


def prepare(settings: RunSettings) -> Prepared:
    """Load the mask rows and the image list, make the pairs, compute the fingerprints."""
    if settings.size < 16:
        raise RunError(f"evaluation size must be at least 16, got {settings.size}")
    try:
        dataset = Dataset(settings.masks)
        rows = dataset.records("test", per_cell=settings.per_cell, binned=True)
        if not rows:
            raise ValueError(f"mask dataset {str(settings.masks)!r} has no binned test mask")
        images = discover_images(settings.images)
    except ValueError as exc:
        raise RunError(str(exc)) from None
    dataset_fingerprint = dataset.fingerprint
    pairs = make_pairs(rows, images, seed=settings.seed)
    first_mask = read_mask(settings.masks / pairs[0].mask)
    if first_mask.shape != (settings.size, settings.size):
        raise RunError(f"the masks are {first_mask.shape[1]}x{first_mask.shape[0]} but the evaluation size is "
                       f"{settings.size}: use --size {first_mask.shape[0]} or masks of that size")
    prepared = Prepared(settings, pairs, dataset_fingerprint, image_set_fingerprint(settings.images, images),
                        len(images))
    prepared.protocol_key = hashlib.sha256(json.dumps({
        "dataset": dataset_fingerprint, "images": prepared.image_fingerprint, "pairs": pairs_fingerprint(pairs),
        "size": settings.size, "preprocessing": PREPROCESSING, "protocol": PROTOCOL,
    }, sort_keys=True).encode()).hexdigest()
    return prepared


def masked_input(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The model's input: the image with hole pixels set to 0."""
    result = image.copy()
    result[mask] = 0
    return result


def check_output(output: object, shape: tuple[int, ...]) -> np.ndarray:
    """The output as a uint8 array of ``shape``, or ValueError saying what is wrong with it."""
    if not isinstance(output, np.ndarray):
        raise ValueError(f"output is {type(output).__name__}, expected a numpy uint8 array")
    if output.dtype != np.uint8:
        extra = " with NaN values" if np.issubdtype(output.dtype, np.floating) and np.isnan(output).any() else ""
        raise ValueError(f"output dtype {output.dtype}{extra}, expected uint8")
    if output.shape != shape:
        raise ValueError(f"output shape {output.shape}, expected {shape}")
    return output


def _format(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return "inf" if math.isinf(value) else f"{value:.6f}"
    return str(value)


def _hardware() -> dict[str, object]:
    hardware: dict[str, object] = {"machine": platform.machine(), "processor": platform.processor(),
                                   "cpus": os.cpu_count(), "system": platform.platform()}
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        hardware["gpu"] = torch.cuda.get_device_name(0)
    return hardware


def _read_partial(path: Path) -> dict[str, dict[str, str]]:
    if not path.is_file():
        return {}
    done: dict[str, dict[str, str]] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        text = handle.read()
    if text and not text.endswith("\n"):  # a line cut by a kill: drop it
        text = text[: text.rfind("\n") + 1]
    for row in csv.DictReader(io.StringIO(text)):
        if row.get("seconds") is not None and row["pair_id"]:
            done[row["pair_id"]] = row
    return done


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


def score_run(prepared: Prepared, out: Path, provider: OutputProvider, *, model: dict[str, object],
              overwrite: bool = False, progress: bool = False, set_metrics: "SetMetrics | None" = None
              ) -> dict[str, object]:
    """Score every pending pair with ``provider``'s outputs and write the run folder; returns ``run.json``.

    Args:
        provider: see :class:`OutputProvider`; wrap a plain function in :class:`CallableProvider`.
        model: what ``run.json`` records about the model (``name``, ``kind``, ``spec``, ...).
        set_metrics: LPIPS per pair and FID per cell, when their networks are loaded.
    """
    from tqdm import tqdm

    out.mkdir(parents=True, exist_ok=True)
    state_path = out / "run.partial.json"
    partial_path = out / "per_image.partial.csv"
    state = {"protocol_key": prepared.protocol_key, "model": model}
    previous_state = json.loads(state_path.read_text()) if state_path.is_file() else None
    finished = json.loads((out / "run.json").read_text()) if (out / "run.json").is_file() else None
    if finished is not None and not overwrite:
        if finished.get("protocol_key") == prepared.protocol_key and finished.get("model") == model:
            return finished
        raise RunError(f"{str(out)!r} holds another finished run; use --overwrite or another --out/--name")
    if previous_state is not None and previous_state != state and not overwrite:
        raise RunError(f"{str(out)!r} holds an unfinished run with other settings; use --overwrite")
    if overwrite or previous_state != state:
        for name in ("per_image.csv", "per_image.partial.csv", "summary.csv", "run.json", "fid_features.partial"):
            (out / name).unlink(missing_ok=True)
    atomic_write_text(state_path, json.dumps(state, indent=2))
    atomic_write_text(out / "pairs.csv", pairs_csv(prepared.pairs))
    done = _read_partial(partial_path)
    pending = [pair for pair in prepared.pairs if pair.pair_id not in done]
    index_of = {pair.pair_id: index for index, pair in enumerate(prepared.pairs)}
    feature_log = FeatureLog(out / "fid_features.partial")
    new_file = not partial_path.is_file() or partial_path.stat().st_size == 0
    sample_ids = _sample_ids(prepared.pairs)

    unreadable: dict[str, str] = {}  # pair_id -> why its image or mask cannot be used

    def request(pair: Pair) -> tuple[Pair, np.ndarray, np.ndarray, np.ndarray] | None:
        """(pair, ground truth, model input, mask), or None when the image or mask cannot be read."""
        try:
            mask = prepared.mask(pair)
            image = prepared.image(pair.image)
            return pair, image, masked_input(image, mask), mask
        except RunError:
            raise
        except (ValueError, OSError) as exc:  # an unreadable image or mask costs its pair only
            unreadable[pair.pair_id] = str(exc).splitlines()[0]
            return None

    def fetch(batch: list[Pair]) -> tuple[list, dict[str, tuple[object, float]]]:
        items = [item for item in map(request, batch) if item is not None]
        outputs = provider.outputs([(item[0], item[2], item[3]) for item in items]) if items else []
        return items, dict(zip((item[0].pair_id for item in items), outputs))

    prepare_all = getattr(provider, "prepare", None)
    if prepare_all is not None and pending:
        prepare_all((item[0], item[2], item[3]) for item in map(request, pending) if item is not None)
    bar = tqdm(total=len(prepared.pairs), initial=len(done), desc="pairs", unit="pair", disable=not progress,
               file=sys.stderr)
    step = max(1, int(provider.batch_size))
    batches = [pending[start:start + step] for start in range(0, len(pending), step)]
    # one thread fetches the next batch's outputs (loading images, waiting for the model) while this one
    # scores the current batch: the model and the metrics overlap
    executor = ThreadPoolExecutor(max_workers=1)
    try:
        with open(partial_path, "a", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=PER_IMAGE_COLUMNS, lineterminator="\n")
            if new_file:
                writer.writeheader()
            future = executor.submit(fetch, batches[0]) if batches else None
            for index, batch in enumerate(batches):
                items, answers = future.result()
                if index + 1 < len(batches):
                    future = executor.submit(fetch, batches[index + 1])
                by_id = {item[0].pair_id: item for item in items}
                for pair in batch:
                    if pair.pair_id not in by_id:
                        row = {"pair_id": pair.pair_id, "cell": pair.cell, "image": pair.image, "mask": pair.mask,
                               "status": "failed", "error": unreadable.get(pair.pair_id, "unreadable input")}
                    else:
                        _, image, model_input, mask = by_id[pair.pair_id]
                        row = _score_pair(pair, image, model_input, mask, answers[pair.pair_id], set_metrics,
                                          feature_log, index_of[pair.pair_id])
                        if row["status"] == "ok" and pair.pair_id in sample_ids:  # on disk: survives a kill
                            _write_sample_row(out, pair.pair_id, model_input, mask, row.pop("_composite"), image)
                    writer.writerow({k: _format(row.get(k)) for k in PER_IMAGE_COLUMNS})
                    handle.flush()
                    bar.update(1)
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
    bar.close()
    rows = _read_partial(partial_path)
    ordered = [rows[p.pair_id] for p in prepared.pairs]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=PER_IMAGE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(ordered)
    atomic_write_text(out / "per_image.csv", buffer.getvalue())
    fid = _fid_per_cell(ordered, feature_log.read()) if set_metrics is not None and \
        set_metrics.inception is not None else {}
    summary = summarise(ordered, fid)
    atomic_write_text(out / "summary.csv", summary_csv(summary))
    _write_sample_grids(out, prepared.pairs, sample_ids)
    info: dict[str, object] = {
        "format": "benchmark-run/1",
        "protocol_key": prepared.protocol_key,
        "model": model,
        "dataset": {"path": str(prepared.settings.masks.resolve()), "fingerprint": prepared.dataset_fingerprint},
        "images": {"path": str(prepared.settings.images.resolve()), "fingerprint": prepared.image_fingerprint,
                   "count": prepared.image_count},
        "pairs": {"count": len(prepared.pairs), "fingerprint": pairs_fingerprint(prepared.pairs),
                  "seed": prepared.settings.seed, "per_cell": prepared.settings.per_cell},
        "protocol": {**PROTOCOL, "size": prepared.settings.size, "preprocessing": PREPROCESSING},
        "counts": {"pairs": len(ordered), "ok": sum(r["status"] == "ok" for r in ordered),
                   "failed": sum(r["status"] == "failed" for r in ordered)},
        "set_metrics": _set_metric_status(set_metrics),
        "versions": software_versions(benchmark=__version__),
        "hardware": _hardware(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    atomic_write_text(out / "run.json", json.dumps(info, indent=2) + "\n")
    partial_path.unlink(missing_ok=True)
    feature_log.path.unlink(missing_ok=True)
    state_path.unlink(missing_ok=True)
    return info


def _set_metric_status(set_metrics: "SetMetrics | None") -> dict[str, object]:
    if set_metrics is None:
        return {"lpips": "not requested", "fid": "not requested"}
    status: dict[str, object] = {name: set_metrics.omitted.get(name, "computed") for name in ("lpips", "fid")}
    status["weights_sha256"] = {name: sha256_file(path) for name, path in set_metrics.weights.items()}
    return status


def _fid_per_cell(rows: list[dict[str, str]], features: dict[int, np.ndarray]) -> dict[str, tuple[float, int]]:
    """FID between ground truths and outputs per cell and over ``all`` ok pairs: ``{cell: (fid, count)}``.
    ``rows`` are in pair order, so a row's position is the pair index the features are logged under."""
    from .setmetrics import frechet_distance

    groups: dict[str, list[np.ndarray]] = {}
    for index, row in enumerate(rows):
        stacked = features.get(index)
        if row["status"] == "ok" and stacked is not None:
            groups.setdefault(row["cell"], []).append(stacked)
            groups.setdefault("all", []).append(stacked)
    result = {}
    for name, items in groups.items():
        if len(items) < 2:
            continue
        data = np.stack(items)  # N x 2 x 2048
        truth, output = data[:, 0], data[:, 1]
        result[name] = (frechet_distance(truth.mean(0), np.cov(truth, rowvar=False),
                                         output.mean(0), np.cov(output, rowvar=False)), len(items))
    return result


def _score_pair(pair: Pair, image: np.ndarray, model_input: np.ndarray, mask: np.ndarray,
                answer: tuple[object, float], set_metrics: "SetMetrics | None", feature_log: FeatureLog,
                index: int) -> dict[str, object]:
    """The per-image row of one pair: metrics of the composite, or the failure and its reason."""
    output, seconds = answer
    row: dict[str, object] = {"pair_id": pair.pair_id, "cell": pair.cell, "image": pair.image, "mask": pair.mask,
                              "hole_ratio": hole_ratio(mask)}
    try:
        if isinstance(output, BaseException):
            raise output
        checked = check_output(output, image.shape)
        composite = np.where(mask[..., None], checked, image)
        row.update(image_metrics(image, composite, mask))
        if set_metrics is not None and set_metrics.active:
            row["lpips"], features = set_metrics.pair(image, composite)
            if features is not None:  # before the row is written: a kill never leaves a row without them
                feature_log.append(index, features)
        row.update(status="ok", error="", seconds=seconds, _composite=composite)
    except Exception as exc:  # noqa: BLE001 - any model misbehaviour is one failed pair
        row.update(status="failed", error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__, seconds=None)
    return row


def summarise(rows: Iterable[dict[str, str]], fid: dict[str, tuple[float, int]] | None = None) -> list[dict[str, object]]:
    """Per cell (NVIDIA order) and ``all``: count, failures, mean and std of each metric over ok pairs, and
    the FID with the number of pairs it was computed on (empty when not computed)."""
    fid = fid or {}
    groups: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        groups.setdefault(row["cell"], []).append(row)
        groups.setdefault("all", []).append(row)
    result = []
    for name in [*CELL_NAMES, "all"]:
        members = groups.get(name, [])
        if not members:
            continue
        ok = [r for r in members if r["status"] == "ok"]
        entry: dict[str, object] = {"cell": name, "count": len(members), "failures": len(members) - len(ok)}
        for metric in SUMMARY_METRICS:
            values = np.array([float(r[metric]) for r in ok if r.get(metric) not in (None, "", "inf")],
                              dtype=np.float64)
            entry[f"{metric}_mean"] = float(values.mean()) if values.size else float("nan")
            entry[f"{metric}_std"] = float(values.std()) if values.size else float("nan")
        entry["fid"], entry["fid_count"] = fid.get(name, (float("nan"), 0))
        result.append(entry)
    return result


def summary_csv(summary: list[dict[str, object]]) -> str:
    if not summary:
        return ""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(summary[0]), lineterminator="\n")
    writer.writeheader()
    for entry in summary:
        writer.writerow({k: _format(v) for k, v in entry.items()})
    return buffer.getvalue()


def _sample_ids(pairs: list[Pair]) -> set[str]:
    chosen: dict[str, list[str]] = {}
    for pair in pairs:
        if len(chosen.setdefault(pair.cell, [])) < SAMPLES_PER_CELL:
            chosen[pair.cell].append(pair.pair_id)
    return {pair_id for ids in chosen.values() for pair_id in ids}


def _write_sample_row(out: Path, pair_id: str, model_input: np.ndarray, mask: np.ndarray, composite: np.ndarray,
                      truth: np.ndarray) -> None:
    """One grid row (input with white holes, output, ground truth; 256 px tiles) as a PNG in samples/.rows."""
    write_rgb_png(out / "samples" / ".rows" / f"{pair_id}.png", sample_row(model_input, mask, composite, truth))


def _write_sample_grids(out: Path, pairs: list[Pair], sample_ids: set[str]) -> None:
    """``samples/grid_<cell>.png`` from the saved rows of the first pairs of each cell."""
    import shutil

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
