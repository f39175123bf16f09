"""Engines: where the toolkit's independent tasks run -- processes of this machine, or a Ray cluster.

The work of a build or a benchmark run is split into pure tasks (a clip, a chunk of mask slots, a shard of
pairs) whose results the caller writes in a fixed order, so the output does not depend on the engine. An
engine runs ``function(state, task)`` for every task and yields the results **as tasks finish** (any order):

* ``local`` (:class:`LocalEngine`): in this process (``workers=1``) or in a spawn process pool whose workers
  die with this process and ignore Ctrl-C (the driver stops them).
* ``ray`` (:class:`RayEngine`): Ray tasks (or, for an expensive per-worker state such as a model, one Ray
  actor per worker slot) on a local Ray instance or a cluster (``address``, else ``$RAY_ADDRESS``, else a
  local instance). Scheduling, the object store, retries of failed tasks and of tasks lost with a worker or
  a node are Ray's own. ``ray`` is imported only when this engine is created (``pip install ".[ray]"``).

``state`` is ``setup(context)`` when a ``setup`` is given (made once per worker process; with Ray, once
per actor at its first task with ``keep_state``, else in every task), else ``context`` itself. ``context``
is sent once (pool initializer, Ray object store), never pickled with every task.

A task that raises :class:`TransientError` or :class:`OSError` (a flaky network file system, a GPU out of
memory) is run again, up to ``retries`` more times (default: the engine's ``retries``: 0 for ``local``,
whose callers leave such tasks to the next run, as before; 2 for ``ray``, which also runs again, as often,
a task lost with its worker process or node); when every attempt failed, ``on_failure(task, error)`` gives
its result (without it the error propagates and the map stops).
"""
from __future__ import annotations

import os
import signal
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any, Callable, Iterator, Protocol, Sequence

from .processes import die_with_parent
from .registry import Registry

__all__ = ["Engine", "LocalEngine", "RayEngine", "TransientError", "TRANSIENT_ERRORS", "RAY_EXTRA",
           "register_engine", "create_engine", "list_engines"]

RAY_EXTRA = 'install Ray with: pip install "inpaint-masks-toolkit[ray]" (or pip install ".[ray]" in a checkout)'
POLL_SECONDS = 0.2


class TransientError(Exception):
    """A task failed for a reason outside its input (it may work when run again)."""


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (TransientError, OSError)

Function = Callable[[Any, Any], Any]


class Engine(Protocol):
    """Runs pure tasks; see the module doc."""

    name: str
    retries: int  # the default number of further attempts of a task that failed transiently

    def map(self, function: Function, tasks: Sequence[Any], *, context: Any = None,
            setup: Callable[[Any], Any] | None = None, keep_state: bool = False, retries: int | None = None,
            on_failure: Callable[[Any, BaseException], Any] | None = None,
            poll: Callable[[], None] | None = None, gpus: float = 0.0) -> Iterator[Any]:
        """``function(state, task)`` for every task, yielded as they finish; ``poll()`` about every 0.2 s
        while waiting. ``gpus``: GPUs each worker needs (Ray only; the local engine runs on the CPU)."""
        ...  # pragma: no cover - protocol

    def reports(self, callback: Callable[..., None], *, tasks: int) -> Any:
        """A context manager giving ``(send, poll)``: ``send`` (picklable, or ``None`` when reports cannot
        reach this process before the task ends) lets a task call ``callback(*args)`` here while it runs;
        ``poll`` delivers what was sent (call it while waiting: pass it to :meth:`map`)."""
        ...  # pragma: no cover - protocol

    def close(self) -> None:
        ...  # pragma: no cover - protocol


_ENGINES = Registry("engine", "inpaint_core.engines")


def register_engine(name: str) -> Callable[[Any], Any]:
    """Decorator: register an engine factory under ``name`` (keyword options ``workers``, ``address``)."""
    return _ENGINES.register(name)


def list_engines() -> list[str]:
    return _ENGINES.names()


def create_engine(name: str = "local", *, workers: int | None = None, address: str | None = None,
                  **options: Any) -> Engine:
    """The engine ``name`` (``local`` or ``ray``).

    Args:
        workers: local: processes (default 1); ray: at most this many tasks at once (default: the cluster's
            CPUs, or GPUs divided by ``gpus``).
        address: ray only: the cluster to join (``ray start --head`` prints it); default ``$RAY_ADDRESS``,
            else a Ray instance on this machine.

    Raises:
        ValueError: unknown engine, ``workers`` below 1, an address for the local engine, or Ray missing
            (the message says how to install it).
    """
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    return _ENGINES.resolve(name)(workers=workers, address=address, **options)


