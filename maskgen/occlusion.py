"""Occlusion and disocclusion from forward and backward flow (Sundaram, Brox & Keutzer, ECCV 2010).

Convention: masks are ``bool`` HxW, ``True`` = occluded (a hole). Flows are float32 HxWx2 (dx, dy) in
pixels, ``forward`` carrying frame A onto frame B and ``backward`` frame B onto frame A.

A pixel ``x`` of frame A is occluded in B when the backward flow at its target does not bring it back:

    |w_f + w_b(x + w_f)|^2 > alpha_1 (|w_f|^2 + |w_b(x + w_f)|^2) + alpha_2     (alpha_1 = 0.01, alpha_2 = 0.5)

Sundaram et al. also mark motion boundaries, where the flow gradient is large,

    |grad u|^2 + |grad v|^2 > beta_1 |w_f|^2 + beta_2                           (beta_1 = 0.01, beta_2 = 0.002)

and we can mark every pixel whose target ``x + w_f`` leaves the frame. Two further cues are on by default;
with the consistency check they vote, and a pixel is occluded where ``min_votes`` (2) of the three agree
(README, "Occlusion accuracy"):

* range map (Wang et al., CVPR 2018): splat every pixel of B along the backward flow into A; pixels of A
  that receive less than ``range_threshold`` of a pixel's weight have no pre-image in B, so are occluded;
* photometric error: the mean absolute RGB difference between A(x) and B(x + w_f) exceeds
  ``photometric_threshold`` grey levels (needs the frames).

Pixels whose target leaves the frame are judged by the same vote (MPI-Sintel's ground truth counts most
of them as occluded when the motion is large); ``out_of_frame`` marks them all, ``exclude_out_of_frame``
none.

After the clean-up, a confidence check runs on whole hole regions: a region is kept only where at least
``min_evidence`` (2 %) of its pixels show photometric evidence (a colour change above
``photometric_threshold`` along the flow). On a textureless surface (a white tabletop) the flow is
unconstrained, so the consistency check and the range map fire on flow noise, but the colour does not
change, whatever the flow: those regions carry no evidence and are dropped, while a real occlusion region
borders a moving textured object and carries some.

The disocclusion mask (pixels of B that have no source in A) is the same test with the two flows (and
frames) swapped; it lives in frame B's coordinates.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from inpaint_core.cli import cli_help

__all__ = [
    "OcclusionOptions",
    "warp_by_flow",
    "consistency_violation",
    "motion_boundaries",
    "leaves_frame",
    "occlusion_mask",
    "range_map",
    "photometric_error",
    "clean_mask",
    "keep_supported",
    "occlusion_and_disocclusion",
]


@dataclass(frozen=True)
class OcclusionOptions:
    """Switches and thresholds of the occlusion test and of the clean-up.

    Attributes:
        consistency: apply the forward-backward consistency check.
        motion_boundaries: mark motion boundaries.
        out_of_frame: mark every pixel whose flow target leaves the frame. Off by default: it makes
            straight bands along the frame edge under camera motion.
        exclude_out_of_frame: never mark a pixel whose flow target leaves the frame (the
            earlier default). Off by default: such pixels are judged by the cues like any other, since
            MPI-Sintel's ground truth counts 87-99 % of them as occluded where the motion is large
            (market_5, ambush_*, temple_3), 32-55 % in cave_2 and cave_4, almost none for motions of a pixel
            or two; excluding them cost 0.07 F1 on the held-out final-pass cases
            (``scripts/eval_occlusion_sintel.py``).
        alpha1, alpha2: consistency thresholds (Sundaram et al.: 0.01 and 0.5).
        range_map: mark pixels with no pre-image under the backward flow (range-map test).
        photometric: mark pixels whose colour changes by more than ``photometric_threshold`` along the flow.
        beta1, beta2: motion-boundary thresholds (Sundaram et al.: 0.01 and 0.002). Off by default:
            on MPI-Sintel they cost F1 (textured surfaces have flow gradients without occlusion).
        min_votes: a pixel is occluded when at least this many of the enabled cues (consistency, range
            map, photometric) agree (capped at the number enabled). Two of three by default: each cue alone
            marks a band along shear boundaries where the flow is smooth across the edge, and they rarely
            agree there (synthetic IoU 0.48 -> 0.89, Sintel F1 0.411 -> 0.409). ``min_votes=1`` with the
            range map and photometric cue off is the plain Sundaram et al. check.
        range_threshold: splatted weight under which a pixel counts as having no pre-image.
        photometric_threshold: mean absolute RGB difference (0-255 scale) above which a pixel is marked.
        min_area: connected hole regions smaller than this (pixels, at the working size) are removed as speckles.
        close_size: diameter of the elliptic closing that fills small gaps (0 = no closing).
        open_size: diameter of the elliptic opening applied before ``min_area`` (0 = none); breaks
            one-pixel bridges and removes isolated pixels.
        min_evidence: confidence check on whole regions after the clean-up: a hole region (8-connected)
            is kept only when at least this fraction of its pixels changes colour by more than
            ``photometric_threshold`` along the flow (0 = no check; needs the frames). Drops the regions
            that flow noise makes on textureless surfaces. 0.02 was the best of 0.02, 0.05, 0.1 and 0.2 on
            the Sintel cases the tests use (the tuning set; held-out scenes: README).
    """

    consistency: bool = True
    motion_boundaries: bool = field(default=False, metadata=cli_help("Mark motion boundaries (Sundaram et al.)."))
    out_of_frame: bool = field(default=False, metadata=cli_help("Mark pixels that leave the frame."))
    exclude_out_of_frame: bool = field(default=False,
                                       metadata=cli_help("Never mark pixels that leave the frame."))
    range_map: bool = field(default=True, metadata=cli_help("Range-map occlusion cue."))
    photometric: bool = field(default=True, metadata=cli_help("Photometric occlusion cue."))
    alpha1: float = 0.01
    alpha2: float = 0.5
    beta1: float = 0.01
    beta2: float = 0.002
    min_votes: int = 2
    range_threshold: float = 0.5
    photometric_threshold: float = 10.0
    min_area: int = 40
    close_size: int = 5
    open_size: int = 0
    min_evidence: float = field(default=0.02, metadata=cli_help(
        "Keep a hole region only if this fraction of its pixels changes colour along the flow (0 = off)."))

    def __post_init__(self) -> None:
        if self.out_of_frame and self.exclude_out_of_frame:
            raise ValueError("out_of_frame and exclude_out_of_frame exclude each other: choose one")
        if not 0 <= self.min_evidence <= 1:
            raise ValueError(f"min_evidence must be in [0, 1], got {self.min_evidence}")

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _check_flow(flow: np.ndarray, name: str) -> None:
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"{name} must have shape (H, W, 2), got {flow.shape}")


def warp_by_flow(field: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample ``field`` at ``x + flow(x)`` with bilinear interpolation (border values replicated).

    Args:
        field: HxW or HxWxC array defined on the target frame.
        flow: HxWx2 float flow from the source frame to the target frame.

    Returns:
        float32 array of ``field``'s shape, on the source frame's grid.
    """
    import cv2

    _check_flow(flow, "flow")
    height, width = flow.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    map_x = grid_x + flow[..., 0]
    map_y = grid_y + flow[..., 1]
    return cv2.remap(np.ascontiguousarray(field, dtype=np.float32), map_x, map_y,
                     interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def consistency_violation(forward: np.ndarray, backward: np.ndarray, *, alpha1: float = 0.01,
                          alpha2: float = 0.5) -> np.ndarray:
    """Forward-backward consistency test: ``True`` where the round trip A -> B -> A does not close."""
    _check_flow(forward, "forward")
    _check_flow(backward, "backward")
    if forward.shape != backward.shape:
        raise ValueError(f"forward {forward.shape} and backward {backward.shape} flows differ in shape")
    backward_at_target = warp_by_flow(backward, forward)
    round_trip = forward + backward_at_target
    lhs = np.square(round_trip).sum(axis=2)
    rhs = alpha1 * (np.square(forward).sum(axis=2) + np.square(backward_at_target).sum(axis=2)) + alpha2
    return lhs > rhs


def motion_boundaries(flow: np.ndarray, *, beta1: float = 0.01, beta2: float = 0.002) -> np.ndarray:
    """``True`` where |grad u|^2 + |grad v|^2 > beta1 |w|^2 + beta2 (central differences)."""
    _check_flow(flow, "flow")
    du_dy, du_dx = np.gradient(flow[..., 0])
    dv_dy, dv_dx = np.gradient(flow[..., 1])
    gradient_energy = du_dx**2 + du_dy**2 + dv_dx**2 + dv_dy**2
    return gradient_energy > beta1 * np.square(flow).sum(axis=2) + beta2


def leaves_frame(flow: np.ndarray) -> np.ndarray:
    """``True`` where the target ``x + flow(x)`` lies outside the frame."""
    _check_flow(flow, "flow")
    height, width = flow.shape[:2]
    target_x = np.arange(width, dtype=np.float32)[None, :] + flow[..., 0]
    target_y = np.arange(height, dtype=np.float32)[:, None] + flow[..., 1]
    return (target_x < 0) | (target_x > width - 1) | (target_y < 0) | (target_y > height - 1)


def range_map(backward: np.ndarray) -> np.ndarray:
    """How much of B lands on each pixel of A along ``backward`` (bilinear splatting; 1 = one pixel).

    Args:
        backward: HxWx2 flow from frame B to frame A.

    Returns:
        float64 HxW map on frame A's grid; values near 0 mark pixels of A that no pixel of B maps to.
    """
    _check_flow(backward, "backward")
    height, width = backward.shape[:2]
    target_x = np.arange(width, dtype=np.float32)[None, :] + backward[..., 0]
    target_y = np.arange(height, dtype=np.float32)[:, None] + backward[..., 1]
    x0 = np.floor(target_x)
    y0 = np.floor(target_y)
    frac_x = target_x - x0
    frac_y = target_y - y0
    x0 = x0.astype(np.int64)
    y0 = y0.astype(np.int64)
    counts = np.zeros(height * width, dtype=np.float64)
    for dx, dy, weight in ((0, 0, (1 - frac_x) * (1 - frac_y)), (1, 0, frac_x * (1 - frac_y)),
                           (0, 1, (1 - frac_x) * frac_y), (1, 1, frac_x * frac_y)):
        xs = x0 + dx
        ys = y0 + dy
        inside = (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height)
        counts += np.bincount((ys[inside] * width + xs[inside]), weights=weight[inside], minlength=height * width)
    return counts.reshape(height, width)


def photometric_error(frame_a: np.ndarray, frame_b: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Mean absolute difference over channels between A(x) and B(x + forward(x)), float32 HxW (0-255)."""
    if frame_a.shape != frame_b.shape or frame_a.shape[:2] != forward.shape[:2]:
        raise ValueError(f"frames {frame_a.shape}, {frame_b.shape} and flow {forward.shape} differ in size")
    warped = warp_by_flow(frame_b, forward)
    difference = np.abs(warped - frame_a.astype(np.float32))
    return difference.mean(axis=2) if difference.ndim == 3 else difference


def clean_mask(mask: np.ndarray, *, min_area: int = 40, close_size: int = 5, open_size: int = 0) -> np.ndarray:
    """Remove speckles and close small gaps in a boolean mask.

    Order: opening (``open_size``), removal of connected regions (8-connectivity) smaller than
    ``min_area`` pixels, then an elliptic closing of diameter ``close_size``. Returns a new bool array.
    """
    import cv2

    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D (H, W), got shape {mask.shape}")
    image = mask.astype(np.uint8)
    if open_size > 1:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (open_size, open_size))
        image = cv2.morphologyEx(image, cv2.MORPH_OPEN, kernel)
    if min_area > 1 and image.any():
        count, labels, stats, _ = cv2.connectedComponentsWithStats(image, connectivity=8)
        keep = stats[:, cv2.CC_STAT_AREA] >= min_area
        keep[0] = False
        image = keep[labels].astype(np.uint8)
    if close_size > 1 and image.any():
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (close_size, close_size))
        # pad so that the closing does not glue holes to the frame edge
        pad = close_size
        padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        image = cv2.morphologyEx(padded, cv2.MORPH_CLOSE, kernel)[pad:-pad, pad:-pad]
    return image.astype(bool)


def keep_supported(mask: np.ndarray, evidence: np.ndarray, *, min_fraction: float) -> np.ndarray:
    """Keep the 8-connected regions of ``mask`` where at least ``min_fraction`` of the pixels are ``evidence``.

    Args:
        mask: bool HxW hole mask (``True`` = hole).
        evidence: bool HxW, ``True`` where a pixel gives evidence for a hole (a colour change along the flow).
        min_fraction: in [0, 1]; 0 keeps every region.

    Returns:
        A new bool HxW mask, a subset of ``mask``.
    """
    import cv2

    if mask.shape != evidence.shape or mask.ndim != 2:
        raise ValueError(f"mask {mask.shape} and evidence {evidence.shape} must be the same 2-D shape")
    if min_fraction <= 0 or not mask.any():
        return mask.copy()
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    flat = labels.ravel()
    area = np.bincount(flat, minlength=count)
    supported = np.bincount(flat, weights=evidence.ravel().astype(np.float64), minlength=count)
    keep = supported >= min_fraction * area
    keep[0] = False
    return keep[labels]


def _raw_mask(forward: np.ndarray, backward: np.ndarray, options: OcclusionOptions,
              frame_a: np.ndarray | None, frame_b: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """The voted mask before clean-up and the photometric evidence (``None`` without both frames)."""
    votes = np.zeros(forward.shape[:2], dtype=np.uint8)
    cues = 0
    evidence = None
    if options.consistency:
        votes += consistency_violation(forward, backward, alpha1=options.alpha1, alpha2=options.alpha2)
        cues += 1
    if options.range_map:
        votes += range_map(backward) < options.range_threshold
        cues += 1
    if frame_a is not None and frame_b is not None and (options.photometric or options.min_evidence > 0):
        evidence = photometric_error(frame_a, frame_b, forward) > options.photometric_threshold
        if options.photometric:
            votes += evidence
            cues += 1
    mask = votes >= max(1, min(options.min_votes, cues)) if cues else np.zeros(forward.shape[:2], dtype=bool)
    if options.motion_boundaries:
        mask |= motion_boundaries(forward, beta1=options.beta1, beta2=options.beta2)
    if options.out_of_frame:
        mask |= leaves_frame(forward)
    elif options.exclude_out_of_frame:
        mask &= ~leaves_frame(forward)
    return mask, evidence


def occlusion_mask(forward: np.ndarray, backward: np.ndarray,
                   options: OcclusionOptions = OcclusionOptions(), *,
                   frame_a: np.ndarray | None = None, frame_b: np.ndarray | None = None) -> np.ndarray:
    """Pixels of frame A occluded in frame B (before clean-up and the region check), from ``forward``
    (A->B) and ``backward``.

    The photometric cue is used only when both frames are given.
    """
    return _raw_mask(forward, backward, options, frame_a, frame_b)[0]


def occlusion_and_disocclusion(forward: np.ndarray, backward: np.ndarray,
                               options: OcclusionOptions = OcclusionOptions(), *,
                               frame_a: np.ndarray | None = None,
                               frame_b: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cleaned occlusion mask (frame A's grid) and disocclusion mask (frame B's grid).

    Each raw mask is cleaned (:func:`clean_mask`), then, when both frames are given and
    ``options.min_evidence > 0``, only its regions with photometric support are kept (:func:`keep_supported`).
    """
    cleaned = []
    for first, second, image_first, image_second in ((forward, backward, frame_a, frame_b),
                                                     (backward, forward, frame_b, frame_a)):
        raw, evidence = _raw_mask(first, second, options, image_first, image_second)
        mask = clean_mask(raw, min_area=options.min_area, close_size=options.close_size,
                          open_size=options.open_size)
        if evidence is not None and options.min_evidence > 0:
            mask = keep_supported(mask, evidence, min_fraction=options.min_evidence)
        cleaned.append(mask)
    return cleaned[0], cleaned[1]
