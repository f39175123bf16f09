#!/usr/bin/env python3
"""PConv U-Net speed: training throughput and inference latency, our PartialConv2d against the
straightforward layer (full-shape mask convolution), fp32 and bf16 autocast, in one run.

    python scripts/bench_pconv.py                       # GPU: 512x512, batch sizes 1, 4, 8
    python scripts/bench_pconv.py --device cpu --size 64 --batch-sizes 2 --steps 2   # CPU smoke run

Training steps use the full PConv loss (VGG16 with random weights: the speed does not depend on them), or
with ``--loss l1`` an L1 loss, which times the network alone (the VGG16 passes of the full loss are shared
by both layers and dilute the ratio).
Prints images/s per configuration and the ratio ours / reference.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time


def count_arithmetic(args, device, levels: int) -> None:
    """Print the floating-point operations of one training image for each layer (torch's flop counter:
    convolutions and matrix products), the bound on the throughput ratio that arithmetic alone sets."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from inpaint_core.nets.vgg import VGG16Features
    from pconv_baseline.layers import PartialConv2d, PartialConv2dReference
    from pconv_baseline.loss import PConvLoss
    from pconv_baseline.network import PConvUNet

    totals = {}
    for label, layer in (("ours", PartialConv2d), ("reference", PartialConv2dReference)):
        net = PConvUNet(levels=levels, layer=layer).to(device)
        criterion = PConvLoss(VGG16Features()).to(device)
        image = torch.rand(1, 3, args.size, args.size, device=device)
        valid = (torch.rand(1, 1, args.size, args.size, device=device) > 0.3).float()
        counts = []
        for phase in ("network", "loss", "backward", "network alone"):
            with FlopCounterMode(display=False) as counter:
                if phase == "network":
                    output, composite = net(image * valid, valid)
                elif phase == "loss":
                    loss, _ = criterion(output, composite, image, valid)
                elif phase == "backward":
                    loss.backward()
                else:  # a forward and backward pass with an L1 loss: the network's own arithmetic
                    output, _ = net(image * valid, valid)
                    torch.nn.functional.l1_loss(output, image).backward()
            counts.append(counter.get_total_flops() / 1e9)
        totals[label] = counts
        print(f"arithmetic per training image, {label:<9}: network forward {counts[0]:.1f} GFLOP, loss forward "
              f"{counts[1]:.1f}, backward {counts[2]:.1f}, total {sum(counts[:3]):.1f}; network alone "
              f"(forward + backward) {counts[3]:.1f}")
    ours, reference = totals["ours"], totals["reference"]
    print(f"arithmetic bound on the training ratio: {sum(reference[:3]) / sum(ours[:3]):.2f}x with the full loss, "
          f"{reference[3] / ours[3]:.2f}x for the network alone", flush=True)


def main() -> int:
    import torch

    from inpaint_core.nets.vgg import VGG16Features
    from pconv_baseline.layers import PartialConv2d, PartialConv2dReference
    from pconv_baseline.loss import PConvLoss
    from pconv_baseline.network import PConvUNet, levels_for_size

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--batch-sizes", default="1,4,8")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--loss", choices=("full", "l1"), default="full",
                        help="full: the PConv loss with its three VGG16 passes (about three quarters of a "
                             "training step's arithmetic at 512); l1: an L1 loss, timing the network alone")
    args = parser.parse_args()
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device {name}, {args.size}x{args.size}, torch {torch.__version__}, channels_last={args.channels_last}, "
          f"loss {args.loss}")

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    levels = levels_for_size(args.size)
    count_arithmetic(args, device, levels)
    if args.loss == "full":
        criterion = PConvLoss(VGG16Features()).to(device)
    else:
        def criterion(output, composite, target, valid):  # noqa: ARG001 - the PConvLoss signature
            return torch.nn.functional.l1_loss(output.float(), target), {}
    layers = {"ours": PartialConv2d, "reference": PartialConv2dReference}
    for batch in (int(b) for b in args.batch_sizes.split(",")):
        for precision in ("fp32", "bf16"):
            autocast = {"device_type": device.type, "dtype": torch.bfloat16, "enabled": precision == "bf16"}
            images = torch.rand(batch, 3, args.size, args.size, device=device)
            valid = (torch.rand(batch, 1, args.size, args.size, device=device) > 0.3).float()
            nets, optimizers = {}, {}
            for label, layer in layers.items():
                torch.manual_seed(0)
                nets[label] = PConvUNet(levels=levels, layer=layer).to(device)
                if args.channels_last:
                    nets[label] = nets[label].to(memory_format=torch.channels_last)
                optimizers[label] = torch.optim.Adam(nets[label].parameters(), lr=2e-4)
            # the two layers take turns, step by step, so drift in a shared machine's speed hits both alike
            timings = {label: [] for label in layers}
            latencies = {label: [] for label in layers}
            for step in range(args.warmup + args.steps):
                for label in layers:
                    net, optimizer = nets[label], optimizers[label]
                    sync()
                    started = time.perf_counter()
                    with torch.autocast(**autocast):
                        output, composite = net(images * valid, valid)
                    loss, _ = criterion(output, composite, images, valid)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    sync()
                    if step >= args.warmup:
                        timings[label].append(time.perf_counter() - started)
            for step in range(args.warmup + args.steps):
                for label in layers:
                    nets[label].eval()
                    sync()
                    started = time.perf_counter()
                    with torch.no_grad(), torch.autocast(**autocast):
                        nets[label](images[:1] * valid[:1], valid[:1])
                    sync()
                    if step >= args.warmup:
                        latencies[label].append(time.perf_counter() - started)
            rates = {label: batch / statistics.median(timings[label]) for label in layers}
            for label in layers:
                print(f"batch {batch:>2} {precision} {label:<9}: train {rates[label]:8.2f} images/s, "
                      f"inference {statistics.median(latencies[label]) * 1000:8.2f} ms/image (batch 1)", flush=True)
            latency_ratio = statistics.median(latencies["reference"]) / statistics.median(latencies["ours"])
            print(f"batch {batch:>2} {precision}: ours / reference: training throughput "
                  f"{rates['ours'] / rates['reference']:.2f}x, inference speed {latency_ratio:.2f}x", flush=True)
            del nets, optimizers
    return 0


if __name__ == "__main__":
    sys.exit(main())
