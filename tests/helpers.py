from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

import maskgen.build as build_module
from inpaint_core.dataset import Dataset
from inpaint_core.files import sha256_file
from maskgen.build import BuildOptions
from maskgen.extract import ExtractOptions
from maskgen.verify import ReleasedSet

SMALL_BUILD = BuildOptions(extract=ExtractOptions(stride=1), per_cell=3, train_count=4, test_fraction=0.5)
# SMALL_BUILD as ``maskgen build`` options
SMALL_BUILD_ARGS = ("--stride", str(SMALL_BUILD.extract.stride), "--per-cell", str(SMALL_BUILD.per_cell),
                    "--train-count", str(SMALL_BUILD.train_count), "--test-fraction", str(SMALL_BUILD.test_fraction))


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


# a flow plug-in file (``file.py:make``): DIS flow that fails once, transiently, while a ``fail_once`` file
# lies next to it (the failure deletes the file)
FLAKY_FLOW = """
from pathlib import Path
from maskgen.flow import create_flow

FLAG = Path(__file__).with_name("fail_once")


class Flaky:
    name = "flaky"

    def __init__(self):
        self.inner = create_flow("dis")

    def __call__(self, frame_a, frame_b):
        if FLAG.exists():  # a transient failure: gone once it has happened
            FLAG.unlink()
            raise RuntimeError("CUDA out of memory (simulated)")
        return self.inner(frame_a, frame_b)


def make(**options):
    return Flaky()
"""


def flaky_flow_options(folder: Path) -> BuildOptions:
    """SMALL_BUILD with the FLAKY_FLOW plug-in, written to ``folder`` (touch ``folder / "fail_once"`` to make
    its next flow call fail)."""
    plugin = folder / "flaky_flow.py"
    folder.mkdir(parents=True)
    plugin.write_text(FLAKY_FLOW)
    return replace(SMALL_BUILD, extract=replace(SMALL_BUILD.extract, flow=f"{plugin}:make"))


def interrupt_after(monkeypatch: pytest.MonkeyPatch, chunks: int) -> None:
    """A build in this process is interrupted (KeyboardInterrupt) after its first ``chunks`` chunks."""
    real = build_module.ChunkWorker.run
    calls = {"n": 0}

    def interrupted(worker: build_module.ChunkWorker, chunk: build_module.Chunk) -> build_module.ChunkResult:
        calls["n"] += 1
        if calls["n"] > chunks:
            raise KeyboardInterrupt
        return real(worker, chunk)

    monkeypatch.setattr(build_module.ChunkWorker, "run", interrupted)


def released_listing(folder: Path, contents: dict[str, bytes] | None = None) -> ReleasedSet:
    """A released set of the given files (written to ``folder``), or of every ``*.png`` already in ``folder``:
    what the real list is for NVIDIA's."""
    if contents is not None:
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in contents.items():
            (folder / name).write_bytes(data)
    names = sorted(contents) if contents is not None else sorted(path.name for path in folder.glob("*.png"))
    return ReleasedSet.parse("".join(f"{sha256_file(folder / name)}  {name}\n" for name in names))
