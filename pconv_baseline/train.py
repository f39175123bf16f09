"""Training the PConv U-Net: stage 1 (lr 2e-4, batch norm on) and stage 2 (lr 5e-5, encoder batch norm
frozen), checkpoints with exact resume, validation with the benchmark's metrics, sample grids, CSV log,
and DDP under ``torchrun`` (NCCL on GPUs, gloo on CPUs).

Checkpoint (``RUN/checkpoints/step_XXXXXXX.pt`` and ``last.pt``): model, optimiser, grad scaler, step,
stage, options and the RNG states of torch (CPU and CUDA), numpy and python. Batches are a pure function
of (seed, step) (:mod:`.data`), so a resumed run continues exactly where it stopped.
"""
from __future__ import annotations

import csv
import json
import os
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from inpaint_core.seeds import VALIDATION_STREAMS

from .data import TrainData, mask_paths, split_images, validation_masks
from .loss import PConvLoss, load_vgg16
from .network import PConvUNet, levels_for_size

__all__ = ["TrainOptions", "train", "STAGE_LEARNING_RATES"]

STAGE_LEARNING_RATES = {1: 2e-4, 2: 5e-5}


@dataclass(frozen=True)
class TrainOptions:
    images: str
    masks: str
    out: str
    stage: int = 1
    steps: int = 1000
    batch_size: int = 6
    size: int = 256
    lr: float | None = None  # default: 2e-4 for stage 1, 5e-5 for stage 2
    seed: int = 0
    bf16: bool = False
    channels_last: bool = False
    compile: bool = False
    checkpoint_every: int = 500
    keep_checkpoints: int = 0  # newest step_*.pt files kept (0 = all); last.pt is always kept
    validate_every: int = 500
    val_images: int = 8
    val_masks: int = 24
    workers: int = 2
    init: str | None = None  # weights to start from (stage 2 from stage 1)
    vgg_weights: str | None = None
    no_perceptual: bool = False
    download_weights: bool = False
    device: str | None = None


def _distributed() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    return world, rank, local


class _StepBatches(torch.utils.data.Dataset):
    """Item i = this rank's share of the global batch of step ``start + i``."""

    def __init__(self, data: TrainData, start: int, stop: int, rank: int, world: int) -> None:
        self.data, self.start, self.stop, self.rank, self.world = data, start, stop, rank, world
        self.local = data.batch_size // world

    def __len__(self) -> int:
        return self.stop - self.start

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        step = self.start + index
        samples = [self.data.sample(step, self.rank * self.local + k) for k in range(self.local)]
        return (torch.from_numpy(np.stack([s[0] for s in samples])),
                torch.from_numpy(np.stack([s[1] for s in samples])))


def _rng_state() -> dict[str, object]:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, object]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _unwrap(model: torch.nn.Module) -> PConvUNet:
    model = getattr(model, "module", model)
    return getattr(model, "_orig_mod", model)


def save_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    scaler: torch.amp.GradScaler, step: int, options: TrainOptions) -> None:
    state = {"model": _unwrap(model).state_dict(), "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict(),
             "step": step, "stage": options.stage, "levels": _unwrap(model).levels, "options": asdict(options),
             "rng": _rng_state()}
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    torch.save(state, temporary)
    os.replace(temporary, path)


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