# -- local -------------------------------------------------------------------------------------------------


@dataclass
class _Slot:
    """This worker process's state (set by the pool initializer; one per process)."""

    state: Any = None


_SLOT = _Slot()


def _start_worker(parent: int, setup: Callable[[Any], Any] | None, context: Any) -> None:
    """Pool initializer: tie the worker's life to ``parent``, leave Ctrl-C to it, then make the state."""
    die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _SLOT.state = setup(context) if setup is not None else context


def _call_in_worker(function: Function, task: Any) -> Any:
    return function(_SLOT.state, task)


@dataclass(frozen=True)
class _QueueSend:
    """A task's reports, sent to the driver through a queue (handed over when the worker starts)."""

    queue: Any

    def __call__(self, *args: Any) -> None:
        self.queue.put(args)


def _give_up(task: Any, error: BaseException, on_failure: Callable[[Any, BaseException], Any] | None) -> Any:
    """A task that failed for good (its retries spent): ``on_failure(task, error)``'s result, or ``error``
    raised again when there is no ``on_failure``."""
    if on_failure is None:
        raise error
    return on_failure(task, error)


def _checked_retries(retries: int) -> int:
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    return retries


class LocalEngine:
    """Tasks in this process (``workers=1``, or a single task) or in a spawn process pool of ``workers``.

    Pool workers end with the driver: they die with their parent (even after kill -9: see
    :func:`inpaint_core.processes.die_with_parent`), ignore Ctrl-C (the terminal sends it to the whole
    process group; the driver stops them) and are terminated when the driver is interrupted or gets SIGTERM.
    """

    name = "local"
    retries = 0

    def __init__(self, *, workers: int | None = None, address: str | None = None) -> None:
        if address is not None:
            raise ValueError("--ray-address needs --engine ray")
        self.workers = workers or 1

    def in_process(self, tasks: int) -> bool:
        return self.workers <= 1 or tasks <= 1

    @contextmanager
    def reports(self, callback: Callable[..., None], *, tasks: int) -> Iterator[tuple[Any, Callable[[], None]]]:
        if self.in_process(tasks):
            yield callback, lambda: None
            return
        import queue as queue_module

        channel = get_context("spawn").Queue()

        def drain() -> None:
            while True:
                try:
                    args = channel.get_nowait()
                except queue_module.Empty:
                    return
                callback(*args)
        try:
            yield _QueueSend(channel), drain
        finally:
            channel.close()
            channel.cancel_join_thread()

    def map(self, function: Function, tasks: Sequence[Any], *, context: Any = None,
            setup: Callable[[Any], Any] | None = None, keep_state: bool = False, retries: int | None = None,
            on_failure: Callable[[Any, BaseException], Any] | None = None,
            poll: Callable[[], None] | None = None, gpus: float = 0.0) -> Iterator[Any]:
        retries = _checked_retries(self.retries if retries is None else retries)
        if not tasks:
            return iter(())
        if self.in_process(len(tasks)):
            return self._inline(function, tasks, context, setup, retries, on_failure)
        return self._pool(function, tasks, context, setup, retries, on_failure, poll)

    def _inline(self, function: Function, tasks: Sequence[Any], context: Any, setup: Callable[[Any], Any] | None,
                retries: int, on_failure: Callable[[Any, BaseException], Any] | None) -> Iterator[Any]:
        state = setup(context) if setup is not None else context
        for task in tasks:
            for attempt in range(retries + 1):
                try:
                    result = function(state, task)
                except TRANSIENT_ERRORS as error:
                    if attempt < retries:
                        continue
                    result = _give_up(task, error, on_failure)
                break
            yield result

    def _pool(self, function: Function, tasks: Sequence[Any], context: Any, setup: Callable[[Any], Any] | None,
              retries: int, on_failure: Callable[[Any, BaseException], Any] | None,
              poll: Callable[[], None] | None) -> Iterator[Any]:
        executor = ProcessPoolExecutor(max_workers=min(self.workers, len(tasks)), mp_context=get_context("spawn"),
                                       initializer=_start_worker, initargs=(os.getpid(), setup, context))
        try:
            pending: dict[Future, tuple[int, int]] = {executor.submit(_call_in_worker, function, task): (index, 0)
                                                      for index, task in enumerate(tasks)}
            while pending:
                done, _ = wait(pending, timeout=POLL_SECONDS if poll else None, return_when=FIRST_COMPLETED)
                if poll:
                    poll()
                for future in done:
                    index, attempt = pending.pop(future)
                    try:
                        result = future.result()
                    except TRANSIENT_ERRORS as error:
                        if attempt < retries:
                            pending[executor.submit(_call_in_worker, function, tasks[index])] = (index, attempt + 1)
                            continue
                        result = _give_up(tasks[index], error, on_failure)
                    yield result
        except BaseException:
            # stop the workers first (shutdown forgets them): an interrupt must not wait for running tasks
            processes = list((getattr(executor, "_processes", None) or {}).values())
            for process in processes:
                process.terminate()
            executor.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                process.join(5)
            raise
        executor.shutdown(wait=True)

    def close(self) -> None:
        pass


