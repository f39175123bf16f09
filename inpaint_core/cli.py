"""Shared by the command lines: user errors as one line, Ctrl-C and SIGTERM as a resume hint, ``--version``,
OpenCV's own log lines kept quiet, and click options made from the options dataclasses, so that each default
and each help text is written once (on the field).

A command group::

    @click.group(cls=OneLineErrors)
    @version_option()
    def main() -> None: ...

A field opts in to the command line with ``metadata=cli_help("...")``::

    @dataclass(frozen=True)
    class BuildOptions:
        seed: int = field(default=0, metadata=cli_help("Build seed."))

    @main.command()
    @dataclass_options(BuildOptions)
    def build(**params):
        options = options_from(BuildOptions, params)

Types: ``int``, ``float``, ``str`` and ``X | None`` become typed options; ``bool`` a ``--name/--no-name`` switch
(or a plain ``--name`` flag with ``cli_help(..., flag=True)``); ``tuple[str, ...]`` a comma-separated list.
Extra click settings (``type=click.Choice(...)``, another option name) go in ``cli_help``'s keywords.
"""
from __future__ import annotations

import dataclasses
import os
import signal
import sys
import threading
import types
import typing
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Mapping, TypeVar

import click

__all__ = ["OneLineErrors", "Terminated", "cli_help", "dataclass_options", "options_from", "quiet_opencv_logs",
           "sigterm_as_interrupt", "version_option"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
_KEY = "cli"


DISTRIBUTION = "inpaint-masks-toolkit"
TORCH_EXTRA = f"install the [torch] extra: pip install '{DISTRIBUTION}[torch]'"  # what to do without torch


class Terminated(KeyboardInterrupt):
    """SIGTERM (what ``timeout``, systemd and Slurm send), raised in the main thread like Ctrl-C, so that the
    command stops the same clean, resumable way."""


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While inside, SIGTERM raises :class:`Terminated` in the main thread (once; a second SIGTERM during the
    clean-up kills as usual). Does nothing outside the main thread, where signals cannot be handled."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class OneLineErrors(click.Group):
    """Library ``ValueError``/``OSError`` (bad user input) become ``error: ...`` and exit status 1, with
    no traceback; Ctrl-C exits 130 and SIGTERM 143, each with a hint that running the same command again
    resumes (SIGTERM is handled like Ctrl-C: the command stops cleanly, its workers with it). The group
    gets ``--version`` (:func:`version_option`) unless it declares its own."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not any(param.name == "version" for param in self.params):
            version_option()(self)

    def invoke(self, ctx: click.Context) -> object:
        try:
            with sigterm_as_interrupt():
                return super().invoke(ctx)
        except Terminated:
            click.echo("terminated (SIGTERM): run the same command again to resume", err=True)
            sys.exit(143)
        except KeyboardInterrupt:
            click.echo("interrupted: run the same command again to resume", err=True)
            sys.exit(130)
        except (ValueError, OSError) as exc:
            if isinstance(exc, click.ClickException):
                raise
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            click.echo(f"error: {message}", err=True)
            sys.exit(1)


def _toolkit_version() -> str:
    """The source's version (setup.cfg reads the same attribute), right even when an install's metadata is stale."""
    from . import __version__

    return __version__


def version_option() -> Callable[[F], F]:
    """``--version`` for a click command or group (a function, or a command already made): prints
    ``<command> <version> (inpaint-masks-toolkit, Python x.y.z)``. Every :class:`OneLineErrors` group has it.
    (click's own ``version_option`` keeps the first program name it printed: wrong in a test session.)"""

    def show(ctx: click.Context, _: click.Parameter, value: bool) -> None:
        if not value or ctx.resilient_parsing:
            return
        click.echo(f"{ctx.find_root().info_name} {_toolkit_version()} ({DISTRIBUTION}, Python "
                   f"{sys.version.split()[0]})")
        ctx.exit()

    return click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=show,
                        help="Show the version and exit.")


def quiet_opencv_logs() -> None:
    """Keep OpenCV's and FFmpeg's own log lines (``[ WARN:0@0.1] ...``, ``moov atom not found``) off the
    terminal: the toolkit reports unreadable inputs itself, in one line each. Sets ``OPENCV_LOG_LEVEL=ERROR``
    and ``OPENCV_FFMPEG_LOGLEVEL=-8`` (quiet) unless the user set them, so worker processes started later
    inherit them, and lowers the level of an OpenCV already imported. Call it before any video is opened."""
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    if "cv2" in sys.modules and os.environ["OPENCV_LOG_LEVEL"] == "ERROR":
        import cv2

        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


def cli_help(text: str, *, flag: bool = False, name: str | None = None, **click_settings: Any) -> dict[str, Any]:
    """Field metadata putting the field on the command line with ``text`` as its help.

    Args:
        flag: a bool field becomes a plain ``--name`` flag instead of a ``--name/--no-name`` switch.
        name: the option's name when it is not the field's (``--compile`` for ``compile_model``).
        click_settings: passed to ``click.option`` (``type=click.Choice(...)``, ``show_default=False``, ...).
    """
    return {_KEY: {"help": text, "flag": flag, "name": name, "settings": click_settings}}


def _cli_fields(cls: type) -> list[tuple[dataclasses.Field, Any, dict[str, Any]]]:
    hints = typing.get_type_hints(cls)
    return [(item, hints[item.name], item.metadata[_KEY]) for item in dataclasses.fields(cls) if _KEY in item.metadata]


def _default(item: dataclasses.Field) -> Any:
    if item.default is not dataclasses.MISSING:
        return item.default
    if item.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return item.default_factory()  # type: ignore[misc]
    return None


def _split(_: click.Context, __: click.Parameter, value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def _option(item: dataclasses.Field, hint: Any, spec: dict[str, Any]) -> Callable[[F], F]:
    flag_name = "--" + (spec["name"] or item.name).replace("_", "-")
    default = _default(item)
    required = item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING  # type: ignore[misc]
    settings: dict[str, Any] = {"help": spec["help"], "show_default": not required and default is not None}
    args = typing.get_args(hint)
    optional = (typing.get_origin(hint) in (typing.Union, types.UnionType)) and type(None) in args
    base = next((a for a in args if a is not type(None)), hint) if optional else hint
    if base is bool:
        declaration = flag_name if spec["flag"] else f"{flag_name}/--no-{flag_name[2:]}"
        settings.update(is_flag=True, default=bool(default))
        if spec["flag"]:
            settings["show_default"] = False
    elif typing.get_origin(base) is tuple:
        declaration = flag_name
        settings.update(default=",".join(default or ()), callback=_split, show_default=False)
    else:
        declaration = flag_name
        settings.update(type=base if base in (int, float, str) else str, required=required)
        if not required:  # click >= 8.3 takes an explicit default=None as a value, even for a required option
            settings["default"] = default
    settings.update(spec["settings"])
    return click.option(declaration, item.name, **settings)


def dataclass_options(cls: type, *, exclude: tuple[str, ...] = ()) -> Callable[[F], F]:
    """Decorator adding one click option per field of ``cls`` that carries :func:`cli_help` metadata."""
    chosen = [entry for entry in _cli_fields(cls) if entry[0].name not in exclude]

    def decorate(function: F) -> F:
        for item, hint, spec in reversed(chosen):
            function = _option(item, hint, spec)(function)
        return function

    return decorate


def options_from(cls: type[T], params: Mapping[str, Any], **values: Any) -> T:
    """An instance of ``cls`` from the parsed command-line ``params`` (its own fields only) and ``values``."""
    names = {item.name for item in dataclasses.fields(cls)}  # type: ignore[arg-type]
    chosen = {name: value for name, value in params.items() if name in names}
    return cls(**{**chosen, **values})  # type: ignore[call-arg]