def train(options: TrainOptions, *, progress: bool = True) -> dict[str, object]:
    """Train (or resume) into ``options.out``; returns a summary with the last losses and validation."""
    from tqdm import tqdm

    world, rank, local_rank = _distributed()
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend=backend)
    if options.batch_size % world:
        raise ValueError(f"batch size {options.batch_size} must be a multiple of the {world} processes")
    if options.device:
        device = torch.device(options.device)
    elif torch.cuda.is_available():
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    out = Path(options.out)
    train_images, val_images = split_images(Path(options.images), val_count=options.val_images, seed=options.seed)
    data = TrainData(Path(options.images), train_images, mask_paths(Path(options.masks), "train"), options.size,
                     options.batch_size, options.seed)
    val_masks = validation_masks(Path(options.masks), options.val_masks)
    val_data = TrainData(Path(options.images), val_images, val_masks, options.size, 1, options.seed,
                         streams=VALIDATION_STREAMS)
    val_pairs = [val_data.sample(0, k) for k in range(len(val_masks))]

    torch.manual_seed(options.seed + rank)
    model = PConvUNet(levels=levels_for_size(options.size)).to(device)
    if options.init:
        model.load_state_dict(torch.load(options.init, map_location="cpu", weights_only=False)["model"])
    if options.stage == 2:
        model.freeze_encoder_batch_norm()
    if options.channels_last:
        model = model.to(memory_format=torch.channels_last)
    vgg = None if options.no_perceptual else load_vgg16(options.vgg_weights, download=options.download_weights)
    criterion = PConvLoss(vgg).to(device)
    lr = options.lr if options.lr is not None else STAGE_LEARNING_RATES[options.stage]
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    scaler = torch.amp.GradScaler(device.type, enabled=False)  # bf16 needs no loss scaling; kept for fp16 forks

    start = 0
    last = out / "checkpoints" / "last.pt"
    if last.is_file():
        state = torch.load(last, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        start = int(state["step"])
        _set_rng_state(state["rng"])
    network: torch.nn.Module = model
    if world > 1:
        network = torch.nn.parallel.DistributedDataParallel(model, device_ids=[local_rank] if device.type == "cuda" else None)
    if options.compile:
        network = torch.compile(network)

    loader = torch.utils.data.DataLoader(_StepBatches(data, start, options.steps, rank, world), batch_size=None,
                                         num_workers=options.workers, pin_memory=device.type == "cuda")
    log_path = out / "train_log.csv"
    main_process = rank == 0
    if main_process:
        out.mkdir(parents=True, exist_ok=True)
        (out / "options.json").write_text(json.dumps(asdict(options), indent=2))
    fields = ["step", "loss", "valid", "hole", "perceptual", "style_out", "style_comp", "tv", "lr", "images_per_s",
              "val_l1", "val_psnr", "val_ssim"]
    writer = None
    handle = None
    if main_process:
        new = not log_path.is_file()
        handle = open(log_path, "a", newline="", encoding="utf-8")
        writer = csv.DictWriter(handle, fieldnames=fields, lineterminator="\n")
        if new:
            writer.writeheader()
    board = None
    if main_process:
        try:  # TensorBoard when installed; the CSV log is always written
            from torch.utils.tensorboard import SummaryWriter

            board = SummaryWriter(str(out / "tensorboard"))
        except ImportError:
            board = None
    summary: dict[str, object] = {"start_step": start}
    bar = tqdm(total=options.steps, initial=start, desc=f"stage {options.stage}", unit="step",
               disable=not (progress and main_process))
    network.train()
    if options.stage == 2:
        model.freeze_encoder_batch_norm()
    timer = time.perf_counter()
    step = start
    for images, valid in loader:
        images = images.to(device, non_blocking=True)
        valid = valid.to(device, non_blocking=True)
        if options.channels_last:
            images = images.to(memory_format=torch.channels_last)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=options.bf16):
            output, composite = network(images * valid, valid)
        loss, terms = criterion(output, composite, images, valid)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        step += 1
        bar.update(1)
        row = {"step": step, "loss": float(loss.detach()), "lr": lr,
               **{k: float(v.detach()) for k, v in terms.items()}}
        summary["last_loss"] = row["loss"]
        if step % 10 == 0 or step == options.steps:
            elapsed = time.perf_counter() - timer
            row["images_per_s"] = 10 * options.batch_size / elapsed if elapsed > 0 else ""
            timer = time.perf_counter()
        if main_process and (step % options.validate_every == 0 or step == options.steps):
            values, grids = _validate(model, val_pairs, device, options.bf16)
            row.update(val_l1=values["l1"], val_psnr=values["psnr"], val_ssim=values["ssim"])
            summary["validation"] = values
            _write_grid(out / "samples" / f"step_{step:07d}.png", grids)
        if writer is not None:
            writer.writerow({k: row.get(k, "") for k in fields})
            handle.flush()
        if board is not None:
            for key, value in row.items():
                if key != "step" and isinstance(value, float):
                    board.add_scalar(key, value, step)
        if main_process and (step % options.checkpoint_every == 0 or step == options.steps):
            save_checkpoint(out / "checkpoints" / f"step_{step:07d}.pt", network, optimizer, scaler, step, options)
            save_checkpoint(last, network, optimizer, scaler, step, options)
            if options.keep_checkpoints > 0:
                _prune_checkpoints(out / "checkpoints", options.keep_checkpoints)
        if step >= options.steps:
            break
    bar.close()
    if handle is not None:
        handle.close()
    if board is not None:
        board.close()
    if world > 1:
        torch.distributed.barrier()
    summary["step"] = step
    return summary


def _prune_checkpoints(folder: Path, keep: int) -> None:
    """Delete all but the ``keep`` newest ``step_*.pt`` files (numbered, so the name orders them)."""
    for stale in sorted(folder.glob("step_*.pt"))[:-keep]:
        stale.unlink()


def _write_grid(path: Path, rows: list[np.ndarray]) -> None:
    from inpaint_core.images import write_rgb_png

    if rows:
        write_rgb_png(path, np.vstack(rows))
