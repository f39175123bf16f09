"""The mask and image conventions, written once (kornia-style checks with precise one-line messages).

* **Mask in memory**: ``bool`` HxW, ``True`` = hole.
* **Mask on disk**: 8-bit single-channel PNG, 255 = hole, 0 = known; never a grey pixel. Files from elsewhere
  are binarised at :data:`BINARY_THRESHOLD` (grey >= 128 is white) and read with a polarity
  (``hole-white``: white = hole, NVIDIA's convention; ``hole-black``: black = hole).
* **Validity mask** (PConv's "1 = known") exists only inside ``pconv_baseline``: :func:`hole_to_valid`.
* **Image at the model boundary**: ``uint8`` RGB HxWx3 (numpy). Torch models take float Bx3xHxW in [0, 1]
  (:func:`images_to_tensor` / :func:`tensor_to_images`), masks float Bx1xHxW with 1 = hole
  (:func:`masks_to_tensor`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "POLARITIES",
    "BINARY_THRESHOLD",
    "check_polarity",
    "binarize",
    "white_fraction",
    "check_mask",
    "check_image",
    "hole_to_valid",
    "images_to_tensor",
    "masks_to_tensor",
    "tensor_to_images",
]

POLARITIES = ("hole-white", "hole-black", "auto")
BINARY_THRESHOLD = 128


def check_polarity(polarity: str, *, allow_auto: bool = True) -> str:
    """``polarity`` itself, or ValueError naming the allowed values."""
    allowed = POLARITIES if allow_auto else POLARITIES[:2]
    if polarity not in allowed:
        raise ValueError(f"polarity must be {', '.join(allowed)}; got {polarity!r}")
    return polarity


def binarize(values: np.ndarray, polarity: str = "hole-white") -> np.ndarray:
    """The bool hole mask of 8-bit grey ``values`` (>= 128 is white) read with ``polarity``."""
    check_polarity(polarity, allow_auto=False)
    white = values >= BINARY_THRESHOLD
    return white if polarity == "hole-white" else ~white


def white_fraction(values: np.ndarray) -> float:
    """Share of white pixels (>= 128) of 8-bit grey ``values``: what polarity detection looks at."""
    return float(np.count_nonzero(values >= BINARY_THRESHOLD)) / values.size


def check_mask(mask: object, *, shape: Sequence[int] | None = None, name: str = "mask") -> np.ndarray:
    """``mask`` if it is a bool HxW array (of ``shape`` when given), else ValueError saying what it is."""
    if not isinstance(mask, np.ndarray):
        raise ValueError(f"{name} must be a numpy bool (H, W) array with True = hole, got {type(mask).__name__}")
    if mask.ndim != 2:
        raise ValueError(f"{name} must be 2-D (H, W) with True = hole, got shape {mask.shape}")
    if mask.dtype != bool:
        raise ValueError(f"{name} must be a bool array (True = hole), got dtype {mask.dtype}")
    if shape is not None and tuple(mask.shape) != tuple(shape):
        raise ValueError(f"{name} shape {mask.shape}, expected {tuple(shape)}")
    return mask


def check_image(image: object, *, shape: Sequence[int] | None = None, name: str = "image") -> np.ndarray:
    """``image`` if it is a uint8 RGB HxWx3 array (of ``shape`` when given), else ValueError saying what is wrong."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"{name} is {type(image).__name__}, expected a numpy uint8 array")
    if image.dtype != np.uint8:
        extra = " with NaN values" if np.issubdtype(image.dtype, np.floating) and np.isnan(image).any() else ""
        raise ValueError(f"{name} dtype {image.dtype}{extra}, expected uint8")
    if shape is not None and tuple(image.shape) != tuple(shape):
        raise ValueError(f"{name} shape {image.shape}, expected {tuple(shape)}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{name} must be RGB (H, W, 3), got shape {image.shape}")
    return image


def hole_to_valid(hole: np.ndarray) -> np.ndarray:
    """PConv's validity mask of a hole mask: float32 1xHxW, 1 = known, 0 = hole."""
    check_mask(hole)
    return (~hole)[None].astype(np.float32)


def images_to_tensor(images: Sequence[np.ndarray] | np.ndarray) -> "torch.Tensor":
    """uint8 RGB HxWx3 images (a list, or an array BxHxWx3) as one float Bx3xHxW tensor in [0, 1]."""
    import torch

    batch = images if isinstance(images, np.ndarray) and images.ndim == 4 else np.stack(list(images))
    return torch.from_numpy(batch).permute(0, 3, 1, 2).float().div_(255.0)


def masks_to_tensor(masks: Sequence[np.ndarray] | np.ndarray) -> "torch.Tensor":
    """bool HxW hole masks as one float Bx1xHxW tensor, 1 = hole."""
    import torch

    batch = masks if isinstance(masks, np.ndarray) and masks.ndim == 3 else np.stack(list(masks))
    return torch.from_numpy(batch[:, None].astype(np.float32))


def tensor_to_images(tensor: "torch.Tensor") -> np.ndarray:
    """float Bx3xHxW in [0, 1] (clamped) as uint8 RGB BxHxWx3, rounded to the nearest level."""
    import torch

    return tensor.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
