"""Dense optical-flow methods behind a registry.

A flow method turns two frames (uint8 RGB, HxWx3, same size) into the dense flow that carries the
first frame onto the second: a float32 array HxWx2 holding (dx, dy) in pixels, so that pixel ``x`` of
frame A corresponds to ``x + flow[x]`` in frame B.

Built-in methods (see :func:`list_flows`):

* ``dis`` (default): OpenCV's DIS (Kroeger et al., ECCV 2016), medium preset with a finer pyramid and
  stronger variational refinement, tuned on MPI-Sintel occlusions (``scripts/eval_occlusion_sintel.py``).
* ``dis-medium``, ``dis-fast``: the stock OpenCV presets.
* ``farneback``: Farneback's polynomial-expansion flow (base OpenCV).
* ``deepflow``: DeepFlow (Weinzaepfel et al., ICCV 2013); needs ``opencv-contrib`` (``cv2.optflow``).
* ``raft-large``, ``raft-small``: RAFT (Teed & Deng, ECCV 2020), defined in :mod:`maskgen.raft` (torch, no
  torchvision); they need torchvision's published weights, given as ``weights=PATH`` (``--flow-weights``):
  nothing is downloaded, and the default (``dis``) works offline and without torch.

Third-party methods plug in three ways, mirroring timm's model registry:
:func:`register_flow` in your own code, an installed package exposing a factory in the entry-point
group ``maskgen.flows``, or a ``"package.module:factory"`` / ``"path/to/file.py:factory"`` spec given to
:func:`create_flow` (and so to ``maskgen build --flow``). A factory takes keyword options and returns an
object with ``name`` and ``__call__(frame_a, frame_b) -> flow``; an optional
``pair(frame_a, frame_b) -> (forward, backward)`` lets a GPU method batch both directions. A method that
loads learned weights takes them as the ``weights`` option (a file path) and sets ``weights_sha256`` to the
sha256 of the file it loaded, which the build records (``maskgen build --flow-weights``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import numpy as np

from inpaint_core.registry import Registry

__all__ = [
    "FlowMethod",
    "register_flow",
    "create_flow",
    "list_flows",
    "forward_backward",
]

ENTRY_POINT_GROUP = "maskgen.flows"


class FlowMethod(Protocol):
    """What :func:`create_flow` returns."""

    name: str

    def __call__(self, frame_a: np.ndarray, frame_b: np.ndarray) -> np.ndarray:  # pragma: no cover - protocol
        ...


_REGISTRY = Registry("flow method", ENTRY_POINT_GROUP)


class FlowOptionError(ValueError):
    """A flow method was given an option it does not take; ``option`` names it."""

    def __init__(self, spec: str, option: str) -> None:
        super().__init__(f"flow method {spec!r} does not take the option {option!r}")
        self.option = option


def register_flow(name: str) -> Callable[[Callable[..., FlowMethod]], Callable[..., FlowMethod]]:
    """Decorator registering a flow factory under ``name``.

    Raises:
        ValueError: if ``name`` is already registered.
    """
    return _REGISTRY.register(name)


def list_flows() -> list[str]:
    """Names of the registered flow methods and of installed ``maskgen.flows`` plug-ins, sorted."""
    return _REGISTRY.names()


def create_flow(spec: str, **options: Any) -> FlowMethod:
    """Build a flow method from a registered name, an entry point or a ``module:factory`` spec.

    Args:
        spec: ``"dis"``, ``"farneback"``, ... (see :func:`list_flows`), ``"package.module:factory"`` or
            ``"path/to/file.py:factory"``.
        **options: keyword options passed to the factory.

    Raises:
        ValueError: unknown name or a spec that cannot be imported.
        FlowOptionError: an option the method does not take (a ``ValueError``).
    """
    factory = _REGISTRY.resolve(spec)
    try:
        return factory(**options)
    except TypeError as error:
        unexpected = re.search(r"unexpected keyword argument '(\w+)'", str(error))
        if unexpected is None or unexpected.group(1) not in options:
            raise
        raise FlowOptionError(spec, unexpected.group(1)) from None


def forward_backward(method: FlowMethod, frame_a: np.ndarray, frame_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward (A -> B) and backward (B -> A) flow, batched when the method offers ``pair``."""
    pair = getattr(method, "pair", None)
    if pair is not None:
        return pair(frame_a, frame_b)
    return method(frame_a, frame_b), method(frame_b, frame_a)


def _gray(frame: np.ndarray) -> np.ndarray:
    import cv2

    if frame.ndim == 2:
        return frame
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


