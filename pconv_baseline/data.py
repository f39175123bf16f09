"""Training data: images (random crop + flip) paired with masks from a maskgen dataset, by step number.

Every batch is a pure function of (seed, step, rank): the image and mask indices come from seeded
permutations per epoch, and each sample's crop and flip from a generator seeded by (seed, step, position).
So resuming at step s reproduces exactly the batches an uninterrupted run would have seen, whatever the
number of data-loader workers.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inpaint_core.images import discover_images, load_image
from inpaint_core.dataset import Dataset
from inpaint_core.conventions import hole_to_valid
from inpaint_core.maskio import read_mask
from inpaint_core.seeds import TRAINING_STREAMS, Stream, rng

__all__ = ["TrainData", "split_images", "mask_paths", "validation_masks"]


def split_images(folder: Path, *, val_count: int, seed: int) -> tuple[list[str], list[str]]:
    """(training images, held-out validation images): ``val_count`` images picked by a seeded permutation."""
    images = discover_images(folder)
    if len(images) <= val_count:
        raise ValueError(f"{len(images)} images under {folder} leave none for training after {val_count} for validation")
    order = rng(seed, Stream.IMAGE_SPLIT).permutation(len(images))
    held = {images[i] for i in order[:val_count]}
    return [p for p in images if p not in held], [p for p in images if p in held]


def mask_paths(dataset: Path, split: str, *, allow_test: bool = False) -> list[Path]:
    """Masks of a split of a maskgen dataset.

    A dataset without a ``train`` split is refused for training, unless ``allow_test`` (then its test masks
    are used, with a warning: validation then scores masks the network has trained on).

    Raises:
        ValueError: the split is empty (one line, with what to do).
    """
    masks = Dataset(dataset)
    chosen = [masks.path(r) for r in masks.records(split)]
    if not chosen and split == "train" and allow_test:
        warnings.warn(f"mask dataset {str(dataset)!r} has no training split: training on its test masks "
                      "(--allow-test-masks); validation scores masks seen in training", stacklevel=2)
        chosen = [masks.path(r) for r in masks.records("test")]
    if not chosen and split == "train":
        raise ValueError(f"mask dataset {str(dataset)!r} has no training masks; build one with a training split "
                         "('maskgen build --train-count N'), or give --allow-test-masks to train on its test masks")
    if not chosen:
        raise ValueError(f"mask dataset {str(dataset)!r} has no {split} masks")
    return chosen


def validation_masks(dataset: Path, count: int) -> list[Path]:
    """``count`` masks of the test split, evenly spaced through it: the manifest lists it cell by cell, so
    every (bin, border) cell is represented once ``count`` reaches the number of cells."""
    test = mask_paths(dataset, "test")
    if count >= len(test):
        return test
    picks = np.linspace(0, len(test) - 1, num=count).round().astype(int)
    return [test[i] for i in picks]


@dataclass
class TrainData:
    images_dir: Path
    images: list[str]
    masks: list[Path]
    size: int
    batch_size: int
    seed: int

    streams: tuple[Stream, Stream, Stream] = TRAINING_STREAMS  # image order, mask order, crop

    def _permutation(self, count: int, epoch: int, stream: Stream) -> np.ndarray:
        return rng(self.seed, stream, epoch).permutation(count)

    def indices(self, step: int, position: int) -> tuple[int, int]:
        """(image index, mask index) of sample ``position`` of the global batch at ``step``."""
        flat = step * self.batch_size + position
        image_epoch, image_offset = divmod(flat, len(self.images))
        mask_epoch, mask_offset = divmod(flat, len(self.masks))
        return (int(self._permutation(len(self.images), image_epoch, self.streams[0])[image_offset]),
                int(self._permutation(len(self.masks), mask_epoch, self.streams[1])[mask_offset]))

    def sample(self, step: int, position: int) -> tuple[np.ndarray, np.ndarray]:
        """(image float32 3xHxW in [0, 1], validity mask float32 1xHxW, 1 = known)."""
        import cv2

        image_index, mask_index = self.indices(step, position)
        generator = rng(self.seed, self.streams[2], step, position)
        image = load_image(self.images_dir / self.images[image_index])
        height, width = image.shape[:2]
        scale = self.size / min(height, width) * generator.uniform(1.0, 1.25)
        resized = cv2.resize(image, (max(self.size, round(width * scale)), max(self.size, round(height * scale))),
                             interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
        top = int(generator.integers(resized.shape[0] - self.size + 1))
        left = int(generator.integers(resized.shape[1] - self.size + 1))
        crop = resized[top:top + self.size, left:left + self.size]
        if generator.random() < 0.5:
            crop = crop[:, ::-1]
        hole = read_mask(self.masks[mask_index])
        if hole.shape != (self.size, self.size):
            hole = cv2.resize(hole.astype(np.uint8), (self.size, self.size), interpolation=cv2.INTER_NEAREST) > 0
        image_chw = np.ascontiguousarray(crop.transpose(2, 0, 1), dtype=np.float32) / 255.0
        return image_chw, hole_to_valid(hole)
