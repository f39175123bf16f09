"""Checkpoints and inference weights of ``pconv-baseline train``: written atomically, read with
``weights_only=True``.

``RUN/checkpoints/``:

- ``step_XXXXXXX.pt``: the full training state (:func:`training_state`): the model in float32, Adam's state,
  the grad scaler, step, stage, size, levels, the run's options and the RNG states of torch (CPU and CUDA),
  numpy and python, all as tensors and plain values (dict, list, str, int, float, bool). ``keep_checkpoints``
  of them are kept (:func:`prune_checkpoints`); a run resumes from the newest (:func:`latest_checkpoint`).
- ``weights.pt``: the newest model alone (:func:`inference_state`): parameters in float16, batch-norm
  statistics in float32, with levels, size, stage and step; what ``benchmark run --model pconv_baseline
  --weights`` and ``--init`` take (both also take a full checkpoint).

Files are written to a hidden temporary name beside the target and renamed into place; a failed write (a
full disk) removes the temporary file and raises a one-line ``OSError``.
"""
from __future__ import annotations

import os
import random
import re
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from inpaint_core.files import TEMPORARY_SUFFIX, atomic_write
from inpaint_core.nets.weights import load_torch_file

from .network import ENCODER_KERNELS

__all__ = ["CHECKPOINT_FORMAT", "WEIGHTS_FORMAT", "WEIGHTS_NAME", "rng_state", "set_rng_state", "training_state",
           "inference_state", "atomic_torch_save", "checkpoint_files", "latest_checkpoint", "prune_checkpoints",
           "remove_temporaries", "read_checkpoint", "read_model_weights", "load_model_weights"]

CHECKPOINT_FORMAT = "pconv_baseline.checkpoint/2"
WEIGHTS_FORMAT = "pconv_baseline.weights/1"
WEIGHTS_NAME = "weights.pt"
_STEP_FILE = re.compile(r"step_(\d+)\.pt")


# ---------------------------------------------------------------------------------------------- RNG states


def rng_state() -> dict[str, Any]:
    """The global RNG states as tensors and plain values (``weights_only`` loads them)."""
    numpy_state = np.random.get_state(legacy=False)
    version, internal, gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"bit_generator": numpy_state["bit_generator"],
                  "key": torch.from_numpy(numpy_state["state"]["key"].astype(np.int64)),
                  "pos": int(numpy_state["state"]["pos"]), "has_gauss": int(numpy_state["has_gauss"]),
                  "gauss": float(numpy_state["gauss"])},
        "python": {"version": version, "internal": list(internal), "gauss": gauss},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`rng_state` (or a first-format checkpoint, numpy and python states as tuples) saved."""
    torch.set_rng_state(state["torch"])
    numpy_state = state["numpy"]
    if isinstance(numpy_state, Mapping):
        key = numpy_state["key"]
        key = key.numpy() if isinstance(key, torch.Tensor) else np.asarray(key)
        np.random.set_state({"bit_generator": numpy_state["bit_generator"],
                             "state": {"key": key.astype(np.uint32), "pos": numpy_state["pos"]},
                             "has_gauss": numpy_state["has_gauss"], "gauss": numpy_state["gauss"]})
    else:
        np.random.set_state(tuple(numpy_state))
    python_state = state["python"]
    if isinstance(python_state, Mapping):
        python_state = (python_state["version"], tuple(python_state["internal"]), python_state["gauss"])
    random.setstate((python_state[0], tuple(python_state[1]), python_state[2]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ---------------------------------------------------------------------------------------------- contents


def training_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler, *,
                   step: int, options: Mapping[str, Any]) -> dict[str, Any]:
    """A full checkpoint of ``model`` (the bare network) after ``step``; ``options`` as plain values."""
    return {"format": CHECKPOINT_FORMAT, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict(), "step": step, "stage": int(options["stage"]),
            "size": int(options["size"]), "levels": int(model.levels), "options": dict(options), "rng": rng_state()}


def _compact(tensor: torch.Tensor, *, parameter: bool) -> torch.Tensor:
    """Parameters in float16 (float32 when a value would overflow); buffers (batch-norm statistics) as they are."""
    tensor = tensor.detach().cpu()
    if not (parameter and tensor.is_floating_point()):
        return tensor.clone()
    half = tensor.half()
    return half if torch.isfinite(half).all() else tensor.clone()


def inference_state(model: torch.nn.Module, *, step: int, stage: int, size: int) -> dict[str, Any]:
    """The small inference file of ``model``: its state dict (parameters in float16) and how it was trained."""
    parameters = {name for name, _ in model.named_parameters()}
    weights = {name: _compact(value, parameter=name in parameters) for name, value in model.state_dict().items()}
    return {"format": WEIGHTS_FORMAT, "model": weights, "levels": int(model.levels), "size": size, "stage": stage,
            "step": step}


# ---------------------------------------------------------------------------------------------- files


def atomic_torch_save(state: Mapping[str, Any], path: Path) -> None:
    """``torch.save`` through :func:`inpaint_core.files.atomic_write` (a hidden temporary file beside
    ``path``, renamed into place; removed when the write fails).

    Raises:
        OSError: the write failed (a full disk, ...); the message says which file could not be written, in
            one line.
    """
    try:
        atomic_write(path, lambda handle: torch.save(dict(state), handle))
    except OSError as error:
        reason = error.strerror or str(error).splitlines()[0]
        raise OSError(error.errno, f"could not write {str(path)!r}: {reason}; free some space (or lower "
                                   "--keep-checkpoints) and run the same command again to resume") from None


def checkpoint_files(folder: Path) -> list[Path]:
    """The ``step_*.pt`` files of ``folder``, oldest step first."""
    if not folder.is_dir():
        return []
    found = [(int(match.group(1)), path) for path in folder.iterdir()
             if (match := _STEP_FILE.fullmatch(path.name)) and path.is_file()]
    return [path for _, path in sorted(found)]


def latest_checkpoint(folder: Path) -> Path | None:
    """The newest full checkpoint in ``folder`` (``last.pt`` of the first format when there is no step file)."""
    files = checkpoint_files(folder)
    if files:
        return files[-1]
    legacy = folder / "last.pt"
    return legacy if legacy.is_file() else None


def prune_checkpoints(folder: Path, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest ``step_*.pt`` (``keep`` 0: none deleted); returns the deleted files."""
    stale = checkpoint_files(folder)[:-keep] if keep > 0 else []
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def remove_temporaries(folder: Path) -> None:
    """Delete temporary files a killed run left in ``folder`` (``.NAME.*.tmp``, and ``last.tmp`` of the first
    format)."""
    if folder.is_dir():
        for path in [*folder.glob(f".*{TEMPORARY_SUFFIX}"), folder / "last.tmp"]:
            path.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------- reading