register_engine("local")(LocalEngine)


# -- ray ---------------------------------------------------------------------------------------------------


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ValueError(f"--engine ray needs Ray, which is not installed: {RAY_EXTRA}") from None
    return ray


def _check_reachable(address: str, *, timeout: float = 5.0) -> None:
    """A ``host:port`` address must accept a connection within ``timeout`` s (Ray itself would keep trying
    for minutes); ``auto``, ``local`` and ``ray://`` addresses are left to Ray."""
    import socket

    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ValueError(f"cannot reach the Ray cluster at {address!r}: {exc.strerror or exc}; start it with "
                         "'ray start --head' there, or check --ray-address / $RAY_ADDRESS") from None


def _ray_task(function: Function, setup: Callable[[Any], Any] | None, context: Any, task: Any) -> Any:
    """A Ray task: the state made here (cheap setups only; see ``keep_state``), then the function."""
    return function(setup(context) if setup is not None else context, task)


class _RayWorker:
    """A Ray actor holding one worker's state (a model replica, say) for all the tasks it runs. The state
    is made at the first task, from the context's object reference (boxed in a list, so Ray hands over the
    reference, not the value, on every call): an actor Ray restarts makes it again."""

    def __init__(self) -> None:
        self.state: Any = None
        self.ready = False

    def run(self, function: Function, setup: Callable[[Any], Any] | None, boxed: list[Any], task: Any) -> Any:
        if not self.ready:
            import ray

            context = ray.get(boxed[0])
            self.state = setup(context) if setup is not None else context
            self.ready = True
        return function(self.state, task)


