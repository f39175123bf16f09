"""Running an inpainter in a child process, so that a crash or a hang costs one pair, not the run.

The child builds the model from its spec once, then answers ``(image, mask)`` requests. A call that takes
longer than ``timeout`` seconds kills the child (a new one starts for the next pair); a child that dies is
reported and restarted the same way.
"""
from __future__ import annotations

import time
import traceback
from multiprocessing import get_context
from typing import Any

import numpy as np

__all__ = ["ModelHost", "ModelFailure"]


class ModelFailure(Exception):
    """One model call failed; the message is the reason recorded for the pair."""


def _serve(connection: Any, spec: str, options: dict[str, Any]) -> None:  # runs in the child
    try:
        import cv2

        cv2.setNumThreads(1)
        from .inpainters import create_inpainter

        model = create_inpainter(spec, **options)
        connection.send(("ready", getattr(model, "name", spec), getattr(model, "weights_path", None)))
    except BaseException as exc:  # noqa: BLE001 - report anything, then stop
        connection.send(("error", f"cannot create model {spec!r}: {type(exc).__name__}: {exc}"))
        return
    while True:
        try:
            request = connection.recv()
        except EOFError:
            return
        if request is None:
            return
        image, mask = request
        started = time.perf_counter()
        try:
            output = model(image, mask)
            connection.send(("ok", output, time.perf_counter() - started))
        except BaseException as exc:  # noqa: BLE001
            last = traceback.format_exception_only(type(exc), exc)[-1].strip()
            connection.send(("error", f"model raised {last}"))


class ModelHost:
    """A model living in a spawned child process. Use as a context manager."""

    def __init__(self, spec: str, *, options: dict[str, Any] | None = None, timeout: float | None = None,
                 start_timeout: float = 600.0) -> None:
        self.spec = spec
        self.options = options or {}
        self.timeout = timeout
        self.start_timeout = start_timeout
        self.name: str = spec
        self.weights_path: str | None = None
        self._process: Any = None
        self._connection: Any = None

    def __enter__(self) -> "ModelHost":
        self._start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        context = get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(target=_serve, args=(child, self.spec, self.options), daemon=True)
        process.start()
        child.close()
        if not parent.poll(self.start_timeout):
            process.kill()
            raise ValueError(f"model {self.spec!r} did not start within {self.start_timeout:.0f} s")
        try:
            message = parent.recv()
        except EOFError:
            process.join(1)
            raise ValueError(f"model {self.spec!r} process died while starting (exit code {process.exitcode})") from None
        if message[0] == "error":
            process.join(5)
            raise ValueError(message[1])
        _, self.name, self.weights_path = message
        self._process, self._connection = process, parent

    def _stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join(5)
        self._process = self._connection = None

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.send(None)
            except (BrokenPipeError, OSError):
                pass
            self._process.join(5)
        self._stop()

    def __call__(self, image: np.ndarray, mask: np.ndarray) -> tuple[Any, float]:
        """``(output, seconds)``; raises :class:`ModelFailure` with the reason on any failure."""
        if self._process is None:
            self._start()
        try:
            self._connection.send((image, mask))
            if not self._connection.poll(self.timeout):
                self._stop()
                raise ModelFailure(f"timeout: no answer within {self.timeout:g} s")
            message = self._connection.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError, OSError):
            code = None
            if self._process is not None:
                self._process.join(5)
                code = self._process.exitcode
            self._stop()
            raise ModelFailure(f"model process died (exit code {code})") from None
        if message[0] == "error":
            raise ModelFailure(message[1])
        return message[1], message[2]
