"""The published random mask families: parameters against the originals' ranges, the keep rules, the
rendering, per-slot determinism, the dataset written by ``maskgen generate`` and its scoring by the benchmark."""
from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from helpers import dataset_files
from inpaint_core.buckets import cell_of
from inpaint_core.dataset import Dataset
from inpaint_core.maskio import encode_mask_png, read_mask
from maskgen.families import HoleRange, create_family, list_families
from maskgen.families.comodgan import COMODGAN, free_form_shapes
from maskgen.families.deepfill import deepfill_shapes
from maskgen.families.draw import Shapes, Stroke, render
from maskgen.families.generate import GenerateOptions, generate_dataset, slot_mask
from maskgen.families.lama import LAMA_CONFIGS, lama_shapes
from maskgen.families.mat import MAT_PARAMS

FAMILIES = ["comodgan", "deepfill-v2", "lama-medium", "lama-thick", "lama-thin", "mat-large", "mat-small"]


def _draws(function, count: int, seed: int = 0) -> list[Shapes]:
    generator = np.random.default_rng(seed)
    return [function(generator) for _ in range(count)]


def test_registry_lists_the_families_and_refuses_unknown_names_and_sizes() -> None:
    assert set(FAMILIES) <= set(list_families())
    assert create_family("lama-thick", size=512).protocol == "lama-thick-512"
    assert create_family("mat-large", size=256).protocol == "mat-large-256"
    with pytest.raises(ValueError, match="unknown mask family 'nosuch'"):
        create_family("nosuch", size=512)
    with pytest.raises(ValueError, match="'lama-thin' has published parameters for sizes 256, 512, not 300"):
        create_family("lama-thin", size=300)


