#!/usr/bin/env python3
"""Flow variants tried for issue 11 (occlusion F1 on MPI-Sintel), kept as a record: none is in the package.

    python scripts/occlusion_flow_experiments.py --held-out HELDOUT_DIR [--variant dis --variant ...]

For every Sintel case (the tuning cases under ``--data``, the held-out ones under ``--held-out``; layout as
in ``scripts/eval_occlusion_sintel.py``) and every variant it prints the occlusion F1 of the default
occlusion rules (:class:`maskgen.occlusion.OcclusionOptions`) and the forward flow's end-point error on the
pixels that are not occluded (where the case has ground-truth flow), then the means per set. Variants:

* ``dis``: maskgen's default flow (``create_flow("dis")``);
* ``dis-homography``: DIS started from a global homography fitted (RANSAC, 3 px) to SIFT matches (Lowe's
  ratio 0.8), for large camera motion; plain DIS when fewer than 12 matches;
* ``dis-fused``: per pixel, the flow of ``dis`` or ``dis-homography`` whose 9x9 mean cost (photometric
  error, capped at 60, plus the forward-backward error in pixels, capped at 20) is lower (both directions);
* ``dis-densified``: pixels whose DIS flow is unreliable (fails the consistency check, leaves the frame, or
  has no texture: structure-tensor minimum eigenvalue <= 1e-4) get the flow interpolated edge-aware
  (``cv2.ximgproc`` EdgeAwareInterpolator) from the reliable ones on a 6-px grid, then DIS refines it.

The frames are used at full size (1024x436, maskgen's default working size).
"""
from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

FlowPair = tuple[np.ndarray, np.ndarray]


def _gray(frame: np.ndarray) -> np.ndarray:
    from maskgen.flow import _gray

    return _gray(frame)


@functools.cache
def _dis_method() -> Callable[..., np.ndarray]:
    """maskgen's default flow (``create_flow("dis")``), one instance for the whole run."""
    from maskgen.flow import create_flow

    return create_flow("dis")


def _dis(frame_a: np.ndarray, frame_b: np.ndarray, initial: np.ndarray | None = None) -> np.ndarray:
    """maskgen's default DIS; OpenCV starts from ``initial`` when it is given (same size, float32 HxWx2)."""
    return _dis_method()(frame_a, frame_b, initial)


def _sift_matches(frame_a: np.ndarray, frame_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    sift = cv2.SIFT_create(nfeatures=4000)
    keys_a, desc_a = sift.detectAndCompute(_gray(frame_a), None)
    keys_b, desc_b = sift.detectAndCompute(_gray(frame_b), None)
    if desc_a is None or desc_b is None or len(keys_a) < 2 or len(keys_b) < 2:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(desc_a, desc_b, k=2)
    good = [first for first, second in (p for p in pairs if len(p) == 2) if first.distance < 0.8 * second.distance]
    return (np.float32([keys_a[m.queryIdx].pt for m in good]).reshape(-1, 2),
            np.float32([keys_b[m.trainIdx].pt for m in good]).reshape(-1, 2))


def _homography_flow(frame_a: np.ndarray, frame_b: np.ndarray) -> np.ndarray | None:
    import cv2

    points_a, points_b = _sift_matches(frame_a, frame_b)
    if len(points_a) < 12:
        return None
    homography, _ = cv2.findHomography(points_a, points_b, cv2.RANSAC, 3.0)
    if homography is None:
        return None
    height, width = frame_a.shape[:2]
    grid = np.stack(np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)), -1)
    target = cv2.perspectiveTransform(grid.reshape(-1, 1, 2), homography).reshape(height, width, 2)
    return (target - grid).astype(np.float32)


def _dis_homography_one(frame_a: np.ndarray, frame_b: np.ndarray) -> np.ndarray:
    return _dis(frame_a, frame_b, _homography_flow(frame_a, frame_b))


