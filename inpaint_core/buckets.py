"""Hole-ratio bins and border classes (the NVIDIA irregular-mask test-set conventions).

Masks are ``bool`` HxW arrays, ``True`` = hole.

* Hole ratio ``r`` = hole pixels / all pixels.
* Six bins (0.01, 0.1], (0.1, 0.2], ..., (0.5, 0.6]: open below, closed above. A ratio outside all bins
  (<= 0.01 or > 0.6) has bin ``None`` and is not used in a test split.
* Border class ``"B"``: no hole pixel within ``margin`` px (50 at NVIDIA's 512x512; by default 50 px per
  512 px of the shorter side, :func:`border_margin_for`) of any image edge, i.e. every hole pixel
  has row and column index in ``[margin, size - 1 - margin]`` (a hole at distance exactly 50 is allowed,
  as in NVIDIA's set, whose B masks reach index 50). ``"N"``: at least one hole pixel closer than that.
* Cell: (bin, border), 12 in all, named like ``"01-10_B"`` (percent bounds).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from typing import Callable, Iterable, TypeVar

import numpy as np

from .conventions import check_mask

__all__ = [
    "BIN_EDGES",
    "BORDER_MARGIN",
    "BORDER_CLASSES",
    "Cell",
    "CELLS",
    "CELL_NAMES",
    "cell_rank",
    "sort_by_cell",
    "hole_ratio",
    "ratio_bin",
    "border_class",
    "cell_of",
    "cell_by_name",
    "REFERENCE_SIZE",
    "border_margin_for",
]

BIN_EDGES: tuple[float, ...] = (0.01, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
BORDER_MARGIN = 50  # NVIDIA's margin at its size, REFERENCE_SIZE
REFERENCE_SIZE = 512
BORDER_CLASSES = ("B", "N")

# exact rational edges, so that a mask of exactly 10% holes lands in the first bin whatever its size
_EDGES_EXACT = tuple(Fraction(str(edge)) for edge in BIN_EDGES)


@dataclass(frozen=True)
class Cell:
    """One (bin, border) cell of the test split."""

    bin_index: int
    border: str

    @property
    def low(self) -> float:
        return BIN_EDGES[self.bin_index]

    @property
    def high(self) -> float:
        return BIN_EDGES[self.bin_index + 1]

    @property
    def name(self) -> str:
        return f"{round(self.low * 100):02d}-{round(self.high * 100):02d}_{self.border}"

    @property
    def index(self) -> int:
        """Position in NVIDIA's block order: 2 * bin + (0 for B, 1 for N)."""
        return 2 * self.bin_index + BORDER_CLASSES.index(self.border)


CELLS: tuple[Cell, ...] = tuple(Cell(b, border) for b in range(len(BIN_EDGES) - 1) for border in BORDER_CLASSES)


CELL_NAMES: tuple[str, ...] = tuple(cell.name for cell in CELLS)
_RANK = {name: index for index, name in enumerate(CELL_NAMES)}


def cell_rank(name: str) -> int:
    """Position of a cell name in NVIDIA's block order; any other group (``train``, ``unbinned``, ``all``)
    comes after the 12 cells, in the order of :data:`GROUPS_AFTER_CELLS`."""
    if name in _RANK:
        return _RANK[name]
    return len(CELLS) + (GROUPS_AFTER_CELLS.index(name) if name in GROUPS_AFTER_CELLS else len(GROUPS_AFTER_CELLS))


GROUPS_AFTER_CELLS = ("unbinned", "train", "all")
T = TypeVar("T")


def sort_by_cell(items: Iterable[T], key: Callable[[T], str]) -> list[T]:
    """``items`` sorted by the cell name ``key`` gives (stable: the order inside a cell is kept)."""
    return sorted(items, key=lambda item: cell_rank(key(item)))


def hole_ratio(mask: np.ndarray) -> float:
    """Fraction of hole pixels of a bool HxW mask."""
    check_mask(mask)
    return float(np.count_nonzero(mask)) / mask.size


def ratio_bin(hole_pixels: int | float, total_pixels: int | None = None) -> int | None:
    """Bin index 0..5 of a hole ratio, or ``None`` outside (0.01, 0.6].

    Give either a ratio (float), or hole and total pixel counts (ints) for an exact decision.
    """
    if total_pixels is None:
        ratio = Fraction(str(float(hole_pixels)))
    else:
        if total_pixels <= 0:
            raise ValueError(f"total_pixels must be positive, got {total_pixels}")
        ratio = Fraction(int(hole_pixels), int(total_pixels))
    for index in range(len(_EDGES_EXACT) - 1):
        if _EDGES_EXACT[index] < ratio <= _EDGES_EXACT[index + 1]:
            return index
    return None


def border_margin_for(shape: tuple[int, ...] | int) -> int:
    """The default B/N margin for masks of ``shape`` (HxW, or a side): NVIDIA's 50 px per 512 px of the
    shorter side, rounded (25 px at 256, 100 px at 1024), at least 1."""
    side = shape if isinstance(shape, int) else min(int(shape[0]), int(shape[1]))
    if side < 1:
        raise ValueError(f"mask side must be >= 1, got {side}")
    return max(1, int(Fraction(BORDER_MARGIN * side, REFERENCE_SIZE) + Fraction(1, 2)))


def border_class(mask: np.ndarray, *, margin: int | None = None) -> str:
    """``"B"`` if no hole pixel lies within ``margin`` px of an edge, else ``"N"`` (see module doc).

    ``margin`` defaults to :func:`border_margin_for` the mask's shape (50 px at 512x512)."""
    check_mask(mask)
    if margin is None:
        margin = border_margin_for(mask.shape)
    if margin <= 0:
        return "B"
    near_edge = (mask[:margin].any() or mask[-margin:].any()
                 or mask[:, :margin].any() or mask[:, -margin:].any())
    return "N" if near_edge else "B"


def cell_of(mask: np.ndarray, *, margin: int | None = None) -> Cell | None:
    """The (bin, border) cell of a mask, or ``None`` when its ratio is outside all bins (``margin``: see
    :func:`border_class`)."""
    check_mask(mask)
    index = ratio_bin(int(np.count_nonzero(mask)), mask.size)
    if index is None:
        return None
    return Cell(index, border_class(mask, margin=margin))


def cell_by_name(name: str) -> Cell:
    """Inverse of :attr:`Cell.name`."""
    for cell in CELLS:
        if cell.name == name:
            return cell
    raise ValueError(f"unknown cell {name!r}; cells are {', '.join(c.name for c in CELLS)}")
