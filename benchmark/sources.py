"""Where a run's outputs come from, besides a Python model: an external command, or a predictions folder.

* ``--model-cmd "python infer.py {input_dir} {mask_dir} {output_dir}"``: the harness writes every pending
  pair's masked input to ``{input_dir}/<pair_id>.png`` (RGB, holes 0) and its mask to
  ``{mask_dir}/<pair_id>.png`` (255 = hole), runs the command once (in its own process group; its output
  streamed and logged), then reads ``{output_dir}/<pair_id>.png``. For a model that lives in its own
  environment. The folders are kept in the run folder until the run is written, so a crash resumes.
* ``benchmark score --predictions DIR``: ``DIR/<pair_id>.png`` made elsewhere from the inputs that
  ``benchmark export-inputs`` wrote; its ``export.json`` says which pairs they are, and predictions for
  other pairs are refused.
"""
from __future__ import annotations

import hashlib
import json
import shlex
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import numpy as np

from inpaint_core.files import atomic_write_bytes, atomic_write_text, read_json
from inpaint_core.images import load_image, write_rgb_png
from inpaint_core.maskio import write_mask
from inpaint_core.processes import kill_process_group, supervised

from .pairing import Pair, pairs_csv
from .protocol import masked_input

if TYPE_CHECKING:
    from .runner import Prepared

__all__ = ["CommandModel", "PredictionsFolder", "export_inputs", "find_export_record", "check_export_matches",
           "EXPORT_RECORD"]

PLACEHOLDERS = ("{input_dir}", "{mask_dir}", "{output_dir}")


def command_name(template: str) -> str:
    """A default run name for ``--model-cmd``: the script's (or program's) name and a short hash of the
    whole command, so that two different commands never share a run folder (``infer-3f2a9c1e``)."""
    tokens = [token for token in shlex.split(template) if "{" not in token and not token.startswith("-")]
    programs = [Path(token).stem for token in tokens if Path(token).suffix in (".py", ".sh", ".jl", ".R")]
    stem = programs[0] if programs else (Path(tokens[0]).name if tokens else "command")
    return f"{stem}-{hashlib.sha256(template.encode()).hexdigest()[:8]}"


