"""Check a copy of NVIDIA's 12,000 irregular test masks against the sha256 of every released file.

NVIDIA's set (Liu et al., ECCV 2018) is fixed, but its mirrors died and copies circulate renamed, partial or
re-encoded. The package carries the sha256 of each released file (``maskgen/data/nvidia_test_sha256.txt``,
measured on a complete copy; facts about the files, not the masks). :func:`verify_nvidia` hashes a folder and
puts every file in exactly one class:

* **matching**: a released name holding that name's released bytes;
* **altered**: a released name holding bytes no released file has (re-encoded, resized, edited);
* **misnamed**: the bytes of a released file under another name (renamed, or two files swapped): the report
  says which name it should have and that name's NVIDIA block and cell (block ``k`` = ``name // 1000`` holds
  cell ``k`` in :data:`inpaint_core.buckets.CELLS` order: bin ``k // 2``, border B for even ``k``, N for odd);
* **duplicate**: another copy of a released file that is already in its right place (or already counted as
  misnamed under a first name);
* **extra**: neither a released name nor released bytes;
* **unreadable**: could not be read (permissions, I/O error).

Released names absent from the folder are **missing**. Hidden files and folders (names starting with ``.``)
are left out and counted. :attr:`NvidiaReport.status` is ``"complete"`` (the 12,000 released files, each in
its place, nothing else), ``"subset"`` (fewer, each a released file in its place, nothing else) or
``"not-released"`` (anything else).

Hashing streams each file (1 MiB reads) in a few threads (``hashlib`` and file reads release the GIL); see
``scripts/bench_verify_nvidia.py`` for its speed.
"""
from __future__ import annotations

import os
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from inpaint_core.buckets import CELLS, Cell
from inpaint_core.files import natural_key, sha256_bytes, sha256_file

__all__ = ["RELEASED_COUNT", "NVIDIA_BLOCK_SIZE", "ReleasedSet", "Altered", "Misnamed", "Duplicate", "Unreadable",
           "NvidiaReport", "nvidia_cell", "released_block", "list_files", "hash_files", "classify", "verify_nvidia",
           "format_report", "NVIDIA_STATUSES"]

RELEASED_COUNT = 12_000
NVIDIA_BLOCK_SIZE = 1000
RELEASED_LIST = "nvidia_test_sha256.txt"  # in maskgen/data (see its README.md for where it came from)
RELEASED_LIST_SHA256 = "0580d9b516183c650a16f8b3e39e15ce8d92a3030e5ae6ed7b791d4bdbe95ab0"
NVIDIA_STATUSES = ("complete", "subset", "not-released")
DEFAULT_HASH_THREADS = 4  # scripts/bench_verify_nvidia.py: 2x faster than 1 thread on files not in the cache
_LIST_LINE = re.compile(r"([0-9a-f]{64})  (\S.*)")


@dataclass(frozen=True)
class ReleasedSet:
    """The released files: name -> sha256 and sha256 -> name (the 12,000 digests are distinct)."""

    by_name: Mapping[str, str]
    by_sha: Mapping[str, str]

    @classmethod
    def load(cls) -> "ReleasedSet":
        """The list shipped with the package, after checking its own sha256 (a damaged install is an error)."""
        data = resources.files("maskgen").joinpath("data", RELEASED_LIST).read_bytes()
        if sha256_bytes(data) != RELEASED_LIST_SHA256:
            raise OSError(f"maskgen/data/{RELEASED_LIST} is damaged (its sha256 is not the one it was released "
                          "with); reinstall maskgen")
        return cls.parse(data.decode("ascii"))

    @classmethod
    def parse(cls, text: str) -> "ReleasedSet":
        """A ``sha256sum`` listing (``<64 hex>  <name>`` per line). ValueError on a malformed line or a
        repeated name or digest."""
        by_name: dict[str, str] = {}
        by_sha: dict[str, str] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            match = _LIST_LINE.fullmatch(line)
            if match is None:
                raise ValueError(f"line {number} of the sha256 list is not '<sha256>  <name>': {line[:80]!r}")
            digest, name = match.groups()
            if name in by_name or digest in by_sha:
                raise ValueError(f"line {number} of the sha256 list repeats a name or digest: {name}")
            by_name[name] = digest
            by_sha[digest] = name
        return cls(by_name, by_sha)

    def __len__(self) -> int:
        return len(self.by_name)


