"""Per-image inpainting metrics, vectorised with OpenCV, equal to scikit-image's references.

Images are ``uint8`` RGB HxWx3 (or HxW); ``mask`` is ``bool`` HxW with ``True`` = hole.

* :func:`l1_percent`: mean absolute error / 255 x 100 over all pixels and channels (the PConv paper's L1).
* :func:`l1_hole_percent`: the same over hole pixels only.
* :func:`peak_signal_noise_ratio`: dB with data range 255 (``inf`` for identical images), equal to
  ``skimage.metrics.peak_signal_noise_ratio(..., data_range=255)``; a run (:func:`image_metrics`) scores
  identical images :func:`psnr_ceiling` instead of ``inf``.
* :func:`structural_similarity`: Wang et al. SSIM with an 11-tap Gaussian window (sigma 1.5), population
  covariance, data range 255, averaged over channels, equal within 1e-6 to
  ``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
  data_range=255, channel_axis=-1)``. Both crop 5 px at each edge before averaging, so the filter's border
  rule does not matter; OpenCV's separable float64 filter replaces scipy's and is several times faster.

:class:`MetricSet` keeps running means with the ``update`` / ``compute`` / ``reset`` API of torchmetrics
(through :class:`benchmark.aggregate.CellAccumulator`, which also makes a run's ``summary.csv``).
"""
from __future__ import annotations

import math

import numpy as np

from .aggregate import CellAccumulator

__all__ = [
    "l1_percent",
    "l1_hole_percent",
    "peak_signal_noise_ratio",
    "structural_similarity",
    "image_metrics",
    "psnr_ceiling",
    "MetricSet",
    "METRIC_NAMES",
]

METRIC_NAMES = ("l1", "l1_hole", "psnr", "ssim")
_SSIM_SIGMA = 1.5
_SSIM_RADIUS = int(3.5 * _SSIM_SIGMA + 0.5)  # 5, as scipy.ndimage with truncate=3.5
_K1, _K2 = 0.01, 0.03


def _check_pair(image_true: np.ndarray, image_test: np.ndarray) -> None:
    if image_true.shape != image_test.shape:
        raise ValueError(f"images differ in shape: {image_true.shape} vs {image_test.shape}")
    if image_true.dtype != np.uint8 or image_test.dtype != np.uint8:
        raise ValueError(f"images must be uint8, got {image_true.dtype} and {image_test.dtype}")
    if image_true.ndim not in (2, 3):
        raise ValueError(f"images must be HxW or HxWxC, got shape {image_true.shape}")


def l1_percent(image_true: np.ndarray, image_test: np.ndarray) -> float:
    """Mean absolute error over all pixels and channels, in percent of 255."""
    _check_pair(image_true, image_test)
    import cv2

    return float(cv2.norm(image_true, image_test, cv2.NORM_L1)) / image_true.size / 255.0 * 100.0


def l1_hole_percent(image_true: np.ndarray, image_test: np.ndarray, mask: np.ndarray) -> float:
    """Mean absolute error over the hole pixels (``mask`` True) only, in percent of 255; NaN without holes."""
    _check_pair(image_true, image_test)
    if mask.shape != image_true.shape[:2] or mask.dtype != bool:
        raise ValueError(f"mask must be bool {image_true.shape[:2]}, got {mask.dtype} {mask.shape}")
    import cv2

    holes = int(np.count_nonzero(mask))
    if holes == 0:
        return float("nan")
    difference = cv2.absdiff(image_true, image_test)
    channels = 1 if difference.ndim == 2 else difference.shape[2]
    return float(difference[mask].sum(dtype=np.float64)) / (holes * channels) / 255.0 * 100.0


def peak_signal_noise_ratio(image_true: np.ndarray, image_test: np.ndarray, *, data_range: float = 255.0) -> float:
    """PSNR in dB; ``inf`` when the images are equal."""
    _check_pair(image_true, image_test)
    import cv2

    mse = float(cv2.norm(image_true, image_test, cv2.NORM_L2SQR)) / image_true.size  # exact integer sum
    if mse == 0:
        return math.inf
    return 10.0 * math.log10(data_range * data_range / mse)


