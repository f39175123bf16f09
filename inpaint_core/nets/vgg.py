"""VGG16 convolutional features (torchvision's layout) and LPIPS-VGG.

:class:`VGG16Features` has the same module indices as ``torchvision.models.vgg16().features`` (conv at
0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28; ReLU after each; max-pool at 4, 9, 16, 23, 30), so the state
dict of torchvision's ``vgg16-397923af.pth`` loads after stripping the ``features.`` prefix.

:class:`LPIPS` is Zhang et al.'s learned perceptual metric, VGG variant v0.1: a fixed input scaling, the
VGG16 activations relu1_2, relu2_2, relu3_3, relu4_3, relu5_3, unit-normalised over channels, squared
differences weighted by 1x1 convolutions (``lin0.model.1.weight`` ... as in the ``lpips`` package's
``vgg.pth``), averaged over space and summed over layers. Inputs are float Bx3xHxW in [-1, 1].
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

__all__ = ["VGG16Features", "LPIPS", "VGG16_LAYOUT"]

VGG16_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
LPIPS_SLICES = ((0, 4), (4, 9), (9, 16), (16, 23), (23, 30))  # up to relu1_2, relu2_2, relu3_3, relu4_3, relu5_3
LPIPS_CHANNELS = (64, 128, 256, 512, 512)


class VGG16Features(nn.Sequential):
    """``torchvision.models.vgg16().features`` without torchvision."""

    def __init__(self) -> None:
        layers: list[nn.Module] = []
        channels = 3
        for item in VGG16_LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(channels, int(item), kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                channels = int(item)
        super().__init__(*layers)

    def load_torchvision(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Load torchvision's full VGG16 state dict (``features.*`` keys; the classifier is ignored)."""
        features = {k[len("features."):]: v for k, v in state_dict.items() if k.startswith("features.")}
        self.load_state_dict(features or state_dict)


class _NetLinLayer(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.model = nn.Sequential(nn.Dropout(), nn.Conv2d(channels, 1, kernel_size=1, bias=False))


class LPIPS(nn.Module):
    """LPIPS-VGG v0.1. ``forward(x, y)`` gives one distance per pair, shape (B,)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1))
        self.features = VGG16Features()
        for index, channels in enumerate(LPIPS_CHANNELS):
            self.add_module(f"lin{index}", _NetLinLayer(channels))
        self.eval()
        for parameter in self.parameters():
            parameter.requires_grad_(False)

    @classmethod
    def from_files(cls, vgg_path: Path, lin_path: Path) -> "LPIPS":
        from .weights import load_state_dict

        model = cls()
        model.features.load_torchvision(load_state_dict(vgg_path))
        model.load_lin(load_state_dict(lin_path))
        return model

    def load_lin(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Load the ``lpips`` package's ``vgg.pth`` (keys ``lin{k}.model.1.weight``)."""
        wanted = {f"lin{k}.model.1.weight" for k in range(len(LPIPS_CHANNELS))}
        missing = wanted - set(state_dict)
        if missing:
            raise ValueError(f"LPIPS linear weights lack {sorted(missing)}")
        own = self.state_dict()
        own.update({k: state_dict[k] for k in wanted})
        self.load_state_dict(own)

    @staticmethod
    def _normalise(features: torch.Tensor) -> torch.Tensor:
        return features / (torch.sqrt(torch.sum(features**2, dim=1, keepdim=True)) + 1e-10)

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        first = (first - self.shift) / self.scale
        second = (second - self.shift) / self.scale
        total = torch.zeros(first.shape[0], device=first.device, dtype=first.dtype)
        for index, (start, stop) in enumerate(LPIPS_SLICES):
            for layer in list(self.features)[start:stop]:
                first = layer(first)
                second = layer(second)
            difference = (self._normalise(first) - self._normalise(second)) ** 2
            lin: _NetLinLayer = getattr(self, f"lin{index}")
            total = total + lin.model(difference).mean(dim=(2, 3)).squeeze(1)
        return total
