"""Small synthetic inputs for the benchmark tests: a mask dataset with one analytic mask per cell, photos."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from inpaint_core.buckets import CELLS
from maskgen.layout import import_masks
from inpaint_core.maskio import write_mask

SIZE = 512


def cell_mask(bin_index: int, border: str, *, size: int = SIZE, variant: int = 0) -> np.ndarray:
    """A rectangle of about the middle ratio of the bin; B: centred, N: touching the left edge."""
    low, high = (0.01, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)[bin_index:bin_index + 2]
    target = (low + high) / 2 + 0.01 * variant
    height = 400
    width = int(round(target * size * size / height))
    mask = np.zeros((size, size), dtype=bool)
    top = (size - height) // 2
    left = (size - width) // 2 if border == "B" else 0
    mask[top:top + height, left:left + width] = True
    return mask


def make_mask_dataset(root: Path, *, per_cell: int = 1, cells: tuple[str, ...] | None = None) -> Path:
    """A dataset of ``per_cell`` masks in every cell (or only in ``cells``)."""
    source = root / "mask_source"
    for cell in CELLS if cells is None else [c for c in CELLS if c.name in cells]:
        for variant in range(per_cell):
            write_mask(source / f"{cell.name}_{variant}.png", cell_mask(cell.bin_index, cell.border, variant=variant))
    import_masks(source, root / "masks", layout="folder", polarity="hole-white")
    return root / "masks"


def make_images(root: Path, count: int = 3) -> Path:
    import cv2

    folder = root / "images"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    for index in range(count):
        noise = rng.uniform(0, 255, size=(300, 400, 3)).astype(np.float32)
        image = np.clip(cv2.GaussianBlur(noise, (0, 0), 6.0) * 3 - 250, 0, 255).astype(np.uint8)
        cv2.imwrite(str(folder / f"photo_{index}.png"), image)
    return folder


MISBEHAVING_MODELS = '''
import os
import time

import numpy as np


class WrongShape:
    name = "wrong-shape"
    def __call__(self, image, mask):
        return image[:100]


class NaNFloat:
    name = "nan-float"
    def __call__(self, image, mask):
        return np.full(image.shape, np.nan)


class RaisesOnLargeHoles:
    name = "raises"
    def __call__(self, image, mask):
        if mask.mean() > 0.3:
            raise RuntimeError("out of memory (simulated)")
        return image


class HangsOnLargeHoles:
    name = "hangs"
    def __call__(self, image, mask):
        if mask.mean() > 0.5:
            time.sleep(60)
        return image


class DiesOnLargeHoles:
    name = "dies"
    def __call__(self, image, mask):
        if mask.mean() > 0.5:
            os._exit(3)
        return image


class Grey:
    name = "grey"
    def __call__(self, image, mask):
        return np.full_like(image, 128)
'''

MEAN_FILL_COMMAND = '''
import sys
from pathlib import Path

import cv2
import numpy as np

inputs, masks, outputs = (Path(a) for a in sys.argv[1:4])
for path in sorted(inputs.glob("*.png")):
    image = cv2.imread(str(path))
    mask = cv2.imread(str(masks / path.name), cv2.IMREAD_GRAYSCALE) > 127
    image[mask] = np.rint(image[~mask].mean(axis=0)).astype(np.uint8)
    cv2.imwrite(str(outputs / path.name), image)
'''

TORCH_MODELS = '''
import numpy as np
import torch


class TorchMeanFill:
    """Holes filled with the mean colour of the known pixels, on torch batches."""

    name = "torch-mean-fill"

    def inpaint_batch(self, images, masks):
        known = 1 - masks
        mean = (images * known).sum(dim=(2, 3), keepdim=True) / known.sum(dim=(2, 3), keepdim=True).clamp(min=1)
        return images * known + mean * masks

    def __call__(self, image, mask):
        images = torch.from_numpy(image[None]).permute(0, 3, 1, 2).float() / 255
        masks = torch.from_numpy(mask[None, None]).float()
        result = self.inpaint_batch(images, masks)[0]
        return result.clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).numpy()


class TorchNaNSecond:
    """The second image of every batch comes back as NaN."""

    name = "torch-nan"

    def inpaint_batch(self, images, masks):
        result = images.clone()
        if result.shape[0] > 1:
            result[1] = float("nan")
        return result

    def __call__(self, image, mask):
        return image
'''