class RayEngine:
    """Tasks on Ray (see the module doc). The Ray instance is joined (or started) here; one this engine
    started or joined is left by :meth:`close`, one the caller had initialised is left alone.

    Args:
        workers: at most this many tasks (or actors) at once; default: as many as the cluster's resources
            allow (``cpus`` per task, ``gpus`` per task when given).
        address: ``ray.init(address=...)``; default ``$RAY_ADDRESS``, else a new local instance.
        cpus: CPUs each task reserves (Ray's ``num_cpus``).
    """

    name = "ray"
    retries = 2

    def __init__(self, *, workers: int | None = None, address: str | None = None, cpus: float = 1.0) -> None:
        self.ray = _import_ray()
        self.workers = workers
        self.cpus = cpus
        self._owns = False
        if not self.ray.is_initialized():
            joining = address is not None or bool(os.environ.get("RAY_ADDRESS"))
            if joining:
                _check_reachable(address or os.environ["RAY_ADDRESS"])
            try:  # a new local instance starts without the dashboard (its web server is not needed here)
                self.ray.init(address=address) if joining else self.ray.init(include_dashboard=False)
            except ConnectionError as exc:
                raise ValueError(f"cannot join the Ray cluster at {address or os.environ.get('RAY_ADDRESS')!r}: "
                                 f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
            self._owns = True

    def reports(self, callback: Callable[..., None], *, tasks: int) -> Any:
        """No reports while tasks run: progress follows finished tasks."""
        @contextmanager
        def nothing() -> Iterator[tuple[None, Callable[[], None]]]:
            yield None, lambda: None
        return nothing()

    def slots(self, gpus: float = 0.0) -> int:
        """How many tasks run at once: the cluster's CPUs (or GPUs) over what one task reserves, at most
        ``workers``."""
        resources = self.ray.cluster_resources()
        if gpus > 0:
            count = int(resources.get("GPU", 0) // gpus)
            if count < 1:
                raise ValueError(f"the Ray cluster has {resources.get('GPU', 0):g} GPUs; a worker needs {gpus:g} "
                                 "(--gpus-per-worker)")
        else:
            count = max(1, int(resources.get("CPU", 1) // self.cpus))
        return min(count, self.workers) if self.workers else count

    def map(self, function: Function, tasks: Sequence[Any], *, context: Any = None,
            setup: Callable[[Any], Any] | None = None, keep_state: bool = False, retries: int | None = None,
            on_failure: Callable[[Any, BaseException], Any] | None = None,
            poll: Callable[[], None] | None = None, gpus: float = 0.0) -> Iterator[Any]:
        retries = _checked_retries(self.retries if retries is None else retries)
        if not tasks:
            return iter(())
        if keep_state:
            return self._actors(function, tasks, context, setup, retries, on_failure, poll, gpus)
        return self._tasks(function, tasks, context, setup, retries, on_failure, poll, gpus)

    def _options(self, retries: int, gpus: float) -> dict[str, Any]:
        return {"num_cpus": self.cpus, "num_gpus": gpus, "max_retries": retries,
                "retry_exceptions": list(TRANSIENT_ERRORS)}

    def _tasks(self, function: Function, tasks: Sequence[Any], context: Any, setup: Callable[[Any], Any] | None,
               retries: int, on_failure: Callable[[Any, BaseException], Any] | None,
               poll: Callable[[], None] | None, gpus: float) -> Iterator[Any]:
        """One Ray task per task, all submitted at once (Ray queues them); at most ``workers`` run at once
        when ``workers`` is given (through each task's CPU reservation, Ray decides where)."""
        ray = self.ray
        remote = ray.remote(_ray_task).options(**self._options(retries, gpus))
        context_ref = ray.put(context)
        limit = self.slots(gpus) if self.workers else len(tasks)
        waiting = deque(range(len(tasks)))
        pending: dict[Any, int] = {}
        try:
            while waiting or pending:
                while waiting and len(pending) < limit:
                    index = waiting.popleft()
                    pending[remote.remote(function, setup, context_ref, tasks[index])] = index
                for result, _ in self._collect_with_refs(pending, tasks, on_failure, poll):
                    yield result
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)

    def _actors(self, function: Function, tasks: Sequence[Any], context: Any, setup: Callable[[Any], Any] | None,
                retries: int, on_failure: Callable[[Any, BaseException], Any] | None,
                poll: Callable[[], None] | None, gpus: float) -> Iterator[Any]:
        """One actor per worker slot (``setup`` runs once in each); a task goes to the next idle actor. An
        actor that dies is restarted by Ray and its task run again (``max_restarts``, ``max_task_retries``)."""
        ray = self.ray
        worker_class = ray.remote(_RayWorker).options(num_cpus=self.cpus, num_gpus=gpus, max_restarts=retries,
                                                      max_task_retries=retries)
        context_ref = ray.put(context)
        actors = [worker_class.remote() for _ in range(min(self.slots(gpus), len(tasks)))]
        idle = deque(actors)
        waiting = deque(range(len(tasks)))
        pending: dict[Any, int] = {}
        busy: dict[Any, Any] = {}
        try:
            while waiting or pending:
                while waiting and idle:
                    index = waiting.popleft()
                    actor = idle.popleft()
                    ref = actor.run.options(retry_exceptions=list(TRANSIENT_ERRORS)).remote(
                        function, setup, [context_ref], tasks[index])
                    pending[ref] = index
                    busy[ref] = actor
                for result, ref in self._collect_with_refs(pending, tasks, on_failure, poll):
                    idle.append(busy.pop(ref))
                    yield result
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
            for actor in actors:
                ray.kill(actor)

    def _collect_with_refs(self, pending: dict[Any, int], tasks: Sequence[Any],
                           on_failure: Callable[[Any, BaseException], Any] | None,
                           poll: Callable[[], None] | None) -> Iterator[tuple[Any, Any]]:
        """Wait for at least one of ``pending`` (``poll()`` meanwhile); yield each finished result (or
        ``on_failure``'s, once Ray gave up retrying) with its ref, removed from ``pending``."""
        ray = self.ray
        done: list[Any] = []
        while not done:
            done, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_SECONDS if poll else None)
            if poll:
                poll()
        for ref in done:
            index = pending.pop(ref)
            try:
                result = ray.get(ref)
            except ray.exceptions.RayTaskError as error:  # the task's own exception, once Ray stopped retrying
                cause = error.cause if isinstance(error.cause, BaseException) else error
                if on_failure is None or not isinstance(cause, TRANSIENT_ERRORS):
                    raise cause from error  # the remote traceback stays attached (``__cause__``)
                result = on_failure(tasks[index], cause)
            yield result, ref

    def close(self) -> None:
        if self._owns and self.ray.is_initialized():
            self.ray.shutdown()
        self._owns = False


register_engine("ray")(RayEngine)
