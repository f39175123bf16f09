"""``maskgen`` command line: build, export, import, stats, flows. Parses options and calls the library."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from inpaint_core.cli import OneLineErrors

__all__ = ["main"]


@click.group(cls=OneLineErrors)
@click.option("-v", "--verbose", is_flag=True, help="Log details (skipped inputs, cache use).")
def main(verbose: bool) -> None:
    """Irregular hole masks from video occlusion, binned like NVIDIA's PConv test set."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s: %(message)s")


def _split_patterns(value: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in value.split(",") if p.strip())


@main.command()
@click.option("--video-dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder searched recursively for videos and frame folders.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Dataset folder.")
@click.option("--seed", default=0, show_default=True, help="Build seed.")
@click.option("--workers", default=1, show_default=True, help="Processes (the output does not depend on it).")
@click.option("--per-cell", default=1000, show_default=True, help="Test masks per (bin, border) cell.")
@click.option("--train-count", default=5000, show_default=True, help="Training masks (other clips, no ratio cap).")
@click.option("--test-fraction", default=0.7, show_default=True, help="Share of raw masks whose clips form the test split.")
@click.option("--test-clips", default="", help="Comma-separated clip-id patterns forming the test split (overrides --test-fraction).")
@click.option("--flow", default="dis", show_default=True, help="Flow method: a name from 'maskgen flows' or module:factory.")
@click.option("--work-size", default=1024, show_default=True, help="Longer frame side for flow (never upscaled).")
@click.option("--step", default=1, show_default=True, help="Frame gap k of a pair (t, t+k).")
@click.option("--stride", default=4, show_default=True, help="Frames between the starts of consecutive pairs.")
@click.option("--max-pairs", default=0, show_default=True, help="At most this many pairs per clip (0 = all).")
@click.option("--size", default=512, show_default=True, help="Output mask side.")
@click.option("--min-dilation", default=9, show_default=True, help="Smallest dilation disk diameter (odd, px).")
@click.option("--max-dilation", default=49, show_default=True, help="Largest dilation disk diameter (odd, px).")
@click.option("--motion-boundaries/--no-motion-boundaries", default=False, show_default=True,
              help="Mark motion boundaries (Sundaram et al.).")
@click.option("--out-of-frame/--no-out-of-frame", default=False, show_default=True,
              help="Mark pixels that leave the frame.")
@click.option("--range-map/--no-range-map", default=True, show_default=True, help="Range-map occlusion cue.")
@click.option("--photometric/--no-photometric", default=True, show_default=True, help="Photometric occlusion cue.")
@click.option("--overwrite", is_flag=True, help="Replace a dataset built with other options in --out.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def build(video_dir: Path, out: Path, seed: int, workers: int, per_cell: int, train_count: int,
          test_fraction: float, test_clips: str, flow: str, work_size: int, step: int, stride: int,
          max_pairs: int, size: int, min_dilation: int, max_dilation: int, motion_boundaries: bool,
          out_of_frame: bool, range_map: bool, photometric: bool, overwrite: bool, quiet: bool) -> None:
    """Build a binned mask dataset from the clips under --video-dir."""
    import time

    from .augment import AugmentOptions
    from .build import BuildOptions, build_dataset
    from .extract import ExtractOptions
    from .flow import create_flow
    from .occlusion import OcclusionOptions

    create_flow(flow)  # fail fast on an unknown or broken flow method
    options = BuildOptions(
        extract=ExtractOptions(flow=flow, work_size=work_size, step=step, stride=stride, max_pairs=max_pairs,
                               occlusion=OcclusionOptions(motion_boundaries=motion_boundaries,
                                                          out_of_frame=out_of_frame, range_map=range_map,
                                                          photometric=photometric)),
        augment=AugmentOptions(size=size, min_dilation=min_dilation, max_dilation=max_dilation),
        seed=seed, per_cell=per_cell, train_count=train_count, test_fraction=test_fraction,
        test_clips=_split_patterns(test_clips),
    )
    started = time.perf_counter()
    result = build_dataset(video_dir, out, options, workers=workers, overwrite=overwrite, progress=not quiet)
    info = result.info
    if result.up_to_date:
        click.echo(f"{out}: up to date (same clips and options); nothing to do")
        return
    elapsed = time.perf_counter() - started
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
@click.option("--layout", type=click.Choice(["nvidia"]), default="nvidia", show_default=True)
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--per-cell", type=int, default=None, help="Masks per block (default: all, cells must be equal).")
@click.option("--overwrite", is_flag=True)
def export_command(dataset: Path, layout: str, out: Path, per_cell: int | None, overwrite: bool) -> None:
    """Write a dataset's test split as 00000.png ... in NVIDIA's block order."""
    from .layout import export_nvidia

    result = export_nvidia(dataset, out, per_cell=per_cell, overwrite=overwrite)
    click.echo(f"wrote {result['files']} masks to {out} ({result['block_size']} per block, NVIDIA order)")


@main.command(name="import")
@click.argument("source", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--layout", type=click.Choice(["auto", "nvidia", "folder"]), default="auto", show_default=True)
@click.option("--polarity", type=click.Choice(["auto", "hole-white", "hole-black"]), default="auto", show_default=True)
@click.option("--block-size", type=int, default=None, help="NVIDIA block size (default: files/12 if contiguous, else 1000).")
@click.option("--overwrite", is_flag=True)
def import_command(source: Path, out: Path, layout: str, polarity: str, block_size: int | None,
                   overwrite: bool) -> None:
    """Turn a folder of masks (NVIDIA's test set or any other) into a maskgen dataset."""
    from .layout import import_masks

    info = import_masks(source, out, layout=layout, polarity=polarity, block_size=block_size, overwrite=overwrite)
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
@click.option("--sample", default=0, show_default=True, help="Measure shapes on at most N masks per cell (0 = all).")
@click.option("--polarity", type=click.Choice(["auto", "hole-white", "hole-black"]), default="auto", show_default=True,
              help="For a plain mask folder without manifest.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def stats(folder: Path, sample: int, polarity: str, as_json: bool) -> None:
    """Counts per cell and shape statistics (components, stroke width) of a dataset or mask folder."""
    from .stats import dataset_stats, format_stats

    result = dataset_stats(folder, sample=sample, polarity=polarity)
    click.echo(json.dumps(result, indent=2) if as_json else format_stats(result))


@main.command()
def flows() -> None:
    """List the flow methods (built-in and installed plug-ins)."""
    from .flow import list_flows

    for name in list_flows():
        click.echo(name)


if __name__ == "__main__":  # pragma: no cover
    main()
