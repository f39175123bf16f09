"""Where a run's outputs come from, besides a Python model: an external command, or a predictions folder.

* ``--model-cmd "python infer.py {input_dir} {mask_dir} {output_dir}"``: the harness writes every pending
  pair's masked input to ``{input_dir}/<pair_id>.png`` (RGB, holes 0) and its mask to
  ``{mask_dir}/<pair_id>.png`` (255 = hole), runs the command once, then reads
  ``{output_dir}/<pair_id>.png``. For a model that lives in its own environment.
* ``benchmark score --predictions DIR``: ``DIR/<pair_id>.png`` made elsewhere from the inputs that
  ``benchmark export-inputs`` wrote.
"""
from __future__ import annotations

import shlex
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterable

import numpy as np

from inpaint_core.files import atomic_write_bytes
from inpaint_core.images import load_image, write_rgb_png
from inpaint_core.maskio import write_mask

from .pairing import Pair, pairs_csv
from .protocol import masked_input

__all__ = ["CommandModel", "PredictionsFolder", "export_inputs"]

PLACEHOLDERS = ("{input_dir}", "{mask_dir}", "{output_dir}")


class CommandModel:
    """A model run as one external command over folders (see the module doc); an output provider."""

    batch_size = 64

    def __init__(self, template: str, *, timeout: float | None = None, work_dir: Path | None = None) -> None:
        missing = [p for p in PLACEHOLDERS if p not in template]
        if missing:
            raise ValueError(f"--model-cmd must contain {', '.join(PLACEHOLDERS)}; missing {', '.join(missing)}")
        self.template = template
        self.timeout = timeout
        self.work_dir = work_dir
        self._root: Path | None = None
        self._failure: Exception | None = None
        self._seconds = float("nan")

    def prepare(self, requests: Iterable[tuple[Pair, np.ndarray, np.ndarray]]) -> None:
        """Write every pending input and mask, then run the command once."""
        self.close()
        self._root = Path(tempfile.mkdtemp(prefix="benchmark_cmd_", dir=self.work_dir))
        folders = {name: self._root / name for name in ("inputs", "masks", "outputs")}
        for folder in folders.values():
            folder.mkdir()
        count = 0
        for pair, model_input, mask in requests:
            write_rgb_png(folders["inputs"] / f"{pair.pair_id}.png", model_input)
            write_mask(folders["masks"] / f"{pair.pair_id}.png", mask)
            count += 1
        command = [token.replace("{input_dir}", str(folders["inputs"])).replace("{mask_dir}", str(folders["masks"]))
                   .replace("{output_dir}", str(folders["outputs"])) for token in shlex.split(self.template)]
        limit = None if self.timeout is None else self.timeout * max(1, count)
        started = time.perf_counter()
        try:
            finished = subprocess.run(command, capture_output=True, text=True, timeout=limit)
            if finished.returncode != 0:
                last = (finished.stderr.strip().splitlines() or [""])[-1]
                self._failure = RuntimeError(f"command exited with status {finished.returncode}: {last}")
        except subprocess.TimeoutExpired:
            self._failure = TimeoutError(f"timeout: command did not finish within {limit:g} s")
        except OSError as exc:
            self._failure = RuntimeError(f"cannot run command: {exc}")
        self._seconds = (time.perf_counter() - started) / max(1, count)

    def outputs(self, requests: list[tuple[Pair, np.ndarray, np.ndarray]]) -> list[tuple[object, float]]:
        if self._root is None:
            raise RuntimeError("CommandModel.prepare must run before outputs")
        results: list[tuple[object, float]] = []
        for pair, _, _ in requests:
            path = self._root / "outputs" / f"{pair.pair_id}.png"
            if path.is_file():
                try:
                    results.append((load_image(path), self._seconds))
                except ValueError as exc:
                    results.append((exc, self._seconds))
            else:
                results.append((self._failure or FileNotFoundError(f"the command wrote no {path.name}"),
                                self._seconds))
        return results

    def close(self) -> None:
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def __enter__(self) -> "CommandModel":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PredictionsFolder:
    """Outputs made elsewhere: ``folder/<pair_id>.png`` (or .jpg/.webp); an output provider."""

    batch_size = 1

    def __init__(self, folder: Path) -> None:
        if not folder.is_dir():
            raise ValueError(f"predictions folder {str(folder)!r} does not exist")
        self.folder = folder

    def outputs(self, requests: list[tuple[Pair, np.ndarray, np.ndarray]]) -> list[tuple[object, float]]:
        results: list[tuple[object, float]] = []
        for pair, _, _ in requests:
            path = next((self.folder / f"{pair.pair_id}{suffix}" for suffix in (".png", ".jpg", ".jpeg", ".webp")
                         if (self.folder / f"{pair.pair_id}{suffix}").is_file()), None)
            if path is None:
                results.append((FileNotFoundError(f"no prediction {pair.pair_id}.png in {self.folder}"), float("nan")))
                continue
            try:
                results.append((load_image(path), float("nan")))
            except ValueError as exc:
                results.append((exc, float("nan")))
        return results


def export_inputs(prepared, out: Path) -> int:
    """Write ``inputs/<pair_id>.png``, ``masks/<pair_id>.png`` and ``pairs.csv`` for a model run elsewhere."""
    for pair in prepared.pairs:
        mask = prepared.mask(pair)
        write_rgb_png(out / "inputs" / f"{pair.pair_id}.png", masked_input(prepared.image(pair.image), mask))
        write_mask(out / "masks" / f"{pair.pair_id}.png", mask)
    atomic_write_bytes(out / "pairs.csv", pairs_csv(prepared.pairs).encode())
    return len(prepared.pairs)
