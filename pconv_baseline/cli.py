"""``pconv-baseline`` command line: train the reference PConv U-Net."""
from __future__ import annotations

from typing import Any

import click

from inpaint_core.cli import OneLineErrors, dataclass_options, options_from

from .train import TrainOptions, summary_line
from .train import train as run_training

__all__ = ["main"]


@click.group(cls=OneLineErrors)
def main() -> None:
    """The reference PConv U-Net (Liu et al., ECCV 2018): training; scoring is 'benchmark run --model pconv_baseline'."""


@main.command()
@dataclass_options(TrainOptions)
@click.option("--overwrite", is_flag=True, help="Start afresh in an --out that holds a run with other options "
              "(its checkpoints, samples and log are deleted).")
def train(overwrite: bool, **params: Any) -> None:
    """Train (or resume: run the same command again) the PConv U-Net; multi-GPU with torchrun."""
    summary = run_training(options_from(TrainOptions, params), overwrite=overwrite)
    click.echo(summary_line(summary))


if __name__ == "__main__":  # pragma: no cover - torchrun -m pconv_baseline.cli train ...
    main()
