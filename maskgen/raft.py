"""RAFT optical flow (Teed & Deng, "RAFT: Recurrent All-Pairs Field Transforms for Optical Flow", ECCV 2020)
in plain torch, loading torchvision's published weights.

The network is defined here, not imported from torchvision (whose Linux wheels do not import next to the CPU
build of torch), with the module tree of ``torchvision.models.optical_flow.raft_large()`` /
``raft_small()``: the same ``state_dict()`` keys and shapes, so torchvision's checkpoints
(``Raft_Large_Weights`` / ``Raft_Small_Weights``, e.g. ``raft_large_C_T_SKHT_V2-ff5fadd5.pth``) load with
``strict=True``, and the same arithmetic, so the same weights give the same flow
(``scripts/raft_reference.py`` compares the two; ``tests/test_raft.py`` checks against its saved output).

:class:`RaftFlow` is the flow method behind ``create_flow("raft-large" | "raft-small", weights=PATH)``
(see :mod:`maskgen.flow`): uint8 RGB frames in, float32 HxWx2 ``(dx, dy)`` flow out. This module imports
torch; :mod:`maskgen.flow` imports it only when a RAFT flow is created, so ``maskgen`` works without torch.

Shapes: images are float BCHW in [-1, 1] (torchvision's ``OpticalFlow`` preset), H and W multiples of 8 and
at least 128 (the 4-level correlation pyramid needs feature maps of at least 16 x 16); the flow is B2HW in
pixels of the input, channel 0 = dx, 1 = dy.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from inpaint_core.files import sha256_file
from .raft_weights import weights_hint as _weights_hint

__all__ = ["RaftConfig", "RAFT_LARGE", "RAFT_SMALL", "VARIANTS", "RAFT", "build_raft", "load_raft_weights",
           "random_weights", "RaftFlow", "DEFAULT_ITERATIONS", "MIN_SIZE"]

DEFAULT_ITERATIONS = 12  # torchvision's default number of flow updates (see RaftFlow)
MIN_SIZE = 128  # smallest H and W the network takes (frames below it are padded)


# ----------------------------------------------------------------------------------------------------------
# the network


@dataclass(frozen=True)
class RaftConfig:
    """The hyper-parameters telling RAFT-large from RAFT-small (torchvision's ``raft_large``/``raft_small``).

    Attributes:
        feature_layers, context_layers: channels of the stem, the three stages and the output of the feature
            and context encoders.
        block: ``"residual"`` (large) or ``"bottleneck"`` (small) blocks in the encoders.
        context_norm: ``"batch"`` or ``None``; the feature encoder always uses instance normalisation.
        corr_levels, corr_radius: correlation pyramid depth and lookup radius (L-infinity).
        corr_layers, flow_layers, motion_channels: the motion encoder's convolutions and output channels.
        hidden: GRU hidden state channels; ``gru_kernels``: one (3x3) or two separable ((1, 5), (5, 1)) GRUs.
        head_hidden: channels of the flow head's hidden convolution.
        convex_upsampling: learned convex upsampling mask (large) or bilinear upsampling (small).
    """

    name: str
    feature_layers: tuple[int, ...]
    context_layers: tuple[int, ...]
    block: str
    context_norm: str | None
    corr_levels: int
    corr_radius: int
    corr_layers: tuple[int, ...]
    flow_layers: tuple[int, int]
    motion_channels: int
    hidden: int
    gru_kernels: tuple[tuple[int, int], ...]
    head_hidden: int
    convex_upsampling: bool


RAFT_LARGE = RaftConfig(
    name="large", feature_layers=(64, 64, 96, 128, 256), context_layers=(64, 64, 96, 128, 256), block="residual",
    context_norm="batch", corr_levels=4, corr_radius=4, corr_layers=(256, 192), flow_layers=(128, 64),
    motion_channels=128, hidden=128, gru_kernels=((1, 5), (5, 1)), head_hidden=256, convex_upsampling=True)
RAFT_SMALL = RaftConfig(
    name="small", feature_layers=(32, 32, 64, 96, 128), context_layers=(32, 32, 64, 96, 160), block="bottleneck",
    context_norm=None, corr_levels=4, corr_radius=3, corr_layers=(96,), flow_layers=(64, 32), motion_channels=82,
    hidden=96, gru_kernels=((3, 3),), head_hidden=128, convex_upsampling=False)
VARIANTS = {"large": RAFT_LARGE, "small": RAFT_SMALL}


def _norm(kind: str | None, channels: int) -> nn.Module | None:
    if kind is None:
        return None
    if kind == "instance":
        return nn.InstanceNorm2d(channels)  # no affine parameters, no running statistics
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    raise ValueError(f"unknown normalisation {kind!r}")


class ConvNormReLU(nn.Sequential):
    """Convolution (with bias, "same" padding for odd kernels), optional normalisation, optional ReLU.

    Children are numbered as in torchvision's ``Conv2dNormActivation`` (0 conv, 1 norm or ReLU, 2 ReLU), which
    fixes the state-dict keys (``...0.weight``, ``...1.running_mean``).
    """

    def __init__(self, in_channels: int, out_channels: int, *, kernel_size: int, stride: int = 1,
                 norm: str | None = None, relu: bool = True) -> None:
        layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                                             padding=(kernel_size - 1) // 2, bias=True)]
        normalisation = _norm(norm, out_channels)
        if normalisation is not None:
            layers.append(normalisation)
        if relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class ResidualBlock(nn.Module):
    """Two 3x3 conv-norm-ReLU with a shortcut (a strided 1x1 conv-norm when the stride is 2), then ReLU."""

    def __init__(self, in_channels: int, out_channels: int, *, norm: str | None, stride: int) -> None:
        super().__init__()
        self.convnormrelu1 = ConvNormReLU(in_channels, out_channels, kernel_size=3, stride=stride, norm=norm)
        self.convnormrelu2 = ConvNormReLU(out_channels, out_channels, kernel_size=3, norm=norm)
        self.downsample = (nn.Identity() if stride == 1 else
                           ConvNormReLU(in_channels, out_channels, kernel_size=1, stride=stride, norm=norm,
                                        relu=False))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.downsample(x) + self.convnormrelu2(self.convnormrelu1(x)))


class BottleneckBlock(nn.Module):
    """1x1 (channels / 4), 3x3 (strided), 1x1 conv-norm-ReLU with a shortcut, then ReLU."""

    def __init__(self, in_channels: int, out_channels: int, *, norm: str | None, stride: int) -> None:
        super().__init__()
        inner = out_channels // 4
        self.convnormrelu1 = ConvNormReLU(in_channels, inner, kernel_size=1, norm=norm)
        self.convnormrelu2 = ConvNormReLU(inner, inner, kernel_size=3, stride=stride, norm=norm)
        self.convnormrelu3 = ConvNormReLU(inner, out_channels, kernel_size=1, norm=norm)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = (nn.Identity() if stride == 1 else
                           ConvNormReLU(in_channels, out_channels, kernel_size=1, stride=stride, norm=norm,
                                        relu=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.downsample(x) + self.convnormrelu3(self.convnormrelu2(self.convnormrelu1(x))))


_BLOCKS: dict[str, type[nn.Module]] = {"residual": ResidualBlock, "bottleneck": BottleneckBlock}


class FeatureEncoder(nn.Module):
    """7x7/2 stem and three stages of two blocks (strides 1, 2, 2), then a 1x1 conv: 1/8 of the input size.

    Used for both the feature encoder (instance norm) and the context encoder.
    """

    def __init__(self, layers: tuple[int, ...], *, block: str, norm: str | None) -> None:
        super().__init__()
        if len(layers) != 5:
            raise ValueError(f"an encoder has 5 layer widths, got {len(layers)}")
        make = _BLOCKS[block]
        self.convnormrelu = ConvNormReLU(3, layers[0], kernel_size=7, stride=2, norm=norm)
        for index, stride in enumerate((1, 2, 2), start=1):
            stage = nn.Sequential(make(layers[index - 1], layers[index], norm=norm, stride=stride),
                                  make(layers[index], layers[index], norm=norm, stride=1))
            self.add_module(f"layer{index}", stage)
        self.conv = nn.Conv2d(layers[3], layers[4], kernel_size=1)
        for module in self.modules():  # torchvision's initialisation (only matters without loaded weights)
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.convnormrelu(x)
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.conv(x)


class MotionEncoder(nn.Module):
    """Encodes the correlation features and the current flow; appends the flow itself to the output."""

    def __init__(self, *, corr_channels: int, corr_layers: tuple[int, ...], flow_layers: tuple[int, int],
                 out_channels: int) -> None:
        super().__init__()
        self.convcorr1 = ConvNormReLU(corr_channels, corr_layers[0], kernel_size=1)
        self.convcorr2 = (ConvNormReLU(corr_layers[0], corr_layers[1], kernel_size=3) if len(corr_layers) == 2
                          else nn.Identity())
        self.convflow1 = ConvNormReLU(2, flow_layers[0], kernel_size=7)
        self.convflow2 = ConvNormReLU(flow_layers[0], flow_layers[1], kernel_size=3)
        self.conv = ConvNormReLU(corr_layers[-1] + flow_layers[1], out_channels - 2, kernel_size=3)
        self.out_channels = out_channels

    def forward(self, flow: torch.Tensor, corr: torch.Tensor) -> torch.Tensor:
        corr = self.convcorr2(self.convcorr1(corr))
        encoded = self.convflow2(self.convflow1(flow))
        return torch.cat([self.conv(torch.cat([corr, encoded], dim=1)), flow], dim=1)


class ConvGRU(nn.Module):
    """Convolutional GRU cell: z, r gates and candidate q from [h, x] convolutions."""

    def __init__(self, *, input_size: int, hidden_size: int, kernel: tuple[int, int]) -> None:
        super().__init__()
        padding = (kernel[0] // 2, kernel[1] // 2)
        for gate in ("convz", "convr", "convq"):
            self.add_module(gate, nn.Conv2d(hidden_size + input_size, hidden_size, kernel, padding=padding))

    def forward(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        hx = torch.cat([h, x], dim=1)
        z = torch.sigmoid(self.convz(hx))
        r = torch.sigmoid(self.convr(hx))
        q = torch.tanh(self.convq(torch.cat([r * h, x], dim=1)))
        return (1 - z) * h + z * q


class RecurrentBlock(nn.Module):
    """One GRU (RAFT-small, 3x3) or two separable GRUs, horizontal then vertical (RAFT-large)."""

    def __init__(self, *, input_size: int, hidden_size: int, kernels: tuple[tuple[int, int], ...]) -> None:
        super().__init__()
        if len(kernels) not in (1, 2):
            raise ValueError(f"one or two GRU kernels, got {len(kernels)}")
        self.hidden_size = hidden_size
        self.convgru1 = ConvGRU(input_size=input_size, hidden_size=hidden_size, kernel=kernels[0])
        self.convgru2 = (ConvGRU(input_size=input_size, hidden_size=hidden_size, kernel=kernels[1])
                         if len(kernels) == 2 else None)

    def forward(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        h = self.convgru1(h, x)
        return h if self.convgru2 is None else self.convgru2(h, x)


class FlowHead(nn.Module):
    """Two 3x3 convolutions from the hidden state to the flow update (2 channels)."""

    def __init__(self, *, in_channels: int, hidden_size: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, hidden_size, 3, padding=1)
        self.conv2 = nn.Conv2d(hidden_size, 2, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.relu(self.conv1(x)))


class UpdateBlock(nn.Module):
    """Motion encoder -> GRU (input: context and motion features) -> flow head."""

    def __init__(self, config: RaftConfig) -> None:
        super().__init__()
        corr_channels = config.corr_levels * (2 * config.corr_radius + 1) ** 2
        self.motion_encoder = MotionEncoder(corr_channels=corr_channels, corr_layers=config.corr_layers,
                                            flow_layers=config.flow_layers, out_channels=config.motion_channels)
        context_channels = config.context_layers[-1] - config.hidden
        self.recurrent_block = RecurrentBlock(input_size=config.motion_channels + context_channels,
                                              hidden_size=config.hidden, kernels=config.gru_kernels)
        self.flow_head = FlowHead(in_channels=config.hidden, hidden_size=config.head_hidden)

    def forward(self, hidden: torch.Tensor, context: torch.Tensor, corr: torch.Tensor,
                flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        motion = self.motion_encoder(flow, corr)
        hidden = self.recurrent_block(hidden, torch.cat([context, motion], dim=1))
        return hidden, self.flow_head(hidden)


class MaskPredictor(nn.Module):
    """The convex-upsampling weights (9 neighbours x 8 x 8 sub-pixels) from the hidden state, scaled by 1/4."""

    def __init__(self, *, in_channels: int, hidden_size: int = 256, multiplier: float = 0.25) -> None:
        super().__init__()
        self.convrelu = ConvNormReLU(in_channels, hidden_size, kernel_size=3)
        self.conv = nn.Conv2d(hidden_size, 8 * 8 * 9, 1)
        self.multiplier = multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.multiplier * self.conv(self.convrelu(x))


def _sample(volume: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """Bilinear samples of ``volume`` (N, C, H, W) at absolute pixel ``coords`` (N, h, w, 2) as (x, y); zeros
    outside (``grid_sample`` with ``align_corners=True``)."""
    height, width = volume.shape[-2:]
    x, y = coords.split([1, 1], dim=-1)
    x = 2 * x / (width - 1) - 1
    if height > 1:
        y = 2 * y / (height - 1) - 1
    return F.grid_sample(volume, torch.cat([x, y], dim=-1), mode="bilinear", align_corners=True)


class CorrelationPyramid:
    """All-pairs correlation of two feature maps, average-pooled ``levels`` times over the second map's axes,
    looked up in a (2r+1)^2 window around each pixel's current match (paper section 3.2)."""

    def __init__(self, fmap1: torch.Tensor, fmap2: torch.Tensor, *, levels: int, radius: int) -> None:
        batch, channels, height, width = fmap1.shape
        smallest = 2 ** levels
        if height < smallest or width < smallest:
            raise ValueError(f"feature maps of {height}x{width} are too small for a {levels}-level correlation "
                             f"pyramid (at least {smallest}x{smallest}, i.e. images of {8 * smallest}x{8 * smallest})")
        corr = torch.matmul(fmap1.view(batch, channels, -1).transpose(1, 2), fmap2.view(batch, channels, -1))
        corr = corr.view(batch * height * width, 1, height, width) / torch.sqrt(torch.tensor(channels))
        self.levels = [corr]
        for _ in range(levels - 1):
            corr = F.avg_pool2d(corr, kernel_size=2, stride=2)
            self.levels.append(corr)
        self.radius = radius
        side = torch.linspace(-radius, radius, 2 * radius + 1)
        # offsets (dx, dy) with dx varying along the first window axis, as the trained weights expect
        self.offsets = torch.stack(torch.meshgrid(side, side, indexing="ij"), dim=-1).to(fmap1.device)
        self.offsets = self.offsets.view(1, 2 * radius + 1, 2 * radius + 1, 2)

    def lookup(self, coords: torch.Tensor) -> torch.Tensor:
        """Correlation features (B, levels * (2r+1)^2, h, w) around ``coords`` (B, 2, h, w), pixels at 1/8."""
        batch, _, height, width = coords.shape
        centres = coords.permute(0, 2, 3, 1).reshape(batch * height * width, 1, 1, 2)
        features = []
        for volume in self.levels:
            features.append(_sample(volume, centres + self.offsets).view(batch, height, width, -1))
            centres = centres / 2
        return torch.cat(features, dim=-1).permute(0, 3, 1, 2).contiguous()


def _coords_grid(batch: int, height: int, width: int, device: torch.device) -> torch.Tensor:
    """(B, 2, H, W) pixel coordinates, channel 0 = x, 1 = y."""
    ys, xs = torch.meshgrid(torch.arange(height, device=device), torch.arange(width, device=device), indexing="ij")
    return torch.stack([xs, ys], dim=0).float()[None].repeat(batch, 1, 1, 1)


def _upsample(flow: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Flow at 1/8 -> full size, values scaled by 8: convex combination of the 3x3 coarse neighbours with the
    predicted weights (paper section 3.3), or bilinear interpolation without a mask."""
    batch, channels, height, width = flow.shape
    if mask is None:
        return 8 * F.interpolate(flow, size=(8 * height, 8 * width), mode="bilinear", align_corners=True)
    weights = torch.softmax(mask.view(batch, 1, 9, 8, 8, height, width), dim=2)
    neighbours = F.unfold(8 * flow, kernel_size=3, padding=1).view(batch, channels, 9, 1, 1, height, width)
    fine = torch.sum(weights * neighbours, dim=2)  # (B, C, 8, 8, h, w)
    return fine.permute(0, 1, 4, 2, 5, 3).reshape(batch, channels, 8 * height, 8 * width)


class RAFT(nn.Module):
    """RAFT; ``state_dict()`` keys and shapes as torchvision's ``raft_large()`` / ``raft_small()``.

    ``forward(image1, image2, iterations)`` gives the flow after the last update only (torchvision returns
    every update's flow; its last one is this one).
    """

    def __init__(self, config: RaftConfig) -> None:
        super().__init__()
        self.config = config
        self.feature_encoder = FeatureEncoder(config.feature_layers, block=config.block, norm="instance")
        self.context_encoder = FeatureEncoder(config.context_layers, block=config.block, norm=config.context_norm)
        self.update_block = UpdateBlock(config)
        self.mask_predictor = MaskPredictor(in_channels=config.hidden) if config.convex_upsampling else None

    def forward(self, image1: torch.Tensor, image2: torch.Tensor,
                iterations: int = DEFAULT_ITERATIONS) -> torch.Tensor:
        """Flow (B, 2, H, W) carrying ``image1`` onto ``image2`` (both B3HW in [-1, 1])."""
        if image1.shape != image2.shape:
            raise ValueError(f"images of different shapes: {tuple(image1.shape)} and {tuple(image2.shape)}")
        fmaps = self.feature_encoder(torch.cat([image1, image2], dim=0))
        fmap1, fmap2 = fmaps.chunk(2, dim=0)
        return self.refine(fmap1, fmap2, self.context_encoder(image1), iterations=iterations)

    def refine(self, fmap1: torch.Tensor, fmap2: torch.Tensor, context_out: torch.Tensor, *,
               iterations: int) -> torch.Tensor:
        """The recurrent part, from the features of both images and the context of the first."""
        batch, _, height, width = fmap1.shape
        pyramid = CorrelationPyramid(fmap1, fmap2, levels=self.config.corr_levels, radius=self.config.corr_radius)
        hidden, context = context_out.split([self.config.hidden, context_out.shape[1] - self.config.hidden], dim=1)
        hidden = torch.tanh(hidden)
        context = F.relu(context)
        coords0 = _coords_grid(batch, height, width, fmap1.device)
        coords1 = _coords_grid(batch, height, width, fmap1.device)
        for _ in range(iterations):
            corr = pyramid.lookup(coords1)
            hidden, delta = self.update_block(hidden, context, corr, coords1 - coords0)
            coords1 = coords1 + delta
        mask = None if self.mask_predictor is None else self.mask_predictor(hidden)
        return _upsample(coords1 - coords0, mask)


def build_raft(variant: str) -> RAFT:
    """A RAFT-``variant`` (``"large"`` or ``"small"``) with torchvision's random initialisation, in eval mode."""
    if variant not in VARIANTS:
        raise ValueError(f"RAFT variant must be one of {sorted(VARIANTS)}, got {variant!r}")
    return RAFT(VARIANTS[variant]).eval()


def load_raft_weights(model: RAFT, path: str | os.PathLike[str]) -> str:
    """Load a torchvision-format state dict from ``path`` into ``model`` (strictly); return the file's sha256.

    Accepts the bare state dict (torchvision's files) or a dict holding it under ``"state_dict"`` or
    ``"model"``. The file is read with ``weights_only=True`` (no code runs).

    Raises:
        ValueError: missing or unreadable file, not a state dict, or keys/shapes that are not RAFT-``variant``'s
            (the message names the file and the first key that does not match), in one line.
    """
    from inpaint_core.nets.weights import load_torch_file

    variant = model.config.name
    what = f"RAFT-{variant} weights file"
    state = load_torch_file(path, what=what)
    if isinstance(state, dict):
        for wrapper in ("state_dict", "model"):
            if isinstance(state.get(wrapper), dict):
                state = state[wrapper]
                break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{what} {str(path)!r} does not hold a state dict (a dict of tensors); give "
                         f"{_weights_hint(variant)}")
    own = model.state_dict()
    for key, tensor in own.items():
        if key not in state:
            raise ValueError(f"{what} {str(path)!r} does not fit RAFT-{variant}: it has no {key!r} "
                             f"({len(state)} keys, RAFT-{variant} has {len(own)}); give {_weights_hint(variant)}")
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise ValueError(f"{what} {str(path)!r} does not fit RAFT-{variant}: {key!r} has shape "
                             f"{tuple(state[key].shape)}, RAFT-{variant} needs {tuple(tensor.shape)}; give "
                             f"{_weights_hint(variant)}")
    extra = sorted(set(state) - set(own))
    if extra:
        raise ValueError(f"{what} {str(path)!r} does not fit RAFT-{variant}: unexpected key {extra[0]!r} "
                         f"({len(extra)} more than RAFT-{variant}'s {len(own)}); give {_weights_hint(variant)}")
    model.load_state_dict(state, strict=True)
    return sha256_file(path)


def random_weights(model: nn.Module, *, seed: int) -> dict[str, torch.Tensor]:
    """A deterministic state dict for ``model`` drawn with numpy (the same on every platform and torch version):
    weights ~ U(-a, a) with a = sqrt(3 / fan_in) (unit-variance activations), biases ~ U(-0.1, 0.1), batch-norm
    statistics near (0, 1), the flow head's last layer 10 times smaller. For tests and timing only; the flow it
    gives means nothing."""
    from inpaint_core.seeds import Stream, rng

    generator = rng(seed, Stream.RANDOM_WEIGHTS)
    state: dict[str, torch.Tensor] = {}
    for key, tensor in model.state_dict().items():
        shape = tuple(tensor.shape)
        if key.endswith("num_batches_tracked"):
            values = np.zeros(shape, dtype=np.int64)
        elif key.endswith("running_var"):
            values = generator.uniform(0.5, 1.5, size=shape)
        elif key.endswith("running_mean") or key.endswith("bias"):
            values = generator.uniform(-0.1, 0.1, size=shape)
        elif tensor.ndim == 1:  # batch-norm scale
            values = generator.uniform(0.8, 1.2, size=shape)
        else:
            bound = float(np.sqrt(3.0 / max(1, int(np.prod(shape[1:])))))
            if key.startswith("update_block.flow_head.conv2."):
                bound *= 0.1  # small flow updates keep the matches inside the correlation volume
            values = generator.uniform(-bound, bound, size=shape)
        state[key] = torch.from_numpy(np.array(values, dtype=np.int64 if values.dtype == np.int64 else np.float32))
    return state


# ----------------------------------------------------------------------------------------------------------
# the flow method


def _device(spec: str) -> torch.device:
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise ValueError(f"RAFT device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {spec!r}") from None
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"RAFT device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {spec!r}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"RAFT device {spec!r}: this torch sees no CUDA device (use 'cpu' or 'auto')")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"RAFT device {spec!r}: only {torch.cuda.device_count()} CUDA device(s)")
    return device


@dataclass
class RaftFlow:
    """RAFT as a maskgen flow method (see :mod:`maskgen.flow`).

    Frames: uint8 RGB HxWx3 of the same size. They are scaled to [-1, 1] (torchvision's ``OpticalFlow``
    preset), padded by edge replication on the right and bottom to multiples of 8 and at least 128 x 128, and
    the flow is cropped back: float32 HxWx2 ``(dx, dy)`` in pixels.

    Args:
        variant: ``"large"`` or ``"small"``.
        weights: path of a torchvision-format state dict (``Raft_Large_Weights`` / ``Raft_Small_Weights``).
        device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        iterations: recurrent flow updates; 12 by default, torchvision's default. RAFT's authors evaluate
            Sintel with 32; on the CPU the updates take two thirds to three quarters of the time at 12, so 32
            cost 2.1 to 2.3 times as much (``scripts/bench_raft.py``).
        threads: torch CPU threads during a flow computation (the process's count is restored afterwards).
            torch's CPU kernels change the last bits of the flow with the thread count, so it is fixed, 1 by
            default like OpenCV's in a build (``--workers`` gives more cores): a dataset's bytes then depend
            neither on the machine's core count nor on ``--workers``. Unused on CUDA.

    Attributes:
        weights_sha256: sha256 of the weights file loaded; given, the file must have it. A worker that rebuilds
            the model after unpickling so refuses a file whose content changed since.
    """

    variant: str
    weights: str
    device: str = "auto"
    iterations: int = DEFAULT_ITERATIONS
    threads: int = 1
    name: str = ""
    weights_sha256: str = ""

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"RAFT variant must be one of {sorted(VARIANTS)}, got {self.variant!r}")
        for option in ("iterations", "threads"):
            value = getattr(self, option)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"RAFT {option} must be an integer >= 1, got {value!r}")
        self.name = self.name or f"raft-{self.variant}"
        self.weights = os.fspath(self.weights)
        self._device = _device(self.device)
        model = build_raft(self.variant)
        sha = load_raft_weights(model, self.weights)
        if self.weights_sha256 and sha != self.weights_sha256:
            raise ValueError(f"RAFT weights file {self.weights!r} changed: its sha256 is {sha}, "
                             f"{self.weights_sha256} was expected")
        self.weights_sha256 = sha
        self._model = model.to(self._device).eval()

    def __getstate__(self) -> dict[str, Any]:  # the model is rebuilt from the file (checked by its sha256)
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__post_init__()

    def _images(self, frames: list[np.ndarray]) -> tuple[torch.Tensor, tuple[int, int]]:
        shapes = {frame.shape for frame in frames}
        if len(shapes) != 1:
            raise ValueError(f"frames of different shapes: {sorted(shapes)}")
        shape = frames[0].shape
        if len(shape) != 3 or shape[2] != 3 or frames[0].dtype != np.uint8:
            raise ValueError(f"RAFT takes uint8 RGB frames HxWx3, got {frames[0].dtype} {shape}")
        height, width = shape[:2]
        batch = torch.from_numpy(np.stack(frames)).to(self._device).permute(0, 3, 1, 2).float()
        batch = (batch / 255.0 - 0.5) / 0.5  # torchvision's OpticalFlow preset: [0, 1], then mean 0.5, std 0.5
        pad_h = max(MIN_SIZE, -(-height // 8) * 8) - height
        pad_w = max(MIN_SIZE, -(-width // 8) * 8) - width
        if pad_h or pad_w:
            batch = F.pad(batch, (0, pad_w, 0, pad_h), mode="replicate")
        return batch, (height, width)

    def _flows(self, images: torch.Tensor, first: list[int], second: list[int],
               size: tuple[int, int]) -> list[np.ndarray]:
        """Flows images[first[i]] -> images[second[i]] (HxWx2 float32 each), each image encoded once."""
        saved = torch.get_num_threads()
        if self._device.type == "cpu":
            torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                fmaps = self._model.feature_encoder(images)
                sources = sorted(set(first))
                context = self._model.context_encoder(images[sources])
                flow = self._model.refine(fmaps[first], fmaps[second],
                                          context[[sources.index(i) for i in first]], iterations=self.iterations)
                flow = flow[:, :, :size[0], :size[1]].permute(0, 2, 3, 1).float().cpu().numpy()
        finally:
            torch.set_num_threads(saved)
        return [np.ascontiguousarray(item, dtype=np.float32) for item in flow]

    def __call__(self, frame_a: np.ndarray, frame_b: np.ndarray) -> np.ndarray:
        """Flow (H, W, 2) float32 carrying ``frame_a`` onto ``frame_b``."""
        images, size = self._images([frame_a, frame_b])
        return self._flows(images, [0], [1], size)[0]

    def pair(self, frame_a: np.ndarray, frame_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(forward, backward) flow in one batch of 2: each frame is encoded once."""
        images, size = self._images([frame_a, frame_b])
        forward, backward = self._flows(images, [0, 1], [1, 0], size)
        return forward, backward