@dataclass
class DISFlow:
    """OpenCV DIS optical flow on the grey-level frames.

    Args:
        preset: ``"ultrafast"``, ``"fast"`` or ``"medium"`` (OpenCV's presets), then the overrides below.
        finest_scale: finest pyramid level (0 = full resolution); ``None`` keeps the preset's.
        patch_size, patch_stride, gradient_descent_iterations, variational_iterations: DIS parameters;
            ``None`` keeps the preset's.
        variational_alpha, variational_delta, variational_gamma: weights of the variational refinement
            (smoothness, colour constancy, gradient constancy); ``None`` keeps OpenCV's.
    """

    preset: str = "medium"
    finest_scale: int | None = None
    patch_size: int | None = None
    patch_stride: int | None = None
    gradient_descent_iterations: int | None = None
    variational_iterations: int | None = None
    variational_alpha: float | None = None
    variational_delta: float | None = None
    variational_gamma: float | None = None
    name: str = "dis"

    def __post_init__(self) -> None:
        self._dis = self._make()

    def _make(self) -> Any:
        """An OpenCV DIS object with these settings."""
        import cv2

        presets = {
            "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
            "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
            "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
        }
        if self.preset not in presets:
            raise ValueError(f"DIS preset must be one of {sorted(presets)}, got {self.preset!r}")
        dis = cv2.DISOpticalFlow_create(presets[self.preset])
        setters = {
            "finest_scale": dis.setFinestScale,
            "patch_size": dis.setPatchSize,
            "patch_stride": dis.setPatchStride,
            "gradient_descent_iterations": dis.setGradientDescentIterations,
            "variational_iterations": dis.setVariationalRefinementIterations,
            "variational_alpha": dis.setVariationalRefinementAlpha,
            "variational_delta": dis.setVariationalRefinementDelta,
            "variational_gamma": dis.setVariationalRefinementGamma,
        }
        for field_name, setter in setters.items():
            value = getattr(self, field_name)
            if value is not None:
                setter(value)
        return dis

    def __call__(self, frame_a: np.ndarray, frame_b: np.ndarray, initial: np.ndarray | None = None) -> np.ndarray:
        """The flow A -> B (float32 HxWx2); OpenCV refines ``initial`` (a flow of A's size, HxWx2; left
        unchanged) instead of starting from zero when it is given.

        A call with ``initial`` runs on a DIS object of its own: OpenCV's, once given an input flow, takes
        whatever its output holds as one on every later call."""
        if initial is None:
            return self._dis.calc(_gray(frame_a), _gray(frame_b), None)
        start = np.array(initial, dtype=np.float32, order="C")
        return self._make().calc(_gray(frame_a), _gray(frame_b), start)

    def __getstate__(self) -> dict[str, Any]:  # cv2 objects do not pickle; rebuild in the worker
        state = dict(self.__dict__)
        state.pop("_dis", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__post_init__()


# Tuned on the MPI-Sintel scenes of the test data (scripts/eval_occlusion_sintel.py, README "Accuracy").
DEFAULT_DIS_OPTIONS: dict[str, Any] = {"preset": "medium", "finest_scale": 0, "variational_iterations": 5}


@register_flow("dis")
def _create_dis(**options: Any) -> DISFlow:
    return DISFlow(**{**DEFAULT_DIS_OPTIONS, **options, "name": "dis"})


@register_flow("dis-medium")
def _create_dis_medium(**options: Any) -> DISFlow:
    return DISFlow(**{"preset": "medium", **options, "name": "dis-medium"})


@register_flow("dis-fast")
def _create_dis_fast(**options: Any) -> DISFlow:
    return DISFlow(**{"preset": "fast", **options, "name": "dis-fast"})


@dataclass
class FarnebackFlow:
    """OpenCV Farneback flow (``cv2.calcOpticalFlowFarneback``) on grey-level frames."""

    pyr_scale: float = 0.5
    levels: int = 5
    winsize: int = 15
    iterations: int = 3
    poly_n: int = 7
    poly_sigma: float = 1.5
    name: str = "farneback"

    def __call__(self, frame_a: np.ndarray, frame_b: np.ndarray) -> np.ndarray:
        import cv2

        return cv2.calcOpticalFlowFarneback(
            _gray(frame_a), _gray(frame_b), None, self.pyr_scale, self.levels, self.winsize,
            self.iterations, self.poly_n, self.poly_sigma, 0,
        )


@register_flow("farneback")
def _create_farneback(**options: Any) -> FarnebackFlow:
    return FarnebackFlow(**options)


@dataclass
class DeepFlow:
    """DeepFlow from ``opencv-contrib`` (``cv2.optflow.createOptFlow_DeepFlow``); slow but accurate."""

    name: str = "deepflow"

    def __post_init__(self) -> None:
        import cv2

        if not hasattr(cv2, "optflow"):
            raise ValueError("flow method 'deepflow' needs opencv-contrib-python(-headless); "
                             "this OpenCV has no cv2.optflow module")
        self._flow = cv2.optflow.createOptFlow_DeepFlow()

    def __call__(self, frame_a: np.ndarray, frame_b: np.ndarray) -> np.ndarray:
        return self._flow.calc(_gray(frame_a), _gray(frame_b), None)

    def __getstate__(self) -> dict[str, Any]:
        return {"name": self.name}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__post_init__()


@register_flow("deepflow")
def _create_deepflow(**options: Any) -> DeepFlow:
    return DeepFlow(**options)


def _create_raft(variant: str, options: dict[str, Any]) -> FlowMethod:
    """RAFT-``variant`` (see :class:`maskgen.raft.RaftFlow` for the options); torch is imported only here."""
    if options.get("weights") in (None, ""):
        from .raft_weights import missing_weights_message

        raise ValueError(missing_weights_message(variant))
    try:
        from .raft import RaftFlow
    except ModuleNotFoundError as error:
        if error.name != "torch":
            raise
        raise ValueError(f"flow method 'raft-{variant}' needs torch, which is not installed (install the "
                         "[torch] extra: pip install 'inpaint-masks-toolkit[torch]')") from None
    return RaftFlow(variant=variant, **options)


@register_flow("raft-large")
def _create_raft_large(**options: Any) -> FlowMethod:
    return _create_raft("large", options)


@register_flow("raft-small")
def _create_raft_small(**options: Any) -> FlowMethod:
    return _create_raft("small", options)
