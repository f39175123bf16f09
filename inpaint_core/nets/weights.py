"""Finding network weights: a user path, the torch.hub checkpoint cache, or an explicit download.

Nothing downloads at import time or in tests. :func:`locate_weights` returns a path or ``None`` with the
reason, so a metric can be omitted with a stated reason instead of being faked.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

__all__ = ["WeightsSpec", "VGG16_IMAGENET", "LPIPS_VGG_LIN", "FID_INCEPTION", "locate_weights", "load_state_dict"]


@dataclass(frozen=True)
class WeightsSpec:
    """A published weights file: where it comes from and what it is for."""

    name: str
    url: str

    @property
    def file_name(self) -> str:
        return Path(urlparse(self.url).path).name


VGG16_IMAGENET = WeightsSpec("VGG16 ImageNet (torchvision)", "https://download.pytorch.org/models/vgg16-397923af.pth")
LPIPS_VGG_LIN = WeightsSpec("LPIPS v0.1 VGG linear layers",
                            "https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/vgg.pth")
FID_INCEPTION = WeightsSpec("FID Inception-v3 (pytorch-fid)",
                            "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                            "pt_inception-2015-12-05-6726825d.pth")


def _hub_checkpoints() -> Path:
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def locate_weights(spec: WeightsSpec, path: str | os.PathLike[str] | None = None, *,
                   download: bool = False) -> tuple[Path | None, str]:
    """``(path, "")`` when the weights are available, else ``(None, reason)``.

    Order: ``path`` if given (it must exist), the torch.hub cache (``$TORCH_HOME/hub/checkpoints``, where
    torchvision and ``torch.hub.load_state_dict_from_url`` put them), then a download through
    ``torch.hub.load_state_dict_from_url`` when ``download`` is true.
    """
    if path is not None:
        given = Path(path)
        if not given.is_file():
            return None, f"{spec.name}: {str(given)!r} does not exist"
        return given, ""
    cached = _hub_checkpoints() / spec.file_name
    if cached.is_file():
        return cached, ""
    if download:
        import torch.hub

        try:
            torch.hub.load_state_dict_from_url(spec.url, map_location="cpu", progress=True)
        except Exception as exc:  # noqa: BLE001 - no network, HTTP error...
            return None, f"{spec.name}: download from {spec.url} failed ({type(exc).__name__}: {exc})"
        if cached.is_file():
            return cached, ""
    return None, (f"{spec.name} weights not found: no {spec.file_name} in the torch.hub cache ({cached.parent}); "
                  "give the file's path or allow the download")


def load_state_dict(path: Path) -> dict:
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)
