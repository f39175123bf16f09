"""``pconv-baseline`` command line: train the reference PConv U-Net."""
from __future__ import annotations

from typing import Any

import click

from inpaint_core.cli import OneLineErrors, dataclass_options, options_from

from .train import TrainOptions
from .train import train as run_training

__all__ = ["main"]


@click.group(cls=OneLineErrors)
def main() -> None:
    """The reference PConv U-Net (Liu et al., ECCV 2018): training; scoring is 'benchmark run --model pconv_baseline'."""


@main.command()
@dataclass_options(TrainOptions)
def train(**params: Any) -> None:
    """Train (or resume: run the same command again) the PConv U-Net; multi-GPU with torchrun."""
    summary = run_training(options_from(TrainOptions, params))
    click.echo(f"stopped at step {summary['step']} (started at {summary['start_step']}); last loss "
               f"{summary.get('last_loss', float('nan')):.4f}; validation {summary.get('validation', {})}")


if __name__ == "__main__":  # pragma: no cover - torchrun -m pconv_baseline.cli train ...
    main()
