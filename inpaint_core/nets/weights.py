"""Finding network weights: a user path, the torch.hub checkpoint cache, or an explicit download; reading
weight files safely.

Nothing downloads at import time or in tests. :func:`locate_weights` returns a path or ``None`` with the
reason, so a metric can be omitted with a stated reason instead of being faked. Every torch file the toolkit
reads goes through :func:`load_torch_file` (``torch.load(..., weights_only=True)``): tensors and plain values
only, so a crafted pickle cannot run code; such a file is refused with a one-line ``ValueError``.
"""
from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

__all__ = ["WeightsSpec", "VGG16_IMAGENET", "LPIPS_VGG_LIN", "FID_INCEPTION", "locate_weights", "load_state_dict",
           "load_torch_file"]


@dataclass(frozen=True)
class WeightsSpec:
    """A published weights file: where it comes from and what it is for."""

    name: str
    url: str

    @property
    def file_name(self) -> str:
        return Path(urlparse(self.url).path).name


VGG16_IMAGENET = WeightsSpec("VGG16 ImageNet (torchvision)", "https://download.pytorch.org/models/vgg16-397923af.pth")
LPIPS_VGG_LIN = WeightsSpec("LPIPS v0.1 VGG linear layers",
                            "https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/vgg.pth")
FID_INCEPTION = WeightsSpec("FID Inception-v3 (pytorch-fid)",
                            "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                            "pt_inception-2015-12-05-6726825d.pth")


def _hub_checkpoints() -> Path:
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def locate_weights(spec: WeightsSpec, path: str | os.PathLike[str] | None = None, *,
                   download: bool = False) -> tuple[Path | None, str]:
    """``(path, "")`` when the weights are available, else ``(None, reason)``.

    Order: ``path`` if given (it must exist), the torch.hub cache (``$TORCH_HOME/hub/checkpoints``, where
    torchvision and ``torch.hub.load_state_dict_from_url`` put them), then a download through
    ``torch.hub.load_state_dict_from_url`` when ``download`` is true.
    """
    if path is not None:
        given = Path(path)
        if not given.is_file():
            return None, f"{spec.name}: {str(given)!r} does not exist"
        return given, ""
    cached = _hub_checkpoints() / spec.file_name
    if cached.is_file():
        return cached, ""
    if download:
        import torch.hub

        try:
            torch.hub.load_state_dict_from_url(spec.url, map_location="cpu", progress=True)
        except Exception as exc:  # noqa: BLE001 - no network, HTTP error...
            return None, f"{spec.name}: download from {spec.url} failed ({type(exc).__name__}: {exc})"
        if cached.is_file():
            return cached, ""
    return None, (f"{spec.name} weights not found: no {spec.file_name} in the torch.hub cache ({cached.parent}); "
                  "give the file's path or allow the download")


def load_state_dict(path: Path) -> dict:
    """The state dict in ``path`` (see :func:`load_torch_file`)."""
    return load_torch_file(path, what="weights file")


def _numpy_array_globals() -> list[object]:
    """What a pickled numpy array names: its reconstructor, ``ndarray`` and ``dtype`` (no code of the file's)."""
    import numpy as np

    try:
        from numpy._core.multiarray import _reconstruct  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct
    return [_reconstruct, np.ndarray, np.dtype, *(type(np.dtype(code)) for code in "?bBhHiIlLqQefdg")]


def _refusal_reason(error: BaseException) -> str:
    """A short reason out of torch's many-line ``weights_only`` message."""
    text = str(error)
    named = re.search(r"GLOBAL ([\w.]+)", text)
    if named:
        return f"it asks for the Python object {named.group(1)!r}, and only tensors and plain values are read"
    detail = text.split("WeightsUnpickler error:", 1)[-1].strip().splitlines()
    return f"it is not a plain tensor file ({detail[0].strip() if detail else type(error).__name__})"


def load_torch_file(path: str | os.PathLike[str], *, what: str = "weights file",
                    numpy_arrays: bool = False) -> Any:
    """``torch.load(path, map_location="cpu", weights_only=True)`` with one-line errors.

    Only tensors, numbers, strings, ``None`` and lists, tuples and dicts of them are read (with
    ``numpy_arrays`` also numpy arrays, as older files of the toolkit hold): nothing in the file is imported
    or called.

    Raises:
        ValueError: ``path`` is missing, is not a torch file, is cut short, or would need anything else to
            load (a crafted pickle); the message names ``what`` and the file, in one line.
    """
    import pickle

    import torch

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{what} {str(path)!r} {'is not a file' if path.exists() else 'does not exist'}")
    allowed = _numpy_array_globals() if numpy_arrays else []
    try:
        with warnings.catch_warnings(), torch.serialization.safe_globals(allowed):
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise ValueError(f"{what} {str(path)!r} was refused: {_refusal_reason(error)}; give a file written by "
                         "this toolkit (or re-save the state dict of a file you trust)") from None
    except (EOFError, RuntimeError, OSError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"{what} {str(path)!r} cannot be read as a torch file ({first}); it may be cut short "
                         "or of another kind") from None
