from __future__ import annotations

import pytest
import torch
from torch import nn

from pconv_baseline.layers import PartialConv2d, PartialConv2dReference
from pconv_baseline.network import PConvUNet, levels_for_size


def _layer(cls, c_in=4, c_out=6, k=3, stride=1, bias=True, dtype=torch.float32):
    torch.manual_seed(0)
    layer = cls(c_in, c_out, k, stride=stride, padding=k // 2, bias=bias).to(dtype)
    return layer


def test_all_valid_mask_is_exactly_conv2d() -> None:
    layer = _layer(PartialConv2d, k=1)
    conv = nn.Conv2d(4, 6, 1)
    conv.load_state_dict(layer.state_dict())
    x = torch.randn(2, 4, 9, 9)
    out, mask = layer(x, torch.ones(2, 1, 9, 9))
    assert torch.equal(out, conv(x)) and torch.equal(mask, torch.ones(2, 1, 9, 9))
    # a 3x3 kernel re-normalises only at the zero-padded border; inside it equals the convolution
    layer3 = _layer(PartialConv2d)
    conv3 = nn.Conv2d(4, 6, 3, padding=1)
    conv3.load_state_dict(layer3.state_dict())
    out3, _ = layer3(x, torch.ones(2, 1, 9, 9))
    assert torch.allclose(out3[..., 1:-1, 1:-1], conv3(x)[..., 1:-1, 1:-1], atol=1e-6)


def test_hole_values_do_not_change_the_output() -> None:
    layer = _layer(PartialConv2d)
    x = torch.randn(1, 4, 12, 12)
    mask = torch.ones(1, 1, 12, 12)
    mask[..., 3:8, 4:9] = 0
    changed = x.clone()
    changed[..., 3:8, 4:9] = 1000 * torch.randn(1, 4, 5, 5)
    assert torch.equal(layer(x, mask)[0], layer(changed, mask)[0])


def test_all_hole_window_gives_zero_and_mask_zero() -> None:
    layer = _layer(PartialConv2d)
    mask = torch.ones(1, 1, 12, 12)
    mask[..., 2:9, 2:9] = 0
    out, new_mask = layer(torch.randn(1, 4, 12, 12), mask)
    assert torch.equal(out[..., 3:8, 3:8], torch.zeros(1, 6, 5, 5))
    assert torch.equal(new_mask[..., 3:8, 3:8], torch.zeros(1, 1, 5, 5))
    assert new_mask[..., 2, 2] == 1  # its window still sees a valid pixel


@pytest.mark.parametrize("mask_channels", [1, 4])
@pytest.mark.parametrize("stride", [1, 2])
def test_equals_the_straightforward_formula(mask_channels: int, stride: int) -> None:
    fast, reference = _layer(PartialConv2d, stride=stride), _layer(PartialConv2dReference, stride=stride)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(3, 4, 16, 16, generator=generator)
    mask = (torch.rand(3, mask_channels, 16, 16, generator=generator) > 0.5).float()
    out, new_mask = fast(x, mask)
    ref_out, ref_mask = reference(x, mask)
    assert torch.allclose(out, ref_out, atol=1e-5) and torch.equal(new_mask, ref_mask)


def test_gradcheck_float64() -> None:
    layer = _layer(PartialConv2d, c_in=2, c_out=3, dtype=torch.float64)
    x = torch.randn(1, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    mask = (torch.rand(1, 1, 6, 6) > 0.4).double()
    assert torch.autograd.gradcheck(lambda t: layer(t, mask)[0], (x,))


def test_bf16_autocast_and_channels_last() -> None:
    layer = _layer(PartialConv2d).to(memory_format=torch.channels_last)
    x = torch.randn(2, 4, 16, 16).to(memory_format=torch.channels_last)
    mask = (torch.rand(2, 1, 16, 16) > 0.5).float()
    reference, _ = _layer(PartialConv2d)(x.contiguous(), mask)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, new_mask = layer(x, mask)
    assert out.dtype == torch.bfloat16 and new_mask.dtype == torch.float32
    assert torch.isfinite(out).all()
    assert torch.allclose(out.float(), reference, atol=0.1, rtol=0.05)


def test_hole_shrinks_level_by_level_and_vanishes() -> None:
    net = PConvUNet(levels=levels_for_size(64))
    mask = torch.ones(1, 1, 64, 64)
    mask[..., 16:48, 16:48] = 0  # a 32x32 hole
    holes = []
    x, m = torch.rand(1, 3, 64, 64), mask
    for block in net.encoder:
        x, m = block(x, m)
        holes.append(float((1 - m).mean()))
    assert holes[0] > 0 and all(b <= a for a, b in zip(holes, holes[1:]))
    assert holes[-1] == 0.0


def test_unet_shapes_depth_and_composite() -> None:
    assert levels_for_size(512) == 8 and levels_for_size(256) == 7
    with pytest.raises(ValueError, match="power of two"):
        levels_for_size(300)
    net = PConvUNet(levels=5)
    image = torch.rand(2, 3, 64, 64)
    mask = (torch.rand(2, 1, 64, 64) > 0.3).float()
    output, composite = net(image, mask)
    assert output.shape == image.shape
    assert torch.equal(composite * mask, image * mask)
    with pytest.raises(ValueError, match="multiple of 32"):
        net(torch.rand(1, 3, 48, 48), torch.ones(1, 1, 48, 48))
    assert sum(p.numel() for p in PConvUNet().parameters()) == 32_859_796  # 8 levels, the paper's network
