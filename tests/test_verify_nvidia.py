"""maskgen verify-nvidia: a copy of NVIDIA's test masks checked against the sha256 of every released file."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from helpers import released_listing
from inpaint_core.files import sha256_file
from maskgen.cli import main
from maskgen.layout import nvidia_cell
from maskgen.verify import (RELEASED_LIST_SHA256, Duplicate, Misnamed, ReleasedSet, classify, format_report,
                            hash_files, released_block, verify_nvidia)

PACKAGED_LIST = Path(__file__).resolve().parents[1] / "maskgen" / "data" / "nvidia_test_sha256.txt"


@pytest.fixture(scope="module")
def released() -> ReleasedSet:
    return ReleasedSet.load()


@pytest.fixture()
def real_copy(shared_data_dir: Path, tmp_path: Path) -> Path:
    """The 720 real NVIDIA masks of the shared data (sample + calibration) in one folder, as released."""
    folder = tmp_path / "testing_mask_dataset"
    folder.mkdir()
    for part in ("nvidia_test_sample", "nvidia_calibration"):
        for path in (shared_data_dir / "masks" / part).glob("*.png"):
            shutil.copyfile(path, folder / path.name)
    return folder


def _invoke(*args: str) -> object:
    return CliRunner().invoke(main, ["verify-nvidia", *args])


def test_packaged_list_is_the_released_set(released: ReleasedSet) -> None:
    assert sha256_file(PACKAGED_LIST) == RELEASED_LIST_SHA256
    assert list(released.by_name) == [f"{n:05d}.png" for n in range(12_000)]
    assert len(set(released.by_name.values())) == 12_000  # distinct digests: a content names its file
    assert released.by_name["00000.png"] == "999a58a12f48da4f2ad0abdd15c08f37962b9bd2b24608086ce8370c84d1e593"


def test_packaged_list_equals_the_measured_list(shared_data_dir: Path) -> None:
    assert PACKAGED_LIST.read_bytes() == (shared_data_dir / "masks" / "nvidia_test_sha256.txt").read_bytes()


def test_malformed_list_is_refused() -> None:
    with pytest.raises(ValueError, match="line 2 of the sha256 list"):
        ReleasedSet.parse("a" * 64 + "  00000.png\n" + "A" * 64 + "  00001.png\n")
    with pytest.raises(ValueError, match="repeats"):
        ReleasedSet.parse(("a" * 64 + "  00000.png\n") * 2)


def test_blocks_follow_nvidias_layout() -> None:
    assert released_block("02345.png") == (2, "10-20_B")
    assert released_block("11999.png") == (11, "50-60_N")
    for number in range(0, 12_000, 500):
        assert released_block(f"{number:05d}.png")[1] == nvidia_cell(number).name


def test_real_sample_is_a_subset_of_released_files(real_copy: Path) -> None:
    report = verify_nvidia(real_copy)
    assert report.status == "subset" and len(report.matching) == 720 and report.files == 720
    assert report.present_per_block == (60,) * 12
    assert len(report.missing) == 11_280 and "00001.png" in report.missing and "00000.png" not in report.missing
    assert not (report.altered or report.misnamed or report.extra or report.duplicates or report.unreadable)
    assert report.summary.startswith("subset of 720 of 12,000 files, all of them released files")
    assert _invoke(str(real_copy)).exit_code == 1  # a subset is not the complete set ...
    assert _invoke(str(real_copy), "--subset-ok").exit_code == 0  # ... unless a subset is what is wanted


def test_real_copy_with_a_missing_an_altered_an_extra_and_a_renamed_file(real_copy: Path) -> None:
    (real_copy / "00097.png").unlink()  # missing
    altered = real_copy / "01010.png"
    altered.write_bytes(altered.read_bytes() + b"\0")  # same pixels for most decoders, other bytes
    shutil.copyfile(real_copy / "00000.png", real_copy / "notes.png")  # a duplicate of a file in place
    (real_copy / "readme.txt").write_text("my copy\n")  # extra
    (real_copy / "05970.png").rename(real_copy / "mask_5970.png")  # misnamed: renamed
    report = verify_nvidia(real_copy)
    assert report.status == "not-released"
    assert "00097.png" in report.missing and "05970.png" in report.missing
    assert [a.path for a in report.altered] == ["01010.png"]
    assert report.altered[0].found_sha256 == sha256_file(altered) != report.altered[0].expected_sha256
    assert report.misnamed == (Misnamed("mask_5970.png", "05970.png", 5, "20-30_N"),)
    assert report.duplicates == (Duplicate("notes.png", "00000.png", "00000.png"),)
    assert report.extra == ("readme.txt",)
    assert len(report.matching) == 717 and report.files == 721
    result = _invoke(str(real_copy))
    assert result.exit_code == 1
    for text in ("not the released set", "01010.png", "mask_5970.png is 05970.png (block 5, cell 20-30_N)",
                 "notes.png = 00000.png, already at 00000.png", "readme.txt", "missing (11,282)"):
        assert text in result.output
    record = json.loads(_invoke(str(real_copy), "--json", "--subset-ok").output)
    assert record["status"] == "not-released" and {"00097.png", "05970.png"} <= set(record["missing"])
    assert record["counts"] == {"matching": 717, "altered": 1, "misnamed": 1, "duplicates": 1, "extra": 1,
                                "unreadable": 0, "missing": 11_282, "ignored_hidden": 0}
    assert record["misnamed"] == [{"path": "mask_5970.png", "released_name": "05970.png", "block": 5,
                                   "cell": "20-30_N"}]


def test_complete_copy_and_each_fault(tmp_path: Path) -> None:
    files = {"00000.png": b"zero", "01000.png": b"one", "05999.png": b"two", "11999.png": b"three"}
    released = released_listing(tmp_path / "copy", files)
    report = verify_nvidia(tmp_path / "copy", released=released)
    assert report.status == "complete" and report.missing == () and report.present_per_block[0:2] == (1, 1)
    assert report.summary == "complete, identical to the released set (4 of 4 files)"
    (tmp_path / "copy" / "11999.png").unlink()
    assert verify_nvidia(tmp_path / "copy", released=released).status == "subset"
    (tmp_path / "copy" / "extra.png").write_bytes(b"four")
    report = verify_nvidia(tmp_path / "copy", released=released)
    assert report.status == "not-released" and report.extra == ("extra.png",) and report.missing == ("11999.png",)


def test_swapped_files_are_both_misnamed(tmp_path: Path) -> None:
    released = released_listing(tmp_path / "copy", {"00000.png": b"a", "02000.png": b"b"})
    folder = tmp_path / "copy"
    (folder / "00000.png").write_bytes(b"b")
    (folder / "02000.png").write_bytes(b"a")
    report = verify_nvidia(folder, released=released)
    assert report.matching == () and report.missing == ()
    assert report.misnamed == (Misnamed("00000.png", "02000.png", 2, "10-20_B"),
                               Misnamed("02000.png", "00000.png", 0, "01-10_B"))


def test_copies_of_a_misnamed_file_are_duplicates_of_the_first(tmp_path: Path) -> None:
    released = released_listing(tmp_path / "r", {"00000.png": b"a"})
    report = classify({"b.png": released.by_name["00000.png"], "a.png": released.by_name["00000.png"]}, released)
    assert report.misnamed == (Misnamed("a.png", "00000.png", 0, "01-10_B"),)
    assert report.duplicates == (Duplicate("b.png", "00000.png", "a.png"),)
    assert report.missing == ("00000.png",)


def test_hidden_files_are_left_out_and_subfolders_are_searched(tmp_path: Path) -> None:
    released = released_listing(tmp_path / "copy", {"00000.png": b"a", "00001.png": b"b"})
    folder = tmp_path / "copy"
    (folder / ".DS_Store").write_bytes(b"x")
    (folder / ".cache").mkdir()
    (folder / ".cache" / "00000.png").write_bytes(b"a")
    (folder / "sub").mkdir()
    (folder / "00001.png").rename(folder / "sub" / "00001.png")
    report = verify_nvidia(folder, released=released)
    assert report.ignored_hidden == 2
    assert report.misnamed == (Misnamed("sub/00001.png", "00001.png", 0, "01-10_B"),)
    assert "2 hidden files left out" in format_report(report)


def test_unreadable_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import maskgen.verify as verify_module

    released = released_listing(tmp_path / "copy", {"00000.png": b"a", "00001.png": b"b"})

    def refuse(path: Path) -> str:  # what a file without read permission does (chmod has no effect for root)
        if path.name == "00001.png":
            raise PermissionError(13, "Permission denied")
        return sha256_file(path)

    monkeypatch.setattr(verify_module, "sha256_file", refuse)
    report = verify_nvidia(tmp_path / "copy", released=released)
    assert report.status == "not-released" and [(u.path, u.reason) for u in report.unreadable] == [
        ("00001.png", "Permission denied")]
    assert "00001.png" not in report.missing  # present, but unreadable


def test_threads_give_the_same_digests_in_order(tmp_path: Path) -> None:
    paths = []
    for index in range(300):
        paths.append(tmp_path / f"{index}.bin")
        paths[-1].write_bytes(bytes([index % 256]) * (index * 37 % 5000))
    assert hash_files(paths, threads=4) == hash_files(paths, threads=1) == [sha256_file(p) for p in paths]


def test_long_listings_are_truncated_with_counts(tmp_path: Path) -> None:
    released = released_listing(tmp_path / "copy", {"00000.png": b"a"})
    for index in range(5):
        (tmp_path / "copy" / f"x{index}.png").write_bytes(bytes([index]))
    text = format_report(verify_nvidia(tmp_path / "copy", released=released), limit=2)
    assert "extra (5): not a released file" in text and "x0.png" in text and "x2.png" not in text
    assert "... and 3 more" in text


def test_bad_folders_are_one_line_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = _invoke(str(tmp_path / "empty"))
    assert result.exit_code == 1 and result.output.strip() == f"error: no file under {str(tmp_path / 'empty')!r}"
    assert _invoke(str(tmp_path / "nothing")).exit_code == 2  # click: the folder does not exist
