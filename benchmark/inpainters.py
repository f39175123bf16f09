"""Inpainting models behind one protocol, a registry and plug-in loading.

An :class:`Inpainter` has a ``name`` and is called as ``model(image, mask) -> output`` with

* ``image``: uint8 RGB HxWx3, hole pixels already set to 0 (the model never sees the ground truth there);
* ``mask``: bool HxW, ``True`` = hole;
* ``output``: uint8 RGB HxWx3 of the same size. Only the hole pixels are scored: the harness composites
  the output into the holes of the original.

Optionally ``inpaint_batch(images, masks)`` takes torch tensors (images float Bx3xHxW in [0, 1], masks
float Bx1xHxW with 1 = hole) and returns Bx3xHxW in [0, 1], for batched GPU scoring; and ``weights_path``
names a weights file whose sha256 the run records.

Built in (:func:`list_inpainters`): ``opencv-telea``, ``opencv-ns`` (``cv2.inpaint``), ``opencv-shiftmap``
(exemplar-based ``cv2.xphoto.inpaint``, the stand-in for the paper's PatchMatch row; needs opencv-contrib),
``biharmonic`` (scikit-image) and ``mean-fill`` (the floor: holes filled with the mean colour of the known
pixels). Third-party models: ``package.module:factory``, ``path/to/file.py:Name``, or an installed package's
entry point in the group ``benchmark.inpainters``; the reference PConv U-Net ``pconv_baseline`` (needs
``weights=PATH``) comes that way, from this distribution's own entry point, so the benchmark never imports it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

import numpy as np

from inpaint_core.registry import Registry

__all__ = ["Inpainter", "register_inpainter", "create_inpainter", "list_inpainters", "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "benchmark.inpainters"


class Inpainter(Protocol):
    name: str

    def __call__(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:  # pragma: no cover - protocol
        ...


_REGISTRY = Registry("model", ENTRY_POINT_GROUP)


def register_inpainter(name: str) -> Callable[[Callable[..., Inpainter]], Callable[..., Inpainter]]:
    """Decorator registering an inpainter factory under ``name`` (refuses a duplicate name)."""
    return _REGISTRY.register(name)


def list_inpainters() -> list[str]:
    """Registered names and installed ``benchmark.inpainters`` plug-ins, sorted."""
    return _REGISTRY.names()


def create_inpainter(spec: str, **options: Any) -> Inpainter:
    """An inpainter from a registered name, an entry point, ``module:factory`` or ``file.py:Name``.

    A class is instantiated with ``options``; a function is called with them. The result gets a ``name``
    (the spec) if it has none.

    Raises:
        ValueError: unknown name or a spec that cannot be loaded.
    """
    model = _REGISTRY.resolve(spec)(**options)
    if not callable(model):
        raise ValueError(f"model {spec!r} did not give a callable inpainter (got {type(model).__name__})")
    if not getattr(model, "name", None):
        try:
            model.name = spec
        except AttributeError:
            pass
    return model


def _bgr(image: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(image, cv2.COLOR_RGB2BGR)


@dataclass
class OpenCVInpaint:
    """``cv2.inpaint`` with Telea's fast marching or the Navier-Stokes method."""

    method: str = "telea"
    radius: float = 3.0
    name: str = "opencv-telea"

    def __call__(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        import cv2

        flag = cv2.INPAINT_TELEA if self.method == "telea" else cv2.INPAINT_NS
        result = cv2.inpaint(_bgr(image), mask.astype(np.uint8) * 255, self.radius, flag)
        return cv2.cvtColor(result, cv2.COLOR_BGR2RGB)


@register_inpainter("opencv-telea")
def _telea(**options: Any) -> OpenCVInpaint:
    return OpenCVInpaint(**{"method": "telea", **options, "name": "opencv-telea"})


@register_inpainter("opencv-ns")
def _navier_stokes(**options: Any) -> OpenCVInpaint:
    return OpenCVInpaint(**{"method": "ns", **options, "name": "opencv-ns"})


@dataclass
class ShiftMapInpaint:
    """Exemplar-based shift-map inpainting (He & Sun) from ``cv2.xphoto`` (opencv-contrib)."""

    name: str = "opencv-shiftmap"

    def __post_init__(self) -> None:
        import cv2

        if not hasattr(cv2, "xphoto"):
            raise ValueError("model 'opencv-shiftmap' needs opencv-contrib-python(-headless): "
                             "this OpenCV has no cv2.xphoto module")

    def __call__(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        import cv2

        known = (~mask).astype(np.uint8) * 255  # xphoto's mask: non-zero = valid pixels
        result = np.zeros_like(image)
        cv2.xphoto.inpaint(_bgr(image), known, result, cv2.xphoto.INPAINT_SHIFTMAP)
        return cv2.cvtColor(result, cv2.COLOR_BGR2RGB)


@register_inpainter("opencv-shiftmap")
def _shiftmap(**options: Any) -> ShiftMapInpaint:
    return ShiftMapInpaint(**options)


@dataclass
class BiharmonicInpaint:
    """``skimage.restoration.inpaint_biharmonic`` per connected hole region (slow on large holes)."""

    name: str = "biharmonic"

    def __call__(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        from skimage.restoration import inpaint_biharmonic

        result = inpaint_biharmonic(image, mask, split_into_regions=True, channel_axis=-1)
        return np.clip(np.rint(result * 255.0), 0, 255).astype(np.uint8)


@register_inpainter("biharmonic")
def _biharmonic(**options: Any) -> BiharmonicInpaint:
    return BiharmonicInpaint(**options)


@dataclass
class MeanFill:
    """Holes filled with the mean colour of the known pixels: the floor every model should beat."""

    name: str = "mean-fill"

    def __call__(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        result = image.copy()
        known = ~mask
        colour = image[known].mean(axis=0) if known.any() else np.full(3, 127.5)
        result[mask] = np.rint(colour).astype(np.uint8)
        return result


@register_inpainter("mean-fill")
def _mean_fill(**options: Any) -> MeanFill:
    return MeanFill(**options)

