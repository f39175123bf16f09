"""A leaderboard as a self-contained static web page (``benchmark leaderboard RUNS --html OUT/``).

``OUT/`` holds, for a lab to copy to its web site as is (no server, no network: inline CSS and JavaScript,
every image a relative link to a file beside the page, no external URL):

* ``index.html``: per mask protocol (never one ranking across protocols) the overall table, sortable by any
  column (click its header; the JavaScript only reorders rows, the page reads the same without it), with
  each per-image metric as ``mean [low, high]`` and a drawn error bar where the runs have bootstrap
  intervals; partial runs in a table of their own, unranked; a heatmap per metric (cells x runs, the value in
  every cell, coloured from worst, light, to best, dark, done in HTML so it stays crisp and readable); the
  plot; per run its ``run.json`` details (model, weights sha256, mask protocol, mask and image sets, pairs,
  scoring protocol, versions, hardware, date) and its sample grids;
* ``plot_<protocol>.png``: :func:`benchmark.leaderboard.plot_png` of that protocol;
* ``runs/<protocol>/<run>/``: each run's ``run.json`` as published (below) and per sample grid a preview,
  ``grid_<cell>.jpg`` (:func:`benchmark.thumbnails.grid_thumbnail`: at most ``thumb_width`` px wide, 384 by
  default, about 60 KB); with ``full_grids`` also the grid itself, ``grid_<cell>.png``, copied byte for byte,
  which the preview links to. Without it the page is about 0.7 MB per run of 12 grids instead of 16 MB;
* ``page.json``: what made the page (runs, options) and the files it wrote (the marker of an earlier page).

**Local paths are not published.** Every string the page shows or writes (``index.html``, the ``run.json``
copies, ``page.json``, failure reasons, notes) goes through :class:`benchmark.redact.PathRedactor`: an
absolute local path keeps only its last component (``/home/alice/data/kodak24`` -> ``…/kodak24``, the home
folder itself ``~``), so ``dataset.path``, ``images.path``, a predictions folder or a model file in a command
line still name the input, and the fingerprints and sha256 that ``run.json`` records (mask set, image set,
pairs, weights, files) identify it exactly; numbers, names, versions and hardware are kept as they are. The
run folders are only read. Before anything is written the page is checked to show none of the known local
folders (home, working folder, run folders and their parents, the recorded mask and image folders): else
ValueError. The page holds no host or user name (``run.json`` records none). Published ``run.json`` files
are therefore not the runs' own bytes; ``page.json`` lists each run by model, run folder and protocol.

The page is deterministic: the same runs and options give a byte-identical folder (no date, no randomness,
fixed JPEG settings).

Writing: ``OUT`` is locked (:class:`~inpaint_core.outdir.FolderLock`), every file is written atomically, the
images before ``index.html``, so a visitor sees the old page or the new one; then the files of the earlier
page that the new one does not use (only those listed in its ``page.json``) are removed. A folder holding
other files and no earlier page is refused; an earlier page is replaced only with ``overwrite``. Every string
from a run (model and run names, paths, versions) is HTML-escaped.
"""
from __future__ import annotations

import html
import json
import math
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Iterable, Mapping, Sequence

from inpaint_core.buckets import CELLS
from inpaint_core.files import atomic_write_bytes, atomic_write_text, read_json
from inpaint_core.outdir import LOCK_NAME, FolderLock, check_can_clear

from . import __version__
from .leaderboard import (HIGHER_IS_BETTER, Leaderboard, ProtocolSection, RunRecord, interval_bounds, interval_text, plot_png, section_rows, shown_columns, value_text)
from .redact import PathRedactor
from .thumbnails import THUMB_WIDTH, grid_thumbnail

__all__ = ["PAGE_FORMAT", "PAGE_MARKER", "publish_page", "render_page", "check_page_folder", "published_board",
           "PageFile", "PublishedRun", "THUMB_WIDTH"]

PAGE_FORMAT = "benchmark-page/1"
PAGE_MARKER = "page.json"
INDEX = "index.html"
# run.json keys shown first in a run's details, in this order; any other key follows
_DETAIL_ORDER = ("model", "mask_protocol", "dataset", "images", "pairs", "protocol", "counts", "set_metrics",
                 "versions", "hardware", "date", "protocol_key", "files", "format")


