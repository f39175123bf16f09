"""Our random mask families against the original generators: hole-ratio distributions side by side.

Runs the originals' own mask functions, taken from checkouts of their repositories (nothing of them is
copied into this project): from each file only the needed top-level functions and classes are compiled
(their module imports TensorFlow or LaMa's package, which are not needed to draw masks), and driven the way
their own pipelines drive them (LaMa: ``MixedMaskGenerator`` with the config's kwargs, 5 variants, those
over ``max_tamper_area`` dropped, one kept at random, as ``bin/gen_mask_dataset.py`` does on a square image;
MAT / CoModGAN: ``RandomMask(s)``; DeepFill v2: ``brush_stroke_mask``'s ``generate_mask(H, W)``). The
originals draw from NumPy's global random state (seeded here, ``--seed``); ours from the per-slot seeds of
``maskgen generate``. Prints, per protocol, the mean and percentiles of both and the two-sample
Kolmogorov-Smirnov statistic and p-value (scipy): the same generator gives a small statistic and a p-value
that is not small. Before that (``--exact N``), LaMa's stroke and box functions and DeepFill v2's brush are
fed the very same random draws as ours (our code asks a stand-in generator that answers from NumPy's legacy
global state, in the originals' order): LaMa's masks must then be pixel-identical (both draw with
``cv2.line`` / slicing), DeepFill's agree to the IoU of PIL's and OpenCV's rasterisation.

    git clone https://github.com/advimman/lama; git clone https://github.com/fenglinglwb/MAT
    git clone https://github.com/zsyzzsoft/co-mod-gan; git clone https://github.com/JiahuiYu/generative_inpainting
    PYTHONPATH=. python scripts/compare_families_with_originals.py --count 2000 --lama lama --mat MAT \\
        --comodgan co-mod-gan --deepfill generative_inpainting

Needs Pillow (the originals draw with PIL), PyYAML (LaMa's configs) and scipy.
"""
from __future__ import annotations

import argparse
import ast
import math
import random
from enum import Enum
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from maskgen.families import create_family
from maskgen.families.generate import slot_mask


def _compile(path: Path, names: set[str], namespace: dict[str, object]) -> dict[str, object]:
    """Execute only the top-level definitions ``names`` of the Python file ``path`` in ``namespace``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    chosen = [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in names]
    missing = names - {node.name for node in chosen}
    if missing:
        raise SystemExit(f"{path}: no top-level {', '.join(sorted(missing))}")
    exec(compile(ast.Module(body=chosen, type_ignores=[]), str(path), "exec"), namespace)
    return namespace


def _pil() -> dict[str, object]:
    from PIL import Image, ImageDraw

    return {"np": np, "math": math, "random": random, "Image": Image, "ImageDraw": ImageDraw}


def lama_original(root: Path, kind: str, size: int) -> Callable[[], np.ndarray]:
    import cv2
    import yaml

    namespace = _compile(root / "saicinpainting/training/data/masks.py",
                         {"DrawMethod", "make_random_irregular_mask", "RandomIrregularMaskGenerator",
                          "make_random_rectangle_mask", "RandomRectangleMaskGenerator", "MixedMaskGenerator"},
                         {"np": np, "cv2": cv2, "random": random, "Enum": Enum, "LinearRamp": None})
    config = yaml.safe_load((root / f"configs/data_gen/random_{kind}_{size}.yaml").read_text())
    kwargs = dict(config["mask_generator_kwargs"])
    variants = kwargs.pop("variants_n", 2)
    generator = namespace["MixedMaskGenerator"](**kwargs)
    limit = config.get("max_tamper_area", 1)
    image = np.zeros((3, size, size), np.uint8)

    def draw() -> np.ndarray:
        while True:  # gen_mask_dataset.py: variants, drop those over the limit, keep one at random
            masks = [generator(image)[0] for _ in range(variants)]
            kept = [m for m in masks if m.mean() <= limit]
            if kept:
                return kept[np.random.randint(len(kept))] > 0.5

    return draw


def free_form_original(path: Path, size: int) -> Callable[[], np.ndarray]:
    namespace = _compile(path, {"RandomBrush", "RandomMask"}, _pil())
    return lambda: namespace["RandomMask"](size)[0] < 0.5  # 0 = hole in the original


def deepfill_original(root: Path, size: int) -> Callable[[], np.ndarray]:
    tree = ast.parse((root / "inpaint_ops.py").read_text(encoding="utf-8"))
    function = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "brush_stroke_mask")
    body = [node for node in function.body if not isinstance(node, (ast.With, ast.Return, ast.Expr))]
    namespace = _pil()
    exec(compile(ast.Module(body=body, type_ignores=[]), "inpaint_ops.py:brush_stroke_mask", "exec"), namespace)
    return lambda: namespace["generate_mask"](size, size).reshape(size, size) > 0.5


class _LegacyDraws:
    """The ``numpy.random.Generator`` calls our families make, answered from NumPy's global legacy state in
    the originals' order, so that a family fed this draws exactly what the original draws for one seed."""

    def integers(self, low: int, high: int | None = None) -> int:
        return np.random.randint(low, high)

    def random(self) -> float:
        return np.random.random_sample()

    def uniform(self, low: float, high: float) -> float:
        return np.random.uniform(low, high)

    def normal(self, loc: float, scale: float) -> float:
        return np.random.normal(loc, scale)