def psnr_ceiling(values: int) -> float:
    """The PSNR (dB, data range 255) of the smallest error two different uint8 images of ``values`` channel
    values can have, one value off by one: ``10 log10(255^2 * values)``. Above every finite PSNR of
    images of that size; what a run scores identical images (not ``inf``, which a mean would drop or
    swamp)."""
    return 10.0 * math.log10(255.0 * 255.0 * values)


def _gaussian(image: np.ndarray) -> np.ndarray:
    import cv2

    size = 2 * _SSIM_RADIUS + 1
    return cv2.GaussianBlur(image, (size, size), _SSIM_SIGMA, borderType=cv2.BORDER_REFLECT)


def structural_similarity(image_true: np.ndarray, image_test: np.ndarray, *, data_range: float = 255.0) -> float:
    """Mean SSIM (Gaussian window, sigma 1.5), averaged over channels; see the module doc."""
    _check_pair(image_true, image_test)
    if min(image_true.shape[:2]) < 2 * _SSIM_RADIUS + 1:
        raise ValueError(f"images must be at least {2 * _SSIM_RADIUS + 1} px on each side for SSIM")
    import cv2

    first = image_true.astype(np.float64)
    second = image_test.astype(np.float64)
    r = _SSIM_RADIUS
    inner = (slice(r, -r), slice(r, -r))  # skimage averages inside a 5 px frame; filter once, keep the inside
    mean_first = _gaussian(first)[inner]
    mean_second = _gaussian(second)[inner]
    blur_xx = _gaussian(cv2.multiply(first, first))[inner]
    blur_yy = _gaussian(cv2.multiply(second, second))[inner]
    blur_xy = _gaussian(cv2.multiply(first, second))[inner]
    c1 = (_K1 * data_range) ** 2
    c2 = (_K2 * data_range) ** 2
    mean_product = mean_first * mean_second
    mean_first *= mean_first  # now mu_x^2
    mean_second *= mean_second  # now mu_y^2
    # numerator (2 mu_x mu_y + c1)(2 sigma_xy + c2)
    blur_xy -= mean_product
    blur_xy *= 2
    blur_xy += c2
    numerator = mean_product
    numerator *= 2
    numerator += c1
    numerator *= blur_xy
    # denominator (mu_x^2 + mu_y^2 + c1)(sigma_x^2 + sigma_y^2 + c2)
    blur_xx += blur_yy
    blur_xx -= mean_first
    blur_xx -= mean_second
    blur_xx += c2
    denominator = mean_first
    denominator += mean_second
    denominator += c1
    denominator *= blur_xx
    numerator /= denominator
    if numerator.ndim == 3:
        return float(numerator.reshape(-1, numerator.shape[2]).mean(axis=0, dtype=np.float64).mean())
    return float(numerator.mean(dtype=np.float64))


def image_metrics(image_true: np.ndarray, image_test: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """All per-image metrics of :data:`METRIC_NAMES` for one (ground truth, output, mask) triple; PSNR of
    identical images is :func:`psnr_ceiling` (a perfect output ranks first, and counts in the mean)."""
    psnr = peak_signal_noise_ratio(image_true, image_test)
    return {
        "l1": l1_percent(image_true, image_test),
        "l1_hole": l1_hole_percent(image_true, image_test, mask),
        "psnr": psnr if math.isfinite(psnr) else psnr_ceiling(image_true.size),
        "ssim": structural_similarity(image_true, image_test),
    }


class MetricSet:
    """Running means of the per-image metrics (``update`` per image, ``compute``, ``reset``), kept by a
    :class:`~benchmark.aggregate.CellAccumulator`, the same class a run's ``summary.csv`` comes from.

    Identical images score :func:`psnr_ceiling`, so every PSNR is finite and counts in the mean;
    ``psnr_infinite`` stays for values given to the accumulator directly.
    """

    def __init__(self) -> None:
        self._accumulator = CellAccumulator(METRIC_NAMES)

    def update(self, image_true: np.ndarray, image_test: np.ndarray, mask: np.ndarray) -> dict[str, float]:
        values = image_metrics(image_true, image_test, mask)
        self._accumulator.update(None, values)
        return values

    def compute(self) -> dict[str, float]:
        return self._accumulator.means()

    @property
    def psnr_infinite(self) -> int:
        return self._accumulator.infinite()

    def reset(self) -> None:
        self._accumulator.reset()
