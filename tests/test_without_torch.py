"""The base install needs no torch: maskgen and the classical benchmark work with ``import torch`` failing,
and what needs torch says so in one line naming the extra."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench_helpers import make_images, make_mask_dataset
from maskgen.synthetic import SpriteScene, write_frames

REPOSITORY = Path(__file__).resolve().parents[1]
# runs a console entry point with every `import torch` failing, as on a machine without torch
WITHOUT_TORCH = '''
import importlib.abc
import sys


class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NoTorch())  # in spawned model and worker processes too: they import this module
if __name__ == "__main__":
    module, args = sys.argv[1], sys.argv[2:]
    main = __import__(module, fromlist=["main"]).main
    main(args, prog_name=module.split(".")[0])
'''


def _without_torch(tmp_path: Path, module: str, *args: str) -> subprocess.CompletedProcess:
    script = tmp_path / "without_torch.py"
    script.write_text(WITHOUT_TORCH)
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPOSITORY), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, str(script), module, *args], capture_output=True, text=True,
                          timeout=600, cwd=tmp_path, env=environment)


def test_maskgen_and_the_classical_benchmark_run_without_torch(tmp_path: Path) -> None:
    write_frames(SpriteScene(frames=6).render(), tmp_path / "clips" / "sprite")
    built = _without_torch(tmp_path, "maskgen.cli", "build", "--video-dir", str(tmp_path / "clips"), "--out",
                           str(tmp_path / "built"), "--per-cell", "1", "--train-count", "2", "--quiet")
    assert built.returncode == 0, built.stderr
    assert json.loads((tmp_path / "built" / "dataset.json").read_text())["fingerprint"]
    masks, images = make_mask_dataset(tmp_path, per_cell=1), make_images(tmp_path)
    scored = _without_torch(tmp_path, "benchmark.cli", "run", "--model", "opencv-telea", "--masks", str(masks),
                            "--images", str(images), "--out", str(tmp_path / "runs"), "--quiet")
    assert scored.returncode == 0, scored.stderr
    assert scored.stdout.startswith("opencv-telea: 12 pairs scored, 0 failed")
    assert ("note: LPIPS omitted: torch is not installed (install the [torch] extra: pip install "
            "'inpaint-masks-toolkit[torch]')") in scored.stderr
    info = json.loads((tmp_path / "runs" / "opencv-telea" / "run.json").read_text())
    assert info["set_metrics"]["lpips"].startswith("torch is not installed")
    listed = _without_torch(tmp_path, "benchmark.cli", "models")
    assert listed.returncode == 0 and "pconv_baseline" in listed.stdout.split()


def test_what_needs_torch_says_which_extra_to_install(tmp_path: Path) -> None:
    masks, images = make_mask_dataset(tmp_path, per_cell=1), make_images(tmp_path)
    weights = tmp_path / "vgg.pth"
    weights.write_bytes(b"x")
    asked = _without_torch(tmp_path, "benchmark.cli", "run", "--model", "mean-fill", "--masks", str(masks),
                           "--images", str(images), "--out", str(tmp_path / "runs"), "--quiet",
                           "--vgg-weights", str(weights))
    assert asked.returncode == 1
    assert asked.stderr.startswith("error: LPIPS and FID need torch: install the [torch] extra")
    assert len(asked.stderr.splitlines()) == 1
    pconv = _without_torch(tmp_path, "benchmark.cli", "run", "--model", "pconv_baseline", "--masks", str(masks),
                           "--images", str(images), "--out", str(tmp_path / "runs"), "--quiet", "--no-set-metrics")
    assert pconv.returncode == 1 and len(pconv.stderr.splitlines()) == 1
    assert pconv.stderr.startswith("error: cannot create model 'pconv_baseline': ModuleNotFoundError")
    assert pconv.stderr.rstrip().endswith("; install the [torch] extra: pip install 'inpaint-masks-toolkit[torch]'")
    training = _without_torch(tmp_path, "pconv_baseline.launcher", "train", "--help")
    assert training.returncode == 1
    assert training.stderr == ("error: pconv-baseline needs torch: install the [torch] extra: pip install "
                               "'inpaint-masks-toolkit[torch]'\n")
