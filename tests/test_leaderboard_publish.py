"""Leaderboard per mask protocol, and the static web page (``benchmark leaderboard --html``), checked
without a browser: tables, sorting script, heatmap values equal to the runs' summaries, escaping, no
external reference, the images beside the page."""
from __future__ import annotations

import csv
import dataclasses
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from bench_helpers import make_images, make_mask_dataset
from benchmark.cli import main
from benchmark.inpainters import MeanFill
from benchmark.leaderboard import (LeaderboardError, collect_runs, mask_protocol_of, read_run, section_rows,
                                   write_leaderboard)
from benchmark.publish import published_board, publish_page, render_page
from benchmark.runner import CallableProvider, RunSettings, prepare, score_run
from inpaint_core.buckets import CELL_NAMES

HOSTILE = '<img src=x onerror=alert(1)> & "co"'


def _set_protocol(masks: Path, name: str) -> None:
    """Name the mask set's protocol in its dataset.json (what a newer import or build records)."""
    info = json.loads((masks / "dataset.json").read_text())
    info["mask_protocol"] = name
    (masks / "dataset.json").write_text(json.dumps(info, indent=2))


def _score(masks: Path, images: Path, out: Path, name: str, function, *, seed: int = 0) -> Path:
    prepared = prepare(RunSettings(masks=masks, images=images, size=512, per_cell=1, seed=seed))
    score_run(prepared, out / name, CallableProvider(function), model={"name": name, "kind": "python", "spec": name})
    return out / name


def _grey(pair, image, mask):  # noqa: ANN001 - CallableProvider's signature
    out = image.copy()
    out[mask] = 128
    return out, 0.01


def _mean(pair, image, mask):  # noqa: ANN001
    return MeanFill()(image, mask), 0.02


