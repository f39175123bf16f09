"""``maskgen generate``: a random mask family written as a maskgen dataset (manifest, cells, pictures).

Slot ``k`` (0 .. count - 1) is a pure function of (seed, protocol, k): its generator is
``inpaint_core.seeds.rng(seed, Stream.FAMILY_SLOT, crc32(protocol), k)``, so the bytes of every mask are the
same whatever the number of workers, whether the slot is made alone or in a set, and whatever the count.
Each mask goes to ``test/<cell>/<slot>.png`` (the cell from its pixels; ``test/unbinned/`` when its ratio
is outside the 12 cells), with ``source`` = the protocol, ``seed``, ``slot`` and ``attempt`` (the candidate
kept) in its manifest row; ``dataset.json`` carries ``mask_protocol`` (``"lama-thick-512"``), the family's
source and published parameters, and the counts per cell.

The folder is locked while it is written (:class:`inpaint_core.outdir.FolderLock`); ``.maskgen/generate.json``
is written before the first mask and removed once ``dataset.json`` is, so an interrupted run is a maskgen
dataset for ``--overwrite`` and the same command run again starts it over (slots are cheap and pure). A
folder already holding this very dataset is left as it is.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from inpaint_core.buckets import cell_of, cell_rank
from inpaint_core.cli import cli_help
from inpaint_core.dataset import DATASET_FORMAT, MASK_PROTOCOL_KEY, MaskRecord, read_dataset_json
from inpaint_core.engines import create_engine
from inpaint_core.files import atomic_write_text, read_json, sha256_file
from inpaint_core.maskio import write_mask
from inpaint_core.outdir import FolderLock
from inpaint_core.seeds import Stream, name_key, rng
from inpaint_core.versions import software_versions

from ..build import BuildResult
from ..writer import DATASET_MARKERS, cell_counts, clear_output, drop_marker, finish_dataset, folder_entries
from .registry import MaskFamily, create_family

__all__ = ["GenerateOptions", "GenerateResult", "generate_dataset", "slot_mask", "protocol_code", "GENERATE_FORMAT"]

GENERATE_FORMAT = "maskgen-families/1"  # changes when any family's drawing changes
MARKER = ".maskgen/generate.json"
CHUNK_SIZE = 100


@dataclass(frozen=True)
class GenerateOptions:
    """Everything that determines a generated dataset (``workers`` does not).

    Attributes:
        family: a family name (``maskgen families``), an entry point or a ``module:factory`` spec.
        size: mask side in pixels.
        count: number of masks (slots 0 .. count - 1).
        seed: generation seed.
    """

    family: str = field(metadata=cli_help("Mask family: lama-thin, lama-medium, lama-thick, mat-small, mat-large, "
                                          "comodgan, deepfill-v2 (see 'maskgen families'), or module:factory."))
    size: int = field(default=512, metadata=cli_help("Mask side in pixels (256 or 512: the published settings)."))
    count: int = field(default=1000, metadata=cli_help("Number of masks."))
    seed: int = field(default=0, metadata=cli_help("Generation seed (mask k depends only on seed, family, size, k)."))

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"count (--count) must be >= 1, got {self.count}")
        if self.seed < 0:
            raise ValueError(f"seed (--seed) must be >= 0, got {self.seed}")


GenerateResult = BuildResult  # the same record as a build's: folder, rows, dataset.json, up to date


def protocol_code(protocol: str) -> int:
    """The seed key of a protocol name (:func:`inpaint_core.seeds.name_key`: CRC-32 of its UTF-8 bytes, stable
    across runs and machines)."""
    return name_key(protocol)


def slot_mask(family: MaskFamily, seed: int, slot: int) -> tuple[np.ndarray, int]:
    """Slot ``slot`` of ``family`` for ``seed``: (``uint8`` mask, 1 = hole; the number of the candidate kept)."""
    sample = family.sample(rng(seed, Stream.FAMILY_SLOT, protocol_code(family.protocol), slot))
    return sample.mask, sample.attempt


@dataclass(frozen=True)
class _Chunk:
    """Slots ``start .. stop - 1`` to write into ``out`` (a picklable pool task)."""

    family: str
    size: int
    seed: int
    out: str
    start: int
    stop: int


def _run_chunk_task(state: None, chunk: _Chunk) -> list[MaskRecord]:
    """:func:`_run_chunk` as an engine task (no worker state)."""
    return _run_chunk(chunk)


def _run_chunk(chunk: _Chunk) -> list[MaskRecord]:
    """Write the masks of ``chunk``'s slots; their manifest records in slot order."""
    family = create_family(chunk.family, size=chunk.size)
    rows = []
    for slot in range(chunk.start, chunk.stop):
        mask, attempt = slot_mask(family, chunk.seed, slot)
        hole = mask.astype(bool)
        cell = cell_of(hole)
        relative = f"test/{cell.name if cell else 'unbinned'}/{slot:06d}.png"
        data = write_mask(Path(chunk.out) / relative, hole)
        rows.append(MaskRecord.of_mask(relative, "test", hole, data, source=family.protocol, seed=chunk.seed,
                                       slot=slot, attempt=attempt))
    return rows


