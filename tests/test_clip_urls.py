"""``maskgen build --video-dir URL``: clips behind an fsspec URL give the same dataset, byte for byte, as the
same clips in a local folder, with the local engine (``file://``, ``memory://``) and on Ray (``file://``);
a bad URL is a one-line error; the raw-mask cache key follows a remote clip's version."""
from __future__ import annotations

import shutil
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from helpers import SMALL_BUILD, SMALL_BUILD_ARGS, dataset_files
from maskgen.build import BuildResult, _clip_cache_key, build_dataset
from maskgen.sources import is_url
from maskgen.video import clip_fingerprint, discover_clips, iter_frames, opened

fsspec = pytest.importorskip("fsspec", reason="fsspec is not installed (pip install '.[fsspec]')")


@pytest.fixture(scope="module")
def clips(clip_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared synthetic clips (a frame folder, an MJPEG video) plus a file that is not a clip."""
    root = tmp_path_factory.mktemp("url_clips") / "clips"
    shutil.copytree(clip_dir, root)
    (root / "notes.txt").write_text("not a clip\n")
    return root


@pytest.fixture(scope="module")
def local_build(clips: Path, tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    return build_dataset(clips, tmp_path_factory.mktemp("local") / "masks", SMALL_BUILD, workers=1)


@pytest.fixture()
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary folder of this test's own for the clip copies of in-process tasks (checked empty after)."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _same(result: BuildResult, reference: BuildResult) -> None:
    assert dataset_files(result.out) == dataset_files(reference.out)
    assert result.info["fingerprint"] == reference.info["fingerprint"]
    assert result.info["skipped"] == reference.info["skipped"] == [
        {"path": "notes.txt", "reason": "not a video or frame file (extension '.txt')"}]


def test_a_file_url_is_discovered_like_the_folder(clips: Path) -> None:
    assert [is_url(text) for text in ("s3://bucket/clips", "simplecache::s3://b/c", "file:///x", "memory://c",
                                      "clips", "/data/clips", "C://clips", "C:/clips")] == [True] * 4 + [False] * 4
    assert not is_url(Path("s3://bucket"))  # a Path is local (and has folded the //)
    local, local_skipped = discover_clips(clips)
    remote, remote_skipped = discover_clips(clips.as_uri())
    assert [(c.clip_id, c.kind) for c in remote] == [(c.clip_id, c.kind) for c in local] == [
        ("walk_diag.avi", "video"), ("walk_right", "frames")]
    assert remote_skipped == local_skipped
    assert all(c.remote is not None and c.remote.url == clips.as_uri() for c in remote)
    assert [f.name for f in remote[1].remote.files] == sorted(p.name for p in (clips / "walk_right").iterdir())


def test_a_clip_under_a_url_is_read_through_opened_only(clips: Path) -> None:
    local, _ = discover_clips(clips)
    remote, _ = discover_clips(clips.as_uri())
    for clip, local_clip in zip(remote, local):
        with pytest.raises(ValueError, match=f"^{clip.clip_id!r} is under a URL: open it with opened\\(\\) to read"):
            iter_frames(clip, work_size=64)
        with pytest.raises(ValueError, match=f"^{clip.clip_id!r} is under a URL: open it with opened\\(\\) to finger"):
            clip_fingerprint(clip)
        with opened(clip) as copy:
            assert clip_fingerprint(copy) == clip_fingerprint(local_clip)


def test_a_file_url_build_equals_the_local_build(clips: Path, local_build: BuildResult, tmp_path: Path,
                                                 private_tmp: Path) -> None:
    from maskgen.cli import main

    out = tmp_path / "from_url"
    result = CliRunner().invoke(main, ["build", "--video-dir", clips.as_uri(), "--out", str(out), "--quiet",
                                       *SMALL_BUILD_ARGS], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"fingerprint {local_build.info['fingerprint']}" in result.output
    assert dataset_files(out) == dataset_files(local_build.out)
    assert list(private_tmp.iterdir()) == []  # every clip copy was removed
    # the URL's own folder is protected like a local --video-dir
    inside = CliRunner().invoke(main, ["build", "--video-dir", clips.as_uri(), "--out", str(clips / "masks")])
    assert inside.exit_code == 1 and inside.output.startswith(f"error: --out '{clips / 'masks'}' is inside "
                                                              f"--video-dir '{clips}'")


def test_a_file_url_build_on_ray_equals_the_local_build(ray_instance, clips: Path,
                                                        local_build: BuildResult, tmp_path: Path) -> None:
    _same(build_dataset(clips.as_uri(), tmp_path / "ray", SMALL_BUILD, engine="ray"), local_build)


def test_a_memory_url_build_and_its_cache_key(clips: Path, local_build: BuildResult, tmp_path: Path,
                                              private_tmp: Path) -> None:
    fs = fsspec.filesystem("memory")
    root = f"/maskgen-test-{uuid.uuid4().hex}/clips"
    try:
        for path in sorted(clips.rglob("*")):
            if path.is_file():
                fs.pipe_file(f"{root}/{path.relative_to(clips).as_posix()}", path.read_bytes())
        url = f"memory://{root}"
        _same(build_dataset(url, tmp_path / "memory", SMALL_BUILD, workers=1), local_build)
        assert list(private_tmp.iterdir()) == []
        assert build_dataset(url, tmp_path / "memory", SMALL_BUILD, workers=1).up_to_date
        before = {c.clip_id: _clip_cache_key(c, SMALL_BUILD.extract) for c in discover_clips(url)[0]}
        frame = f"{root}/walk_right/" + sorted(p.name for p in (clips / "walk_right").iterdir())[0]
        fs.pipe_file(frame, fs.cat_file(frame))  # the same bytes written again: a new version
        after = {c.clip_id: _clip_cache_key(c, SMALL_BUILD.extract) for c in discover_clips(url)[0]}
        assert after["walk_diag.avi"] == before["walk_diag.avi"]
        assert after["walk_right"] != before["walk_right"]
        fs.pipe_file(frame, (clips / "walk_right" / Path(frame).name).read_bytes()[::-1])  # now corrupt
        rebuilt = build_dataset(url, tmp_path / "memory", SMALL_BUILD, workers=1, overwrite=True)
        assert rebuilt.info["fingerprint"] != local_build.info["fingerprint"]  # the new bytes were read
        assert {"path": f"walk_right/{Path(frame).name}",
                "reason": "unreadable frame: only the frame pairs touching it were skipped"} in rebuilt.info["skipped"]
    finally:
        fs.rm(root.rsplit("/", 1)[0], recursive=True)


@pytest.mark.parametrize(("url", "expected"), [
    ("file:///nonexistent/clips", "error: video folder 'file:///nonexistent/clips' does not exist"),
    ("memory:///nonexistent/clips", "error: video folder 'memory:///nonexistent/clips' does not exist"),
    ("foo://bucket/clips", "error: cannot open --video-dir 'foo://bucket/clips': Protocol not known: foo"),
])
def test_a_bad_url_is_a_one_line_error(url: str, expected: str, tmp_path: Path) -> None:
    from maskgen.cli import main

    result = CliRunner().invoke(main, ["build", "--video-dir", url, "--out", str(tmp_path / "masks"), "--quiet"])
    assert result.exit_code == 1 and result.output.strip().splitlines() == [expected]


def test_a_url_without_fsspec_is_a_one_line_error(clips: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from maskgen.cli import main

    monkeypatch.setitem(sys.modules, "fsspec.core", None)  # import fails as when fsspec is not installed
    result = CliRunner().invoke(main, ["build", "--video-dir", clips.as_uri(), "--out", str(tmp_path / "m")])
    assert result.exit_code == 1 and result.output.strip().splitlines() == [
        f"error: --video-dir '{clips.as_uri()}' is a URL, which needs fsspec, not installed: "
        "pip install \"inpaint-masks-toolkit[fsspec]\" (or pip install \".[fsspec]\" in a checkout)"]
    local = CliRunner().invoke(main, ["build", "--video-dir", str(clips), "--out", str(tmp_path / "m"), "--quiet",
                                      "--max-pairs", "1", "--per-cell", "1", "--train-count", "0", "--size", "128"])
    assert local.exit_code == 0, local.output  # a local folder never needs fsspec
