"""Build a small mask dataset and score two built-in models, then record what must not change.

Used to show that a refactoring keeps every output byte-identical:

    python scripts/reference_outputs.py --out /tmp/before            # on the old commit
    python scripts/reference_outputs.py --out /tmp/after --compare /tmp/before/reference.json

The commands are the README's (``maskgen build`` on the clips with ``--per-cell 20 --train-count 200``,
``benchmark run`` of ``mean-fill`` and ``opencv-telea`` on Kodak24, 5 pairs per cell). Recorded: the dataset
fingerprint, the sha256 of every mask file, and each run's ``per_image.csv`` and ``summary.csv`` without the
timing column; ``--compare`` prints every difference and exits 1 if there is one.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MODELS = ("mean-fill", "opencv-telea")
TIMING = {"seconds", "seconds_mean", "seconds_std"}


def run(*args: str) -> None:
    subprocess.run([sys.executable, "-m", *args], check=True)


def table_digest(path: Path) -> str:
    """sha256 of a CSV's rows without the timing columns."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [{k: v for k, v in row.items() if k not in TIMING} for row in csv.DictReader(handle)]
    return hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()


def record(out: Path) -> dict[str, object]:
    masks = out / "masks"
    info = json.loads((masks / "dataset.json").read_text())
    files = {p.relative_to(masks).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(masks.rglob("*.png")) if "pictures" not in p.parts}
    result: dict[str, object] = {
        "dataset_fingerprint": info["fingerprint"],
        "manifest_sha256": hashlib.sha256((masks / "manifest.csv").read_bytes()).hexdigest(),
        "mask_files": hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest(),
        "mask_count": len(files),
    }
    for model in MODELS:
        folder = out / "runs" / model
        run_info = json.loads((folder / "run.json").read_text())
        result[model] = {"protocol_key": run_info["protocol_key"], "dataset": run_info["dataset"]["fingerprint"],
                         "pairs": run_info["pairs"]["fingerprint"], "per_image": table_digest(folder / "per_image.csv"),
                         "summary": table_digest(folder / "summary.csv")}
    return result


def differences(old: object, new: object, where: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        return [line for key in sorted(set(old) | set(new))
                for line in differences(old.get(key), new.get(key), f"{where}/{key}")]
    return [] if old == new else [f"{where}: {old} -> {new}"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    parser.add_argument("--compare", type=Path, default=None, help="a reference.json to compare with")
    options = parser.parse_args()
    out = options.out
    run("maskgen.cli", "build", "--video-dir", str(options.data / "clips"), "--out", str(out / "masks"),
        "--per-cell", "20", "--train-count", "200", "--workers", "2", "--quiet")
    for model in MODELS:
        run("benchmark.cli", "run", "--model", model, "--masks", str(out / "masks"), "--images",
            str(options.data / "images" / "kodak24"), "--out", str(out / "runs"), "--per-cell", "5", "--quiet",
            "--no-set-metrics")
    result = record(out)
    (out / "reference.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    if options.compare is None:
        return 0
    found = differences(json.loads(options.compare.read_text()), result)
    for line in found:
        print("DIFFERENT", line)
    print("identical" if not found else f"{len(found)} differences")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
