"""Running an inpainter in a child process, so that a crash or a hang costs one pair, not the run.

The child builds the model from its spec once, then answers ``(image, mask)`` requests. A call that takes
longer than ``timeout`` seconds kills the child (a new one starts for the next pair); a child that dies is
reported and restarted the same way.
"""
from __future__ import annotations

import os
import time
import traceback
from multiprocessing import get_context
from typing import Any

import numpy as np

from inpaint_core.processes import kill_process_group

__all__ = ["ModelHost", "ModelFailure", "HostProvider", "HostPoolProvider"]


class ModelFailure(Exception):
    """One model call failed; the message is the reason recorded for the pair."""


def _serve(connection: Any, spec: str, options: dict[str, Any], parent: int) -> None:  # runs in the child
    _isolate_child(parent)
    try:
        import cv2

        cv2.setNumThreads(1)
        from .inpainters import create_inpainter

        model = create_inpainter(spec, **options)
        connection.send(("ready", getattr(model, "name", spec), getattr(model, "weights_path", None)))
    except BaseException as exc:  # noqa: BLE001 - report anything, then stop
        hint = ""
        if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] == "torch":
            from inpaint_core.cli import TORCH_EXTRA

            hint = f"; {TORCH_EXTRA}"
        connection.send(("error", f"cannot create model {spec!r}: {type(exc).__name__}: {exc}{hint}"))
        return
    while True:
        try:
            request = connection.recv()
        except EOFError:
            return
        if request is None:
            return
        kind, images, masks = request
        started = time.perf_counter()
        if kind == "one":
            try:
                connection.send(("ok", model(images, masks), time.perf_counter() - started))
            except BaseException as exc:  # noqa: BLE001
                connection.send(("error", _describe(exc)))
            continue
        outputs = _batch_outputs(model, images, masks)
        connection.send(("batch", outputs, (time.perf_counter() - started) / max(1, len(images))))


def _isolate_child(parent: int) -> None:
    """In the model's process: lead a process group of its own (so that the host can end whatever the model
    starts along with it), print to stderr (the harness's report owns stdout), and end the group when the
    harness process ``parent`` is gone (killed with -9, it cannot clean up)."""

    from inpaint_core.processes import die_with_parent

    os.setpgrp()
    os.dup2(2, 1)
    die_with_parent(parent, whole_group=True)


def _describe(exc: BaseException) -> str:
    return "model raised " + traceback.format_exception_only(type(exc), exc)[-1].strip()


def _batch_outputs(model: Any, images: list[np.ndarray], masks: list[np.ndarray]) -> list[object]:
    """Outputs (arrays, or error strings) of a batch: through ``inpaint_batch`` when the model has it
    (torch tensors), item by item otherwise, or when the batched call fails (to find the bad item)."""
    batched = getattr(model, "inpaint_batch", None)
    if batched is not None:
        try:
            import torch

            from inpaint_core.conventions import images_to_tensor, masks_to_tensor

            image_tensor = images_to_tensor(images)
            mask_tensor = masks_to_tensor(masks)
            with torch.no_grad():
                result = batched(image_tensor, mask_tensor)
            if not isinstance(result, torch.Tensor) or tuple(result.shape) != tuple(image_tensor.shape):
                shape = tuple(result.shape) if isinstance(result, torch.Tensor) else type(result).__name__
                raise ValueError(f"inpaint_batch returned {shape}, expected {tuple(image_tensor.shape)}")
            from inpaint_core.conventions import tensor_to_images

            finite = torch.isfinite(result.detach().float().cpu()).flatten(1).all(dim=1).tolist()
            converted = tensor_to_images(result)
            return [image if ok else "output has NaN or infinite values" for image, ok in zip(converted, finite)]
        except Exception:  # noqa: BLE001 - fall back to single calls, which attribute the failure
            pass
    outputs = []
    for image, mask in zip(images, masks):
        try:
            outputs.append(model(image, mask))
        except Exception as exc:  # noqa: BLE001
            outputs.append(_describe(exc))
    return outputs


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
        process = context.Process(target=_serve, args=(child, self.spec, self.options, os.getpid()),
                                  daemon=True)
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
            kill_process_group(self._process.pid)
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

    def _exchange(self, request: tuple, timeout: float | None) -> tuple:
        if self._process is None:
            self._start()
        try:
            self._connection.send(request)
            if not self._connection.poll(timeout):
                self._stop()
                raise ModelFailure(f"timeout: no answer within {timeout:g} s")
            return self._connection.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError, OSError):
            code = None
            if self._process is not None:
                self._process.join(5)
                code = self._process.exitcode
            self._stop()
            raise ModelFailure(f"model process died (exit code {code})") from None

    def __call__(self, image: np.ndarray, mask: np.ndarray) -> tuple[Any, float]:
        """``(output, seconds)``; raises :class:`ModelFailure` with the reason on any failure."""
        message = self._exchange(("one", image, mask), self.timeout)
        if message[0] == "error":
            raise ModelFailure(message[1])
        return message[1], message[2]

    def batch(self, images: list[np.ndarray], masks: list[np.ndarray]) -> list[tuple[object, float]]:
        """One ``(output or ModelFailure, seconds per image)`` per item; a timeout or crash fails them all."""
        timeout = None if self.timeout is None else self.timeout * len(images)
        try:
            message = self._exchange(("batch", images, masks), timeout)
        except ModelFailure as failure:
            return [(failure, float("nan"))] * len(images)
        _, outputs, seconds = message
        return [(ModelFailure(o) if isinstance(o, str) else o, seconds) for o in outputs]


class HostProvider:
    """Output provider for a :class:`ModelHost`: single calls, or batches of ``batch_size`` (a model with
    ``inpaint_batch`` gets them as torch tensors). With batches, a timeout or crash fails the whole batch."""

    def __init__(self, host: ModelHost, *, batch_size: int = 1) -> None:
        if batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {batch_size}")
        self.host = host
        self.batch_size = batch_size

    def outputs(self, requests: list) -> list[tuple[object, float]]:
        if self.batch_size > 1:
            return self.host.batch([r[1] for r in requests], [r[2] for r in requests])
        results: list[tuple[object, float]] = []
        for _, model_input, mask in requests:
            try:
                results.append(self.host(model_input, mask))
            except ModelFailure as failure:
                results.append((failure, float("nan")))
        return results


class HostPoolProvider:
    """Several model hosts (``--workers``), each in its own process, scoring consecutive shares of a batch
    in parallel threads (one thread per host; the pipes are not shared). Results keep the request order."""

    def __init__(self, hosts: list[ModelHost], *, batch_size: int = 1) -> None:
        if not hosts:
            raise ValueError("need at least one model host")
        self.providers = [HostProvider(host, batch_size=batch_size) for host in hosts]
        self.batch_size = batch_size * len(hosts)

    def outputs(self, requests: list) -> list[tuple[object, float]]:
        from concurrent.futures import ThreadPoolExecutor

        share = -(-len(requests) // len(self.providers))
        groups = [requests[i * share:(i + 1) * share] for i in range(len(self.providers))]
        with ThreadPoolExecutor(max_workers=len(self.providers)) as pool:
            answers = list(pool.map(lambda pair: pair[0].outputs(pair[1]) if pair[1] else [],
                                    zip(self.providers, groups)))
        return [answer for group in answers for answer in group]