def _fb_error(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    from maskgen.occlusion import warp_by_flow

    return np.linalg.norm(forward + warp_by_flow(backward, forward), axis=2)


def _cost(frame_a: np.ndarray, frame_b: np.ndarray, forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    import cv2

    from maskgen.occlusion import photometric_error

    cost = np.minimum(photometric_error(frame_a, frame_b, forward), 60) + np.minimum(_fb_error(forward, backward), 20)
    return cv2.blur(cost, (9, 9))


def _fuse(frame_a: np.ndarray, frame_b: np.ndarray, candidates: list[FlowPair]) -> FlowPair:
    forwards = np.stack([forward for forward, _ in candidates])
    backwards = np.stack([backward for _, backward in candidates])
    pick_forward = np.stack([_cost(frame_a, frame_b, f, b) for f, b in candidates]).argmin(0)
    pick_backward = np.stack([_cost(frame_b, frame_a, b, f) for f, b in candidates]).argmin(0)
    return (np.take_along_axis(forwards, pick_forward[None, ..., None], 0)[0],
            np.take_along_axis(backwards, pick_backward[None, ..., None], 0)[0])


def _reliable(frame: np.ndarray, forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    import cv2

    from maskgen.occlusion import consistency_violation, leaves_frame

    texture = cv2.cornerMinEigenVal(_gray(frame).astype(np.float32) / 255, 5, 3)
    return ~consistency_violation(forward, backward) & ~leaves_frame(forward) & (texture > 1e-4)


def _densify(frame_a: np.ndarray, frame_b: np.ndarray, forward: np.ndarray, reliable: np.ndarray,
             stride: int = 6) -> np.ndarray:
    import cv2

    height, width = reliable.shape
    ys, xs = np.mgrid[stride // 2:height:stride, stride // 2:width:stride]
    keep = reliable[ys, xs]
    xs, ys = xs[keep], ys[keep]
    if len(xs) < 20:
        return forward
    points_a = np.stack([xs, ys], -1).astype(np.float32)
    points_b = points_a + forward[ys, xs]
    points_b[:, 0] = np.clip(points_b[:, 0], 0, width - 1)
    points_b[:, 1] = np.clip(points_b[:, 1], 0, height - 1)
    interpolator = cv2.ximgproc.createEdgeAwareInterpolator()
    dense = interpolator.interpolate(frame_a, points_a.reshape(-1, 1, 2), frame_b, points_b.reshape(-1, 1, 2))
    return _dis(frame_a, frame_b, dense.astype(np.float32))


def _variant_dis(frame_a: np.ndarray, frame_b: np.ndarray) -> FlowPair:
    from maskgen.flow import forward_backward

    return forward_backward(_dis_method(), frame_a, frame_b)


def _variant_homography(frame_a: np.ndarray, frame_b: np.ndarray) -> FlowPair:
    return _dis_homography_one(frame_a, frame_b), _dis_homography_one(frame_b, frame_a)


def _variant_fused(frame_a: np.ndarray, frame_b: np.ndarray) -> FlowPair:
    return _fuse(frame_a, frame_b, [_variant_dis(frame_a, frame_b), _variant_homography(frame_a, frame_b)])


def _variant_densified(frame_a: np.ndarray, frame_b: np.ndarray) -> FlowPair:
    forward, backward = _variant_dis(frame_a, frame_b)
    return (_densify(frame_a, frame_b, forward, _reliable(frame_a, forward, backward)),
            _densify(frame_b, frame_a, backward, _reliable(frame_b, backward, forward)))


VARIANTS: dict[str, Callable[[np.ndarray, np.ndarray], FlowPair]] = {
    "dis": _variant_dis,
    "dis-homography": _variant_homography,
    "dis-fused": _variant_fused,
    "dis-densified": _variant_densified,
}


def _read_flo(path: Path) -> np.ndarray:
    with open(path, "rb") as handle:
        if np.frombuffer(handle.read(4), np.float32)[0] != np.float32(202021.25):
            raise ValueError(f"{path} is not a Middlebury .flo file")
        width, height = np.frombuffer(handle.read(8), np.int32)
        return np.frombuffer(handle.read(), np.float32).reshape(height, width, 2)


def main() -> int:
    import cv2

    from maskgen.evaluate import f1_iou, find_sintel_cases, load_case
    from maskgen.occlusion import occlusion_and_disocclusion

    default = Path(os.environ.get("MASKGEN_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=default / "flow_gt" / "sintel")
    parser.add_argument("--held-out", type=Path, action="append", default=[])
    parser.add_argument("--variant", action="append", choices=sorted(VARIANTS))
    args = parser.parse_args()
    variants = args.variant or list(VARIANTS)
    cv2.setNumThreads(1)
    test_scenes = {path.name for path in args.data.iterdir() if path.is_dir()}
    scores: dict[tuple[str, str, str, str], float] = {}
    print(f"{'set':<9}{'pass':<7}{'case':<17}" + "".join(f"{name + ' F1/EPE/s':>28}" for name in variants))
    for group, root in [("tuning", args.data)] + [("held-out", folder) for folder in args.held_out]:
        for render_pass in ("final", "clean"):
            for case in find_sintel_cases(root, render_pass=render_pass):
                if group == "held-out" and case.scene in test_scenes:
                    continue  # another frame of a tuning scene: not held out
                frames, truth = load_case(case)
                flo = case.occlusion.parents[1] / "flow" / f"{case.occlusion.stem}.flo"
                line = f"{group:<9}{render_pass:<7}{case.name:<17}"
                for name in variants:
                    started = time.perf_counter()
                    forward, backward = VARIANTS[name](frames[0], frames[1])
                    seconds = time.perf_counter() - started
                    occluded, _ = occlusion_and_disocclusion(forward, backward, frame_a=frames[0], frame_b=frames[1])
                    f1 = f1_iou(occluded, truth)[0]
                    epe = (float(np.linalg.norm(forward - _read_flo(flo), axis=2)[~truth].mean())
                           if flo.is_file() else float("nan"))
                    scores[(group, render_pass, case.name, name)] = f1
                    line += f"{f1:>12.3f}{epe:>8.1f}{seconds:>8.1f}"
                print(line, flush=True)
    print("mean F1 over cases")
    for group in ("tuning", "held-out"):
        for render_pass in ("final", "all"):
            line = f"{group:<9}{render_pass:<7}"
            for name in variants:
                values = [f1 for (g, p, _, variant), f1 in scores.items()
                          if g == group and render_pass in (p, "all") and variant == name]
                line += f"{f'({len(values)})':>8}{np.mean(values) if values else float('nan'):>20.3f}"
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