@dataclass(frozen=True)
class PageFile:
    """A file of the page: ``path`` relative to ``OUT`` (POSIX), its bytes or the file to copy them from."""

    path: str
    data: bytes | None = None
    source: Path | None = None

    def content(self) -> bytes:
        return self.data if self.data is not None else Path(self.source).read_bytes()


@dataclass(frozen=True)
class PublishedRun:
    """A run as ``page.json`` lists it: model name, run folder name and mask protocol (as published, see
    :func:`published_board`), and its folder in the page (``runs/<protocol>/<run>``)."""

    model: str
    run: str
    mask_protocol: str
    folder: str


@dataclass(frozen=True)
class _Grid:
    """A sample grid on the page: its cell, the preview (page path, size in px), the full grid's page path
    (None when the full grids are left out)."""

    cell: str
    thumb: str
    width: int
    height: int
    full: str | None


def _slug(text: str, taken: set[str]) -> str:
    """A file-name-safe, unique (within ``taken``, which it joins) form of ``text``."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "x"
    slug, number = base, 2
    while slug in taken:
        slug, number = f"{base}-{number}", number + 1
    taken.add(slug)
    return slug


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


# -- the page ----------------------------------------------------------------------------------------------------

_CSS = """
:root{--ink:#1b1f24;--muted:#57606a;--line:#d0d7de;--head:#f6f8fa;--accent:#0b5cad}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);margin:0 auto;
max-width:1400px;padding:1.5rem 2rem 4rem}
h1{font-size:1.7rem;margin:.2rem 0}h2{font-size:1.35rem;margin:2.4rem 0 .3rem;padding-top:.8rem;
border-top:3px solid var(--accent)}h3{font-size:1.05rem;margin:1.6rem 0 .4rem}
p.meta,.note,figcaption,.legend{color:var(--muted);font-size:.88rem}
code{font:.86em ui-monospace,SFMono-Regular,Menlo,monospace;background:var(--head);padding:0 .25em;border-radius:3px}
nav a{margin-right:1rem}a{color:var(--accent)}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;margin:.3rem 0}
th,td{border:1px solid var(--line);padding:.28rem .45rem;text-align:right;vertical-align:middle;white-space:nowrap}
th{background:var(--head);font-weight:600}
td.text,th.text{text-align:left}
th button{font:inherit;font-weight:600;background:none;border:0;padding:0;cursor:pointer;color:inherit}
th button::after{content:" \\2195";color:var(--muted);font-weight:400;font-size:.8em}
th[aria-sort=ascending] button::after{content:" \\2191";color:var(--ink)}
th[aria-sort=descending] button::after{content:" \\2193";color:var(--ink)}
td .ci{display:block;color:var(--muted);font-size:.78em}
td svg{display:block;margin:2px 0 0 auto}
a.partial{color:#8a4b00}
table.overall{font-size:.9rem}
table.heat td{min-width:3.6rem;text-align:center;font-size:.84rem}
table.heat th{font-size:.84rem;text-align:center}table.heat th.text{text-align:left}
.legend span{display:inline-block;width:1.6rem;height:.8rem;vertical-align:middle}
details{margin:.4rem 0}summary{cursor:pointer;font-weight:600}
details.run{border:1px solid var(--line);border-radius:6px;padding:.5rem .8rem;margin:.6rem 0}
table.kv{font-size:.84rem}table.kv th,table.kv td{text-align:left;white-space:normal;word-break:break-all}
table.kv th{width:11rem;word-break:normal}
.grids{display:flex;flex-wrap:wrap;gap:.8rem}
.grids figure{margin:0;width:190px}.grids img{width:190px;height:auto;border:1px solid var(--line)}
img.plot{max-width:100%;border:1px solid var(--line)}
"""

_JS = """
(function(){
  function key(cell){var v=cell.getAttribute("data-value");return v===null?cell.textContent.trim():v;}
  function reveal(){
    var target=location.hash?document.getElementById(decodeURIComponent(location.hash.slice(1))):null;
    if(target&&target.tagName==="DETAILS"){target.open=true;target.scrollIntoView();}
  }
  window.addEventListener("hashchange",reveal);reveal();
  document.querySelectorAll("table.sortable").forEach(function(table){
    var heads=table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads,function(th,index){
      var button=th.querySelector("button");if(!button){return;}
      button.addEventListener("click",function(){
        var ascending=th.getAttribute("aria-sort")!=="ascending";
        Array.prototype.forEach.call(heads,function(h){h.removeAttribute("aria-sort");});
        th.setAttribute("aria-sort",ascending?"ascending":"descending");
        var numeric=th.getAttribute("data-type")==="number",body=table.tBodies[0];
        var rows=Array.prototype.slice.call(body.rows);
        rows.sort(function(a,b){
          var x=key(a.cells[index]),y=key(b.cells[index]);
          if(numeric){
            var nx=x===""?NaN:Number(x),ny=y===""?NaN:Number(y);
            if(isNaN(nx)||isNaN(ny)){return isNaN(nx)-isNaN(ny);}
            return ascending?nx-ny:ny-nx;
          }
          return ascending?x.localeCompare(y):y.localeCompare(x);
        });
        rows.forEach(function(row){body.appendChild(row);});
      });
    });
  });
})();
"""

# light (worst) to dark (best), a single-hue blue ramp: readable by colour-blind readers and in grey
_RAMP = ((247, 251, 255), (198, 219, 239), (107, 174, 214), (33, 113, 181), (8, 48, 107))


def _direction(metric: str) -> str:
    return "higher is better" if metric in HIGHER_IS_BETTER else "lower is better"


def _colour(goodness: float) -> tuple[str, str]:
    """Background and text colour of a heatmap cell, ``goodness`` in [0, 1] (1 = best)."""
    position = min(max(goodness, 0.0), 1.0) * (len(_RAMP) - 1)
    index = min(int(position), len(_RAMP) - 2)
    part = position - index
    rgb = [round(a + (b - a) * part) for a, b in zip(_RAMP[index], _RAMP[index + 1])]
    return f"rgb({rgb[0]},{rgb[1]},{rgb[2]})", "#fff" if goodness > 0.55 else "#1b1f24"


def _number(value: object) -> str:
    """A ``data-value`` for sorting: 6 decimals, empty for NaN."""
    return value_text(value, 6) if isinstance(value, float) else _e(value)


def _error_bar(row: Mapping[str, object], metric: str, domain: tuple[float, float]) -> str:
    """An inline SVG: the interval as a line with caps, the mean as a dot, on the column's scale."""
    mean = row[metric]
    low, high = row.get(f"{metric}_ci_low", math.nan), row.get(f"{metric}_ci_high", math.nan)
    if math.isnan(mean) or math.isnan(low) or math.isnan(high):
        return ""
    start, stop = domain
    width, pad = 90.0, 4.0

    def x(value: float) -> float:
        return pad + (width - 2 * pad) * ((value - start) / (stop - start) if stop > start else 0.5)

    label = f"95 % interval {low:.4g} to {high:.4g}, mean {mean:.4g}"
    return (f'<svg width="90" height="10" viewBox="0 0 90 10" role="img" aria-label="{_e(label)}">'
            f'<line x1="{x(low):.1f}" y1="5" x2="{x(high):.1f}" y2="5" stroke="#57606a" stroke-width="1.5"/>'
            f'<line x1="{x(low):.1f}" y1="1" x2="{x(low):.1f}" y2="9" stroke="#57606a"/>'
            f'<line x1="{x(high):.1f}" y1="1" x2="{x(high):.1f}" y2="9" stroke="#57606a"/>'
            f'<circle cx="{x(mean):.1f}" cy="5" r="2.8" fill="#0b5cad"/></svg>')


