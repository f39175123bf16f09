"""Loading plug-ins: ``package.module:attr`` and ``path/to/file.py:attr`` specs, and entry-point groups."""
from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

__all__ = ["load_object", "entry_point_names", "load_entry_point", "Registry"]


def load_object(spec: str, *, what: str = "plug-in") -> Any:
    """The object named by ``"package.module:attr"`` or ``"path/to/file.py:attr"``.

    Raises:
        ValueError: malformed spec, missing file, import error or missing attribute (one-line message).
    """
    target, sep, attr = spec.rpartition(":")
    if not sep or not target or not attr:
        raise ValueError(f"{what} spec {spec!r} must look like 'package.module:name' or 'file.py:name'")
    try:
        if target.endswith(".py"):
            path = Path(target)
            if not path.is_file():
                raise ValueError(f"{what} file {target!r} does not exist")
            module_spec = importlib.util.spec_from_file_location(f"_plugin_{path.stem}_{abs(hash(path.resolve()))}", path)
            if module_spec is None or module_spec.loader is None:
                raise ValueError(f"cannot load {what} file {target!r}")
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(target)
    except ValueError:
        raise
    except Exception as exc:  # an error inside the plug-in's module is the user's to see, in one line
        raise ValueError(f"cannot import {what} {spec!r}: {type(exc).__name__}: {exc}") from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ValueError(f"{what} {spec!r}: {target} has no attribute {attr!r}") from None


def _entry_points(group: str) -> list[Any]:
    from importlib.metadata import entry_points

    return list(entry_points(group=group))


def entry_point_names(group: str) -> list[str]:
    return [ep.name for ep in _entry_points(group)]


def load_entry_point(group: str, name: str) -> Any | None:
    """The object of entry point ``name`` in ``group``, or ``None`` when there is none."""
    for ep in _entry_points(group):
        if ep.name == name:
            return ep.load()
    return None


class Registry:
    """Named factories plus plug-ins, in the manner of timm's model registry.

    ``register(name)`` is a decorator; ``names()`` lists registered names and installed entry points of
    ``group``; ``resolve(spec)`` finds the factory of a name, an entry point, or a ``module:attr`` /
    ``file.py:attr`` spec.
    """

    def __init__(self, kind: str, group: str) -> None:
        self.kind = kind
        self.group = group
        self._factories: dict[str, Any] = {}

    def register(self, name: str) -> Any:
        def decorator(factory: Any) -> Any:
            if name in self._factories:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._factories[name] = factory
            return factory

        return decorator

    def names(self) -> list[str]:
        return sorted(set(self._factories) | set(entry_point_names(self.group)))

    def resolve(self, spec: str) -> Any:
        """The factory for ``spec``. Raises ValueError for an unknown name or a spec that cannot load."""
        if spec in self._factories:
            return self._factories[spec]
        factory = load_entry_point(self.group, spec)
        if factory is None and ":" in spec:
            factory = load_object(spec, what=f"{self.kind} plug-in")
        if factory is None:
            raise ValueError(f"unknown {self.kind} {spec!r}; choose one of {', '.join(self.names())} "
                             "or give 'package.module:factory' / 'file.py:factory'")
        return factory
