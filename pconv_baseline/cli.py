"""``pconv-baseline`` command line: train the reference PConv U-Net."""
from __future__ import annotations

from pathlib import Path

import click

from inpaint_core.cli import OneLineErrors

__all__ = ["main"]


@click.group(cls=OneLineErrors)
def main() -> None:
    """The reference PConv U-Net (Liu et al., ECCV 2018): training; scoring is 'benchmark run --model pconv_baseline'."""


@main.command()
@click.option("--images", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--masks", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="maskgen dataset: its train split for training, test split for validation.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Run folder.")
@click.option("--stage", type=click.Choice(["1", "2"]), default="1", show_default=True,
              help="1: lr 2e-4, batch norm on; 2: lr 5e-5, encoder batch norm frozen.")
@click.option("--init", type=click.Path(exists=True, dir_okay=False), default=None, help="Checkpoint to start from (stage 2).")
@click.option("--steps", default=1000, show_default=True)
@click.option("--batch-size", default=6, show_default=True, help="Global batch (split over torchrun processes).")
@click.option("--size", type=click.Choice(["256", "512"]), default="256", show_default=True)
@click.option("--lr", type=float, default=None, help="Override the stage's learning rate.")
@click.option("--seed", default=0, show_default=True)
@click.option("--bf16", is_flag=True, help="bf16 autocast.")
@click.option("--channels-last", is_flag=True)
@click.option("--compile", "compile_model", is_flag=True, help="torch.compile the network.")
@click.option("--checkpoint-every", default=500, show_default=True)
@click.option("--keep-checkpoints", default=0, show_default=True,
              help="Keep the N newest checkpoints/step_*.pt (0 = all; last.pt is always kept).")
@click.option("--validate-every", default=500, show_default=True)
@click.option("--val-images", default=8, show_default=True, help="Images held out for validation.")
@click.option("--workers", default=2, show_default=True, help="Data-loader processes.")
@click.option("--vgg-weights", default=None, help="torchvision vgg16-397923af.pth (else the torch.hub cache).")
@click.option("--download-weights", is_flag=True, help="Fetch VGG16 weights through torch.hub if missing.")
@click.option("--no-perceptual", is_flag=True, help="Train without the perceptual and style terms (no VGG16).")
@click.option("--device", default=None)
def train(images: Path, masks: Path, out: Path, stage: str, init: str | None, steps: int, batch_size: int, size: str,
          lr: float | None, seed: int, bf16: bool, channels_last: bool, compile_model: bool, checkpoint_every: int,
          keep_checkpoints: int,
          validate_every: int, val_images: int, workers: int, vgg_weights: str | None, download_weights: bool,
          no_perceptual: bool, device: str | None) -> None:
    """Train (or resume: run the same command again) the PConv U-Net; multi-GPU with torchrun."""
    from .train import TrainOptions
    from .train import train as run_training

    options = TrainOptions(images=str(images), masks=str(masks), out=str(out), stage=int(stage), steps=steps,
                           batch_size=batch_size, size=int(size), lr=lr, seed=seed, bf16=bf16,
                           channels_last=channels_last, compile=compile_model, checkpoint_every=checkpoint_every,
                           keep_checkpoints=keep_checkpoints,
                           validate_every=validate_every, val_images=val_images, workers=workers, init=init,
                           vgg_weights=vgg_weights, no_perceptual=no_perceptual, download_weights=download_weights,
                           device=device)
    summary = run_training(options)
    click.echo(f"stopped at step {summary['step']} (started at {summary['start_step']}); last loss "
               f"{summary.get('last_loss', float('nan')):.4f}; validation {summary.get('validation', {})}")


if __name__ == "__main__":  # pragma: no cover - torchrun -m pconv_baseline.cli train ...
    main()
