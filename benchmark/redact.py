"""Local paths cut out of what a leaderboard page publishes (``benchmark leaderboard --html``).

A run's ``run.json`` records where its inputs were on the machine that scored it: the mask set and image
folders (``dataset.path``, ``images.path``, resolved to absolute paths), the model's spec (a plug-in file, a
command line, a predictions folder), and its failure reasons and the leaderboard's notes may quote files.
A page is meant for the web, so every string it publishes goes through :class:`PathRedactor`:

* a string that is one absolute path (POSIX ``/...``, Windows ``C:\\...`` or ``\\\\server\\share``) becomes
  ``…/<last component>`` (``/home/alice/data/kodak24`` -> ``…/kodak24``); the home folder itself becomes ``~``;
* inside longer text (a command line, an error message), each absolute path, up to the next blank or quote,
  is cut the same way (``python /home/alice/lama/infer.py {input_dir}`` -> ``python …/infer.py {input_dir}``);
* then any remaining occurrence of a known local folder (the home and working folders, the run folders and
  their parents, the recorded mask and image folders: those catch paths holding blanks) becomes ``…``.

What identifies an input is kept as it is: fingerprints and sha256 (``dataset.fingerprint``,
``images.fingerprint``, ``pairs.fingerprint``, ``model.weights_sha256``, ``files``), counts, seeds, the
scoring protocol, versions, and the names the user chose (model, run folder, mask protocol). Relative paths
(``models/x.py``, ``~/x``) say nothing about the machine and are kept. Numbers are never touched. A run's
``run.json`` holds no host or user name (``hardware`` is the machine type, processor, CPU count and
operating system). :meth:`PathRedactor.leaks` finds what a text would still reveal, for a last check
before anything is written.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

__all__ = ["ELLIPSIS", "PathRedactor"]

ELLIPSIS = "\u2026"
# an absolute path starts at "/", "C:\" (or "C:/") or "\\", not inside a word or a relative path
_ABSOLUTE = re.compile(r"""(?<![\w.~/\\\u2026-])(?:/|[A-Za-z]:[\\/]|\\\\)[^\s"'<>|]*""")
# a known folder wherever it still occurs (glued to other text too), unless already cut; not a longer name
_BEFORE, _AFTER = r"(?<!\u2026)", r"(?![\w.-])"


def _last_component(path: str) -> str:
    """The last non-empty component of a POSIX or Windows path ("" for a root)."""
    parts = [part for part in re.split(r"[\\/]+", path) if part]
    if re.fullmatch(r"[A-Za-z]:", parts[0] if parts else "") and len(parts) == 1:
        return ""
    return parts[-1] if parts else ""


@dataclass(frozen=True)
class PathRedactor:
    """Cuts local paths out of published strings (see the module doc).

    Attributes:
        homes: the home folder as written and resolved (``~`` where a path is exactly one of them).
        folders: known local folders (absolute, normalised, at least two levels deep, or a home folder;
            longest first), each replaced by ``…`` wherever it still occurs after the absolute paths are cut.
    """

    homes: tuple[str, ...]
    folders: tuple[str, ...]

    @classmethod
    def for_folders(cls, folders: Iterable[str | os.PathLike[str]], *, home: Path | None = None,
                    cwd: Path | None = None) -> "PathRedactor":
        """A redactor knowing ``folders`` (as given and resolved) and their parents, the home folder and the
        working folder (defaults: this process's); relative ``folders`` are taken from the working folder."""
        home = Path.home() if home is None else Path(home)
        cwd = Path.cwd() if cwd is None else Path(cwd)
        homes = {os.path.normpath(h) for h in (str(home), str(home.resolve())) if _last_component(h)}
        known: set[str] = set(homes) | {str(cwd), str(cwd.resolve())}
        for folder in folders:
            folder = cwd / folder  # unchanged when absolute
            for form in (folder, folder.resolve()):
                known.add(str(form))
                known.update(str(parent) for parent in form.parents)
        # one folder below the root ("/tmp", "/home") is no local information, and cutting it wherever it
        # occurs would cut ordinary text apart; the home folder is kept whatever its depth
        kept = {os.path.normpath(f) for f in known if len(re.findall(r"[^\\/]+", f)) >= 2 or f in homes}
        return cls(tuple(sorted(homes)),
                   tuple(sorted(kept, key=lambda f: (-len(f), f))))

    def _path(self, path: str) -> str:
        trimmed = path.rstrip("/\\") or path
        if trimmed in self.homes:
            return "~"
        name = _last_component(trimmed)
        return f"{ELLIPSIS}/{name}" if name else path

    def text(self, text: str) -> str:
        """``text`` with every local path cut (module doc); idempotent."""
        whole = text.rstrip("/\\")
        if whole in self.folders or whole in self.homes:  # a recorded folder, blanks and all
            return self._path(whole)
        text = _ABSOLUTE.sub(lambda match: self._path(match.group(0)), text)
        for folder in self.folders:
            text = re.sub(_BEFORE + re.escape(folder) + _AFTER, ELLIPSIS, text)
        return text

    def json(self, value: object) -> object:
        """A copy of a JSON value (``run.json``) with :meth:`text` applied to every string, keys included;
        numbers, booleans and None unchanged."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(key)): self.json(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.json(item) for item in value]
        return value

    def leaks(self, text: str) -> list[str]:
        """The known local folders that ``text`` still shows (empty when it is safe to publish)."""
        return [folder for folder in self.folders if re.search(_BEFORE + re.escape(folder) + _AFTER, text)]
