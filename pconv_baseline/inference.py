"""The ``pconv_baseline`` inpainter for the benchmark: a trained PConv U-Net, GPU when there is one."""
from __future__ import annotations

import numpy as np

__all__ = ["PConvInpainter"]


class PConvInpainter:
    """``benchmark run --model pconv_baseline --weights RUN/checkpoints/weights.pt``.

    ``weights``: the inference file ``weights.pt`` that ``pconv-baseline train`` writes beside its checkpoints
    (float16 parameters, widened to float32 here), a full ``step_*.pt`` checkpoint, or a bare state dict; read
    with ``weights_only=True``, so a file that would run code is refused (ValueError, one line).
    Any image size: the input is padded (reflect) to the network's multiple and the output cropped back.
    ``inpaint_batch`` runs whole batches (``--batch-size``).
    """

    name = "pconv_baseline"

    def __init__(self, weights: str | None = None, device: str | None = None) -> None:
        import torch

        from .checkpoint import load_model_weights, read_model_weights
        from .network import PConvUNet

        if not weights:
            raise ValueError("model 'pconv_baseline' needs --weights PATH (RUN/checkpoints/weights.pt of "
                             "'pconv-baseline train')")
        state, levels = read_model_weights(weights, what="--weights")
        self.weights_path = str(weights)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.net = PConvUNet(levels=levels)
        load_model_weights(self.net, state, what=f"--weights {str(weights)!r}")
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
