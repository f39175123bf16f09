"""The random mask families: one record per (family, size), found by name, entry point or plug-in spec.

A family factory takes the mask size and returns a :class:`MaskFamily`; it is registered with
:func:`register_family` (built-ins), an entry point of group ``maskgen.families`` (installed plug-ins), or
given as ``package.module:factory`` / ``path/to/file.py:factory``::

    @register_family("lama-thick")
    def lama_thick(size: int) -> MaskFamily: ...

    family = create_family("lama-thick", size=512)
    mask, attempt = family.sample(numpy.random.default_rng(0))

A family's :attr:`~MaskFamily.draw` is a pure function of ``(size, numpy.random.Generator)`` giving one
candidate ``uint8`` mask (1 = hole); :meth:`MaskFamily.sample` draws candidates until one passes the
family's :class:`HoleRange` (the originals' own rejection loops: LaMa drops masks over 50 % hole, MAT and
CoModGAN redraw empty and full ones).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Mapping

import numpy as np

from inpaint_core.dataset import mask_protocol_name
from inpaint_core.registry import Registry

__all__ = ["HoleRange", "MaskFamily", "FamilySample", "register_family", "create_family", "list_families",
           "check_size", "MAX_ATTEMPTS", "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "maskgen.families"
MAX_ATTEMPTS = 1000  # candidates per slot before giving up (no built-in family comes near: see family_stats.py)

_REGISTRY = Registry("mask family", ENTRY_POINT_GROUP)


@dataclass(frozen=True)
class HoleRange:
    """The hole ratios a family keeps: ``low < r < high``, with ``<=`` at an end marked inclusive. Decided
    exactly on pixel counts (no float rounding at the ends)."""

    low: float = 0.0
    high: float = 1.0
    low_inclusive: bool = False
    high_inclusive: bool = False

    def contains(self, holes: int, total: int) -> bool:
        ratio = Fraction(int(holes), int(total))
        low, high = Fraction(str(self.low)), Fraction(str(self.high))
        above = ratio >= low if self.low_inclusive else ratio > low
        below = ratio <= high if self.high_inclusive else ratio < high
        return above and below

    def describe(self) -> str:
        return (f"{self.low:g} {'<=' if self.low_inclusive else '<'} hole ratio "
                f"{'<=' if self.high_inclusive else '<'} {self.high:g}")


@dataclass(frozen=True)
class FamilySample:
    """One slot's mask (``uint8`` HxW, 1 = hole) and the number of the candidate kept (0 = the first)."""

    mask: np.ndarray
    attempt: int


@dataclass(frozen=True)
class MaskFamily:
    """A random mask family at one size.

    Attributes:
        name: family name (``"lama-thick"``); the protocol name adds the size (``"lama-thick-512"``).
        size: mask side in pixels (square masks).
        source: where the published generator and its parameters are (repository, file, config).
        parameters: the published parameters used at this size (JSON-serialisable, for ``dataset.json``).
        draw: ``draw(size, generator)`` -> one candidate ``uint8`` ``size`` x ``size`` mask, 1 = hole;
            a pure function: all its randomness comes from ``generator``.
        keep: the hole ratios a candidate must have to be kept (others are redrawn).
    """

    name: str
    size: int
    source: str
    parameters: Mapping[str, Any]
    draw: Callable[[int, np.random.Generator], np.ndarray]
    keep: HoleRange = field(default_factory=HoleRange)

    @property
    def protocol(self) -> str:
        """The protocol name written to ``dataset.json["mask_protocol"]``: ``"<name>-<size>"``
        (:func:`inpaint_core.dataset.mask_protocol_name`; ValueError for a name that is not a valid protocol)."""
        return mask_protocol_name(self.name, self.size)

    def sample(self, generator: np.random.Generator) -> FamilySample:
        """Candidates from ``generator`` until one is kept (see :attr:`keep`).

        Raises:
            RuntimeError: none of :data:`MAX_ATTEMPTS` candidates was kept (a family whose range is
                practically empty).
        """
        total = self.size * self.size
        for attempt in range(MAX_ATTEMPTS):
            mask = self.draw(self.size, generator)
            if mask.shape != (self.size, self.size) or mask.dtype != np.uint8:
                raise RuntimeError(f"mask family {self.name!r} drew a {mask.dtype} {mask.shape} mask; "
                                   f"expected uint8 ({self.size}, {self.size})")
            if self.keep.contains(int(np.count_nonzero(mask)), total):
                return FamilySample(mask, attempt)
        raise RuntimeError(f"mask family {self.protocol}: none of {MAX_ATTEMPTS} candidates had "
                           f"{self.keep.describe()}")


def check_size(name: str, size: int, sizes: tuple[int, ...]) -> int:
    """``size`` if the family ``name`` has published parameters for it, else ValueError (one line)."""
    if size not in sizes:
        raise ValueError(f"mask family {name!r} has published parameters for sizes "
                         f"{', '.join(map(str, sizes))}, not {size}")
    return size


def register_family(name: str) -> Callable[[Callable[[int], MaskFamily]], Callable[[int], MaskFamily]]:
    """Decorator registering a family factory ``factory(size) -> MaskFamily`` under ``name``.

    Raises:
        ValueError: ``name`` is already registered.
    """
    return _REGISTRY.register(name)


def list_families() -> list[str]:
    """Names of the built-in families and of installed ``maskgen.families`` plug-ins, sorted."""
    return _REGISTRY.names()


def create_family(spec: str, *, size: int) -> MaskFamily:
    """The family ``spec`` (a name of :func:`list_families`, an entry point, ``package.module:factory`` or
    ``file.py:factory``) at ``size``.

    Raises:
        ValueError: unknown family, a size without published parameters, or a factory that does not
            return a :class:`MaskFamily`.
    """
    factory = _REGISTRY.resolve(spec)
    family = factory(size)
    if not isinstance(family, MaskFamily):
        raise ValueError(f"mask family factory {spec!r} returned {type(family).__name__}, not a MaskFamily")
    if family.size != size:
        raise ValueError(f"mask family factory {spec!r} made size {family.size} when asked for {size}")
    return family
