from __future__ import annotations

from pathlib import Path

from inpaint_core.dataset import Dataset
from maskgen.build import BuildOptions
from maskgen.extract import ExtractOptions

SMALL_BUILD = BuildOptions(extract=ExtractOptions(stride=1), per_cell=3, train_count=4, test_fraction=0.5)


def dataset_files(folder: Path) -> dict[str, bytes]:
    """Every file of a dataset folder (not the internal work folder) by relative path."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and ".maskgen" not in p.parts}


def manifest_rows(folder: Path) -> list[dict[str, str]]:
    """The rows of a dataset's manifest.csv as strings, in file order."""
    return [record.to_row() for record in Dataset(folder).records()]


# a flow plug-in file (``file.py:make``) whose method returns zero flow and takes no weights
ZERO_FLOW_PLUGIN = (
    "import numpy as np\n"
    "class Zero:\n"
    "    name = 'zero'\n"
    "    def __call__(self, a, b):\n"
    "        return np.zeros(a.shape[:2] + (2,), np.float32)\n"
    "def make(**options):\n"
    "    return Zero()\n")