def _domain(rows: Sequence[Mapping[str, object]], metric: str) -> tuple[float, float]:
    values = [row[key] for row in rows for key in (metric, f"{metric}_ci_low", f"{metric}_ci_high")
              if key in row and not math.isnan(row[key])]
    if not values:
        return 0.0, 1.0
    low, high = min(values), max(values)
    margin = (high - low) * 0.05
    return low - margin, high + margin


def _overall_table(rows: list[dict[str, object]], columns: list[tuple[str, str, int]], *, ranked: bool,
                   domains: Mapping[str, tuple[float, float]], anchors: Mapping[int, str]) -> str:
    heads = ([("rank", "number", "rank")] if ranked else []) + [
        ("model", "text", "model"), ("run", "text", "run folder"), ("pairs", "number", "pairs"),
        ("failures", "number", "failed")]
    header = "".join(f'<th class="{"text" if kind == "text" else "num"}" data-type="{kind}" scope="col">'
                     f'<button type="button">{_e(label)}</button></th>' for _, kind, label in heads)
    header += "".join(f'<th data-type="number" scope="col" title="{_direction(metric)}">'
                      f'<button type="button">{_e(name)} {"&uarr;" if metric in HIGHER_IS_BETTER else "&darr;"}'
                      f'</button></th>' for name, metric, _ in columns)
    body = []
    for row in rows:
        cells = [f'<td data-value="{_number(row["rank"])}">{_e(row["rank"])}</td>'] if ranked else []
        status = "" if row["status"] == "complete" else ' class="text partial"'
        cells.append(f'<td class="text" data-value="{_e(row["model"])}"><a href="#{_e(anchors[id(row["record"])])}"'
                     f'{status}>{_e(row["model"])}</a></td>')
        cells.append(f'<td class="text" data-value="{_e(row["run"])}">{_e(row["run"])}</td>')
        cells += [f'<td data-value="{row[key]}">{row[key]}</td>' for key in ("pairs", "failures")]
        for _, metric, digits in columns:
            text = value_text(row[metric], digits)
            interval = interval_bounds(row, metric, digits)
            cells.append(f'<td data-value="{_number(row[metric])}">{_e(text) or "&ndash;"}'
                         + (f'<span class="ci">{_e(interval)}</span>' if interval else "")
                         + _error_bar(row, metric, domains[metric]) + "</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    label = "ranked complete runs" if ranked else "partial runs, not ranked"
    return (f'<div class="scroll"><table class="sortable overall" aria-label="{label}, over all pairs">'
            f'<thead><tr>{header}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def _heatmap(rows: list[dict[str, object]], name: str, metric: str, digits: int) -> str:
    """Runs (rows, ranking order) x cells (columns, NVIDIA order): the value in each cell, coloured from the
    worst (light) to the best (dark) value of the whole table, so differences are never exaggerated. ``name``:
    the metric's column header (:func:`~benchmark.leaderboard.shown_columns`)."""
    values = [row[f"{metric}@{cell.name}"] for row in rows for cell in CELLS]
    finite = [value for value in values if not math.isnan(value)]
    low, high = (min(finite), max(finite)) if finite else (0.0, 0.0)
    bins = "".join(f'<th scope="colgroup" colspan="2">{_e(cell.name.split("_")[0])} %</th>' for cell in CELLS[::2])
    borders = "".join(f'<th scope="col" title="{_e(cell.name)}">{_e(cell.border)}</th>' for cell in CELLS)
    body = []
    for row in rows:
        label = _e(row["model"]) + ("" if row["status"] == "complete" else " (partial)")
        cells = []
        for cell in CELLS:
            value = row[f"{metric}@{cell.name}"]
            if math.isnan(value):
                cells.append(f'<td data-cell="{cell.name}" data-value="" title="no pair in this cell">&ndash;</td>')
                continue
            share = (value - low) / (high - low) if high > low else 0.5
            background, ink = _colour(share if metric in HIGHER_IS_BETTER else 1 - share)
            title = f"{row['model']}, cell {cell.name}: {interval_text(row, metric, digits + 2, f'@{cell.name}')}"
            cells.append(f'<td data-cell="{cell.name}" data-value="{_number(value)}" style="background:{background};'
                         f'color:{ink}" title="{_e(title)}">{value_text(value, digits)}</td>')
        body.append(f'<tr><th scope="row" class="text">{label}</th>{"".join(cells)}</tr>')
    legend = "".join(f'<span style="background:{_colour(step / 4)[0]}"></span>' for step in range(5))
    return (f'<div class="scroll"><table class="heat" data-metric="{metric}" aria-label="{_e(name)} '
            f'per run and cell"><thead>'
            f'<tr><th class="text" rowspan="2">run</th>{bins}</tr><tr>{borders}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>'
            f'<p class="legend">worst {legend} best ({_direction(metric)}; the colours span this table\'s values, '
            f'{value_text(low, digits)} to {value_text(high, digits)}). Columns: hole-ratio bin; B = no hole within '
            '50 px of the border, N = holes there.'
            + (" Hover a value for its 95 % interval." if any(f"{metric}_ci_low@{cell.name}" in row and not
                                                            math.isnan(row[f"{metric}_ci_low@{cell.name}"])
                                                            for row in rows for cell in CELLS) else "") + "</p>")


def _kv(mapping: Mapping[str, object], order: Sequence[str] = ()) -> str:
    keys = [key for key in order if key in mapping] + [key for key in mapping if key not in order]
    rows = []
    for key in keys:
        value = mapping[key]
        if isinstance(value, Mapping):
            shown = _kv(value) if value else "&ndash;"
        elif isinstance(value, (list, tuple)):
            shown = _e(", ".join(str(item) for item in value))
        else:
            shown = _e("" if value is None else value) or "&ndash;"
        rows.append(f'<tr><th scope="row">{_e(key)}</th><td>{shown}</td></tr>')
    return f'<table class="kv">{"".join(rows)}</table>'


def _anchor(folder: str) -> str:
    """The id of a run's details block (``runs/<protocol>/<run>`` -> ``run--<protocol>--<run>``)."""
    return "run--" + folder.removeprefix("runs/").replace("/", "--")


def _figure(record: RunRecord, grid: _Grid) -> str:
    image = (f'<img src="{_e(grid.thumb)}" width="{grid.width}" height="{grid.height}" loading="lazy" '
             f'alt="{_e(record.name)}, cell {_e(grid.cell)}: input, output, ground truth">')
    if grid.full is not None:
        image = f'<a href="{_e(grid.full)}">{image}</a>'
    return f"<figure>{image}<figcaption>{_e(grid.cell)}</figcaption></figure>"


def _run_block(row: Mapping[str, object], record: RunRecord, folder: str, grids: list[_Grid]) -> str:
    info = dict(record.info)
    info.setdefault("mask_protocol", f"{record.mask_protocol} (not recorded by the run: derived)")
    model = info.get("model") if isinstance(info.get("model"), Mapping) else {}
    status = "complete" if record.complete else f"partial: {record.failures} of {record.pairs} pairs failed"
    figures = "".join(_figure(record, grid) for grid in grids)
    if not grids:
        shown = ""
    elif all(grid.full is not None for grid in grids):
        shown = " Previews; click one for the full-size grid (PNG)."
    else:
        shown = (f" Previews (JPEG, {max(grid.width for grid in grids)} px wide); the full-size grids are in the "
                 "run folder's <code>samples/</code>, left out of this page.")
    reasons = "".join(f"<li>{_e(reason)} ({count})</li>" for reason, count in record.reasons.items())
    return (f'<details class="run" id="{_e(_anchor(folder))}"><summary>{_e(record.name)} '
            f'<span class="note">({_e(model.get("kind", ""))}, run folder {_e(record.folder.name)}, {_e(status)}'
            f'{", rank " + _e(row["rank"]) if row["rank"] != "" else ""})</span></summary>'
            + (f'<p class="note">Failure reasons:</p><ul class="note">{reasons}</ul>' if reasons else "")
            + f'<h4>Sample grids</h4><p class="note">Per cell, the first pairs: masked input, output (composite), '
              f'ground truth.{shown}</p><div class="grids">{figures or "<p class=note>none</p>"}</div>'
            + f'<h4>run.json (<a href="{_e(folder)}/run.json">file</a>)</h4><p class="note">Local paths cut to their '
              "last folder or file name (&hellip;/name); the fingerprints identify the mask and image sets.</p>"
            + f"{_kv(info, _DETAIL_ORDER)}</details>")


def _section(section: ProtocolSection, rows: list[dict[str, object]], slug: str, plot: str,
             run_files: Mapping[int, tuple[str, list[_Grid]]], rank_by: str) -> str:
    info = section.info
    columns = shown_columns(rows)
    domains = {metric: _domain(rows, metric) for _, metric, _ in columns}
    anchors = {key: _anchor(folder) for key, (folder, _) in run_files.items()}
    complete = [row for row in rows if row["status"] == "complete"]
    partial = [row for row in rows if row["status"] != "complete"]
    intervals = any(record.intervals for record in section.runs)
    pairs = info["pairs"]
    parts = [f'<section id="protocol-{_e(slug)}"><h2>Mask protocol <code>{_e(section.mask_protocol)}</code></h2>',
             f'<p class="meta">Mask set <code>{_e(str(info["dataset"]["fingerprint"])[:12])}</code>, image set '
             f'<code>{_e(str(info["images"]["fingerprint"])[:12])}</code> ({_e(info["images"].get("count", "?"))} '
             f'images), {_e(pairs["count"])} pairs (seed {_e(pairs.get("seed"))}, '
             + (f'at most {_e(pairs["per_cell"])} masks per cell' if pairs.get("per_cell") else "every mask")
             + f') at {_e(info["protocol"]["size"])} px; composite output. '
             f'{len(section.runs)} run{"s" if len(section.runs) != 1 else ""}, ranked by {_e(rank_by)} '
             f'({_direction(rank_by)}) within this protocol only.'
             + (" Under each mean: its bootstrap 95 % interval, drawn on the column's scale." if intervals else
                " The runs carry no intervals (scored before they were recorded): means only.") + "</p>",
             "<h3>Overall</h3>"]
    if complete:
        parts.append(_overall_table(complete, columns, ranked=True, domains=domains, anchors=anchors))
    if partial:
        parts.append('<h3>Partial runs, not ranked</h3><p class="note">Some pairs failed; their means cover only '
                     'the pairs they answered, so they are not comparable with complete runs.</p>')
        parts.append(_overall_table(partial, columns, ranked=False, domains=domains, anchors=anchors))
    parts.append("<h3>Per cell</h3>")
    for name, metric, digits in columns:
        if all(math.isnan(row[f"{metric}@{cell.name}"]) for row in rows for cell in CELLS):
            continue
        opened = " open" if metric == rank_by else ""
        parts.append(f"<details{opened}><summary>{_e(name)} per cell ({_direction(metric)})</summary>"
                     f"{_heatmap(rows, name, metric, digits)}</details>")
    parts.append(f'<h3>Plot</h3><img class="plot" src="{_e(plot)}" alt="{_e(rank_by)} per cell against the hole '
                 f'ratio for the runs of {_e(section.mask_protocol)}">')
    parts.append("<h3>Runs</h3>")
    for row in rows:
        folder, grids = run_files[id(row["record"])]
        parts.append(_run_block(row, row["record"], folder, grids))
    parts.append("</section>")
    return "\n".join(parts)


def _local_folders(board: Leaderboard) -> list[Path]:
    """The local folders a page must not show: the run folders and the folders their runs recorded (mask
    set, images, a predictions folder)."""
    folders = [record.folder for record in (*board.runs, *board.left_out)]
    for record in (*board.runs, *board.left_out):
        info = record.info
        recorded = [info[key].get("path") for key in ("dataset", "images") if isinstance(info.get(key), Mapping)]
        model = info.get("model") if isinstance(info.get("model"), Mapping) else {}
        if model.get("kind") == "predictions":
            recorded.append(model.get("spec"))
        folders += [Path(path) for path in recorded if isinstance(path, str) and Path(path).is_absolute()]
    return folders


def published_board(board: Leaderboard, redactor: PathRedactor | None = None) -> Leaderboard:
    """``board`` as the page shows it: each run's ``run.json`` (``info``), failure reasons and the notes
    with the local paths cut (:class:`~benchmark.redact.PathRedactor`, by default one knowing the board's
    folders, the home and working folders). Figures, fingerprints and hashes are unchanged; ``folder`` still
    points at the run (read for its grids)."""
    redactor = redactor or PathRedactor.for_folders(_local_folders(board))
    notes = list(board.notes)
    for record in board.left_out:  # "left out NAME (FOLDER, ...)": a relative FOLDER is cut like an absolute one
        if not record.folder.is_absolute():
            notes = [note.replace(f"({record.folder}, ", f"({record.folder.absolute()}, ") for note in notes]
    sections = []
    for section in board.sections:
        runs = []
        for record in section.runs:
            reasons: dict[str, int] = {}
            for reason, count in record.reasons.items():
                key = redactor.text(reason)
                reasons[key] = reasons.get(key, 0) + count
            runs.append(replace(record, info=redactor.json(dict(record.info)), reasons=reasons))
        sections.append(replace(section, mask_protocol=redactor.text(section.mask_protocol), runs=runs))
    return replace(board, sections=sections, notes=[redactor.text(note) for note in notes], left_out=[])


def _render(board: Leaderboard, *, rank_by: str, plot_metric: str | None, thumb_width: int,
            full_grids: bool) -> tuple[list[PageFile], list[PublishedRun], PathRedactor]:
    """The page's files (``index.html`` last), its runs and the redactor that cut their local paths, for
    :func:`render_page` and :func:`publish_page`."""
    redactor = PathRedactor.for_folders(_local_folders(board))
    board = published_board(board, redactor)
    plot_metric = plot_metric or rank_by
    files: list[PageFile] = []
    listed: list[PublishedRun] = []
    taken: set[str] = set()
    sections, links = [], []
    for section in board.sections:
        rows = section_rows(section, rank_by=rank_by)
        slug = _slug(section.mask_protocol, taken)
        plot = f"plot_{slug}.png"
        files.append(PageFile(plot, plot_png([(section.mask_protocol, rows)], plot_metric)))
        run_files: dict[int, tuple[str, list[_Grid]]] = {}
        run_taken: set[str] = set()
        for row in rows:
            record: RunRecord = row["record"]
            folder = f"runs/{slug}/{_slug(record.folder.name, run_taken)}"
            listed.append(PublishedRun(record.name, record.folder.name, section.mask_protocol, folder))
            files.append(PageFile(f"{folder}/run.json", (json.dumps(record.info, indent=2) + "\n").encode("utf-8")))
            grids = []
            for cell in CELLS:
                grid = record.folder / "samples" / f"grid_{cell.name}.png"
                if not grid.is_file():
                    continue
                thumb = grid_thumbnail(grid.read_bytes(), what=str(grid), width=thumb_width)
                files.append(PageFile(f"{folder}/grid_{cell.name}.jpg", thumb.data))
                full = f"{folder}/grid_{cell.name}.png" if full_grids else None
                if full is not None:
                    files.append(PageFile(full, source=grid))
                grids.append(_Grid(cell.name, f"{folder}/grid_{cell.name}.jpg", thumb.width, thumb.height, full))
            run_files[id(record)] = (folder, grids)
        sections.append(_section(section, rows, slug, plot, run_files, rank_by))
        links.append(f'<a href="#protocol-{_e(slug)}">{_e(section.mask_protocol)}</a>')
    notes = "".join(f"<li>{_e(note)}</li>" for note in board.notes)
    count = len(board.runs)
    page = "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Inpainting leaderboard: {_e(', '.join(s.mask_protocol for s in board.sections))}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<header><h1>Inpainting leaderboard</h1>",
        f'<p class="meta">{count} run{"s" if count != 1 else ""} on {len(board.sections)} mask protocol'
        f'{"s" if len(board.sections) != 1 else ""}; each protocol is ranked on its own, never across protocols. '
        "Every figure is recomputed from the runs' per-image results; complete runs are ranked, partial runs "
        "listed apart. Click a column header to sort. Made by benchmark "
        f"{_e(__version__)} (<code>benchmark leaderboard --html</code>).</p>",
        f"<nav>Protocols: {' '.join(links)}</nav></header>",
        *sections,
        f'<footer><h3>Notes</h3><ul class="note">{notes}</ul></footer>' if notes else "",
        f"<script>{_JS}</script>", "</body></html>", ""])
    files.append(PageFile(INDEX, page.encode("utf-8")))
    _check_no_leak(redactor, [(page_file.path, page_file.data) for page_file in files
                              if page_file.data is not None and not page_file.path.endswith((".png", ".jpg"))])
    return files, listed, redactor


