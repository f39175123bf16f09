"""Training the PConv U-Net: stage 1 (lr 2e-4, batch norm on) and stage 2 (lr 5e-5, encoder batch norm
frozen, started from stage 1's weights), checkpoints with exact resume, validation with the benchmark's
metrics, sample grids, CSV log, and DDP under ``torchrun`` (NCCL on GPUs, gloo on CPUs).

:func:`train` wires the stages: :func:`setup_session` (process group, run folder check, device, data,
validation pairs, model, loss, optimiser, resume from the newest checkpoint, DDP / compile wrapping, loader)
-> :func:`run_steps` (one :func:`training_step` per batch, then :func:`validate_if_due`, the
:class:`TrainingLog` row and :func:`checkpoint_if_due`).

Checkpoints (:mod:`.checkpoint`): ``RUN/checkpoints/step_XXXXXXX.pt`` (the full training state; the
``keep_checkpoints`` newest are kept) and ``weights.pt`` (the newest model alone, float16, for inference and
``--init``). Batches are a pure function of (seed, step) (:mod:`.data`, whose randomness comes from
:mod:`inpaint_core.seeds` streams), so a resumed run continues exactly where it stopped.

A run folder belongs to one set of options (``options.json``): running again with the same options resumes;
other options are refused (one line naming them) unless ``overwrite`` starts the run afresh. Only
:data:`RESUMABLE_CHANGES` may differ: they change how long or where a run goes, not what it learns.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import click
import numpy as np
import torch

from inpaint_core.cli import cli_help
from inpaint_core.files import atomic_write_text, read_json
from inpaint_core.seeds import VALIDATION_STREAMS

from .checkpoint import (WEIGHTS_NAME, atomic_torch_save, inference_state, latest_checkpoint, load_model_weights,
                         prune_checkpoints, read_checkpoint, read_model_weights, remove_temporaries, set_rng_state,
                         training_state)
from .data import TrainData, mask_paths, split_images, validation_masks
from .loss import PConvLoss, load_vgg16
from .network import PConvUNet, levels_for_size

__all__ = ["TrainOptions", "TrainingSession", "TrainingLog", "setup_session", "run_steps", "training_step",
           "validate_if_due", "checkpoint_if_due", "save_checkpoint", "train", "summary_line", "changed_options",
           "STAGE_LEARNING_RATES", "RESUMABLE_CHANGES", "MIN_SIZE"]

STAGE_LEARNING_RATES = {1: 2e-4, 2: 5e-5}
LOG_FIELDS = ("step", "loss", "valid", "hole", "perceptual", "style_out", "style_comp", "tv", "lr", "images_per_s",
              "val_l1", "val_psnr", "val_ssim")
MIN_SIZE = 64
# options a resumed run may change: how long it trains, where and how often it writes, how data is loaded;
# none of them changes what a given step computes (batches are a function of seed and step)
RESUMABLE_CHANGES = frozenset({"steps", "workers", "device", "checkpoint_every", "keep_checkpoints",
                               "validate_every", "download_weights", "out"})
_RUN_FILES = ("checkpoints", "samples", "tensorboard", "train_log.csv", "options.json")


class _IntChoice(click.Choice):
    """``click.Choice`` of integers: shown and matched as strings (``[1|2]``), given to the command as int."""

    def __init__(self, *values: int) -> None:
        super().__init__([str(value) for value in values])

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        return int(super().convert(str(value), param, ctx))


_DIRECTORY = click.Path(exists=True, file_okay=False)


@dataclass(frozen=True)
class TrainOptions:
    """Options of a training run; the fields with ``cli_help`` are ``pconv-baseline train``'s options, in
    this order."""

    images: str = field(metadata=cli_help("Training image folder (recursive).", type=_DIRECTORY))
    masks: str = field(metadata=cli_help("maskgen dataset: its train split for training, test split for validation.",
                                         type=_DIRECTORY))
    out: str = field(metadata=cli_help("Run folder.", type=click.Path(file_okay=False)))
    stage: int = field(default=1, metadata=cli_help(
        "1: lr 2e-4, batch norm on; 2: lr 5e-5, encoder batch norm frozen.", type=_IntChoice(1, 2)))
    init: str | None = field(default=None, metadata=cli_help(  # weights to start from (stage 2 from stage 1)
        "Weights to start from: RUN/checkpoints/weights.pt or a step_*.pt of a run at the same size "
        "(required for stage 2).", type=click.Path(exists=True, dir_okay=False)))
    steps: int = field(default=1000, metadata=cli_help("Total steps; run again with more to train further."))
    batch_size: int = field(default=6, metadata=cli_help("Global batch (split over torchrun processes)."))
    size: int = field(default=256, metadata=cli_help(f"Training crop side: a power of two >= {MIN_SIZE}."))
    lr: float | None = field(default=None, metadata=cli_help("Override the stage's learning rate."))
    seed: int = field(default=0, metadata=cli_help("Seed of the batches, masks and weights (a run is a function of it)."))
    bf16: bool = field(default=False, metadata=cli_help("bf16 autocast.", flag=True))
    channels_last: bool = field(default=False, metadata=cli_help("Channels-last memory format (faster on tensor cores).", flag=True))
    compile: bool = field(default=False, metadata=cli_help("torch.compile the network.", flag=True))
    checkpoint_every: int = field(default=500, metadata=cli_help("Steps between checkpoints (and weights.pt)."))
    keep_checkpoints: int = field(default=3, metadata=cli_help(
        "Keep the N newest full checkpoints checkpoints/step_*.pt (0 = all)."))
    validate_every: int = field(default=500, metadata=cli_help("Steps between validations on the held-out images."))
    val_images: int = field(default=8, metadata=cli_help("Images held out for validation."))
    val_masks: int = 24  # test-split masks for validation, spread over every cell (not on the command line)
    workers: int = field(default=2, metadata=cli_help("Data-loader processes."))
    vgg_weights: str | None = field(default=None, metadata=cli_help(
        "torchvision vgg16-397923af.pth (else the torch.hub cache)."))
    download_weights: bool = field(default=False, metadata=cli_help(
        "Fetch VGG16 weights through torch.hub if missing.", flag=True))
    no_perceptual: bool = field(default=False, metadata=cli_help(
        "Train without the perceptual and style terms (no VGG16).", flag=True))
    device: str | None = field(default=None, metadata=cli_help("torch device (default: cuda if available, else cpu)."))
    allow_test_masks: bool = field(default=False, metadata=cli_help(
        "Train on the test masks when the mask dataset has no training split (recorded in options.json; "
        "validation then uses masks seen in training).", flag=True))

    def __post_init__(self) -> None:
        if self.size < MIN_SIZE or self.size & (self.size - 1):
            raise ValueError(f"--size {self.size}: the training size must be a power of two >= {MIN_SIZE} "
                             "(64, 128, 256, 512, 1024, ...)")
        if self.stage == 2 and not self.init:
            raise ValueError("stage 2 fine-tunes a stage-1 model: give --init RUN/checkpoints/weights.pt (or a "
                             "step_*.pt) of the stage-1 run")
        for name in ("steps", "batch_size", "checkpoint_every", "validate_every", "val_images"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.keep_checkpoints < 0:
            raise ValueError(f"--keep-checkpoints must be 0 (keep all) or more, got {self.keep_checkpoints}")


class _StepBatches(torch.utils.data.Dataset):
    """Item i = this rank's share of the global batch of step ``start + i``."""

    def __init__(self, data: TrainData, start: int, stop: int, rank: int, world: int) -> None:
        self.data, self.start, self.stop, self.rank, self.world = data, start, stop, rank, world
        self.local = data.batch_size // world

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        step = self.start + index
        samples = [self.data.sample(step, self.rank * self.local + k) for k in range(self.local)]
        return (torch.from_numpy(np.stack([s[0] for s in samples])),
                torch.from_numpy(np.stack([s[1] for s in samples])))