class CommandModel:
    """A model run as one external command over folders (see the module doc); an output provider.

    Its folders live in ``work_dir`` (``<run folder>/command`` from the CLI): ``inputs/``, ``masks/``,
    ``outputs/`` and ``command.log`` (everything the command printed, also streamed to the terminal). An
    interrupted run keeps them: started again, the command runs only for the pairs it has no output for.
    :meth:`finish` removes the image folders once the run is written (the log stays).

    Args:
        timeout: seconds the whole command may run; then its process group is killed and every pair
            without an output fails with the timeout as the reason.
    """

    batch_size = 64
    FOLDERS = ("inputs", "masks", "outputs")

    def __init__(self, template: str, *, work_dir: Path, timeout: float | None = None,
                 progress: bool = False) -> None:
        missing = [p for p in PLACEHOLDERS if p not in template]
        if missing:
            raise ValueError(f"--model-cmd must contain {', '.join(PLACEHOLDERS)}; missing {', '.join(missing)}")
        if timeout is not None and not timeout > 0:
            raise ValueError(f"--timeout must be a positive number of seconds, got {timeout:g}")
        self.template = template
        self.timeout = timeout
        self.work_dir = work_dir
        self.progress = progress
        self._failure: Exception | None = None
        self._seconds = float("nan")

    def folder(self, name: str) -> Path:
        return self.work_dir / name

    def prepare(self, requests: Iterable[tuple[Pair, np.ndarray, np.ndarray]]) -> None:
        """Write the inputs and masks of the pending pairs that have no output yet, then run the command
        once over them (not at all when every pending pair has its output from an interrupted run)."""
        for name in ("inputs", "masks"):
            shutil.rmtree(self.folder(name), ignore_errors=True)
        for name in self.FOLDERS:
            self.folder(name).mkdir(parents=True, exist_ok=True)
        count = 0
        for pair, model_input, mask in requests:
            if (self.folder("outputs") / f"{pair.pair_id}.png").is_file():
                continue
            write_rgb_png(self.folder("inputs") / f"{pair.pair_id}.png", model_input)
            write_mask(self.folder("masks") / f"{pair.pair_id}.png", mask)
            count += 1
        if count:
            self._run(count)

    def _command(self) -> list[str]:
        places = {"{input_dir}": str(self.folder("inputs")), "{mask_dir}": str(self.folder("masks")),
                  "{output_dir}": str(self.folder("outputs"))}
        command = []
        for token in shlex.split(self.template):
            for placeholder, value in places.items():
                token = token.replace(placeholder, value)
            command.append(token)
        return command

    def _run(self, count: int) -> None:
        """Run the command in its own process group, its output streamed to stderr and ``command.log``,
        the progress bar following the outputs it writes; killed (the whole group) on timeout or when the
        harness stops."""
        from tqdm import tqdm

        self._failure = None
        started = time.perf_counter()
        before = self._output_count()
        bar = tqdm(total=count, desc="command outputs", unit="image", disable=not self.progress, file=sys.stderr)
        with open(self.work_dir / "command.log", "ab") as log:
            command = self._command()
            try:
                if not command or shutil.which(command[0]) is None:
                    raise FileNotFoundError(f"no executable {command[0] if command else '(empty command)'!r}")
                # the supervisor leads the command's process group and ends it, grandchildren included,
                # when this process dies (kill -9 too)
                process = subprocess.Popen(supervised(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL, start_new_session=True)
            except OSError as exc:
                self._failure = RuntimeError(f"cannot run command: {exc}")
                bar.close()
                return
            relay = threading.Thread(target=_relay, args=(process.stdout, log), daemon=True)
            relay.start()
            try:
                while process.poll() is None:
                    if self.timeout is not None and time.perf_counter() - started > self.timeout:
                        _end_group(process)
                        self._failure = TimeoutError(f"timeout: command did not finish within {self.timeout:g} s")
                        break
                    bar.update(min(count, self._output_count() - before) - bar.n)
                    time.sleep(0.2)
            finally:
                _end_group(process)  # the command's children too, whatever happened
                relay.join(5)
        bar.update(min(count, self._output_count() - before) - bar.n)
        bar.close()
        if self._failure is None and process.returncode != 0:
            self._failure = RuntimeError(f"command exited with status {process.returncode} (its output: "
                                         f"{self.work_dir / 'command.log'})")
        self._seconds = (time.perf_counter() - started) / max(1, count)

    def _output_count(self) -> int:
        return sum(1 for _ in self.folder("outputs").glob("*.png"))

    def outputs(self, requests: list[tuple[Pair, np.ndarray, np.ndarray]]) -> list[tuple[object, float]]:
        results: list[tuple[object, float]] = []
        for pair, _, _ in requests:
            path = self.folder("outputs") / f"{pair.pair_id}.png"
            if path.is_file():
                try:
                    results.append((load_image(path), self._seconds))
                except ValueError as exc:
                    results.append((exc, self._seconds))
            else:
                results.append((self._failure or FileNotFoundError(f"the command wrote no {path.name}"),
                                self._seconds))
        return results

    def finish(self) -> None:
        """The run is written: remove the image folders (``command.log`` stays)."""
        for name in self.FOLDERS:
            shutil.rmtree(self.folder(name), ignore_errors=True)


def _relay(stream, log) -> None:  # noqa: ANN001 - binary pipe and file
    """Copy the command's output to the log file and to stderr, line by line."""
    for line in iter(stream.readline, b""):
        log.write(line)
        log.flush()
        sys.stderr.write(line.decode(errors="replace"))
        sys.stderr.flush()
    stream.close()


def _end_group(process: subprocess.Popen) -> None:
    """Kill the command's process group (the command and everything it started) and reap the command."""
    kill_process_group(process.pid)
    process.wait()


class PredictionsFolder:
    """Outputs made elsewhere: ``folder/<pair_id>.png`` (or .jpg/.webp); an output provider.

    A prediction that is a link to a file outside ``folder`` is refused (a failed pair saying so).
    """

    batch_size = 1
    SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")

    def __init__(self, folder: Path) -> None:
        if not folder.is_dir():
            raise ValueError(f"predictions folder {str(folder)!r} does not exist")
        self.folder = folder

    def _load(self, pair: Pair) -> np.ndarray:
        path = next((self.folder / f"{pair.pair_id}{suffix}" for suffix in self.SUFFIXES
                     if (self.folder / f"{pair.pair_id}{suffix}").is_file()), None)
        if path is None:
            raise FileNotFoundError(f"no prediction {pair.pair_id}.png in {self.folder}")
        if not path.resolve().is_relative_to(self.folder.resolve()):
            raise ValueError(f"prediction {path.name} is a link to {str(path.resolve())!r}, outside the "
                             "predictions folder")
        return load_image(path)

    def outputs(self, requests: list[tuple[Pair, np.ndarray, np.ndarray]]) -> list[tuple[object, float]]:
        results: list[tuple[object, float]] = []
        for pair, _, _ in requests:
            try:
                results.append((self._load(pair), float("nan")))
            except (OSError, ValueError) as exc:
                results.append((exc, float("nan")))
        return results


EXPORT_RECORD = "export.json"
_EXPORT_FOLDERS = ("inputs", "masks")


def export_inputs(prepared: Prepared, out: Path) -> int:
    """Write ``inputs/<pair_id>.png``, ``masks/<pair_id>.png``, ``pairs.csv`` and ``export.json`` (what the
    pairs are: :meth:`Prepared.export_record`) for a model run elsewhere. A previous export in ``out`` (its
    ``export.json`` present) has its ``inputs/`` and ``masks/`` replaced; anything else there is kept."""
    from inpaint_core.outdir import FolderLock

    with FolderLock(out, purpose="benchmark export-inputs"):
        if (out / EXPORT_RECORD).is_file():
            for name in _EXPORT_FOLDERS:
                shutil.rmtree(out / name, ignore_errors=True)
            (out / EXPORT_RECORD).unlink()
        for pair in prepared.pairs:
            mask = prepared.mask(pair)
            write_rgb_png(out / "inputs" / f"{pair.pair_id}.png", masked_input(prepared.image(pair.image), mask))
            write_mask(out / "masks" / f"{pair.pair_id}.png", mask)
        atomic_write_bytes(out / "pairs.csv", pairs_csv(prepared.pairs).encode())
        atomic_write_text(out / EXPORT_RECORD, json.dumps(prepared.export_record(), indent=2) + "\n")
    return len(prepared.pairs)


def find_export_record(predictions: Path, export: Path | None = None) -> tuple[Path, dict[str, object]]:
    """``export.json`` of the export the predictions answer: in ``export`` when given, else in the
    predictions folder or its parent. Raises ValueError when there is none."""
    candidates = [export] if export is not None else [predictions, predictions.parent]
    for folder in candidates:
        record = read_json(folder / EXPORT_RECORD)
        if record is not None:
            return folder / EXPORT_RECORD, record
    where = " or ".join(repr(str(folder)) for folder in candidates)
    raise ValueError(f"no {EXPORT_RECORD} in {where}: give --export DIR, the folder 'benchmark export-inputs' "
                     "wrote (an export made before this check existed must be made again)")


def check_export_matches(record: dict[str, object], prepared: Prepared, source: Path) -> None:
    """Refuse to score predictions made for other pairs than ``prepared``'s, naming what differs."""
    if record.get("protocol_key") == prepared.protocol_key:
        return
    ours = prepared.export_record()
    differences = []
    for label, key, sub in (("--seed", "pairs", "seed"), ("--per-cell", "pairs", "per_cell"),
                            ("--size", "size", None), ("mask set fingerprint", "dataset", "fingerprint"),
                            ("image set fingerprint", "images", "fingerprint"),
                            ("pairs fingerprint", "pairs", "fingerprint")):
        theirs_value = record.get(key, {}).get(sub) if sub else record.get(key)
        ours_value = ours[key][sub] if sub else ours[key]
        if theirs_value != ours_value:
            differences.append(f"{label} {_short(theirs_value)} there, {_short(ours_value)} here")
    raise ValueError(f"the predictions answer other pairs than these ({source}): "
                     f"{'; '.join(differences) or 'protocol differs'}; score with the options of the export")


def _short(value: object) -> str:
    text = str(value)
    return text[:12] if len(text) == 64 else text