def _check_no_leak(redactor: PathRedactor, texts: Iterable[tuple[str, bytes]]) -> None:
    """ValueError when a text file of the page still shows a known local folder (a last guard: the
    redaction should have cut every one)."""
    for path, data in texts:
        leaks = redactor.leaks(data.decode("utf-8"))
        if leaks:
            raise ValueError(f"refusing to publish: the page's {path} would show the local folder {leaks[0]!r}")


def render_page(board: Leaderboard, *, rank_by: str = "l1", plot_metric: str | None = None,
                thumb_width: int = THUMB_WIDTH, full_grids: bool = False) -> list[PageFile]:
    """Every file of the page (:class:`PageFile`, ``index.html`` last) but ``page.json``: see the module doc.

    Args:
        rank_by: the metric that orders each protocol's ranking (and whose heatmap is open).
        plot_metric: the metric of the plots (default ``rank_by``).
        thumb_width: the largest width of the grid previews in px (>= 16; a narrower grid keeps its size).
        full_grids: also copy each full-size grid (PNG, byte for byte), linked from its preview.

    Raises:
        ValueError: a grid cannot be read, ``thumb_width`` < 16, or the page would show a local folder.
    """
    return _render(board, rank_by=rank_by, plot_metric=plot_metric, thumb_width=thumb_width,
                   full_grids=full_grids)[0]


