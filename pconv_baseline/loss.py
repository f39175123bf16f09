"""The PConv loss: L_valid + 6 L_hole + 0.05 L_perceptual + 120 (L_style_out + L_style_comp) + 0.1 L_tv.

Perceptual and style terms use VGG16 pool1, pool2 and pool3 features (ImageNet normalisation) of the
output, the composite and the ground truth; the VGG16 is :class:`inpaint_core.nets.vgg.VGG16Features`
(torchvision's layer indices, no torchvision import) with torchvision's ImageNet weights from a path or
the torch.hub cache. Without them training stops with a clear error, unless the perceptual and style
terms are turned off explicitly (then it warns). Masks are validity masks (1 = known).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["PConvLoss", "LossWeights", "gram_matrix", "load_vgg16"]

POOL_INDICES = (4, 9, 16)  # pool1, pool2, pool3 in VGG16 features
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class LossWeights:
    valid: float = 1.0
    hole: float = 6.0
    perceptual: float = 0.05
    style: float = 120.0
    tv: float = 0.1


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """(B, C, C) Gram matrices normalised by C * H * W (the paper's K_p)."""
    batch, channels, height, width = features.shape
    flat = features.reshape(batch, channels, height * width)
    return torch.bmm(flat, flat.transpose(1, 2)) / (channels * height * width)


def load_vgg16(path: str | None, *, download: bool = False) -> nn.Module:
    """VGG16 features with torchvision's ImageNet weights. Raises ValueError with the reason when absent."""
    from inpaint_core.nets.vgg import VGG16Features
    from inpaint_core.nets.weights import VGG16_IMAGENET, load_state_dict, locate_weights

    found, reason = locate_weights(VGG16_IMAGENET, path, download=download)
    if found is None:
        raise ValueError(f"{reason}; pass --vgg-weights PATH, or --no-perceptual to train without the "
                         "perceptual and style terms")
    features = VGG16Features()
    features.load_torchvision(load_state_dict(found))
    return features


class _PoolFeatures(nn.Module):
    def __init__(self, features: nn.Module) -> None:
        super().__init__()
        self.layers = nn.Sequential(*list(features)[: POOL_INDICES[-1] + 1])
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.eval()
        for parameter in self.parameters():
            parameter.requires_grad_(False)

    def train(self, mode: bool = True) -> "_PoolFeatures":
        return super().train(False)  # always frozen

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        x = (image - self.mean) / self.std
        outputs = []
        for index, layer in enumerate(self.layers):
            x = layer(x)
            if index in POOL_INDICES:
                outputs.append(x)
        return outputs


class PConvLoss(nn.Module):
    """``forward(output, composite, target, mask) -> (total, {term: value})``, images in [0, 1]."""

    def __init__(self, vgg_features: nn.Module | None, weights: LossWeights = LossWeights()) -> None:
        super().__init__()
        if vgg_features is None:
            warnings.warn("training without the perceptual and style terms (no VGG16)", stacklevel=2)
        self.vgg = _PoolFeatures(vgg_features) if vgg_features is not None else None
        self.weights = weights

    def forward(self, output: torch.Tensor, composite: torch.Tensor, target: torch.Tensor,
                mask: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        output, composite, target = output.float(), composite.float(), target.float()
        hole = 1 - mask
        terms = {
            "valid": torch.mean(torch.abs(mask * (output - target))),
            "hole": torch.mean(torch.abs(hole * (output - target))),
            "tv": self._total_variation(composite, hole),
        }
        if self.vgg is not None:
            feats_out, feats_comp, feats_gt = self.vgg(output), self.vgg(composite), self.vgg(target)
            terms["perceptual"] = sum(F.l1_loss(o, g) + F.l1_loss(c, g)
                                      for o, c, g in zip(feats_out, feats_comp, feats_gt))
            terms["style_out"] = sum(F.l1_loss(gram_matrix(o), gram_matrix(g)) for o, g in zip(feats_out, feats_gt))
            terms["style_comp"] = sum(F.l1_loss(gram_matrix(c), gram_matrix(g)) for c, g in zip(feats_comp, feats_gt))
        w = self.weights
        total = w.valid * terms["valid"] + w.hole * terms["hole"] + w.tv * terms["tv"]
        if self.vgg is not None:
            total = total + w.perceptual * terms["perceptual"] + w.style * (terms["style_out"] + terms["style_comp"])
        return total, terms

    @staticmethod
    def _total_variation(composite: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        """TV of the composite over the 1-pixel dilation of the hole region."""
        region = F.max_pool2d(hole, kernel_size=3, stride=1, padding=1)
        horizontal = region[..., :, 1:] * region[..., :, :-1]
        vertical = region[..., 1:, :] * region[..., :-1, :]
        dx = torch.abs(composite[..., :, 1:] - composite[..., :, :-1]) * horizontal
        dy = torch.abs(composite[..., 1:, :] - composite[..., :-1, :]) * vertical
        return dx.mean() + dy.mean()