def _fails_large(pair, image, mask):  # noqa: ANN001
    if mask.mean() > 0.3:
        raise RuntimeError("out of memory (simulated)")
    return image, 0.01


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Protocol A: three runs on 12 pairs (one of them named by a hostile user); protocol B: two runs on
    six cells, one partial."""
    root = tmp_path_factory.mktemp("publish")
    images = make_images(root)
    masks_a = make_mask_dataset(root / "a")
    masks_b = make_mask_dataset(root / "b", cells=("01-10_B", "10-20_N", "20-30_B", "30-40_N", "40-50_B", "50-60_N"))
    _set_protocol(masks_a, "proto-a")
    _set_protocol(masks_b, "proto-b")
    _score(masks_a, images, root / "runs_a", "grey", _grey)
    _score(masks_a, images, root / "runs_a", "mean", _mean)
    result = CliRunner().invoke(main, ["run", "--model", "mean-fill", "--name", HOSTILE, "--masks", str(masks_a),
                                       "--images", str(images), "--per-cell", "1", "--out", str(root / "runs_a"),
                                       "--quiet", "--no-set-metrics"])
    assert result.exit_code == 0, result.output
    _score(masks_b, images, root / "runs_b", "mean", _mean)
    _score(masks_b, images, root / "runs_b", "fails-large", _fails_large)
    return {"root": root, "a": root / "runs_a", "b": root / "runs_b", "masks_a": masks_a, "images": images}


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _summary(folder: Path) -> dict[str, dict[str, str]]:
    return {row["cell"]: row for row in _csv(folder / "summary.csv")}


# -- mask protocols ------------------------------------------------------------------------------------------


def test_mask_protocol_is_the_recorded_name_or_derived_from_the_mask_set() -> None:
    dataset = {"fingerprint": "0123456789abcdef" * 4}
    assert mask_protocol_of({"mask_protocol": "nvidia-test", "dataset": dataset}) == "nvidia-test"
    assert mask_protocol_of({"dataset": {**dataset, "mask_protocol": "lama-thick-512"}}) == "lama-thick-512"
    assert mask_protocol_of({"dataset": dataset}) == "unnamed-0123456789ab"
    assert mask_protocol_of({"mask_protocol": "", "dataset": dataset}) == "unnamed-0123456789ab"


def test_each_protocol_is_ranked_on_its_own(runs: dict[str, Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["leaderboard", str(runs["a"]), str(runs["b"]), "-o", str(tmp_path / "lb.csv")])
    assert result.exit_code == 0, result.output
    proto_a, proto_b = read_run(runs["a"] / "grey").mask_protocol, read_run(runs["b"] / "mean").mask_protocol
    assert proto_a != proto_b and read_run(runs["b"] / "fails-large").mask_protocol == proto_b
    board = collect_runs([runs["a"], runs["b"]])
    assert [section.mask_protocol for section in board.sections] == sorted([proto_a, proto_b])
    rows = _csv(tmp_path / "lb.csv")
    folders = {proto_a: runs["a"], proto_b: runs["b"]}
    # protocol by protocol, rank restarting; B's partial run after its complete run, unranked
    assert [r["mask_protocol"] for r in rows] == [p for p in sorted(folders) for _ in range(3 if p == proto_a else 2)]
    a_rows = [r for r in rows if r["mask_protocol"] == proto_a]
    b_rows = [(r["rank"], r["status"], r["run"]) for r in rows if r["mask_protocol"] == proto_b]
    assert [(r["rank"], r["status"]) for r in a_rows] == [("1", "complete"), ("2", "complete"), ("3", "complete")]
    assert b_rows == [("1", "complete", "mean"), ("", "partial", "fails-large")]
    a_l1 = [float(r["l1"]) for r in a_rows]
    assert a_l1 == sorted(a_l1) and a_l1[0] < a_l1[-1]
    for row in rows:  # the values of each run's summary.csv
        summary = _summary(folders[row["mask_protocol"]] / row["run"])
        assert row["l1"] == summary["all"]["l1_mean"] and row["psnr"] == summary["all"]["psnr_mean"]
        assert row["l1@01-10_B"] == summary["01-10_B"]["l1_mean"]
        # the bootstrap interval of the run's summary
        assert (row["l1_ci_low"], row["l1_ci_high"]) == (summary["all"]["l1_ci_low"], summary["all"]["l1_ci_high"])
    markdown = (tmp_path / "lb.md").read_text()
    first, second = sorted(folders)
    assert markdown.count("## Mask protocol ") == 2 and markdown.count("| rank | model |") == 2
    assert markdown.index(f"## Mask protocol {first}\n") < markdown.index(f"## Mask protocol {second}\n")
    section_b = markdown[markdown.index(f"## Mask protocol {proto_b}\n"):]
    section_b = section_b[:section_b.find("## Mask protocol", 3) % (len(section_b) + 1)]
    assert "Partial runs, not ranked" in section_b and "| fails-large |" in section_b and "| grey |" not in section_b
    assert "Ranked by l1 within this protocol" in markdown


def test_markdown_has_l1_per_hole_area_bin_from_summary_area(runs: dict[str, Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["leaderboard", str(runs["a"]), "-o", str(tmp_path / "lb.csv")])
    assert result.exit_code == 0, result.output
    markdown = (tmp_path / "lb.md").read_text()
    table = markdown[markdown.index("L1 % per hole-area bin"):].splitlines()
    header = [name.strip() for name in table[2].strip("|").split("|")]
    with open(runs["a"] / "grey" / "summary_area.csv", newline="", encoding="utf-8") as handle:
        area = {row["area_bin"]: row for row in csv.DictReader(handle)}
    assert header[0] == "model" and header[1:] == sorted(area, key=lambda name: int(name.split("-")[0]))
    grey = next(line for line in table if line.startswith("| grey |"))
    texts = [text.strip() for text in grey.strip("|").split("|")[1:]]
    for name, text in zip(header[1:], texts):
        row = area[name]
        expected = f"{float(row['l1_mean']):.2f}"
        if row["l1_ci_low"]:
            expected += f" [{float(row['l1_ci_low']):.2f}, {float(row['l1_ci_high']):.2f}]"
        assert text == expected, (name, text, expected)


def test_runs_of_one_protocol_must_still_be_comparable(runs: dict[str, Path], tmp_path: Path) -> None:
    other = _score(runs["masks_a"], runs["images"], tmp_path / "other", "mean", _mean, seed=1)
    with pytest.raises(LeaderboardError, match=r"differ in pairs; they cannot share a leaderboard"):
        collect_runs([runs["a"], other])
    refused = CliRunner().invoke(main, ["leaderboard", str(runs["a"]), str(other), "-o", str(tmp_path / "x.csv"),
                                        "--html", str(tmp_path / "site")])
    assert refused.exit_code == 1 and refused.output.startswith("error: runs ")
    assert len(refused.output.strip().splitlines()) == 1 and "(mask protocol " in refused.output
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "site").exists()


# -- the page ------------------------------------------------------------------------------------------------


class _Page(HTMLParser):
    """Tags with their attributes, and every table as rows of (tag, attributes, text) cells."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.tables: list[dict] = []
        self._stack: list[dict] = []
        self._cell: list | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {key: value or "" for key, value in attrs}
        self.tags.append((tag, attributes))
        if tag == "table":
            self._stack.append({"attrs": attributes, "rows": []})
        elif tag == "tr" and self._stack:
            self._stack[-1]["rows"].append([])
        elif tag in ("td", "th") and self._stack and self._stack[-1]["rows"]:
            self._cell = [tag, attributes, ""]
            self._stack[-1]["rows"][-1].append(self._cell)

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._stack:
            self.tables.append(self._stack.pop())
        elif tag in ("td", "th"):
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell[2] += data


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


