"""Local paths cut out of published strings (benchmark.redact): known answers, idempotence, no leak left."""
from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.redact import PathRedactor

E = "\u2026"


@pytest.fixture()
def redactor() -> PathRedactor:
    return PathRedactor.for_folders(["/srv/lab/runs/nv/mean-fill", "/home/alice/My Data/kodak24", "runs/x"],
                                    home=Path("/home/alice"), cwd=Path("/work/bench"))


@pytest.mark.parametrize("text, expected", [
    ("/tmp/figures/nv-sample", f"{E}/nv-sample"),                      # any absolute path: its last name
    ("/home/alice/My Data/kodak24", f"{E}/kodak24"),                   # a recorded folder, blank and all
    ("/home/alice/My Data/kodak24/", f"{E}/kodak24"),
    ("/home/alice", "~"), ("/home/alice/", "~"),                       # the home folder itself
    ("conda run -n lama python /home/alice/lama/infer.py {input_dir} {mask_dir}",
     f"conda run -n lama python {E}/infer.py {{input_dir}} {{mask_dir}}"),
    ("RuntimeError: cannot open '/tmp/x y/z.png'", f"RuntimeError: cannot open '{E}/x y/z.png'"),
    ("--ckpt=/opt/models/big.ckpt", f"--ckpt={E}/big.ckpt"),
    ("/home/alice/models/x.py:Make", f"{E}/x.py:Make"),
    (r"C:\Users\alice\x.py:Make", f"{E}/x.py:Make"), (r"\\server\share\masks", f"{E}/masks"),
    ("left out m (/srv/lab/runs/nv/mean-fill, mask protocol p)", f"left out m ({E}/mean-fill, mask protocol p)"),
    ("copy of/home/alice/My Data/kodak24/a.png", f"copy of{E}/a.png"),  # glued to a word: a known folder
    ("/work/bench/runs/x", f"{E}/x"),                                  # a relative run folder, resolved
    # left alone: relative paths, the home shorthand, formulas, a lone slash, numbers
    ("models/x.py:Make", "models/x.py:Make"), ("~/models/x.py", "~/models/x.py"),
    ("l1 %: MAE/255*100; and/or", "l1 %: MAE/255*100; and/or"), ("a / b", "a / b"), ("/", "/"),
    ("network/work", "network/work"), ("0.123456", "0.123456"),
])
def test_paths_are_cut_to_their_last_name(redactor: PathRedactor, text: str, expected: str) -> None:
    assert redactor.text(text) == expected
    assert redactor.text(expected) == expected  # idempotent
    assert redactor.leaks(expected) == []


def test_known_folders_and_leaks(redactor: PathRedactor) -> None:
    # the folders, their parents, home and working folder; never a root or a folder one level below it
    assert set(redactor.folders) == {"/srv/lab/runs/nv/mean-fill", "/srv/lab/runs/nv", "/srv/lab/runs", "/srv/lab",
                                     "/home/alice/My Data/kodak24", "/home/alice/My Data", "/home/alice",
                                     "/work/bench", "/work/bench/runs", "/work/bench/runs/x"}
    assert redactor.homes == ("/home/alice",)
    assert redactor.leaks("see /srv/lab/runs/nv for more") == ["/srv/lab/runs/nv", "/srv/lab/runs", "/srv/lab"]
    assert redactor.leaks("x/home/alice") == ["/home/alice"] and redactor.leaks("/home/alicex") == []
    assert redactor.leaks(f"{E}/home/alice") == []  # a path already cut: its last names stay
    assert PathRedactor.for_folders([], home=Path("/"), cwd=Path("/")).folders == ()  # a root is never cut


def test_json_values_keep_their_type(redactor: PathRedactor) -> None:
    info = {"dataset": {"path": "/home/alice/My Data/kodak24", "fingerprint": "ab" * 32, "count": 24},
            "pairs": {"seed": 0, "per_cell": None, "ok": True}, "list": ["/a/b/c", 1.5]}
    assert redactor.json(info) == {"dataset": {"path": f"{E}/kodak24", "fingerprint": "ab" * 32, "count": 24},
                                   "pairs": {"seed": 0, "per_cell": None, "ok": True}, "list": [f"{E}/c", 1.5]}
    assert info["dataset"]["path"] == "/home/alice/My Data/kodak24"  # a copy
