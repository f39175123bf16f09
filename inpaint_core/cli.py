"""Shared by the command lines: user errors as one line, Ctrl-C as a resume hint."""
from __future__ import annotations

import sys

import click

__all__ = ["OneLineErrors"]


class OneLineErrors(click.Group):
    """Library ``ValueError``/``OSError`` (bad user input) become ``error: ...`` and exit status 1, with
    no traceback; Ctrl-C exits 130 with a hint that running the same command again resumes."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("interrupted: run the same command again to resume", err=True)
            sys.exit(130)
        except (ValueError, OSError) as exc:
            if isinstance(exc, click.ClickException):
                raise
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            click.echo(f"error: {message}", err=True)
            sys.exit(1)
