"""The scoring protocol at the model boundary, shared by the runner and the output sources.

* :func:`masked_input`: what the model sees, the image with hole pixels set to 0;
* :func:`check_output`: the model's answer must be a uint8 RGB image of the input's shape
  (:func:`inpaint_core.conventions.check_image`, messages naming the ``output``);
* :func:`composite`: the model output in the holes, the original pixels elsewhere (what is scored).

:data:`PROTOCOL` is what ``run.json`` records about it (and what the protocol key hashes).
"""
from __future__ import annotations

import numpy as np

from inpaint_core.conventions import check_image

__all__ = ["PROTOCOL", "masked_input", "check_output", "composite"]

PROTOCOL = {
    "input": "hole pixels set to 0; mask bool, True = hole",
    "composite": "model output in the holes, original pixels elsewhere",
    "metrics": "l1 %: MAE/255*100; l1_hole: over hole pixels; psnr: data range 255, identical images "
               "10*log10(255^2*3*H*W) (the smallest error's PSNR), not inf; ssim: Gaussian sigma 1.5, "
               "11 taps, population covariance, RGB mean (= skimage gaussian_weights=True)",
    "version": 2,
}


def masked_input(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The model's input: the image with hole pixels set to 0."""
    result = image.copy()
    result[mask] = 0
    return result


def check_output(output: object, shape: tuple[int, ...]) -> np.ndarray:
    """The output as a uint8 array of ``shape``, or ValueError saying what is wrong with it
    (``output is list, expected a numpy uint8 array``, ``output dtype float64 with NaN values, expected
    uint8``, ``output shape (100, 512, 3), expected (512, 512, 3)``)."""
    return check_image(output, shape=shape, name="output")


def composite(output: np.ndarray, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``output`` in the holes (``mask`` True), ``image`` elsewhere."""
    return np.where(mask[..., None], output, image)
