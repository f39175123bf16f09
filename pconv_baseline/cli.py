"""``pconv-baseline`` command line. Its commands (train, ...) land with the pconv_baseline issue."""
from __future__ import annotations

import click


@click.group()
def main() -> None:
    """Train the reference PConv U-Net (not implemented yet: see the README's roadmap)."""
