"""Per-clip extraction: frame pairs -> forward/backward flow -> occlusion and disocclusion masks.

One clip is one unit of work with no shared state, so clips run in any process in any order. The result
(:class:`ClipMasks`) holds the cleaned raw masks at the working size as PNG bytes (small, and memory does
not grow with the clip beyond them) and is cached on disk, so an interrupted build does not redo a clip.
"""
from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .flow import FlowMethod, FlowOptionError, create_flow, forward_backward
from inpaint_core.cli import cli_help
from inpaint_core.files import atomic_write_bytes, sha256_file
from inpaint_core.maskio import encode_mask_png
from .occlusion import OcclusionOptions, occlusion_and_disocclusion
from .video import Clip, ClipError, iter_frames

__all__ = ["ExtractOptions", "RawMask", "ClipMasks", "extract_clip", "load_cached", "pair_count", "save_cached"]

EXTRACT_FORMAT = 1  # bump when the extraction changes its output for the same options


@dataclass(frozen=True)
class ExtractOptions:
    """How raw masks are taken from a clip.

    Attributes:
        flow: flow method (see :func:`maskgen.flow.list_flows`).
        work_size: longer side of the frames for flow, in pixels (frames are never upscaled).
        step: frame gap k of a pair (t, t + k).
        stride: distance between the first frames of consecutive pairs.
        max_pairs: at most this many pairs per clip (0 = no limit).
        occlusion: thresholds, cues and clean-up.
        min_ratio, max_ratio: raw masks with a hole ratio outside [min_ratio, max_ratio] are dropped
            (too little motion; or a cut / flow failure covering most of the frame).
        dedupe_iou: a raw mask whose IoU with the last kept mask of the same kind (occlusion or
            disocclusion) of the clip reaches this value is a near-duplicate and is dropped.
        flow_weights: weights file of the flow method (its ``weights`` option), made absolute; ``None`` for
            methods without learned weights.
        flow_weights_sha256: the file's sha256, computed when not given. It is part of the options, so of
            the recorded options and of the cache keys: a changed file is never mistaken for the old one, and
            a worker refuses a file whose content no longer matches (:meth:`make_flow`).
    """

    flow: str = field(default="dis", metadata=cli_help("Flow method: a name from 'maskgen flows' or module:factory."))
    flow_weights: str | None = field(default=None, metadata=cli_help(
        "Weights file of a learned flow method (raft-large, raft-small: torchvision's RAFT files); "
        "recorded with its sha256."))
    flow_weights_sha256: str | None = None
    work_size: int = field(default=1024, metadata=cli_help("Longer frame side for flow (never upscaled)."))
    step: int = field(default=1, metadata=cli_help("Frame gap k of a pair (t, t+k)."))
    stride: int = field(default=4, metadata=cli_help("Frames between the starts of consecutive pairs."))
    max_pairs: int = field(default=0, metadata=cli_help("At most this many pairs per clip (0 = all)."))
    occlusion: OcclusionOptions = field(default_factory=OcclusionOptions)
    min_ratio: float = 0.002
    max_ratio: float = 0.7
    dedupe_iou: float = 0.6

    def __post_init__(self) -> None:
        for name in ("work_size", "step", "stride"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_pairs < 0:
            raise ValueError(f"max_pairs must be >= 0, got {self.max_pairs}")
        if not 0 <= self.min_ratio < self.max_ratio <= 1:
            raise ValueError(f"need 0 <= min_ratio < max_ratio <= 1, got {self.min_ratio}, {self.max_ratio}")
        if self.flow_weights is None:
            if self.flow_weights_sha256 is not None:
                raise ValueError("flow_weights_sha256 is given without flow_weights")
            return
        path = Path(self.flow_weights).expanduser().absolute()
        if not path.is_file():
            raise ValueError(f"flow weights file (--flow-weights) {self.flow_weights!r} "
                             f"{'is not a file' if path.exists() else 'does not exist'}")
        object.__setattr__(self, "flow_weights", str(path))
        if self.flow_weights_sha256 is None:
            object.__setattr__(self, "flow_weights_sha256", sha256_file(path))

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def make_flow(self) -> FlowMethod:
        """The flow method, given ``flow_weights`` as its ``weights`` option when set.

        Raises:
            ValueError: the method takes no weights (or does not report ``weights_sha256``, the sha256 of
                what it loaded), or the file's content is no longer the one these options recorded.
        """
        if self.flow_weights is None:
            return create_flow(self.flow)
        refusal = (f"flow method {self.flow!r} takes no weights file (--flow-weights is for learned methods: "
                   "raft-large, raft-small)")
        try:
            method = create_flow(self.flow, weights=self.flow_weights)
        except FlowOptionError as error:
            if error.option == "weights":
                raise ValueError(refusal) from None
            raise
        loaded = getattr(method, "weights_sha256", None)
        if not loaded:
            raise ValueError(refusal + " (a method that loads weights sets weights_sha256 to the sha256 of the file)")
        if loaded != self.flow_weights_sha256:
            raise ValueError(f"flow weights file {self.flow_weights!r} changed: sha256 {loaded}, these options "
                             f"were made with {self.flow_weights_sha256}")
        return method


@dataclass(frozen=True)
class RawMask:
    """A cleaned occlusion (on frame_a) or disocclusion (on frame_b) mask at the working size."""

    frame_a: int
    frame_b: int
    source: str  # "occlusion" | "disocclusion"
    hole_ratio: float
    png: bytes

    def decode(self) -> np.ndarray:
        import cv2

        return cv2.imdecode(np.frombuffer(self.png, dtype=np.uint8), cv2.IMREAD_GRAYSCALE) > 0


@dataclass
class ClipMasks:
    """Everything a clip gave: its raw masks and counts, or the reason it gave nothing."""

    clip_id: str
    sha256: str
    frames: int = 0
    pairs: int = 0
    shape: tuple[int, int] = (0, 0)
    masks: list[RawMask] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    unreadable_frames: list[int] = field(default_factory=list)
    error: str | None = None
    retry: bool = False  # the error was not the clip's content (a flow plug-in's exception): never cached

    def summary(self) -> dict[str, object]:
        return {
            "clip": self.clip_id, "sha256": self.sha256, "frames": self.frames, "pairs": self.pairs,
            "working_shape": list(self.shape), "raw_masks": len(self.masks), "dropped": dict(self.dropped),
            "unreadable_frames": list(self.unreadable_frames), "error": self.error,
        }


def _iou(first: np.ndarray, second: np.ndarray) -> float:
    union = np.count_nonzero(first | second)
    return np.count_nonzero(first & second) / union if union else 1.0


def pair_count(frames: int, options: ExtractOptions) -> int:
    """The frame pairs (t, t + step) a clip of ``frames`` frames gives (before unreadable frames)."""
    pairs = (frames - 1 - options.step) // options.stride + 1 if frames > options.step else 0
    return min(pairs, options.max_pairs) if options.max_pairs else pairs


def extract_clip(clip: Clip, options: ExtractOptions, *, sha256: str = "",
                 on_pair: Callable[[], None] | None = None) -> ClipMasks:
    """Raw masks of one clip. Never raises for a bad clip: the reason goes to ``ClipMasks.error``.

    A :class:`ClipError` (the clip itself cannot be used) is final; any other exception (a flow plug-in
    that fails, out of memory, a file that cannot be read) sets ``ClipMasks.retry``: the caller must not
    cache that result. ``on_pair`` is called once per frame pair, used or skipped (progress).
    """
    result = ClipMasks(clip.clip_id, sha256)
    try:
        _extract_into(result, clip, options, on_pair or (lambda: None))
    except ClipError as exc:
        result.error = str(exc)
    except Exception as exc:  # a decoder or flow failure on one clip must not stop the build
        result.error = f"{type(exc).__name__}: {exc}"
        result.retry = True
    if result.error is None:
        if result.frames < 2:
            result.error = f"fewer than 2 frames ({result.frames})"
        elif result.pairs == 0:
            result.error = f"no frame pair (t, t+{options.step}) among {result.frames} frames"
        elif not result.masks:
            result.error = (f"no motion: none of {result.pairs} frame pairs gave an occlusion mask covering "
                            f"at least {options.min_ratio:.1%} of the frame")
    if result.error is not None:
        result.masks = []
    return result


def _extract_into(result: ClipMasks, clip: Clip, options: ExtractOptions, on_pair: Callable[[], None]) -> None:
    flow = options.make_flow()
    recent: dict[int, np.ndarray | None] = {}
    last_kept: dict[str, np.ndarray] = {}
    dropped = {"small": 0, "large": 0, "duplicate": 0}
    for index, frame in iter_frames(clip, work_size=options.work_size):
        result.frames = index + 1
        if frame is None:
            result.unreadable_frames.append(index)
        else:
            result.shape = frame.shape[:2]
        recent[index] = frame
        recent.pop(index - options.step - 1, None)
        start = index - options.step
        if start < 0 or start % options.stride:
            continue
        if options.max_pairs and result.pairs >= options.max_pairs:
            break
        frame_a = recent.get(start)
        if frame_a is None or frame is None:
            on_pair()
            continue
        result.pairs += 1
        forward, backward = forward_backward(flow, frame_a, frame)
        occluded, disoccluded = occlusion_and_disocclusion(forward, backward, options.occlusion,
                                                           frame_a=frame_a, frame_b=frame)
        for source, mask in (("occlusion", occluded), ("disocclusion", disoccluded)):
            reason = _drop_reason(mask, last_kept.get(source), options)
            if reason is not None:
                dropped[reason] += 1
                continue
            last_kept[source] = mask
            result.masks.append(RawMask(start, index, source, float(np.count_nonzero(mask)) / mask.size,
                                        encode_mask_png(mask)))
        on_pair()
    result.dropped = dropped


def _drop_reason(mask: np.ndarray, previous: np.ndarray | None, options: ExtractOptions) -> str | None:
    """Why a raw mask is dropped (``small``, ``large``, ``duplicate`` of the last kept one), or ``None``."""
    ratio = float(np.count_nonzero(mask)) / mask.size
    if ratio < options.min_ratio:
        return "small"
    if ratio > options.max_ratio:
        return "large"
    if previous is not None and _iou(previous, mask) >= options.dedupe_iou:
        return "duplicate"
    return None


def save_cached(path: Path, clip_masks: ClipMasks) -> None:
    """Store a clip's result in one ``.npz`` file (atomically)."""
    payload = np.frombuffer(b"".join(m.png for m in clip_masks.masks), dtype=np.uint8)
    offsets = np.cumsum([0] + [len(m.png) for m in clip_masks.masks], dtype=np.int64)
    meta = {
        "summary": clip_masks.summary(),
        "masks": [[m.frame_a, m.frame_b, m.source, m.hole_ratio] for m in clip_masks.masks],
    }
    buffer = io.BytesIO()
    np.savez(buffer, payload=payload, offsets=offsets,
             meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
    atomic_write_bytes(path, buffer.getvalue())


def load_cached(path: Path) -> ClipMasks | None:
    """A result stored by :func:`save_cached`, or ``None`` if the file is missing or unreadable."""
    try:
        with np.load(path) as data:
            payload = data["payload"].tobytes()
            offsets = data["offsets"]
            meta = json.loads(data["meta"].tobytes())
    except (OSError, ValueError, KeyError):
        return None
    summary = meta["summary"]
    masks = [RawMask(int(a), int(b), str(source), float(ratio), payload[offsets[i]:offsets[i + 1]])
             for i, (a, b, source, ratio) in enumerate(meta["masks"])]
    return ClipMasks(
        clip_id=summary["clip"], sha256=summary["sha256"], frames=summary["frames"], pairs=summary["pairs"],
        shape=tuple(summary["working_shape"]), masks=masks, dropped=summary["dropped"],
        unreadable_frames=summary["unreadable_frames"], error=summary["error"],
    )