def test_html_page_holds_everything_and_nothing_external(runs: dict[str, Path], tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = CliRunner().invoke(main, ["leaderboard", str(runs["a"]), str(runs["b"]), "-o", str(tmp_path / "lb.csv"),
                                       "--html", str(site)])
    assert result.exit_code == 0, result.output
    text = (site / "index.html").read_text(encoding="utf-8")
    page = _parse(text)
    board = collect_runs([runs["a"], runs["b"]])
    # no network: no URL anywhere, every link and image a file beside the page
    assert not re.search(r"(?i)https?:|//[a-z]", text.replace("</", "<"))
    links = [attrs.get("src") or attrs.get("href") for tag, attrs in page.tags if tag in ("img", "a", "link", "script")]
    links = [link for link in links if link]
    assert links and all(not link.startswith("#") and (site / link).is_file() for link in links if not link.startswith("#"))
    assert not [attrs for tag, attrs in page.tags if tag in ("link", "script") and (attrs.get("src") or attrs.get("href"))]
    ids = {attrs["id"] for _, attrs in page.tags if "id" in attrs}
    anchors = [link[1:] for link in links if link.startswith("#")]
    assert len(anchors) == 2 + len(board.runs) and set(anchors) <= ids  # protocol links; each model to its details
    # every run's sample grids are shown as 384 px previews (grids: 3 tiles of 256 + 4 px frame); full grids left out
    published = {record.folder: record for record in published_board(board).runs}
    for record in board.runs:
        grids = sorted((record.folder / "samples").glob("grid_*.png"))
        assert len(grids) == (12 if record.folder.parent == runs["a"] else 6) - (record.failures and 3)
        folder = f"runs/{record.mask_protocol}/{record.folder.name}"  # names already file-safe
        for grid in grids:
            thumb = f"{folder}/{grid.stem}.jpg"
            assert thumb in links and not (site / folder / grid.name).exists()
            original, preview = cv2.imread(str(grid)), cv2.imread(str(site / thumb))
            height = round(original.shape[0] * 384 / 780)
            assert original.shape[1] == 780 and preview.shape == (height, 384, 3)
            smaller = cv2.resize(original, (384, height), interpolation=cv2.INTER_AREA)
            assert np.abs(preview.astype(int) - smaller).mean() < 4  # the grid, downscaled (JPEG error only)
        assert json.loads((site / folder / "run.json").read_text()) == published[record.folder].info
    # hostile run name: escaped everywhere, never markup
    assert "<img src=x" not in text and HOSTILE not in text
    assert text.count("&lt;img src=x onerror=alert(1)&gt; &amp; &quot;co&quot;") >= 4  # table, heatmaps, details
    # sortable tables and the script that sorts them
    overall = [t for t in page.tables if "sortable" in t["attrs"].get("class", "")]
    assert len(overall) == 3  # A; B complete; B partial
    assert all(cell[0] == "th" and cell[1].get("data-type") in ("number", "text") for t in overall for cell in t["rows"][0])
    assert 'querySelectorAll("table.sortable")' in text and "addEventListener(\"click\"" in text
    # one section per protocol, ranked apart
    for section in board.sections:
        assert f"Mask protocol <code>{section.mask_protocol}</code>" in text
    # overall tables, protocol by protocol (complete runs, then partial ones): the values of each run's summary
    expected = [(s, complete) for s in board.sections for complete in (True, False)
                if any(r.complete == complete for r in s.runs)]
    assert len(overall) == len(expected)
    for table, (section, complete) in zip(overall, expected):
        heads = [cell[2].strip() for cell in table["rows"][0]]
        assert heads[:5 if complete else 4] == (["rank"] if complete else []) + ["model", "run folder", "pairs", "failed"]
        first_metric = 5 if complete else 4
        assert heads[first_metric].startswith("L1 %")
        folders = {r.folder.name: r.folder for r in section.runs}
        shown = [row[first_metric - 3][2] for row in table["rows"][1:]]
        assert sorted(shown) == sorted(r.folder.name for r in section.runs if r.complete == complete)
        for row, name in zip(table["rows"][1:], shown):
            assert row[first_metric][1]["data-value"] == _summary(folders[name])["all"]["l1_mean"]
        if complete:
            assert [row[0][2] for row in table["rows"][1:]] == [str(i) for i in range(1, len(shown) + 1)]
    # heatmaps: runs x cells, each value that of the run's summary for that cell
    heat = [t for t in page.tables if "heat" in t["attrs"].get("class", "").split() and t["attrs"]["data-metric"] == "l1"]
    assert len(heat) == 2
    checked = 0
    for table, section in zip(heat, board.sections):
        by_name = {record.name: record for record in section.runs}
        body = table["rows"][2:]
        names = [row[0][2].strip().removesuffix(" (partial)") for row in body]
        assert names == [row["model"] for row in section_rows(section)]
        for name, row in zip(names, body):
            assert [cell[1]["data-cell"] for cell in row[1:]] == list(CELL_NAMES)
            summary = _summary(by_name[name].folder)
            for cell in row[1:]:
                written = summary.get(cell[1]["data-cell"], {}).get("l1_mean", "")
                assert cell[1]["data-value"] == written
                assert cell[2] == (f"{float(written):.2f}" if written else "\u2013")
                checked += bool(written)
    assert checked == 3 * 12 + 6 + 3
    # run details from run.json
    for record in board.runs:
        info = record.info
        for value in (info["date"], info["dataset"]["fingerprint"], info["pairs"]["fingerprint"],
                      info["hardware"]["machine"], info["versions"]["numpy"], record.mask_protocol):
            assert str(value) in text
    assert (site / "page.json").is_file()
    assert sorted(p.name for p in site.glob("plot_*.png")) == ["plot_proto-a.png", "plot_proto-b.png"]


def test_page_folder_is_replaced_only_when_it_is_an_earlier_page(runs: dict[str, Path], tmp_path: Path) -> None:
    board = collect_runs([runs["a"], runs["b"]])
    site = tmp_path / "site"
    publish_page(board, site)
    first = (site / "index.html").read_bytes()
    assert [f.content() for f in render_page(board)][-1] == first  # no date, no randomness: the same page again
    before = sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file())
    with pytest.raises(ValueError, match="holds an earlier page; add --overwrite"):
        publish_page(board, site)
    (site / "CNAME").write_text("lab.example\n")  # the lab's own file in the page folder: kept
    smaller = collect_runs([runs["b"]])
    publish_page(smaller, site, overwrite=True)
    after = sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file())
    assert "CNAME" in after and (site / "CNAME").read_text() == "lab.example\n"
    assert not any(name.startswith("runs/") and "grey" in name for name in after)  # protocol A's runs are gone
    assert len([n for n in after if n.startswith("runs/")]) == 2 * 1 + (6 + 3)  # 2 run.json + previews of B
    assert len(before) > len(after)
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep")
    for overwrite in (False, True):
        with pytest.raises(ValueError, match="holds other files and no earlier page"):
            publish_page(board, other, overwrite=overwrite)
    assert [p.name for p in other.iterdir()] == ["notes.txt"]
    with pytest.raises(ValueError, match="holds the run"):
        publish_page(board, runs["a"])