@pytest.mark.parametrize("kind,size", sorted(LAMA_CONFIGS))
def test_lama_candidates_follow_the_published_config(kind: str, size: int) -> None:
    params = LAMA_CONFIGS[(kind, size)]
    shapes = _draws(lambda g: lama_shapes(size, g, params=params), 400)
    stroke_sets = [s.strokes for s in shapes if s.strokes]
    box_sets = [s.boxes for s in shapes if s.boxes]
    assert all(bool(s.strokes) != bool(s.boxes) for s in shapes)  # either strokes or boxes, never both
    p = params.strokes
    counts = [len(strokes) for strokes in stroke_sets]
    # randint(min_times, max_times + 2): the ramp's +1 makes max_times + 1 reachable
    assert min(counts) >= p.min_times and max(counts) <= p.max_times + 1
    if p.max_times - p.min_times <= 6:
        assert {p.min_times, p.max_times + 1} <= set(counts)
    widths = [w for strokes in stroke_sets for stroke in strokes for w in stroke.widths]
    assert min(widths) >= 5 and max(widths) <= p.max_width + 4
    assert max(widths) >= p.max_width + 4 - max(2, p.max_width // 10)  # the top of the range is reached
    segments = [len(stroke.widths) for strokes in stroke_sets for stroke in strokes]
    assert set(segments) == {1, 2, 3, 4, 5}
    for strokes in stroke_sets:
        for stroke in strokes:
            assert all(0 <= x <= size and 0 <= y <= size for x, y in stroke.points)
            for (x0, y0), (x1, y1) in zip(stroke.points[:-1], stroke.points[1:]):
                assert math.hypot(x1 - x0, y1 - y0) <= p.max_len + 9 + 2  # length 10 + randint(max_len), truncated
    if params.boxes is None:
        assert not box_sets
        return
    b = params.boxes
    share = len(box_sets) / len(shapes)
    assert abs(share - 0.3 / 1.3) < 0.07, share
    box_counts = [len(boxes) for boxes in box_sets]
    assert min(box_counts) >= b.min_times and max(box_counts) <= b.max_times
    sides = [side for boxes in box_sets for box in boxes for side in (box.height, box.width)]
    assert min(sides) >= b.bbox_min_size and max(sides) <= b.bbox_max_size
    for boxes in box_sets:
        for box in boxes:
            assert box.top >= b.margin and box.left >= b.margin
            assert box.top + box.height <= size - b.margin and box.left + box.width <= size - b.margin


@pytest.mark.parametrize("kind", ["thin", "medium", "thick"])
def test_lama_keeps_only_masks_up_to_half_holes(kind: str) -> None:
    family = create_family(f"lama-{kind}", size=256)
    generator = np.random.default_rng(1)
    samples = [family.sample(generator) for _ in range(150)]
    ratios = [s.mask.mean() for s in samples]
    assert max(ratios) <= 0.5 and min(ratios) > 0
    assert all(s.mask.dtype == np.uint8 and set(np.unique(s.mask)) <= {0, 1} for s in samples)
    if kind == "thick":  # thick candidates go over 50 % often enough that some were redrawn
        assert sum(s.attempt for s in samples) > 10
        raw = [family.draw(256, generator).mean() for _ in range(200)]
        assert max(raw) > 0.5


def test_hole_range_ends_are_exact() -> None:
    lama = HoleRange(0.0, 0.5, high_inclusive=True)
    assert lama.contains(50, 100) and not lama.contains(51, 100) and not lama.contains(0, 100)
    free_form = HoleRange(0.0, 1.0)
    assert not free_form.contains(0, 64) and not free_form.contains(64, 64) and free_form.contains(63, 64)


def test_deepfill_strokes_follow_the_published_brush() -> None:
    shapes = _draws(lambda g: deepfill_shapes(256, g), 400)
    counts = Counter(len(s.strokes) for s in shapes)
    assert set(counts) == {1, 2, 3} and not any(s.boxes for s in shapes)
    strokes = [stroke for s in shapes for stroke in s.strokes]
    assert {len(stroke.widths) for stroke in strokes} == set(range(4, 12))  # randint(4, 12) segments
    widths = [stroke.widths[0] for stroke in strokes]
    assert all(len(set(stroke.widths)) == 1 for stroke in strokes)  # one width per stroke
    assert min(widths) == 12 and max(widths) == 39  # int(uniform(12, 40))
    average_radius = math.sqrt(2 * 256 * 256) / 8
    steps = [math.hypot(x1 - x0, y1 - y0) for stroke in strokes
             for (x0, y0), (x1, y1) in zip(stroke.points[:-1], stroke.points[1:])]
    assert max(steps) <= 2 * average_radius + 2
    assert all(0 <= x <= 256 and 0 <= y <= 256 for stroke in strokes for x, y in stroke.points)
    # no flip (the original's transposes are discarded): the zig-zag drifts right (cos of +-72 degrees > 0)
    leftward = sum(stroke.points[-1][0] < stroke.points[0][0] for stroke in strokes)
    assert leftward / len(strokes) < 0.1


@pytest.mark.parametrize("name,size", [("comodgan", 512), ("mat-large", 512), ("mat-small", 512),
                                       ("mat-large", 256), ("mat-small", 256)])
def test_free_form_candidates_follow_the_published_counts(name: str, size: int) -> None:
    params = COMODGAN if name == "comodgan" else MAT_PARAMS[(name.split("-")[1], size)]
    shapes = _draws(lambda g: free_form_shapes(size, g, params=params), 300)
    stroke_counts = [len(s.strokes) for s in shapes]
    box_counts = [len(s.boxes) for s in shapes]
    assert min(stroke_counts) == 0 and max(stroke_counts) == params.strokes - 1  # randint(max_tries)
    assert min(box_counts) == 0 and max(box_counts) <= params.small_boxes + params.large_boxes - 2
    strokes = [stroke for s in shapes for stroke in s.strokes]
    widths = {stroke.widths[0] for stroke in strokes}
    assert min(widths) == 12 and max(widths) == 47  # int(uniform(12, 48))
    assert {len(stroke.widths) for stroke in strokes} <= set(range(4, 18))
    assert max(len(stroke.widths) for stroke in strokes) >= 15
    boxes = [box for s in shapes for box in s.boxes]
    assert max(max(box.height, box.width) for box in boxes) <= size - 1
    assert all(box.left >= -(box.width // 2) and box.left + box.width <= size + box.width // 2 for box in boxes)
    # the stroke layer is flipped left-right half of the time: drift to either side
    leftward = sum(stroke.points[-1][0] < stroke.points[0][0] for stroke in strokes) / len(strokes)
    assert 0.35 < leftward < 0.65


@pytest.mark.parametrize("name", ["comodgan", "mat-large", "mat-small"])
def test_free_form_masks_are_never_empty_or_full(name: str) -> None:
    family = create_family(name, size=256)
    generator = np.random.default_rng(2)
    ratios = [family.sample(generator).mask.mean() for _ in range(200)]
    assert 0 < min(ratios) and max(ratios) < 1
    assert np.mean(ratios) > 0.1  # not a degenerate family: boxes and strokes do cover


def test_stroke_widths_on_the_canvas() -> None:
    """A brush segment is exactly ``width`` pixels across (PIL's wide line) with discs of radius width // 2 at
    its ends; LaMa's cv2.line is 1 (even) or 2 (odd) pixels wider, as in LaMa's own masks."""
    for width in (5, 12, 24, 47, 101):
        brush = render(Shapes(strokes=(Stroke(((100, 256), (400, 256)), (width,), style="brush"),)), 512)
        assert int(brush[:, 250].sum()) == width
        rows = np.flatnonzero(brush[:, 250])
        assert rows.max() - rows.min() + 1 == width and abs((rows.min() + rows.max()) / 2 - 256) <= 0.5
        radius = width // 2
        y, x = np.ogrid[:512, :512]
        expected = np.zeros((512, 512), bool)
        expected[rows.min():rows.max() + 1, 100:401] = True  # the band ends at the vertices
        for centre in (100, 400):  # a disc of radius width // 2 + 1/2 on each
            expected |= (x - centre) ** 2 + (y - 256) ** 2 <= radius * radius + radius
        assert np.array_equal(brush.astype(bool), expected)
        line = render(Shapes(strokes=(Stroke(((100, 256), (400, 256)), (width,)),)), 512)
        assert int(line[:, 250].sum()) == width + 1 + width % 2
    with pytest.raises(ValueError, match="stroke style"):
        Stroke(((0, 0), (1, 1)), (3,), style="pen")


def test_brush_rendering_matches_the_originals_pil_drawing() -> None:
    """The originals draw the brush with PIL: a wide line through the vertices plus a disc at each one."""
    Image = pytest.importorskip("PIL.Image")
    ImageDraw = pytest.importorskip("PIL.ImageDraw")
    generator = np.random.default_rng(3)
    for _ in range(10):
        shapes = deepfill_shapes(256, generator)
        canvas = Image.new("L", (256, 256), 0)
        draw = ImageDraw.Draw(canvas)
        for stroke in shapes.strokes:
            width = stroke.widths[0]
            draw.line(list(stroke.points), fill=1, width=width)
            for x, y in stroke.points:
                draw.ellipse((x - width // 2, y - width // 2, x + width // 2, y + width // 2), fill=1)
        theirs = np.asarray(canvas, dtype=bool)
        ours = render(shapes, 256).astype(bool)
        iou = (ours & theirs).sum() / (ours | theirs).sum()
        assert iou > 0.95, iou
        assert abs(int(ours.sum()) - int(theirs.sum())) / theirs.sum() < 0.03


def _generate(out: Path, *, family: str = "lama-thin", count: int = 120, seed: int = 0, workers: int = 1,
              overwrite: bool = False):
    return generate_dataset(out, GenerateOptions(family=family, size=256, count=count, seed=seed),
                            workers=workers, overwrite=overwrite)


@pytest.fixture()
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 16 slots, so that a few dozen masks make several pool tasks."""
    import maskgen.families.generate as generate_module

    monkeypatch.setattr(generate_module, "CHUNK_SIZE", 16)


def test_slots_are_byte_identical_whatever_the_workers_count_and_order(tmp_path: Path, small_chunks: None) -> None:
    one = _generate(tmp_path / "one", count=64)
    two = _generate(tmp_path / "two", count=64, workers=2)
    files_one = dataset_files(tmp_path / "one")
    assert files_one == dataset_files(tmp_path / "two")
    fewer = _generate(tmp_path / "fewer", count=40)
    by_slot = {row.slot: row for row in one.rows}
    assert len(by_slot) == 64 and two.info["fingerprint"] == one.info["fingerprint"]
    for row in fewer.rows:  # a smaller set holds the same first slots, byte for byte
        assert by_slot[row.slot].sha256 == row.sha256 and by_slot[row.slot].path == row.path
    family = create_family("lama-thin", size=256)
    for slot in (0, 37, 63):  # a slot made alone is the file of the set
        mask, attempt = slot_mask(family, 0, slot)
        assert encode_mask_png(mask.astype(bool)) == files_one[by_slot[slot].path]
        assert by_slot[slot].attempt == attempt
    other = _generate(tmp_path / "other", count=40, seed=1)
    assert not {r.sha256 for r in other.rows} & {r.sha256 for r in fewer.rows}


def test_generated_dataset_is_binned_from_its_pixels(tmp_path: Path) -> None:
    result = _generate(tmp_path / "mat", family="mat-large", count=100, seed=4)
    dataset = Dataset(tmp_path / "mat")
    info = dataset.info
    assert info["mask_protocol"] == "mat-large-256" and info["fingerprint"] == dataset.fingerprint
    assert info["family"]["parameters"]["strokes"] == 8  # mask_generator_256.py: RandomBrush(int(8 * coef), s)
    records = dataset.records()
    assert len(records) == 100 and sorted(r.slot for r in records) == list(range(100))
    unbinned = [r for r in records if not r.cell]
    assert info["counts"]["unbinned"] == len(unbinned) > 0  # MAT large often covers more than 60 %
    assert info["counts"]["test_total"] == 100 - len(unbinned)
    for record in records[::7]:
        mask = read_mask(dataset.path(record))
        cell = cell_of(mask)
        assert record.cell == (cell.name if cell else "")
        assert record.path.startswith(f"test/{record.cell or 'unbinned'}/")
        assert record.source == "mat-large-256" and record.seed == 4
        assert abs(record.hole_ratio - mask.mean()) < 1e-6
    assert (tmp_path / "mat" / "pictures" / "hole_ratio_hist.png").is_file()
    assert not (tmp_path / "mat" / ".maskgen").exists()
    assert result.info["candidates_redrawn"] == sum(r.attempt for r in records)


def test_generate_command_reruns_refuses_and_overwrites(tmp_path: Path) -> None:
    from maskgen.cli import main

    runner = CliRunner()
    args = ["generate", "--family", "deepfill-v2", "--size", "256", "--count", "30", "--out", str(tmp_path / "d"),
            "--quiet"]
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "30 masks of deepfill-v2-256" in first.output
    before = dataset_files(tmp_path / "d")
    again = runner.invoke(main, args)
    assert again.exit_code == 0 and "up to date" in again.output and dataset_files(tmp_path / "d") == before
    other = runner.invoke(main, [*args, "--seed", "3"])
    assert other.exit_code == 1 and "already holds a maskgen dataset; use --overwrite" in other.output
    assert dataset_files(tmp_path / "d") == before
    replaced = runner.invoke(main, [*args, "--seed", "3", "--overwrite"])
    assert replaced.exit_code == 0 and json.loads((tmp_path / "d" / "dataset.json").read_text())["options"]["seed"] == 3
    bad = runner.invoke(main, ["generate", "--family", "mat-large", "--size", "300", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 1 and bad.output.startswith("error: mask family 'mat-large' has published parameters")
    assert not (tmp_path / "x").exists() or not any((tmp_path / "x").iterdir())
    listed = runner.invoke(main, ["families"])
    assert listed.output.split() == sorted(listed.output.split()) and set(FAMILIES) <= set(listed.output.split())


def test_benchmark_scores_a_generated_dataset(tmp_path: Path) -> None:
    from bench_helpers import make_images
    from benchmark.cli import main as benchmark

    _generate(tmp_path / "masks", family="lama-medium", count=60, seed=2)
    dataset = Dataset(tmp_path / "masks")
    cells = {r.cell for r in dataset.records() if r.cell}
    result = CliRunner().invoke(benchmark, ["run", "--model", "mean-fill", "--masks", str(tmp_path / "masks"),
                                            "--images", str(make_images(tmp_path)), "--out", str(tmp_path / "runs"),
                                            "--size", "256", "--per-cell", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    info = json.loads((tmp_path / "runs" / "mean-fill" / "run.json").read_text())
    assert info["counts"]["ok"] == len(cells) > 3


def test_an_interrupted_generate_is_finished_by_the_same_command(tmp_path: Path) -> None:
    out = tmp_path / "g"
    _generate(out, count=30)
    finished = dataset_files(out)
    (out / "dataset.json").unlink()  # as if stopped before the end: the marker is there, no dataset.json
    (out / ".maskgen").mkdir()
    from maskgen.families.generate import MARKER

    (out / MARKER).write_text(json.dumps({"generate_key": "another run"}))  # not resumed without --overwrite
    with pytest.raises(ValueError, match="already holds a maskgen dataset"):
        _generate(out, count=30)
    info = json.loads(finished["dataset.json"])
    (out / MARKER).write_text(json.dumps({"generate_key": info["generate_key"]}))
    (out / "test" / "stray.png").write_bytes(b"left over")
    result = _generate(out, count=30)
    assert not result.up_to_date and dataset_files(out) == finished and not (out / ".maskgen").exists()


PLUGIN_FAMILY = '''
import numpy as np
from maskgen.families import HoleRange, MaskFamily


def square(size, rng):
    mask = np.zeros((size, size), np.uint8)
    side = int(rng.integers(40, 120))
    mask[60:60 + side, 60:60 + side] = 1
    return mask


def centred_squares(size):
    return MaskFamily(name="squares", size=size, source="test", parameters={"side": [40, 119]}, draw=square,
                      keep=HoleRange(0.0, 1.0))
'''


def test_a_plugin_family_from_a_file_runs_in_the_workers(tmp_path: Path, small_chunks: None) -> None:
    plugin = tmp_path / "my_family.py"
    plugin.write_text(PLUGIN_FAMILY)
    result = generate_dataset(tmp_path / "sq", GenerateOptions(family=f"{plugin}:centred_squares", size=256,
                                                               count=60), workers=2)
    assert result.info["mask_protocol"] == "squares-256"
    sides = {round(math.sqrt(r.hole_ratio * 256 * 256)) for r in result.rows}
    assert sides <= set(range(40, 120)) and len(sides) > 25
    assert {r.border for r in result.rows} == {"B"}  # 60 .. 179 < 206: inside the 50 px frame
