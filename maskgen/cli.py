"""``maskgen`` command line: build, export, import, stats, flows. Parses options and calls the library."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Callable, TypeVar

import click

from inpaint_core.cli import OneLineErrors, dataclass_options, options_from, quiet_opencv_logs

from .augment import AugmentOptions
from .build import BuildOptions
from .extract import ExtractOptions
from .occlusion import OcclusionOptions

__all__ = ["main"]

F = TypeVar("F", bound=Callable[..., Any])


@click.group(cls=OneLineErrors)
@click.option("-v", "--verbose", is_flag=True, help="Log details (skipped inputs, cache use, OpenCV's own warnings).")
def main(verbose: bool) -> None:
    """Irregular hole masks from video occlusion, binned like NVIDIA's PConv test set."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s: %(message)s")
    if not verbose:
        quiet_opencv_logs()


# BuildOptions' own options, around --workers as --help has always listed them
_seed_option = dataclass_options(BuildOptions, exclude=("per_cell", "train_count", "test_fraction", "test_clips"))
_split_options = dataclass_options(BuildOptions, exclude=("seed",))


def _build_options(function: F) -> F:
    """The build's options in their --help order: --video-dir, --out, --seed, --workers, the split
    (--per-cell ... --test-clips), extraction (--flow ... --max-pairs), augmentation (--size ...), occlusion
    cues, --overwrite, --quiet. Those of an options dataclass come from its fields (default and help)."""
    decorators = [
        click.option("--video-dir", required=True, type=click.Path(file_okay=False, path_type=Path),
                     help="Folder searched recursively for videos and frame folders."),
        click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Dataset folder."),
        _seed_option,
        click.option("--workers", default=1, show_default=True, help="Processes (the output does not depend on it)."),
        _split_options,
        dataclass_options(ExtractOptions),
        dataclass_options(AugmentOptions),
        dataclass_options(OcclusionOptions),
        click.option("--overwrite", is_flag=True,
                     help="Start from an empty --out: delete the dataset there and its caches (only a maskgen "
                          "dataset, never an input folder)."),
        click.option("--quiet", is_flag=True, help="No progress bars."),
    ]
    for decorate in reversed(decorators):
        function = decorate(function)
    return function


@main.command()
@_build_options
def build(video_dir: Path, out: Path, workers: int, overwrite: bool, quiet: bool, **params: Any) -> None:
    """Build a binned mask dataset from the clips under --video-dir."""
    import time

    from .build import build_dataset
    from .flow import create_flow

    create_flow(params["flow"])  # fail fast on an unknown or broken flow method
    options = options_from(
        BuildOptions, params,
        extract=options_from(ExtractOptions, params, occlusion=options_from(OcclusionOptions, params)),
        augment=options_from(AugmentOptions, params),
    )
    started = time.perf_counter()
    result = build_dataset(video_dir, out, options, workers=workers, overwrite=overwrite, progress=not quiet)
    if result.up_to_date:
        click.echo(f"{out}: up to date (same clips and options); nothing to do")
        return
    _report_build(out, result.info, time.perf_counter() - started)


def _report_build(out: Path, info: dict[str, Any], elapsed: float) -> None:
    counts = info["counts"]
    clips = info["clips"]
    click.echo(f"built {out} in {elapsed:.0f} s: {counts['test_total']} test masks, {counts['train']} training masks")
    used = [c for c in clips if c["split"] != "skipped"]
    click.echo(f"clips: {len(used)} used ({sum(c['split'] == 'test' for c in used)} test, "
               f"{sum(c['split'] == 'train' for c in used)} train), {len(info['skipped'])} inputs skipped")
    click.echo("per cell: " + ", ".join(f"{k} {v}" for k, v in counts["test"].items()))
    for entry in info["skipped"]:
        click.echo(f"skipped {entry['path']}: {entry['reason']}", err=True)
    for short in info["shortfalls"]:
        click.echo(f"short: {short['split']} {short['cell']}: {short['reason']}", err=True)
    click.echo(f"fingerprint {info['fingerprint']}")


@main.command(name="export")
@click.argument("dataset", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--layout", type=click.Choice(["nvidia"]), default="nvidia", show_default=True,
              help="File layout: nvidia = 00000.png ... in NVIDIA's block order (bin, then B before N).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the exported masks and export.csv.")
@click.option("--per-cell", type=int, default=None, help="Masks per block (default: all, cells must be equal).")
@click.option("--overwrite", is_flag=True, help="Replace an earlier export in --out.")
def export_command(dataset: Path, layout: str, out: Path, per_cell: int | None, overwrite: bool) -> None:
    """Write a dataset's test split as 00000.png ... in NVIDIA's block order."""
    from .layout import export_nvidia

    result = export_nvidia(dataset, out, per_cell=per_cell, overwrite=overwrite)
    click.echo(f"wrote {result['files']} masks to {out} ({result['block_size']} per block, NVIDIA order)")