def _with_values(board, change):  # noqa: ANN001, ANN202 - the board with each record's values changed
    return dataclasses.replace(board, sections=[dataclasses.replace(section, runs=[
        dataclasses.replace(record, values={cell: change(record, cell, dict(values))
                                            for cell, values in record.values.items()})
        for record in section.runs]) for section in board.sections])


def test_intervals_are_shown_where_runs_have_them(runs: dict[str, Path], tmp_path: Path) -> None:
    """Records with bootstrap intervals (``values[cell]["<metric>_ci_low"]`` / ``["_ci_high"]``, as
    ``summary.csv`` gives them) show ``mean [low, high]`` and error bars; records without show means only."""
    board = collect_runs([runs["b"]])
    record = next(record for record in board.runs if record.complete)

    def without(_, cell, values):  # noqa: ANN001, ANN202 - runs scored before intervals were recorded
        return {key: value for key, value in values.items() if "_ci_" not in key}

    def widened(this, cell, values):  # noqa: ANN001, ANN202 - an interval on L1 for the complete run only
        values = without(this, cell, values)
        if this.folder == record.folder:
            values.update(l1_ci_low=values["l1"] - 0.5, l1_ci_high=values["l1"] + 0.25)
        return values

    plain, with_intervals = _with_values(board, without), _with_values(board, widened)
    assert all(r.intervals == {} for r in plain.runs)
    assert next(r for r in with_intervals.runs if r.complete).intervals["all"]["l1"] == (record.values["all"]["l1"] - 0.5,
                                                                         record.values["all"]["l1"] + 0.25)
    paths = write_leaderboard(with_intervals, tmp_path / "lb.csv")
    row = next(r for r in _csv(paths["csv"]) if r["run"] == record.folder.name)
    low, high = record.values["all"]["l1"] - 0.5, record.values["all"]["l1"] + 0.25
    assert float(row["l1_ci_low"]) == pytest.approx(low, abs=1e-6) and float(row["l1_ci_high"]) == pytest.approx(high, abs=1e-6)
    assert float(row["l1_ci_low@01-10_B"]) == pytest.approx(record.values["01-10_B"]["l1"] - 0.5, abs=1e-6)
    assert row["psnr_ci_low"] == ""
    markdown = paths["md"].read_text()
    assert f"| {record.values['all']['l1']:.2f} [{low:.2f}, {high:.2f}] |" in markdown
    assert "bootstrap 95 % interval" in markdown
    plain_paths = write_leaderboard(plain, tmp_path / "plain.csv")
    assert "[" not in plain_paths["md"].read_text().split("| rank |")[1]
    assert paths["png"].read_bytes() != plain_paths["png"].read_bytes()  # the error bars are drawn
    text = next(f for f in render_page(with_intervals) if f.path == "index.html").data.decode()
    assert f'<span class="ci">[{low:.2f}, {high:.2f}]</span>' in text
    assert text.count('aria-label="95 % interval') == 1  # the complete run's overall L1
    cell = record.values["01-10_B"]["l1"]
    assert f"cell 01-10_B: {cell:.4f} [{cell - 0.5:.4f}, {cell + 0.25:.4f}]" in text  # the heatmap's tooltip
    plain_text = next(f for f in render_page(plain) if f.path == "index.html").data.decode()
    assert 'class="ci"' not in plain_text and "<svg" not in plain_text and "carry no intervals" in plain_text


