"""The ``pconv_baseline`` inpainter for the benchmark: a trained PConv U-Net, GPU when there is one."""
from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["PConvInpainter"]


class PConvInpainter:
    """``benchmark run --model pconv_baseline --weights RUN/checkpoints/last.pt``.

    Any image size: the input is padded (reflect) to the network's multiple and the output cropped back.
    ``inpaint_batch`` runs whole batches (``--batch-size``).
    """

    name = "pconv_baseline"

    def __init__(self, weights: str | None = None, device: str | None = None) -> None:
        import torch

        from .network import PConvUNet

        if not weights:
            raise ValueError("model 'pconv_baseline' needs --weights PATH (a checkpoint of 'pconv-baseline train')")
        if not Path(weights).is_file():
            raise ValueError(f"weights file {weights!r} does not exist")
        state = torch.load(weights, map_location="cpu", weights_only=False)
        self.weights_path = str(weights)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.net = PConvUNet(levels=int(state.get("levels", 8)))
        self.net.load_state_dict(state["model"] if "model" in state else state)
        self.net.to(self.device).eval()

    def inpaint_batch(self, images, masks):
        """images float Bx3xHxW in [0, 1], masks Bx1xHxW with 1 = hole -> Bx3xHxW composite in [0, 1]."""
        import torch
        import torch.nn.functional as F

        multiple = self.net.multiple
        height, width = images.shape[-2:]
        pad_h, pad_w = (-height) % multiple, (-width) % multiple
        valid = 1 - masks
        images, valid = images.to(self.device), valid.to(self.device)
        if pad_h or pad_w:
            mode = "reflect" if pad_h < height and pad_w < width else "replicate"
            images = F.pad(images, (0, pad_w, 0, pad_h), mode=mode)
            valid = F.pad(valid, (0, pad_w, 0, pad_h), mode=mode)
        with torch.no_grad():
            _, composite = self.net(images * valid, valid)
        return composite[..., :height, :width].clamp(0, 1)

    def __call__(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        from inpaint_core.conventions import images_to_tensor, masks_to_tensor, tensor_to_images

        return tensor_to_images(self.inpaint_batch(images_to_tensor([image]), masks_to_tensor([mask])))[0]
