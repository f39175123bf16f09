"""The ``pconv-baseline`` console script: the command line of :mod:`pconv_baseline.cli`, or, where torch is
not installed, one line saying which extra to install (instead of an import traceback)."""
from __future__ import annotations

import sys

from inpaint_core.cli import TORCH_EXTRA

__all__ = ["main"]


def main(args: list[str] | None = None, prog_name: str | None = None) -> None:
    try:
        from .cli import main as command_line
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != "torch":
            raise
        sys.stderr.write(f"error: pconv-baseline needs torch: {TORCH_EXTRA}\n")
        sys.exit(1)
    command_line(args, prog_name=prog_name or "pconv-baseline")