# -- writing -----------------------------------------------------------------------------------------------------


def _earlier_files(out: Path, marker: Mapping[str, object]) -> list[Path]:
    """The files an earlier page listed, kept only when they are plain relative paths inside ``out``."""
    listed = marker.get("files") if isinstance(marker.get("files"), list) else []
    paths = []
    for name in listed:
        relative = PurePosixPath(str(name))
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            continue
        path = out / relative
        if path.resolve().is_relative_to(out.resolve()) and path.is_file():
            paths.append(path)
    return paths


def _check_out(out: Path, *, overwrite: bool, protected: Iterable[Path]) -> dict[str, object] | None:
    """The earlier page's ``page.json`` (None when ``out`` is new or empty); raises ValueError for a folder
    holding other files, or an earlier page without ``overwrite``."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--html {str(out)!r} is a file; give a folder for the page")
    names = {entry.name for entry in out.iterdir()} - {LOCK_NAME} if out.is_dir() else set()
    if not names:
        return None
    marker = read_json(out / PAGE_MARKER)
    if not isinstance(marker, dict) or marker.get("format") != PAGE_FORMAT:
        raise ValueError(f"refusing to write the page into {str(out)!r}: it holds other files and no earlier page "
                         f"({PAGE_MARKER}); choose a new or empty folder")
    if not overwrite:
        raise ValueError(f"{str(out)!r} holds an earlier page; add --overwrite to replace it")
    check_can_clear(out, markers=[PAGE_MARKER], protected=protected, what="leaderboard page")
    return marker


def check_page_folder(board: Leaderboard, out: Path, *, overwrite: bool = False) -> None:
    """Raise ValueError (one line) unless :func:`publish_page` may write into ``out``: a new or empty
    folder, or an earlier page with ``overwrite``; never a file, a folder holding other files, or one that
    is or holds a run (checked again under the folder's lock when the page is written)."""
    out = Path(out)
    for folder in (record.folder for record in board.runs):
        resolved, target = folder.resolve(), out.resolve()
        if target == resolved or target in resolved.parents:
            raise ValueError(f"--html {str(out)!r} holds the run {str(folder)!r}; choose a folder for the page alone")
    _check_out(out, overwrite=overwrite, protected=[record.folder for record in board.runs])


def publish_page(board: Leaderboard, out: Path, *, rank_by: str = "l1", plot_metric: str | None = None,
                 overwrite: bool = False, thumb_width: int = THUMB_WIDTH, full_grids: bool = False) -> Path:
    """Write the page (:func:`render_page`, same options) into ``out`` (see the module doc); returns
    ``out/index.html``. ``page.json`` records the runs (:class:`PublishedRun`, no local path), the options
    and the files.

    Raises:
        ValueError: see :func:`check_page_folder` and :func:`render_page`; FolderBusyError: another process
            writes ``out``.
    """
    out = Path(out)
    check_page_folder(board, out, overwrite=overwrite)
    protected = [record.folder for record in board.runs]
    files, runs, redactor = _render(board, rank_by=rank_by, plot_metric=plot_metric, thumb_width=thumb_width,
                                    full_grids=full_grids)
    final = json.dumps({
        "format": PAGE_FORMAT, "state": "complete", "benchmark": __version__, "rank_by": rank_by,
        "plot_metric": plot_metric or rank_by, "thumb_width": thumb_width, "full_grids": full_grids,
        "local_paths": "cut to their last folder or file name (\u2026/name); the runs' fingerprints identify "
                       "their inputs",
        "runs": [asdict(run) for run in runs], "mask_protocols": sorted({run.mask_protocol for run in runs}),
        "files": [page_file.path for page_file in files]}, indent=2) + "\n"
    _check_no_leak(redactor, [(PAGE_MARKER, final.encode("utf-8"))])
    with FolderLock(out, purpose="benchmark leaderboard --html"):
        marker = _check_out(out, overwrite=overwrite, protected=protected)
        written = [page_file.path for page_file in files]
        earlier = [path.relative_to(out).as_posix() for path in _earlier_files(out, marker or {})]
        # listed first, old and new files together: a page cut off while written is still a page to replace
        atomic_write_text(out / PAGE_MARKER, json.dumps({"format": PAGE_FORMAT, "state": "writing",
                                                         "files": sorted({*earlier, *written})}, indent=2) + "\n")
        for page_file in files:  # index.html last: the old page stays whole until it is replaced
            atomic_write_bytes(out / page_file.path, page_file.content())
        atomic_write_text(out / PAGE_MARKER, final)
        if marker is not None:
            keep = {out / name for name in written}
            for path in _earlier_files(out, marker):
                if path not in keep:
                    path.unlink(missing_ok=True)
            for folder in sorted((p for p in (out / "runs").rglob("*") if p.is_dir()), reverse=True) \
                    if (out / "runs").is_dir() else []:
                if not any(folder.iterdir()):
                    folder.rmdir()
    return out / INDEX