def nvidia_cell(index: int, *, block_size: int = NVIDIA_BLOCK_SIZE) -> Cell:
    """The cell NVIDIA's layout gives file number ``index``: block ``index // block_size`` (0..11) holds bin
    ``block // 2``, border class B for even blocks, N for odd ones. ValueError outside the 12 blocks."""
    block = index // block_size
    if not 0 <= block < len(CELLS):
        raise ValueError(f"file number {index} is outside the 12 blocks of {block_size}")
    return Cell(block // 2, "B" if block % 2 == 0 else "N")


def released_block(name: str) -> tuple[int, str]:
    """NVIDIA's block (0..11) and cell name of released file ``name`` (``"02345.png"`` -> ``(2, "10-20_B")``)."""
    number = int(name.split(".", 1)[0])
    return number // NVIDIA_BLOCK_SIZE, nvidia_cell(number).name


@dataclass(frozen=True)
class Altered:
    """A released name holding bytes no released file has."""

    path: str
    expected_sha256: str
    found_sha256: str


@dataclass(frozen=True)
class Misnamed:
    """The bytes of released file ``released_name`` at ``path``; that name's NVIDIA block and cell."""

    path: str
    released_name: str
    block: int
    cell: str


@dataclass(frozen=True)
class Duplicate:
    """Another copy of released file ``released_name``, already held at ``kept_at``."""

    path: str
    released_name: str
    kept_at: str


@dataclass(frozen=True)
class Unreadable:
    path: str
    reason: str


@dataclass(frozen=True)
class NvidiaReport:
    """What :func:`verify_nvidia` found in ``folder``. Paths are relative to it (``/``-separated), in natural
    order; every file examined is in exactly one of ``matching``, ``altered``, ``misnamed``, ``duplicates``,
    ``extra``, ``unreadable``."""

    folder: str
    released_total: int
    matching: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    altered: tuple[Altered, ...] = ()
    misnamed: tuple[Misnamed, ...] = ()
    duplicates: tuple[Duplicate, ...] = ()
    extra: tuple[str, ...] = ()
    unreadable: tuple[Unreadable, ...] = ()
    ignored_hidden: int = 0
    present_per_block: tuple[int, ...] = field(default=(0,) * len(CELLS))

    @property
    def files(self) -> int:
        """Files examined (hidden ones left out)."""
        return (len(self.matching) + len(self.altered) + len(self.misnamed) + len(self.duplicates)
                + len(self.extra) + len(self.unreadable))

    @property
    def status(self) -> str:
        """``"complete"``, ``"subset"`` or ``"not-released"`` (see the module doc)."""
        if self.files != len(self.matching) or not self.matching:
            return "not-released"
        return "complete" if len(self.matching) == self.released_total else "subset"

    @property
    def summary(self) -> str:
        """One sentence: what the copy is."""
        total = f"{self.released_total:,}"
        if self.status == "complete":
            return f"complete, identical to the released set ({total} of {total} files)"
        if self.status == "subset":
            return (f"subset of {len(self.matching):,} of {total} files, all of them released files in their "
                    f"right place ({len(self.missing):,} missing)")
        parts = [f"{count:,} {label}" for label, count in self.counts().items()
                 if count and label not in ("matching", "ignored_hidden")]
        return (f"not the released set: {', '.join(parts) or 'no file'}; {len(self.matching):,} of {total} "
                "released files in their right place")

    def counts(self) -> dict[str, int]:
        return {"matching": len(self.matching), "altered": len(self.altered), "misnamed": len(self.misnamed),
                "duplicates": len(self.duplicates), "extra": len(self.extra), "unreadable": len(self.unreadable),
                "missing": len(self.missing), "ignored_hidden": self.ignored_hidden}

    def to_json(self, *, names: bool = True) -> dict[str, object]:
        """Status, summary, counts and per-block counts; with ``names`` every listed file too (``matching``
        is given as a count only: it is the released names less the others)."""
        record: dict[str, object] = {"folder": self.folder, "status": self.status, "summary": self.summary,
                                     "released_total": self.released_total, "files": self.files,
                                     "counts": self.counts(), "present_per_block": list(self.present_per_block)}
        if names:
            record.update(missing=list(self.missing), extra=list(self.extra),
                          **{key: [asdict(item) for item in getattr(self, key)]
                             for key in ("altered", "misnamed", "duplicates", "unreadable")})
        return record


def list_files(folder: Path) -> tuple[list[str], int]:
    """The files under ``folder`` (recursive, links followed) as ``/``-separated relative paths in natural
    order, and the number of hidden files left out (in hidden folders too)."""
    found: list[str] = []
    hidden = 0
    for root, dirs, names in os.walk(folder, followlinks=True):
        base = Path(root).relative_to(folder)
        for name in [d for d in dirs if d.startswith(".")]:
            hidden += sum(len(files) for _, _, files in os.walk(Path(root) / name))
            dirs.remove(name)
        for name in names:
            if name.startswith("."):
                hidden += 1
            else:
                found.append((base / name).as_posix())
    found.sort(key=natural_key)
    return found, hidden


def _digest(path: Path) -> str | OSError:
    try:
        return sha256_file(path)
    except OSError as exc:
        return exc


def hash_files(paths: Sequence[Path], *, threads: int = DEFAULT_HASH_THREADS) -> list[str | OSError]:
    """The sha256 of each file, in order (the OSError for one that cannot be read), streamed in 1 MiB reads;
    ``threads`` contiguous chunks are hashed side by side."""
    threads = max(1, min(threads, len(paths) // 64 or 1))
    if threads == 1:
        return [_digest(path) for path in paths]
    step = -(-len(paths) // threads)
    chunks = [paths[start:start + step] for start in range(0, len(paths), step)]
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sha256") as pool:
        parts = list(pool.map(lambda chunk: [_digest(path) for path in chunk], chunks))
    return [digest for part in parts for digest in part]


def classify(hashes: Mapping[str, str], released: ReleasedSet, *, folder: str = "",
             unreadable: Iterable[Unreadable] = (), ignored_hidden: int = 0) -> NvidiaReport:
    """The report for files ``hashes`` (relative path -> sha256) against ``released`` (see the module doc)."""
    matching: list[str] = []
    altered: list[Altered] = []
    extra: list[str] = []
    elsewhere: dict[str, list[str]] = {}  # released name -> paths holding its bytes under another name
    for path in sorted(hashes, key=natural_key):
        digest = hashes[path]
        expected = released.by_name.get(path)
        owner = released.by_sha.get(digest)
        if expected == digest:
            matching.append(path)
        elif owner is not None:
            elsewhere.setdefault(owner, []).append(path)
        elif expected is not None:
            altered.append(Altered(path, expected, digest))
        else:
            extra.append(path)
    misnamed, duplicates = _misplaced(elsewhere, set(matching))
    unreadable = tuple(unreadable)
    present = set(hashes) | {item.path for item in unreadable}
    per_block = Counter(released_block(name)[0] for name in matching)
    return NvidiaReport(
        folder=folder, released_total=len(released), matching=tuple(matching),
        missing=tuple(name for name in released.by_name if name not in present), altered=tuple(altered),
        misnamed=tuple(sorted(misnamed, key=lambda m: natural_key(m.path))),
        duplicates=tuple(sorted(duplicates, key=lambda d: natural_key(d.path))), extra=tuple(extra),
        unreadable=unreadable, ignored_hidden=ignored_hidden,
        present_per_block=tuple(per_block.get(block, 0) for block in range(len(CELLS))))


def _misplaced(elsewhere: Mapping[str, list[str]], in_place: set[str]) -> tuple[list[Misnamed], list[Duplicate]]:
    """Released bytes under other names: a copy of a file already in its place is a duplicate; otherwise the
    first path (natural order) is misnamed (rename it) and further copies are duplicates of it."""
    misnamed: list[Misnamed] = []
    duplicates: list[Duplicate] = []
    for owner, paths in elsewhere.items():
        kept_at = owner if owner in in_place else paths[0]
        for path in paths:
            if path == kept_at:
                misnamed.append(Misnamed(path, owner, *released_block(owner)))
            else:
                duplicates.append(Duplicate(path, owner, kept_at))
    return misnamed, duplicates


def verify_nvidia(folder: str | os.PathLike[str], *, threads: int = DEFAULT_HASH_THREADS,
                  released: ReleasedSet | None = None) -> NvidiaReport:
    """Hash every (non-hidden) file under ``folder`` and classify it against NVIDIA's released set.

    Raises:
        ValueError: ``folder`` is not a folder or holds no file.
        OSError: the packaged sha256 list is damaged.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{str(folder)!r} does not exist or is not a folder")
    names, hidden = list_files(folder)
    if not names:
        raise ValueError(f"no file under {str(folder)!r}" + (f" ({hidden} hidden files left out)" if hidden else ""))
    released = released or ReleasedSet.load()
    hashes: dict[str, str] = {}
    unreadable: list[Unreadable] = []
    for name, digest in zip(names, hash_files([folder / name for name in names], threads=threads)):
        if isinstance(digest, OSError):
            unreadable.append(Unreadable(name, digest.strerror or str(digest)))
        else:
            hashes[name] = digest
    return classify(hashes, released, folder=str(folder), unreadable=unreadable, ignored_hidden=hidden)


def _ranges(names: Sequence[str]) -> list[str]:
    """Consecutive released names as ranges: ``00001-00096`` (names are ``NNNNN.png``, in order)."""
    spans: list[list[int]] = []
    for number in (int(name.split(".", 1)[0]) for name in names):
        if spans and number == spans[-1][1] + 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    return [f"{low:05d}" if low == high else f"{low:05d}-{high:05d}" for low, high in spans]


def _listing(label: str, items: Sequence[str], limit: int) -> list[str]:
    if not items:
        return []
    more = f"  ... and {len(items) - limit:,} more" if len(items) > limit else ""
    return [f"  {label}:"] + [f"    {item}" for item in items[:limit]] + ([more] if more else [])


def format_report(report: NvidiaReport, *, limit: int = 10) -> str:
    """The report as text: the summary, then each class of file with at most ``limit`` lines."""
    lines = [f"{report.folder}: {report.summary}"]
    if report.status != "complete":
        lines.append("  released files in their place per block (0-11, of 1,000 each): "
                     + " ".join(str(count) for count in report.present_per_block))
    lines += _listing(f"altered ({len(report.altered):,}): released name, other bytes",
                      [f"{a.path}: sha256 {a.found_sha256[:16]}..., released {a.expected_sha256[:16]}..."
                       for a in report.altered], limit)
    lines += _listing(f"misnamed ({len(report.misnamed):,}): a released file under another name",
                      [f"{m.path} is {m.released_name} (block {m.block}, cell {m.cell}): rename it"
                       for m in report.misnamed], limit)
    lines += _listing(f"duplicates ({len(report.duplicates):,}): another copy of a released file",
                      [f"{d.path} = {d.released_name}, already at {d.kept_at}" for d in report.duplicates], limit)
    lines += _listing(f"extra ({len(report.extra):,}): not a released file", list(report.extra), limit)
    lines += _listing(f"unreadable ({len(report.unreadable):,})",
                      [f"{u.path}: {u.reason}" for u in report.unreadable], limit)
    lines += _listing(f"missing ({len(report.missing):,}), as ranges of names", _ranges(report.missing), limit)
    if report.ignored_hidden:
        lines.append(f"  {report.ignored_hidden:,} hidden files left out")
    return "\n".join(lines)
