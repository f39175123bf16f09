"""Named seed streams: every random choice of the toolkit draws from a generator seeded here.

``rng(seed, Stream.SLOT, split, cell, slot)`` is ``numpy.random.default_rng(entropy)`` with ``entropy`` =
``[seed + offset, *prefix, *keys, *suffix]`` of the stream. Each stream's salts are where the first release
put them, so every dataset, pairing and training batch stays byte-identical to what that release made; a new
stream takes a new prefix salt. Never the global random state.

============================  ================================  ==============================================
stream                        entropy                           draws
============================  ================================  ==============================================
``SLOT``                      seed, split, cell, slot           one mask slot's augmentation (maskgen build)
``SOURCE_ORDER``              seed, split, cell, 1000003        the order a cell uses the raw masks in
``PAIRING``                   seed, 20180415                    which image each mask is paired with
``IMAGE_SPLIT``               seed, 7                           training / validation images (pconv)
``IMAGE_ORDER``               seed, 1, epoch                    image order of a training epoch
``MASK_ORDER``                seed, 2, epoch                    mask order of a training epoch
``CROP``                      seed, 3, step, position           a training sample's crop and flip
``VALIDATION_IMAGE_ORDER``    seed + 1, 1, epoch                the same three for the validation samples
``VALIDATION_MASK_ORDER``     seed + 1, 2, epoch
``VALIDATION_CROP``           seed + 1, 3, 0, position
``FAMILY_SLOT``               seed, 20221013, protocol, slot    one slot of a random mask family (maskgen generate)
``BOOTSTRAP``                 seed, 1000033, group, n           bootstrap resamples of a group's n values
``KID_SUBSETS``               seed, 1000037, group, n           KID's subsets of a group's n feature pairs
``RANDOM_WEIGHTS``            seed, 20200326                    stand-in network weights (tests, timing)
============================  ================================  ==============================================

A key that is a name (``protocol``, ``group``) is :func:`name_key` of it: the CRC-32 of its UTF-8 bytes.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import zlib

import numpy as np

__all__ = ["Stream", "TRAINING_STREAMS", "VALIDATION_STREAMS", "entropy", "rng", "name_key"]


@dataclass(frozen=True)
class _Salts:
    seed_offset: int = 0
    prefix: tuple[int, ...] = ()
    suffix: tuple[int, ...] = ()


class Stream(Enum):
    """The random streams of the toolkit (see the module doc for each one's entropy)."""

    SLOT = _Salts()
    SOURCE_ORDER = _Salts(suffix=(1_000_003,))
    PAIRING = _Salts(prefix=(20180415,))
    IMAGE_SPLIT = _Salts(prefix=(7,))
    IMAGE_ORDER = _Salts(prefix=(1,))
    MASK_ORDER = _Salts(prefix=(2,))
    CROP = _Salts(prefix=(3,))
    VALIDATION_IMAGE_ORDER = _Salts(seed_offset=1, prefix=(1,))
    VALIDATION_MASK_ORDER = _Salts(seed_offset=1, prefix=(2,))
    VALIDATION_CROP = _Salts(seed_offset=1, prefix=(3,))
    FAMILY_SLOT = _Salts(prefix=(20221013,))
    BOOTSTRAP = _Salts(prefix=(1_000_033,))
    KID_SUBSETS = _Salts(prefix=(1_000_037,))
    RANDOM_WEIGHTS = _Salts(prefix=(20_200_326,))


def entropy(seed: int, stream: Stream, *keys: int) -> list[int]:
    """The ``SeedSequence`` entropy of ``stream`` for ``seed`` and ``keys`` (non-negative integers)."""
    salts: _Salts = stream.value
    values = [int(seed) + salts.seed_offset, *salts.prefix, *(int(k) for k in keys), *salts.suffix]
    if any(v < 0 for v in values):
        raise ValueError(f"seed and keys must be non-negative integers, got {values}")
    return values


def rng(seed: int, stream: Stream, *keys: int) -> np.random.Generator:
    """A generator of ``stream`` for ``seed`` and ``keys``: the same arguments always give the same draws."""
    return np.random.default_rng(entropy(seed, stream, *keys))


def name_key(text: str) -> int:
    """The seed key of a name (a protocol, a group): the CRC-32 of its UTF-8 bytes, a non-negative integer
    stable across runs, processes and machines (``hash()`` is not)."""
    return zlib.crc32(text.encode("utf-8"))


# (image order, mask order, crop) of the training samples and of the validation samples
TRAINING_STREAMS = (Stream.IMAGE_ORDER, Stream.MASK_ORDER, Stream.CROP)
VALIDATION_STREAMS = (Stream.VALIDATION_IMAGE_ORDER, Stream.VALIDATION_MASK_ORDER, Stream.VALIDATION_CROP)