def _generate_key(options: GenerateOptions, family: MaskFamily) -> str:
    text = json.dumps({"format": GENERATE_FORMAT, "options": asdict(options), "protocol": family.protocol,
                       "parameters": family.parameters, "keep": asdict(family.keep)}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _up_to_date(out: Path, key: str) -> dict[str, object] | None:
    """``dataset.json`` of ``out`` when it is a finished dataset of this key whose manifest is untouched."""
    info = read_dataset_json(out)
    if not info or info.get("generate_key") != key or not (out / "manifest.csv").is_file():
        return None
    return info if sha256_file(out / "manifest.csv") == info.get("fingerprint") else None


def _prepare_folder(out: Path, key: str, *, overwrite: bool) -> None:
    """Make the locked ``out`` ready: empty, or (same interrupted run, or ``overwrite``) emptied.

    Raises:
        ValueError: ``out`` holds something else and ``overwrite`` is not given, or (with it) is not a
            maskgen dataset.
    """
    names = folder_entries(out)
    if not names:
        return
    marker = read_json(out / MARKER)
    same_run = isinstance(marker, dict) and marker.get("generate_key") == key and not (out / "dataset.json").exists()
    if not overwrite and not same_run and not names & set(DATASET_MARKERS):
        raise ValueError(f"{str(out)!r} already holds other files; use --overwrite or another folder")
    clear_output(out, overwrite=overwrite or same_run, markers=DATASET_MARKERS, what="maskgen dataset")


def generate_dataset(out: str | os.PathLike[str], options: GenerateOptions, *, workers: int = 1,
                     overwrite: bool = False, progress: bool = False) -> GenerateResult:
    """Generate ``options.count`` masks of ``options.family`` into the dataset folder ``out``.

    Args:
        workers: processes (the output does not depend on it).
        overwrite: replace what ``out`` holds (only a maskgen dataset, see
            :func:`inpaint_core.outdir.check_can_clear`).

    Returns:
        The rows (empty when ``out`` already held this dataset: ``up_to_date``) and ``dataset.json``.

    Raises:
        ValueError: unknown family, a size without published parameters, bad options, ``out`` holding
            something else (without ``overwrite``); FolderBusyError: another process writes ``out``.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    out = Path(out)
    family = create_family(options.family, size=options.size)
    key = _generate_key(options, family)
    with FolderLock(out, purpose="maskgen generate"):
        done = _up_to_date(out, key)
        if done is not None:
            return GenerateResult(out, [], done, up_to_date=True)
        _prepare_folder(out, key, overwrite=overwrite)
        atomic_write_text(out / MARKER, json.dumps({"generate_key": key, MASK_PROTOCOL_KEY: family.protocol}) + "\n")
        chunks = [_Chunk(options.family, options.size, options.seed, str(out), start,
                         min(start + CHUNK_SIZE, options.count)) for start in range(0, options.count, CHUNK_SIZE)]
        rows: list[MaskRecord] = []
        from tqdm import tqdm

        with tqdm(total=options.count, desc=family.protocol, unit="mask", disable=not progress,
                  file=sys.stderr) as bar:
            engine = create_engine("local", workers=workers)  # spawn workers that die with this process
            try:
                for result in engine.map(_run_chunk_task, chunks):
                    rows.extend(result)
                    bar.update(len(result))
            finally:
                engine.close()
        rows.sort(key=lambda r: (cell_rank(r.cell or "unbinned"), r.slot))
        info = finish_dataset(out, rows, lambda fingerprint: _describe(fingerprint, options, family, key, rows))
        drop_marker(out, MARKER)
    return GenerateResult(out, rows, info)


def _describe(fingerprint: str, options: GenerateOptions, family: MaskFamily, key: str,
              rows: list[MaskRecord]) -> dict[str, object]:
    return {
        "format": DATASET_FORMAT,
        "fingerprint": fingerprint,
        MASK_PROTOCOL_KEY: family.protocol,
        "generate_key": key,
        "versions": software_versions(),
        "family": {"name": family.name, "spec": options.family, "size": family.size, "source": family.source,
                   "parameters": family.parameters, "keep": family.keep.describe(),
                   "generator_format": GENERATE_FORMAT},
        "options": asdict(options),
        "seed_stream": f"inpaint_core.seeds.Stream.FAMILY_SLOT (seed, crc32({family.protocol!r}), slot)",
        "counts": cell_counts(Counter(row.cell or "unbinned" for row in rows)),
        "candidates_redrawn": sum(int(row.attempt or 0) for row in rows),
    }
