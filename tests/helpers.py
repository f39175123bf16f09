from __future__ import annotations

from pathlib import Path

from maskgen.build import BuildOptions
from maskgen.extract import ExtractOptions

SMALL_BUILD = BuildOptions(extract=ExtractOptions(stride=1), per_cell=3, train_count=4, test_fraction=0.5)


def dataset_files(folder: Path) -> dict[str, bytes]:
    """Every file of a dataset folder (not the internal work folder) by relative path."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and ".maskgen" not in p.parts}