def test_one_mask_set_under_two_protocols_is_ranked_apart_with_a_note(runs: dict[str, Path], tmp_path: Path) -> None:
    """A run from before mask protocols were recorded next to a newer one of the same mask set."""
    import shutil

    newer, older = tmp_path / "newer" / "grey", tmp_path / "older" / "grey"
    shutil.copytree(runs["a"] / "grey", newer)
    shutil.copytree(runs["a"] / "grey", older)
    info = json.loads((newer / "run.json").read_text())
    del info["mask_protocol"]  # make the copy an older run, scored before mask protocols were recorded
    info["dataset"].pop("mask_protocol", None)
    (older / "run.json").write_text(json.dumps(info, indent=2))  # run.json is not among the hashed files
    board = collect_runs([newer, older])
    assert sorted(s.mask_protocol for s in board.sections) == sorted(["proto-a", mask_protocol_of(
        {"dataset": {"fingerprint": info["dataset"]["fingerprint"]}})])
    assert [len(s.runs) for s in board.sections] == [1, 1]
    assert len(board.notes) == 1 and "appears under the mask protocols" in board.notes[0]
    assert board.notes[0].startswith(f"mask set {info['dataset']['fingerprint'][:12]} ")


# -- what the page publishes: no local path; light; deterministic ------------------------------------------