def read_checkpoint(path: Path) -> dict[str, Any]:
    """A full training checkpoint, read with ``weights_only=True`` (ValueError, one line, when refused)."""
    state = load_torch_file(path, what="checkpoint", numpy_arrays=True)
    missing = [key for key in ("model", "optimizer", "scaler", "step", "rng") if key not in state] \
        if isinstance(state, dict) else ["model"]
    if missing:
        raise ValueError(f"checkpoint {str(path)!r} lacks {', '.join(missing)}: not a training checkpoint of "
                         "'pconv-baseline train'; move it away to start afresh")
    return state


def _levels_of(state_dict: Mapping[str, Any]) -> int:
    """Encoder depth of a PConvUNet state dict (its ``encoder.N.`` keys)."""
    indices = {int(match.group(1)) for key in state_dict if (match := re.match(r"encoder\.(\d+)\.", key))}
    return max(indices) + 1 if indices else 0


def read_model_weights(path: str | os.PathLike[str], *, what: str) -> tuple[dict[str, torch.Tensor], int]:
    """(state dict, levels) of a weights file, a full checkpoint or a bare state dict, read with
    ``weights_only=True``; ``what`` names the file in errors (``--weights``, ``--init``)."""
    state = load_torch_file(path, what=what, numpy_arrays=True)
    if not isinstance(state, dict):
        raise ValueError(f"{what} {str(path)!r} holds a {type(state).__name__}, not PConv U-Net weights; give "
                         "RUN/checkpoints/weights.pt or a step_*.pt of 'pconv-baseline train'")
    weights = state["model"] if isinstance(state.get("model"), dict) else state
    levels = int(state.get("levels") or _levels_of(weights))
    if not 1 <= levels <= len(ENCODER_KERNELS) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
        raise ValueError(f"{what} {str(path)!r} holds no PConv U-Net weights; give RUN/checkpoints/weights.pt or "
                         "a step_*.pt of 'pconv-baseline train'")
    return weights, levels


def load_model_weights(model: torch.nn.Module, weights: Mapping[str, torch.Tensor], *, what: str) -> None:
    """``model.load_state_dict(weights)`` (float16 values are widened), a one-line ValueError when they do not fit."""
    try:
        model.load_state_dict(weights)
    except RuntimeError as error:
        detail = " ".join(str(error).split())
        raise ValueError(f"{what} does not fit this network ({detail[:200]}...); give weights of a PConv U-Net "
                         "trained at this size") from None
