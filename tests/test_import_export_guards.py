"""maskgen export/import: --overwrite deletes only what they wrote, one writer per folder, import streams."""
from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import maskgen.layout as layout
from bench_helpers import make_mask_dataset
from inpaint_core.maskio import write_mask
from inpaint_core.outdir import LOCK_NAME, FolderBusyError, FolderLock
from maskgen.cli import main
from maskgen.layout import export_nvidia, import_masks


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by relative path."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def dataset(tmp_path: Path) -> Path:
    """A dataset with one mask per cell, at ``tmp_path/work/masks`` (its source masks beside it)."""
    return make_mask_dataset(tmp_path / "work")


def test_export_onto_its_source_is_refused_and_nothing_deleted(dataset: Path) -> None:
    before = snapshot(dataset)
    for out in (dataset, dataset / "test", dataset / "nvidia"):
        with pytest.raises(ValueError, match="the dataset"):
            export_nvidia(dataset, out, overwrite=True)
    assert snapshot(dataset) == before
    result = CliRunner().invoke(main, ["export", str(dataset), "--out", str(dataset), "--overwrite"])
    assert result.exit_code == 1 and result.output.startswith("error: ") and result.output.count("\n") == 1
    assert snapshot(dataset) == before


def test_export_onto_a_parent_or_the_working_directory_is_refused(dataset: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    parent = dataset.parent
    before = snapshot(parent)
    with pytest.raises(ValueError, match="contains input folder"):
        export_nvidia(dataset, parent, overwrite=True)
    with pytest.raises(ValueError, match="contains input folder"):
        export_nvidia(dataset, parent.parent, overwrite=True)
    monkeypatch.chdir(parent / "mask_source")
    with pytest.raises(ValueError, match="working directory"):
        export_nvidia(dataset, Path("."), overwrite=True)
    assert snapshot(parent) == before  # nothing deleted, no lock left behind


def test_export_overwrites_only_an_export(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "nvidia"
    export_nvidia(dataset, out)
    assert {"export.json", "export.csv", "00000.png", "00011.png"} <= set(snapshot(out))
    with pytest.raises(ValueError, match="not empty; use --overwrite"):
        export_nvidia(dataset, out)
    (out / "00000.png").unlink()  # as if an earlier export was interrupted
    (out / "export.csv").unlink()
    export_nvidia(dataset, out, overwrite=True)
    assert (out / "00000.png").is_file() and not (out / LOCK_NAME).exists()
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "holiday.jpg").write_bytes(b"precious")
    with pytest.raises(ValueError, match="not a maskgen export"):
        export_nvidia(dataset, photos, overwrite=True)
    assert snapshot(photos) == {"holiday.jpg": b"precious"}


def test_one_writer_per_output_folder(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "busy"
    with FolderLock(out, purpose="another job"):
        with pytest.raises(FolderBusyError, match="another job"):
            export_nvidia(dataset, out)
        with pytest.raises(FolderBusyError, match="another job"):
            import_masks(dataset.parent / "mask_source", out)
        assert snapshot(out) == {LOCK_NAME: (out / LOCK_NAME).read_bytes()}


def test_import_overwrite_refuses_what_is_not_a_dataset(dataset: Path, tmp_path: Path) -> None:
    source = dataset.parent / "mask_source"
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "holiday.jpg").write_bytes(b"precious")
    with pytest.raises(ValueError, match="not a maskgen dataset"):
        import_masks(source, photos, overwrite=True)
    assert snapshot(photos) == {"holiday.jpg": b"precious"}
    before = snapshot(dataset.parent)
    with pytest.raises(ValueError, match="contains input folder"):
        import_masks(source, dataset.parent, overwrite=True)
    with pytest.raises(ValueError, match="is inside the mask folder"):
        import_masks(source, source / "out", overwrite=True)
    assert snapshot(dataset.parent) == before
    result = CliRunner().invoke(main, ["import", str(source), "--out", str(photos), "--overwrite"])
    assert result.exit_code == 1 and result.output.startswith("error: refusing to delete")


def test_import_overwrite_replaces_a_dataset_entirely(dataset: Path) -> None:
    (dataset / "train").mkdir()
    (dataset / "train" / "000000.png").write_bytes(b"stale")
    (dataset / ".maskgen" / "chunks").mkdir(parents=True)
    with pytest.raises(ValueError, match="already holds a maskgen dataset; use --overwrite"):
        import_masks(dataset.parent / "mask_source", dataset)
    import_masks(dataset.parent / "mask_source", dataset, overwrite=True)
    names = set(snapshot(dataset))
    assert "manifest.csv" in names and "dataset.json" in names
    assert not (dataset / "train").exists() and not (dataset / ".maskgen").exists()


def test_bad_border_margin_leaves_the_dataset_alone(dataset: Path) -> None:
    before = snapshot(dataset)
    for margin in (0, -5):
        with pytest.raises(ValueError, match="border_margin must be >= 1"):
            import_masks(dataset.parent / "mask_source", dataset, overwrite=True, border_margin=margin)
    assert snapshot(dataset) == before


def test_interrupted_import_can_be_overwritten(dataset: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    source = dataset.parent / "mask_source"
    out = tmp_path / "again"
    written: list[Path] = []

    def crash_after_two(path: Path, mask: np.ndarray) -> bytes:
        if len(written) == 2:
            raise OSError("No space left on device")
        written.append(path)
        return write_mask(path, mask)

    monkeypatch.setattr(layout, "write_mask", crash_after_two)
    with pytest.raises(OSError):
        import_masks(source, out)
    monkeypatch.undo()
    assert (out / layout.IMPORT_MARKER).is_file() and not (out / LOCK_NAME).exists()
    with pytest.raises(ValueError, match="already holds a maskgen dataset"):
        import_masks(source, out)
    info = import_masks(source, out, overwrite=True)
    assert info["counts"]["test_total"] == 12 and not (out / ".maskgen").exists()
    assert snapshot(out)["manifest.csv"] == (dataset / "manifest.csv").read_bytes()


def _write_phase_peak(source: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """Peak traced memory (bytes) of an import up to the moment its masks are all written."""
    peaks: list[int] = []
    finish = layout.finish_dataset

    def measured(*args: object) -> dict[str, object]:
        peaks.append(tracemalloc.get_traced_memory()[1])
        return finish(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(layout, "finish_dataset", measured)
    tracemalloc.start()
    try:
        import_masks(source, out)
    finally:
        tracemalloc.stop()
    return peaks[0]


def test_import_streams_masks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Peak memory while masks are read and written does not grow with their number (it held them all)."""
    size = 256
    rng = np.random.default_rng(0)
    for count in (10, 60):
        for index in range(count):
            mask = np.zeros((size, size), dtype=bool)
            top, left = rng.integers(60, 140, size=2)
            mask[top:top + 60, left:left + 60 + index % 20] = True
            write_mask(tmp_path / f"src{count}" / f"m{index:03d}.png", mask)
    _write_phase_peak(tmp_path / "src10", tmp_path / "warm_up", monkeypatch)  # one-time allocations
    few = _write_phase_peak(tmp_path / "src10", tmp_path / "out10", monkeypatch)
    many = _write_phase_peak(tmp_path / "src60", tmp_path / "out60", monkeypatch)
    one_mask = size * size  # bytes of one mask's 8-bit values
    assert many - few < 10 * one_mask, (few, many)  # holding all masks would add 50 of them
