"""The PConv U-Net of Liu et al. (ECCV 2018).

Encoder: partial convolutions with kernels 7, 5, 5, 3, 3, 3, 3, 3, channels 64, 128, 256, 512, 512, 512,
512, 512, stride 2, ReLU, batch norm except on the first layer; 8 levels at 512x512 (the depth follows the
input size: ``log2(size) - 1`` levels, at most 8, so the bottom is 2x2). Decoder: nearest upsampling of
features and mask, concatenation with the encoder's features and mask at that level (the image and its mask
at the last layer), a 3x3 partial convolution, LeakyReLU(0.2), batch norm except on the last layer, which
has no activation. Masks are validity masks here (1 = known).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .layers import PartialConv2d

__all__ = ["PConvUNet", "ENCODER_KERNELS", "ENCODER_CHANNELS", "levels_for_size"]

ENCODER_KERNELS = (7, 5, 5, 3, 3, 3, 3, 3)
ENCODER_CHANNELS = (64, 128, 256, 512, 512, 512, 512, 512)


def levels_for_size(size: int) -> int:
    """Encoder depth for a square input of ``size`` (a power of two >= 8): log2(size) - 1, at most 8."""
    if size < 8 or size & (size - 1):
        raise ValueError(f"input size must be a power of two >= 8, got {size}")
    return min(len(ENCODER_KERNELS), int(math.log2(size)) - 1)


class _Block(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int, *, batch_norm: bool,
                 activation: nn.Module | None, layer: type[nn.Conv2d] = PartialConv2d) -> None:
        super().__init__()
        self.conv = layer(in_channels, out_channels, kernel, stride=stride, padding=kernel // 2, bias=not batch_norm)
        self.bn = nn.BatchNorm2d(out_channels) if batch_norm else None
        self.activation = activation

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, mask = self.conv(x, mask)
        if self.bn is not None:
            x = self.bn(x)
        if self.activation is not None:
            x = self.activation(x)
        return x, mask


class PConvUNet(nn.Module):
    """``forward(image, mask) -> (output, composite)`` for float Bx3xHxW images in [0, 1] and Bx1xHxW
    validity masks (1 = known). ``levels`` defaults to 8 (512x512); the input side must be a multiple of
    ``2 ** levels``. ``layer`` swaps the partial convolution (the benchmark script times the reference)."""

    def __init__(self, *, levels: int = 8, in_channels: int = 3, layer: type[nn.Conv2d] = PartialConv2d) -> None:
        super().__init__()
        if not 1 <= levels <= len(ENCODER_KERNELS):
            raise ValueError(f"levels must be 1..{len(ENCODER_KERNELS)}, got {levels}")
        self.levels = levels
        channels = [in_channels, *ENCODER_CHANNELS[:levels]]
        self.encoder = nn.ModuleList(
            _Block(channels[i], channels[i + 1], ENCODER_KERNELS[i], 2, batch_norm=i > 0, activation=nn.ReLU(),
                   layer=layer)
            for i in range(levels))
        decoder = []
        for i in reversed(range(levels)):  # decoder i joins level i+1's output with level i's input
            out_channels = channels[i] if i > 0 else in_channels
            last = i == 0
            decoder.append(_Block(channels[i + 1] + channels[i], out_channels, 3, 1, batch_norm=not last,
                                  activation=None if last else nn.LeakyReLU(0.2), layer=layer))
        self.decoder = nn.ModuleList(decoder)

    @property
    def multiple(self) -> int:
        return 2 ** self.levels

    def freeze_encoder_batch_norm(self) -> None:
        """Stage-2 fine-tuning: encoder batch norms use their running statistics and stop learning."""
        self._frozen_encoder_bn = True
        for block in self.encoder:
            if block.bn is not None:
                block.bn.eval()
                for parameter in block.bn.parameters():
                    parameter.requires_grad_(False)

    def train(self, mode: bool = True) -> "PConvUNet":
        super().train(mode)
        if mode and getattr(self, "_frozen_encoder_bn", False):
            self.freeze_encoder_batch_norm()
        return self

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if image.shape[-1] % self.multiple or image.shape[-2] % self.multiple:
            raise ValueError(f"input {tuple(image.shape[-2:])} must be a multiple of {self.multiple}")
        features = [image]
        masks = [mask]
        x, m = image, mask
        for block in self.encoder:
            x, m = block(x, m)
            features.append(x)
            masks.append(m)
        for step, block in enumerate(self.decoder):
            skip = self.levels - 1 - step
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            m = F.interpolate(m, scale_factor=2, mode="nearest")
            skip_x, skip_m = features[skip], masks[skip]
            joined_mask = torch.cat([m.expand(-1, x.shape[1], -1, -1),
                                     skip_m.expand(-1, skip_x.shape[1], -1, -1)], dim=1)
            x, m = block(torch.cat([x, skip_x], dim=1), joined_mask)
        composite = mask * image + (1 - mask) * x
        return x, composite
