"""Occlusion accuracy against ground truth (MPI-Sintel), used by ``scripts/eval_occlusion_sintel.py``."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from inpaint_core.images import load_image
from inpaint_core.maskio import read_mask

from .extract import ExtractOptions
from .flow import FlowMethod, forward_backward
from .occlusion import OcclusionOptions, occlusion_and_disocclusion
from .video import resize_frame, working_shape

__all__ = ["f1_iou", "SintelCase", "find_sintel_cases", "load_case", "evaluate_case", "evaluate_case_variants"]


def f1_iou(predicted: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """F1 and IoU of a predicted bool mask against the true one (1.0 each when both are empty)."""
    true_positive = int(np.count_nonzero(predicted & truth))
    false_positive = int(np.count_nonzero(predicted & ~truth))
    false_negative = int(np.count_nonzero(~predicted & truth))
    if true_positive + false_positive + false_negative == 0:
        return 1.0, 1.0
    f1 = 2 * true_positive / (2 * true_positive + false_positive + false_negative)
    iou = true_positive / (true_positive + false_positive + false_negative)
    return f1, iou


@dataclass(frozen=True)
class SintelCase:
    scene: str
    frame: int
    image_a: Path
    image_b: Path
    occlusion: Path

    @property
    def name(self) -> str:
        return f"{self.scene}/{self.frame:04d}"


def find_sintel_cases(root: str | Path, *, render_pass: str = "final") -> list[SintelCase]:
    """Every ``<scene>/gt/occlusions/frame_T.png`` under ``root`` with frames T and T+1 of the pass."""
    root = Path(root)
    cases = []
    for truth in sorted(root.glob("*/gt/occlusions/frame_*.png")):
        scene_dir = truth.parents[2]
        frame = int(truth.stem.split("_")[1])
        image_a = scene_dir / render_pass / f"frame_{frame:04d}.png"
        image_b = scene_dir / render_pass / f"frame_{frame + 1:04d}.png"
        if image_a.is_file() and image_b.is_file():
            cases.append(SintelCase(scene_dir.name, frame, image_a, image_b, truth))
    return cases


def load_case(case: SintelCase) -> tuple[list[np.ndarray], np.ndarray]:
    """The case's two frames (uint8 RGB HxWx3, full size) and its true occlusion mask (bool HxW, Sintel's
    white = occluded).

    Raises:
        ValueError: a file is missing or not a readable image.
    """
    frames = [load_image(path) for path in (case.image_a, case.image_b)]
    return frames, read_mask(case.occlusion)


def evaluate_case(case: SintelCase, options: ExtractOptions = ExtractOptions()) -> tuple[float, float]:
    """F1 and IoU of the occlusion mask the extraction pipeline gives for a Sintel pair.

    The frames are resized to the working size as in ``maskgen build``; the mask is resized back to the
    ground truth's size (nearest neighbour) before scoring.
    """
    return evaluate_case_variants(case, options, [options.occlusion])[0]


def evaluate_case_variants(case: SintelCase, options: ExtractOptions, variants: Sequence[OcclusionOptions],
                           flow: FlowMethod | None = None) -> list[tuple[float, float]]:
    """F1 and IoU of the occlusion mask for each of ``variants``, from one flow computation.

    As :func:`evaluate_case` (flow method and working size from ``options``), one (F1, IoU) per variant.
    ``flow``: the method ``options.make_flow()`` gives, made once by a caller scoring many cases (else made
    here).
    """
    import cv2

    frames, truth = load_case(case)
    height, width = truth.shape
    work = working_shape(height, width, options.work_size)
    frames = [resize_frame(frame, work) for frame in frames]
    forward, backward = forward_backward(flow if flow is not None else options.make_flow(), frames[0], frames[1])
    scores = []
    for occlusion in variants:
        occluded, _ = occlusion_and_disocclusion(forward, backward, occlusion, frame_a=frames[0], frame_b=frames[1])
        if occluded.shape != truth.shape:
            occluded = cv2.resize(occluded.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST) > 0
        scores.append(f1_iou(occluded, truth))
    return scores