def lama_exact(root: Path, count: int) -> None:
    """LaMa's strokes and boxes from the same legacy draws: pixel-identical masks expected."""
    import cv2
    import yaml

    from maskgen.families.draw import Shapes, render
    from maskgen.families.lama import LAMA_CONFIGS, _boxes, _strokes

    namespace = _compile(root / "saicinpainting/training/data/masks.py",
                         {"DrawMethod", "make_random_irregular_mask", "RandomIrregularMaskGenerator",
                          "make_random_rectangle_mask", "RandomRectangleMaskGenerator"},
                         {"np": np, "cv2": cv2, "random": random, "Enum": Enum, "LinearRamp": None})
    print("| LaMa config | strokes: identical masks | boxes: identical masks |")
    print("|---|---|---|")
    for (kind, size), params in sorted(LAMA_CONFIGS.items()):
        config = yaml.safe_load((root / f"configs/data_gen/random_{kind}_{size}.yaml").read_text())
        kwargs = config["mask_generator_kwargs"]
        image = np.zeros((3, size, size), np.uint8)
        irregular = namespace["RandomIrregularMaskGenerator"](**kwargs["irregular_kwargs"])
        same_strokes = sum(bool(np.array_equal(theirs, ours)) for theirs, ours in _same_draws(
            count, lambda: irregular(image)[0] > 0.5,
            lambda: render(Shapes(strokes=_strokes(size, _LegacyDraws(), params.strokes)), size).astype(bool)))
        same_boxes = "--"
        if params.boxes is not None:
            boxes = namespace["RandomRectangleMaskGenerator"](**kwargs["box_kwargs"])
            matches = sum(bool(np.array_equal(theirs, ours)) for theirs, ours in _same_draws(
                count, lambda: boxes(image)[0] > 0.5,
                lambda: render(Shapes(boxes=_boxes(size, _LegacyDraws(), params.boxes)), size).astype(bool)))
            same_boxes = f"{matches} / {count}"
        print(f"| random_{kind}_{size} | {same_strokes} / {count} | {same_boxes} |", flush=True)


def _same_draws(count: int, theirs: Callable[[], np.ndarray],
                ours: Callable[[], np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """For seeds 0 .. count-1: the original's mask and ours, each drawn right after ``np.random.seed(seed)``."""
    for seed in range(count):
        np.random.seed(seed)
        mask = theirs()
        np.random.seed(seed)
        yield mask, ours()


def deepfill_exact(root: Path, count: int) -> None:
    """DeepFill v2's brush from the same legacy draws: the same vertices, drawn by PIL there and OpenCV here."""
    from maskgen.families.deepfill import deepfill_shapes
    from maskgen.families.draw import render

    original = deepfill_original(root, 256)
    ious = [(theirs & ours).sum() / (theirs | ours).sum() for theirs, ours in _same_draws(
        count, original, lambda: render(deepfill_shapes(256, _LegacyDraws()), 256).astype(bool))]
    print(f"DeepFill v2 brush, {count} masks from the same draws: IoU with the original's pixels min "
          f"{min(ious):.3f}, mean {np.mean(ious):.4f}")


def _summary(ratios: np.ndarray) -> str:
    p = np.percentile(ratios, [5, 50, 95])
    return f"{ratios.mean():.3f} ({p[0]:.3f} / {p[1]:.3f} / {p[2]:.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lama", type=Path, help="advimman/lama checkout")
    parser.add_argument("--mat", type=Path, help="fenglinglwb/MAT checkout")
    parser.add_argument("--comodgan", type=Path, help="zsyzzsoft/co-mod-gan checkout")
    parser.add_argument("--deepfill", type=Path, help="JiahuiYu/generative_inpainting checkout")
    parser.add_argument("--exact", type=int, default=200,
                        help="Masks compared draw for draw (LaMa, DeepFill v2) before the distributions.")
    args = parser.parse_args()
    from scipy.stats import ks_2samp

    if args.lama and args.exact:
        lama_exact(args.lama, args.exact)
    if args.deepfill and args.exact:
        deepfill_exact(args.deepfill, args.exact)

    jobs: list[tuple[str, int, Callable[[], np.ndarray]]] = []
    for size in (256, 512):
        if args.lama:
            jobs += [(f"lama-{kind}", size, lama_original(args.lama, kind, size)) for kind in ("thin", "medium", "thick")]
        if args.mat:
            jobs += [("mat-large", size, free_form_original(args.mat / f"datasets/mask_generator_{size}.py", size)),
                     ("mat-small", size, free_form_original(args.mat / f"datasets/mask_generator_{size}_small.py", size))]
        if args.comodgan:
            jobs.append(("comodgan", size, free_form_original(args.comodgan / "training/mask_generator.py", size)))
        if args.deepfill:
            jobs.append(("deepfill-v2", size, deepfill_original(args.deepfill, size)))
    if not args.count:
        return
    print("| protocol | original: mean (p5 / p50 / p95) | ours: mean (p5 / p50 / p95) | KS statistic | p-value |")
    print("|---|---|---|---|---|")
    for name, size, original in jobs:
        np.random.seed(args.seed)
        random.seed(args.seed)
        theirs = np.array([original().mean() for _ in range(args.count)])
        family = create_family(name, size=size)
        ours = np.array([slot_mask(family, args.seed, slot)[0].mean() for slot in range(args.count)])
        test = ks_2samp(theirs, ours)
        print(f"| {family.protocol} | {_summary(theirs)} | {_summary(ours)} | {test.statistic:.3f} | "
              f"{test.pvalue:.3f} |", flush=True)


if __name__ == "__main__":
    main()