@main.command(name="import")
@click.argument("source", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Dataset folder to create.")
@click.option("--layout", type=click.Choice(["auto", "nvidia", "folder"]), default="auto", show_default=True,
              help="nvidia: NNNNN.png names whose number gives the cell (checked); folder: cells from the pixels "
                   "only; auto: nvidia when every name is NNNNN.png.")
@click.option("--polarity", type=click.Choice(["auto", "hole-white", "hole-black"]), default="auto", show_default=True,
              help="Which colour is the hole in the source files (auto: from the median white fraction).")
@click.option("--block-size", type=int, default=None, help="NVIDIA block size (default: files/12 if contiguous, else 1000).")
@click.option("--overwrite", is_flag=True, help="Replace a dataset in --out (only a maskgen dataset).")
@click.option("--border-margin", type=click.IntRange(min=1), default=None,
              help="B/N border margin in px (default: 50 px per 512 px of the mask side).")
def import_command(source: Path, out: Path, layout: str, polarity: str, block_size: int | None,
                   overwrite: bool, border_margin: int | None) -> None:
    """Turn a folder of masks (NVIDIA's test set or any other) into a maskgen dataset."""
    from .layout import import_masks

    info = import_masks(source, out, layout=layout, polarity=polarity, block_size=block_size, overwrite=overwrite,
                        border_margin=border_margin)
    counts = info["counts"]
    click.echo(f"imported {counts['test_total']} masks into {out} (layout {info['layout']}, polarity "
               f"{info['polarity']}{' detected' if info['polarity_detected'] else ''}); "
               f"{counts['unbinned']} outside all bins, {len(info['skipped'])} unreadable")
    click.echo("per cell: " + ", ".join(f"{k} {v}" for k, v in counts["test"].items()))
    if info["files_with_grey_pixels"]:
        click.echo(f"note: {info['files_with_grey_pixels']} files had grey pixels (thresholded at 128)", err=True)
    mismatches = info["layout_mismatches"]
    if info["layout"] == "nvidia":
        click.echo(f"layout check: {len(mismatches)} files outside the cell their number implies")
        for item in mismatches[:10]:
            click.echo(f"  {item['file']}: expected {item['expected']}, found {item['found']}", err=True)


@main.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--vs", "reference", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="A second mask set (dataset or mask folder) to compare with: per-feature distances per bin and "
                   "per-cell medians.")
@click.option("--png", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --vs: draw the distributions side by side to this PNG.")
@click.option("--sample", default=0, show_default=True, help="Measure shapes on at most N masks per cell (0 = all).")
@click.option("--polarity", type=click.Choice(["auto", "hole-white", "hole-black"]), default="auto", show_default=True,
              help="For a plain mask folder without manifest (both sets with --vs).")
@click.option("--border-margin", type=click.IntRange(min=1), default=None,
              help="B/N margin in px for a plain mask folder (default: 50 px per 512 px of the side; a dataset "
                   "uses the one in its dataset.json).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def stats(folder: Path, reference: Path | None, png: Path | None, sample: int, polarity: str,
          border_margin: int | None, as_json: bool) -> None:
    """Counts per cell and shape statistics of a dataset or mask folder; with --vs, how alike two sets are."""
    from inpaint_core.files import atomic_write_bytes

    from .stats import dataset_stats, format_likeness, format_stats, likeness, likeness_png, measure_mask_set

    if reference is None:
        if png is not None:
            raise click.UsageError("--png draws the comparison: it needs --vs")
        result = dataset_stats(folder, sample=sample, polarity=polarity)
        click.echo(json.dumps(result, indent=2) if as_json else format_stats(result))
        return
    ours = measure_mask_set(folder, sample=sample, polarity=polarity, border_margin=border_margin)
    theirs = measure_mask_set(reference, sample=sample, polarity=polarity, border_margin=border_margin)
    compared = likeness(ours, theirs)
    labels = (folder.name or str(folder), reference.name or str(reference))
    if png is not None:
        atomic_write_bytes(png, likeness_png(ours, theirs, compared, labels=labels))
    if as_json:
        click.echo(json.dumps(dict(compared.to_dict(), sets=list(labels)), indent=2))
    else:
        click.echo(format_likeness(compared, ours=labels[0], reference=labels[1]))
        if png is not None:
            click.echo(f"wrote {png}")


@main.command()
def flows() -> None:
    """List the flow methods (built-in and installed plug-ins)."""
    from .flow import list_flows

    for name in list_flows():
        click.echo(name)


if __name__ == "__main__":  # pragma: no cover
    main()