# ---------------------------------------------------------------------------------------------- setup


@dataclass
class TrainingSession:
    """What :func:`setup_session` builds and the later stages use."""

    options: TrainOptions
    world: int
    rank: int
    device: torch.device
    out: Path
    model: PConvUNet  # the bare network: validation, batch-norm freezing
    network: torch.nn.Module  # ``model``, wrapped in DDP and/or torch.compile: training steps
    criterion: PConvLoss
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    lr: float
    start: int  # the step the run starts from (0, or the step of the newest checkpoint)
    loader: torch.utils.data.DataLoader
    val_pairs: list[tuple[np.ndarray, np.ndarray]]

    @property
    def main_process(self) -> bool:
        return self.rank == 0


def _init_distributed(options: TrainOptions) -> tuple[int, int, int]:
    """(world size, rank, local rank) from torchrun's environment; joins the process group when world > 1."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    if options.batch_size % world:
        raise ValueError(f"batch size {options.batch_size} must be a multiple of the {world} processes")
    return world, rank, local


def _pick_device(options: TrainOptions, local_rank: int) -> torch.device:
    if options.device:
        return torch.device(options.device)
    if torch.cuda.is_available():
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        return device
    return torch.device("cpu")


def _training_data(options: TrainOptions) -> tuple[TrainData, list[tuple[np.ndarray, np.ndarray]]]:
    """The training batches and the fixed validation pairs (held-out images x test-split masks)."""
    images, masks = Path(options.images), Path(options.masks)
    train_images, val_images = split_images(images, val_count=options.val_images, seed=options.seed)
    train_masks = mask_paths(masks, "train", allow_test=options.allow_test_masks)
    data = TrainData(images, train_images, train_masks, options.size, options.batch_size, options.seed)
    val_masks = validation_masks(masks, options.val_masks)
    val_data = TrainData(images, val_images, val_masks, options.size, 1, options.seed, streams=VALIDATION_STREAMS)
    return data, [val_data.sample(0, k) for k in range(len(val_masks))]


def _build_model(options: TrainOptions, device: torch.device, rank: int) -> PConvUNet:
    # torch's global generator draws the initial weights (and later the DataLoader's base seed); seed + rank
    # gives each process its own stream, and DDP broadcasts rank 0's weights, so all ranks start equal.
    # numpy randomness never comes from global state: the batches draw from inpaint_core.seeds streams.
    torch.manual_seed(options.seed + rank)
    model = PConvUNet(levels=levels_for_size(options.size))
    if options.init:
        _load_init(model, options)
    model = model.to(device)
    if options.stage == 2:
        model.freeze_encoder_batch_norm()
    if options.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def _sizes_of(levels: int) -> str:
    return f"size {2 ** (levels + 1)}" if levels < 8 else "size 512 or more"


def _load_init(model: PConvUNet, options: TrainOptions) -> None:
    """Start from the weights of ``--init``; one-line ValueError when they are of another size or network."""
    what = f"--init {options.init!r}"
    weights, levels = read_model_weights(options.init, what="--init")
    if levels != model.levels:
        raise ValueError(f"{what} holds a {levels}-level network ({_sizes_of(levels)}), but --size {options.size} "
                         f"needs {model.levels} levels; give weights trained at --size {options.size}")
    load_model_weights(model, weights, what=what)


def _resume(folder: Path, model: PConvUNet, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler) -> int:
    """Load the newest checkpoint of ``folder`` when there is one (model, optimiser, scaler, RNG states);
    returns its step, else 0."""
    path = latest_checkpoint(folder)
    if path is None:
        return 0
    state = read_checkpoint(path)
    load_model_weights(model, state["model"], what=f"checkpoint {str(path)!r}")
    optimizer.load_state_dict(state["optimizer"])
    scaler.load_state_dict(state["scaler"])
    set_rng_state(state["rng"])
    return int(state["step"])


def changed_options(previous: dict[str, Any], options: TrainOptions) -> list[str]:
    """Names of the options that differ from ``previous`` (a run's ``options.json``), but for
    :data:`RESUMABLE_CHANGES` and options ``previous`` does not record (a run of an older release)."""
    return [name for name, value in asdict(options).items()
            if name not in RESUMABLE_CHANGES and name in previous and previous[name] != value]


def _check_run_folder(out: Path, options: TrainOptions, *, overwrite: bool) -> None:
    """Refuse a run folder of other options (unless ``overwrite``), naming the differing options."""
    previous = read_json(out / "options.json")
    if overwrite or not isinstance(previous, dict):
        return
    changed = changed_options(previous, options)
    if changed:
        listed = ", ".join(f"--{name.replace('_', '-')} {previous.get(name)!r} -> {getattr(options, name)!r}"
                           for name in changed)
        raise ValueError(f"{str(out)!r} holds a run with other options ({listed}); give the same options to "
                         "resume it, --overwrite to start it afresh, or another --out")


def _prepare_run_folder(out: Path, options: TrainOptions, *, overwrite: bool, rank: int, world: int) -> None:
    """Check ``out`` (every process), then on rank 0 clear it (``overwrite``) and drop temporary files a killed
    run left; all processes wait for that."""
    _check_run_folder(out, options, overwrite=overwrite)
    if rank == 0:
        if overwrite:
            for name in _RUN_FILES:
                path = out / name
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink(missing_ok=True)
        remove_temporaries(out / "checkpoints")
    if world > 1:
        torch.distributed.barrier()


def _wrap(model: PConvUNet, options: TrainOptions, world: int, local_rank: int, device: torch.device) -> torch.nn.Module:
    network: torch.nn.Module = model
    if world > 1:
        network = torch.nn.parallel.DistributedDataParallel(model, device_ids=[local_rank] if device.type == "cuda" else None)
    if options.compile:
        network = torch.compile(network)
    return network


def setup_session(options: TrainOptions, *, overwrite: bool = False) -> TrainingSession:
    """Everything a run needs, resumed from the newest ``OUT/checkpoints/step_*.pt`` when there is one.

    Raises:
        ValueError: ``OUT`` holds a run with other options (and not ``overwrite``), ``--init`` does not fit,
            a checkpoint is refused, the mask dataset has no training split (without ``allow_test_masks``).
    """
    world, rank, local_rank = _init_distributed(options)
    out = Path(options.out)
    _prepare_run_folder(out, options, overwrite=overwrite, rank=rank, world=world)
    device = _pick_device(options, local_rank)
    data, val_pairs = _training_data(options)
    model = _build_model(options, device, rank)
    vgg = None if options.no_perceptual else load_vgg16(options.vgg_weights, download=options.download_weights)
    criterion = PConvLoss(vgg).to(device)
    lr = options.lr if options.lr is not None else STAGE_LEARNING_RATES[options.stage]
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    scaler = torch.amp.GradScaler(device.type, enabled=False)  # bf16 needs no loss scaling; kept for fp16 forks
    start = _resume(out / "checkpoints", model, optimizer, scaler)
    network = _wrap(model, options, world, local_rank, device)
    loader = torch.utils.data.DataLoader(_StepBatches(data, start, options.steps, rank, world), batch_size=None,
                                         num_workers=options.workers, pin_memory=device.type == "cuda")
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "options.json", json.dumps(asdict(options), indent=2) + "\n")
    return TrainingSession(options=options, world=world, rank=rank, device=device, out=out, model=model,
                           network=network, criterion=criterion, optimizer=optimizer, scaler=scaler, lr=lr,
                           start=start, loader=loader, val_pairs=val_pairs)


# ---------------------------------------------------------------------------------------------- steps


def training_step(session: TrainingSession, images: torch.Tensor, valid: torch.Tensor) -> tuple[float, dict[str, float]]:
    """One optimiser step on one batch; returns (loss, {term: value})."""
    options, device = session.options, session.device
    images = images.to(device, non_blocking=True)
    valid = valid.to(device, non_blocking=True)
    if options.channels_last:
        images = images.to(memory_format=torch.channels_last)
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=options.bf16):
        output, composite = session.network(images * valid, valid)
    loss, terms = session.criterion(output, composite, images, valid)
    session.optimizer.zero_grad(set_to_none=True)
    session.scaler.scale(loss).backward()
    session.scaler.step(session.optimizer)
    session.scaler.update()
    return float(loss.detach()), {key: float(value.detach()) for key, value in terms.items()}


class _Throughput:
    """Training images per second since the previous reading."""

    def __init__(self, batch_size: int, step: int) -> None:
        self.batch_size, self.step, self.timer = batch_size, step, time.perf_counter()

    def read(self, step: int) -> float | str:
        elapsed = time.perf_counter() - self.timer
        images = (step - self.step) * self.batch_size
        self.step, self.timer = step, time.perf_counter()
        return images / elapsed if elapsed > 0 else ""


def run_steps(session: TrainingSession, log: TrainingLog, *, progress: bool = True) -> dict[str, Any]:
    """Train from ``session.start`` to ``options.steps``; returns the summary (see :func:`summary_line`).

    The progress bar (stderr, rank 0) shows the last loss; it is closed, ending its line, also when a step
    fails, so that an error message starts on a line of its own.
    """
    from tqdm import tqdm

    options = session.options
    summary: dict[str, Any] = {"start_step": session.start}
    session.network.train()
    if options.stage == 2:
        session.model.freeze_encoder_batch_norm()
    began = time.perf_counter()
    with tqdm(total=options.steps, initial=session.start, desc=f"stage {options.stage}", unit="step",
              disable=not (progress and session.main_process)) as bar:
        step = _step_loop(session, log, bar, summary)
    seconds = time.perf_counter() - began
    summary.update(step=step, steps=options.steps, seconds=seconds,
                   images_per_s=(step - session.start) * options.batch_size / seconds if seconds > 0 else 0.0,
                   checkpoint=str(latest_checkpoint(session.out / "checkpoints") or ""),
                   weights=str(session.out / "checkpoints" / WEIGHTS_NAME))
    return summary


def _step_loop(session: TrainingSession, log: TrainingLog, bar: Any, summary: dict[str, Any]) -> int:
    """The training steps, each followed by validation, the log row and the checkpoint when due; returns the
    last step."""
    options = session.options
    throughput = _Throughput(options.batch_size, session.start)
    step = session.start
    for images, valid in session.loader:
        loss, terms = training_step(session, images, valid)
        step += 1
        bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
        bar.update(1)
        row: dict[str, object] = {"step": step, "loss": loss, "lr": session.lr, **terms}
        summary["last_loss"] = loss
        if step % 10 == 0 or step == options.steps:
            row["images_per_s"] = throughput.read(step)
        validate_if_due(session, step, row, summary)
        log.write(row)
        checkpoint_if_due(session, step)
        if step >= options.steps:
            break
    return step


def _duration(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {rest:.0f} s" if minutes else f"{rest:.1f} s"


def summary_line(summary: dict[str, Any]) -> str:
    """The one line ``pconv-baseline train`` prints at the end: steps, time, images/s, final loss, validation,
    where the checkpoint and the inference weights are."""
    start, step, steps = summary["start_step"], summary["step"], summary["steps"]
    if step == start:
        return (f"nothing to train: the run is at step {step} of --steps {steps} (give a larger --steps to train "
                f"further); checkpoint {summary.get('checkpoint') or 'none'}, weights {summary['weights']}")
    validation = summary.get("validation") or {}
    checked = (f"; validation L1 {validation['l1']:.2f} %, PSNR {validation['psnr']:.2f} dB, SSIM "
               f"{validation['ssim']:.3f}") if validation else ""
    return (f"trained steps {start + 1}-{step} of {steps} in {_duration(summary['seconds'])} "
            f"({summary['images_per_s']:.2f} images/s overall); final loss {summary['last_loss']:.4f}{checked}; "
            f"checkpoint {summary['checkpoint']}, weights {summary['weights']}")


# ------------------------------------------------------------------------------ validation, checkpoints


def _due(step: int, every: int, last: int) -> bool:
    return step % every == 0 or step == last


def validate_if_due(session: TrainingSession, step: int, row: dict[str, object], summary: dict[str, object]) -> None:
    """Every ``validate_every`` steps and at the end (rank 0): metrics into ``row`` and ``summary``, and
    ``samples/step_XXXXXXX.png``."""
    options = session.options
    if not (session.main_process and _due(step, options.validate_every, options.steps)):
        return
    values, grids = _validate(session.model, session.val_pairs, session.device, options.bf16)
    row.update(val_l1=values["l1"], val_psnr=values["psnr"], val_ssim=values["ssim"])
    summary["validation"] = values
    _write_grid(session.out / "samples" / f"step_{step:07d}.png", grids)


def checkpoint_if_due(session: TrainingSession, step: int) -> None:
    """Every ``checkpoint_every`` steps and at the end (rank 0): :func:`save_checkpoint`."""
    options = session.options
    if session.main_process and _due(step, options.checkpoint_every, options.steps):
        save_checkpoint(session, step)


def save_checkpoint(session: TrainingSession, step: int) -> Path:
    """``checkpoints/step_XXXXXXX.pt`` (full state) and ``checkpoints/weights.pt`` (the model, float16), then
    the oldest ``step_*.pt`` beyond ``keep_checkpoints`` are deleted; returns the full checkpoint's path.

    Raises:
        OSError: a file could not be written (a full disk): one line; no temporary file is left.
    """
    options, model = session.options, _unwrap(session.network)
    folder = session.out / "checkpoints"
    path = folder / f"step_{step:07d}.pt"
    atomic_torch_save(training_state(model, session.optimizer, session.scaler, step=step, options=asdict(options)),
                      path)
    atomic_torch_save(inference_state(model, step=step, stage=options.stage, size=options.size),
                      folder / WEIGHTS_NAME)
    prune_checkpoints(folder, options.keep_checkpoints)
    return path


def _validate(model: torch.nn.Module, pairs: list[tuple[np.ndarray, np.ndarray]], device: torch.device,
              autocast: bool) -> tuple[dict[str, float], list[np.ndarray]]:
    from benchmark.metrics import MetricSet
    from inpaint_core.conventions import tensor_to_images
    from inpaint_core.images import sample_row

    metrics = MetricSet()
    grids = []
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for image, valid in pairs:
            batch = torch.from_numpy(image[None]).to(device)
            mask = torch.from_numpy(valid[None]).to(device)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=autocast):
                _, composite = model(batch * mask, mask)
            result = tensor_to_images(composite)[0]
            truth = tensor_to_images(batch)[0]
            hole = valid[0] < 0.5
            metrics.update(truth, result, hole)
            if len(grids) < 4:
                grids.append(sample_row(truth, hole, result, truth, tile=None))
    model.train(was_training)
    return metrics.compute(), grids


def _unwrap(model: torch.nn.Module) -> PConvUNet:
    model = getattr(model, "module", model)
    return getattr(model, "_orig_mod", model)


def _write_grid(path: Path, rows: list[np.ndarray]) -> None:
    from inpaint_core.images import write_rgb_png

    if rows:
        write_rgb_png(path, np.vstack(rows))


# ---------------------------------------------------------------------------------------------- logging


class TrainingLog:
    """``OUT/train_log.csv`` (appended to on resume) and TensorBoard scalars when it is installed; a no-op on
    ranks other than 0. A context manager: leaving it closes both."""

    def __init__(self, out: Path, *, enabled: bool = True) -> None:
        self._handle = self._writer = self._board = None
        if not enabled:
            return
        path = out / "train_log.csv"
        new = not path.is_file()
        self._handle = open(path, "a", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._handle, fieldnames=LOG_FIELDS, lineterminator="\n")
        if new:
            self._writer.writeheader()
        try:  # the CSV log is always written
            from torch.utils.tensorboard import SummaryWriter

            self._board = SummaryWriter(str(out / "tensorboard"))
        except ImportError:
            self._board = None

    def write(self, row: dict[str, object]) -> None:
        """One row per step: the LOG_FIELDS of ``row`` (blank when absent) and its float values as scalars."""
        if self._writer is not None:
            self._writer.writerow({key: row.get(key, "") for key in LOG_FIELDS})
            self._handle.flush()
        if self._board is not None:
            for key, value in row.items():
                if key != "step" and isinstance(value, float):
                    self._board.add_scalar(key, value, row["step"])

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
        if self._board is not None:
            self._board.close()

    def __enter__(self) -> TrainingLog:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


# ---------------------------------------------------------------------------------------------- train


def train(options: TrainOptions, *, overwrite: bool = False, progress: bool = True) -> dict[str, Any]:
    """Train (or resume) into ``options.out``; returns a summary (see :func:`summary_line`).

    ``overwrite``: start afresh in a run folder of other options (its checkpoints, samples and log are deleted).
    """
    session = setup_session(options, overwrite=overwrite)
    with TrainingLog(session.out, enabled=session.main_process) as log:
        summary = run_steps(session, log, progress=progress)
    if session.world > 1:
        torch.distributed.barrier()
    return summary
