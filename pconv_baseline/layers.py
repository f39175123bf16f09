"""Partial convolution (Liu et al., ECCV 2018), fast and exact.

    x' = W^T (X * M) * sum(1) / sum(M) + b    where sum(M) > 0, else 0
    m' = 1                                   where sum(M) > 0, else 0

``M`` is the validity mask (1 = known pixel; inside ``pconv_baseline`` only, the rest of the toolkit uses
True = hole), shape (B, 1, H, W) (same for every input channel) or (B, C_in, H, W) (the decoder's
concatenated masks). ``sum(M)`` is taken over the window and the input channels, ``sum(1)`` is the window
size times C_in.

Speed: the straightforward version (:class:`PartialConv2dReference`, NVIDIA's) convolves the mask with an
all-ones weight of the full (C_out, C_in, k, k) shape on every call. Here the window sums come from one
convolution with a (1, C_mask, k, k) ones weight, broadcast over the output channels. Mask statistics are
computed in float32 even under autocast (in fp16 the usual 1e-8 guard underflows and holes become NaN).
No cache keyed on tensor pointers.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["PartialConv2d", "PartialConv2dReference"]


class PartialConv2d(nn.Conv2d):
    """``nn.Conv2d`` with partial-convolution re-normalisation; ``forward(x, mask) -> (y, new_mask)``.

    The new mask has one channel, shape (B, 1, H', W').
    """

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        if mask.dim() != 4 or mask.shape[1] not in (1, x.shape[1]) or mask.shape[2:] != x.shape[2:]:
            raise ValueError(f"mask must be (B, 1 or {x.shape[1]}, {x.shape[2]}, {x.shape[3]}), got {tuple(mask.shape)}")
        with torch.autocast(device_type=x.device.type, enabled=False):
            mask32 = mask.float()
            ones = torch.ones(1, mask32.shape[1], *self.kernel_size, device=x.device, dtype=torch.float32)
            window_sum = F.conv2d(mask32, ones, stride=self.stride, padding=self.padding, dilation=self.dilation)
            if mask32.shape[1] == 1:
                window_sum = window_sum * self.in_channels
            window_size = float(self.in_channels * self.kernel_size[0] * self.kernel_size[1])
            valid = window_sum > 0
            new_mask = valid.to(torch.float32)
            # zero outside the new mask, so the output needs no separate multiplication by it
            ratio = window_size / window_sum.clamp(min=1.0) * new_mask
        # the bias is fused into the convolution, so an all-valid mask gives exactly nn.Conv2d
        raw = F.conv2d(x * mask.to(x.dtype), self.weight, self.bias, self.stride, self.padding, self.dilation,
                       self.groups)
        ratio = ratio.to(raw.dtype)
        if self.bias is None:
            return raw * ratio, new_mask
        # (raw - b) * ratio + b inside the new mask, 0 outside, in two full-size operations:
        # raw * ratio + b * (new_mask - ratio); where ratio is 1 the second term is exactly 0
        bias_share = self.bias.view(1, -1, 1, 1).to(raw.dtype) * (new_mask.to(raw.dtype) - ratio)
        return torch.addcmul(bias_share, raw, ratio), new_mask


class PartialConv2dReference(nn.Conv2d):
    """The straightforward formula (NVIDIA's ``partialconv2d.py`` without its pointer cache), for tests and
    ``scripts/bench_pconv.py``: the mask is convolved with a full (C_out, C_in, k, k) ones weight."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        full_mask = mask.expand(-1, x.shape[1], -1, -1).to(x.dtype)
        with torch.no_grad():
            ones = torch.ones(self.out_channels, self.in_channels, *self.kernel_size, device=x.device, dtype=x.dtype)
            update = F.conv2d(full_mask, ones, stride=self.stride, padding=self.padding, dilation=self.dilation)
            window_size = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
            ratio = window_size / (update + 1e-8)
            update = torch.clamp(update, 0, 1)
            ratio = ratio * update
        raw = F.conv2d(x * full_mask, self.weight, None, self.stride, self.padding, self.dilation, self.groups)
        if self.bias is not None:
            bias = self.bias.view(1, -1, 1, 1)
            out = (raw * ratio + bias) * update
        else:
            out = raw * ratio
        return out, update[:, :1]