class _KeepPaths:
    """Stands in for PathRedactor: cuts nothing (the page as it was before paths were cut)."""

    @staticmethod
    def for_folders(folders, **_):  # noqa: ANN001, ANN205
        from benchmark.redact import PathRedactor

        class Keep(PathRedactor):
            def text(self, text: str) -> str:
                return text

            def leaks(self, text: str) -> list[str]:
                return []

        return Keep((), ())


def _table_cells(text: str) -> list[tuple[str, str]]:
    """(data-value, text) of every cell of the ranking tables and heatmaps: the leaderboard's numbers."""
    return [(cell[1].get("data-value", ""), cell[2]) for table in _parse(text).tables
            if {"sortable", "heat"} & set(table["attrs"].get("class", "").split())
            for row in table["rows"] for cell in row]


def _files(site: Path) -> dict[str, bytes]:
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()}


def test_published_page_shows_no_local_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs under a home folder (a blank in a folder name, a command line, a plug-in file, a predictions
    folder, failure reasons and a left-out run quoting files): no file of the page holds tmp_path (as given
    or resolved), the home folder or the user name, and the numbers are those of the page without cutting."""
    real_home = Path.home()
    home = tmp_path / "home" / "alice"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    data = home / "My Data"
    images = make_images(data)
    masks = make_mask_dataset(data, cells=("01-10_B", "20-30_N", "40-50_B"))
    weights = home / "models" / "w.pt"

    def fails_large(pair, image, mask):  # noqa: ANN001, ANN202
        if mask.mean() > 0.3:
            raise RuntimeError(f"cannot read {weights}")
        return image, 0.01

    def fails_all(pair, image, mask):  # noqa: ANN001, ANN202
        raise OSError(f"no such file: {home / 'gone.pt'}")

    prepared = prepare(RunSettings(masks=masks, images=images, size=512, per_cell=1, seed=0))
    runs_dir = home / "runs"
    command = f"python {home}/lama/infer.py --ckpt '{weights}' {{input_dir}} {{output_dir}}"
    for name, function, model in [
            ("cmd", _grey, {"kind": "command", "spec": command}),
            ("plugin", fails_large, {"kind": "python", "spec": f"{home}/models/x.py:Make",
                                     "weights_sha256": "ab" * 32}),
            ("preds", _mean, {"kind": "predictions", "spec": str(data / "preds")}),
            ("dead", fails_all, {"kind": "python", "spec": "dead"})]:
        score_run(prepared, runs_dir / name, CallableProvider(function), model={"name": name, **model})
    originals = {p: p.read_bytes() for p in runs_dir.rglob("*") if p.is_file()}
    site, full = tmp_path / "site", tmp_path / "full"
    relative = [str(folder.relative_to(tmp_path)) for folder in sorted(runs_dir.iterdir())]  # home/alice/runs/...
    for out, given in ((site, relative), (full, [str(runs_dir), "--full-grids"])):
        result = CliRunner().invoke(main, ["leaderboard", *given, "-o", str(tmp_path / "lb.csv"), "--html", str(out)])
        assert result.exit_code == 0, result.output
    forbidden = {str(tmp_path), str(tmp_path.resolve()), str(home), "alice"}
    if len(real_home.parts) > 1:
        forbidden.add(str(real_home))
    for out in (site, full):
        files = _files(out)
        assert len(files) == 1 + 1 + 1 + 3 * (1 + 3 + (3 if out == full else 0)) - (1 + (out == full))
        for name, data_bytes in files.items():
            for text in forbidden:
                assert text.encode() not in data_bytes, (name, text)
    assert {p: p.read_bytes() for p in runs_dir.rglob("*") if p.is_file()} == originals  # the runs only read
    # what still identifies the inputs: the last names and every fingerprint and hash
    board = collect_runs([runs_dir])
    for record in board.runs:
        published = json.loads((site / f"runs/{record.mask_protocol}/{record.folder.name}/run.json").read_text())
        info = record.info
        assert published["dataset"] == {**info["dataset"], "path": "\u2026/masks"}
        assert published["images"] == {**info["images"], "path": "\u2026/images"}
        assert {key: published[key] for key in info if key not in ("dataset", "images", "model")} == \
            {key: info[key] for key in info if key not in ("dataset", "images", "model")}
        assert {key: value for key, value in published["model"].items() if key != "spec"} == \
            {key: value for key, value in info["model"].items() if key != "spec"}
    specs = {json.loads(p.read_text())["model"]["name"]: json.loads(p.read_text())["model"]["spec"]
             for p in site.glob("runs/*/*/run.json")}
    assert specs == {"cmd": "python \u2026/infer.py --ckpt '\u2026/w.pt' {input_dir} {output_dir}",
                     "plugin": "\u2026/x.py:Make", "preds": "\u2026/preds"}
    text = (site / "index.html").read_text(encoding="utf-8")
    assert "cannot read \u2026/w.pt" in text  # the partial run's failure reason
    assert "left out dead (\u2026/dead, mask protocol" in text and "no such file: \u2026/gone.pt" in text
    page = json.loads((site / "page.json").read_text())
    assert sorted(run["run"] for run in page["runs"][:2]) == ["cmd", "preds"] and page["runs"][2]["run"] == "plugin"
    assert page["full_grids"] is False and page["runs"][2]["folder"] == f"runs/{board.runs[0].mask_protocol}/plugin"
    # the numbers are those of the page made without cutting the paths (which did show them)
    monkeypatch.setattr("benchmark.publish.PathRedactor", _KeepPaths)
    uncut = next(f for f in render_page(board) if f.path == "index.html").data.decode("utf-8")
    assert str(home) in uncut and uncut != text
    assert _table_cells(text) == _table_cells(uncut) and len(_table_cells(text)) > 100


def test_page_refuses_to_show_a_local_folder_the_cutting_missed(runs: dict[str, Path], tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    board = collect_runs([runs["a"]])
    monkeypatch.setattr("benchmark.publish.published_board", lambda board, redactor=None: board)
    with pytest.raises(ValueError, match=r"refusing to publish: the page's runs/.*/run\.json would show the "
                                         r"local folder '/"):
        publish_page(board, tmp_path / "site")
    assert not (tmp_path / "site").exists()


def test_page_is_light_and_byte_identical_when_made_again(runs: dict[str, Path], tmp_path: Path) -> None:
    board = collect_runs([runs["a"], runs["b"]])
    grids = {record.folder: sorted((record.folder / "samples").glob("grid_*.png")) for record in board.runs}
    count = sum(len(found) for found in grids.values())
    pages = {}
    for name, options in (("one", {}), ("two", {}), ("full", {"full_grids": True}), ("full2", {"full_grids": True}),
                          ("small", {"thumb_width": 100})):
        publish_page(board, tmp_path / name, **options)
        pages[name] = _files(tmp_path / name)
    # the same runs and options: the same bytes, file for file (page.json included)
    assert pages["one"] == pages["two"] and pages["full"] == pages["full2"]
    light, full = pages["one"], pages["full"]
    assert sum(name.endswith(".jpg") for name in light) == count and not any(n.startswith("runs/") and
                                                                              n.endswith(".png") for n in light)
    # --full-grids: the grids byte for byte beside their previews, each preview a link to its grid
    page = _parse(full["index.html"].decode("utf-8"))
    linked = {}
    for index, (tag, attrs) in enumerate(page.tags):
        if tag == "img" and attrs["src"].endswith(".jpg"):
            assert page.tags[index - 1][0] == "a"
            linked[attrs["src"]] = page.tags[index - 1][1]["href"]
    assert len(linked) == count and all(href == src.removesuffix(".jpg") + ".png" for src, href in linked.items())
    for record in board.runs:
        for grid in grids[record.folder]:
            assert full[f"runs/{record.mask_protocol}/{record.folder.name}/{grid.name}"] == grid.read_bytes()
    assert {name: data for name, data in full.items() if not name.endswith((".png", ".html", "page.json"))} == \
        {name: data for name, data in light.items() if not name.endswith((".png", ".html", "page.json"))}
    previews = [index for index, (tag, attrs) in enumerate(_parse(light["index.html"].decode()).tags)
                if tag == "img" and attrs["src"].endswith(".jpg")]
    assert len(previews) == count and all(_parse(light["index.html"].decode()).tags[i - 1][0] == "figure"
                                          for i in previews)  # no link to a grid the page left out
    grid_bytes = sum(p.stat().st_size for found in grids.values() for p in found)
    jpeg_bytes = sum(len(data) for name, data in light.items() if name.endswith(".jpg"))
    assert jpeg_bytes * 10 < grid_bytes  # the previews: a quarter of the pixels, JPEG (27x smaller here)
    # --thumb-width
    small = _parse(pages["small"]["index.html"].decode("utf-8"))
    widths = {attrs["width"] for tag, attrs in small.tags if tag == "img" and attrs["src"].endswith(".jpg")}
    assert widths == {"100"} and all(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR).shape[1] == 100
                                     for name, data in pages["small"].items() if name.endswith(".jpg"))
    with pytest.raises(ValueError, match="thumbnail width must be an integer >= 16 px, got 8"):
        render_page(board, thumb_width=8)


def test_a_damaged_grid_is_one_clear_error_and_nothing_is_written(runs: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    run = tmp_path / "runs" / "grey"
    shutil.copytree(runs["a"] / "grey", run)
    (run / "samples" / "grid_10-20_N.png").write_bytes(b"\x89PNG\r\n\x1a\n damaged")
    result = CliRunner().invoke(main, ["leaderboard", str(run), "-o", str(tmp_path / "lb.csv"),
                                       "--html", str(tmp_path / "site")])
    assert result.exit_code == 1  # the leaderboard (printed, written) first, then the page's one-line error
    assert result.output.strip().splitlines()[-1] == \
        f"error: cannot read {str(run / 'samples' / 'grid_10-20_N.png')!r} as an image"
    assert (tmp_path / "lb.csv").is_file() and not (tmp_path / "site").exists()
