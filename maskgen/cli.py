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
from .verify import DEFAULT_HASH_THREADS

__all__ = ["main"]

F = TypeVar("F", bound=Callable[..., Any])


@click.group(cls=OneLineErrors)
@click.option("-v", "--verbose", is_flag=True, help="Log details (skipped inputs, cache use, OpenCV's own warnings).")
def main(verbose: bool) -> None:
    """Irregular hole masks from video occlusion, binned like NVIDIA's PConv test set."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s: %(message)s")
    if not verbose:
        quiet_opencv_logs()


class _FolderOrURL(click.ParamType):
    """A local folder (as ``click.Path(file_okay=False)``: a ``Path``) or an fsspec URL (kept as ``str``:
    ``Path`` would fold its ``//``); the URL is checked when the build lists it."""

    name = "folder|URL"
    _folder = click.Path(file_okay=False, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from .sources import is_url

        if isinstance(value, str) and is_url(value):
            return value
        return self._folder.convert(value, param, ctx)


# BuildOptions' own options, around --workers as --help has always listed them
_seed_option = dataclass_options(BuildOptions, exclude=("per_cell", "train_count", "test_fraction", "test_clips"))
_split_options = dataclass_options(BuildOptions, exclude=("seed",))


def _build_options(function: F) -> F:
    """The build's options in their --help order: --video-dir, --out, --seed, --workers, the split
    (--per-cell ... --test-clips), extraction (--flow ... --max-pairs), augmentation (--size ...), occlusion
    cues, --engine, --ray-address, --overwrite, --quiet. Those of an options dataclass come from its fields
    (default and help)."""
    decorators = [
        click.option("--video-dir", required=True, type=_FolderOrURL(),
                     help="Folder searched recursively for videos and frame folders, or an fsspec URL "
                          "(s3://bucket/clips, gs://..., file:///...; pip install '.[fsspec]' and the "
                          "protocol's package)."),
        click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Dataset folder."),
        _seed_option,
        click.option("--workers", default=1, show_default=True,
                     help="Processes (the output does not depend on it); with --engine ray: at most N tasks at "
                          "once (default: the cluster's CPUs)."),
        _split_options,
        dataclass_options(ExtractOptions),
        dataclass_options(AugmentOptions),
        dataclass_options(OcclusionOptions),
        click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
                     help="Where tasks run: local processes, or a Ray cluster (pip install '.[ray]'); same bytes."),
        click.option("--ray-address", default=None,
                     help="Ray cluster to join (--engine ray; default $RAY_ADDRESS, else a Ray instance here)."),
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
@click.pass_context
def build(context: click.Context, video_dir: Path | str, out: Path, workers: int, engine: str, ray_address: str | None,
          overwrite: bool, quiet: bool, **params: Any) -> None:
    """Build a binned mask dataset from the clips under --video-dir."""
    import time

    if ray_address is not None and engine != "ray":
        raise click.UsageError("--ray-address needs --engine ray")
    if engine == "ray" and context.get_parameter_source("workers") is click.core.ParameterSource.DEFAULT:
        workers = None  # the whole cluster

    from .build import build_dataset

    options = options_from(
        BuildOptions, params,
        extract=options_from(ExtractOptions, params, occlusion=options_from(OcclusionOptions, params)),
        augment=options_from(AugmentOptions, params),
    )
    options.extract.make_flow()  # fail fast on an unknown or broken flow method, or weights it cannot take
    started = time.perf_counter()
    result = build_dataset(video_dir, out, options, workers=workers, overwrite=overwrite, progress=not quiet,
                           engine=engine, address=ray_address)
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
@click.option("--protocol", default=None,
              help="Mask protocol name of a set that is not NVIDIA's released one (default: imported). NVIDIA's "
                   "released set, checked file by file, is always nvidia-test (a subset: nvidia-test-subset).")
@click.option("--border-margin", type=click.IntRange(min=1), default=None,
              help="B/N border margin in px (default: 50 px per 512 px of the mask side).")
def import_command(source: Path, out: Path, layout: str, polarity: str, block_size: int | None,
                   overwrite: bool, protocol: str | None, border_margin: int | None) -> None:
    """Turn a folder of masks (NVIDIA's test set or any other) into a maskgen dataset."""
    from .layout import import_masks

    info = import_masks(source, out, layout=layout, polarity=polarity, block_size=block_size, overwrite=overwrite,
                        protocol=protocol, border_margin=border_margin)
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
        check = info["nvidia_verification"]
        click.echo(f"NVIDIA check: {check['summary']}"
                   + ("" if check["status"] != "not-released" else f" (names: maskgen verify-nvidia {source})"))
    click.echo(f"mask protocol: {info['mask_protocol']}")


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
        result = dataset_stats(folder, sample=sample, polarity=polarity, border_margin=border_margin)
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


@main.command(name="verify-nvidia")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--subset-ok", is_flag=True,
              help="Exit 0 for a subset too (fewer files, each a released file under its own name).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON, every name listed.")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(min=1),
              help="Names listed per class of file in the text report.")
@click.option("--threads", default=DEFAULT_HASH_THREADS, show_default=True, type=click.IntRange(1, 64),
              help="Files hashed side by side.")
def verify_nvidia_command(folder: Path, subset_ok: bool, as_json: bool, limit: int, threads: int) -> None:
    """Check a copy of NVIDIA's 12,000 test masks against the sha256 of every released file.

    Names missing, altered (released name, other bytes), misnamed (a released file under another name, with
    the name, block and cell it belongs to), duplicate and extra files. Exit 0 when the copy is complete
    and identical to the released set (or, with --subset-ok, a subset of released files each under its own
    name), 1 otherwise.
    """
    from .verify import format_report, verify_nvidia

    report = verify_nvidia(folder, threads=threads)
    click.echo(json.dumps(report.to_json(), indent=2) if as_json else format_report(report, limit=limit))
    if not (report.status == "complete" or report.status == "subset" and subset_ok):
        raise click.exceptions.Exit(1)


def _generate_options(function: F) -> F:
    from .families.generate import GenerateOptions

    decorators = [
        dataclass_options(GenerateOptions),
        click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Dataset folder."),
        click.option("--workers", default=1, show_default=True, help="Processes (the output does not depend on it)."),
        click.option("--overwrite", is_flag=True,
                     help="Replace what --out holds (only a maskgen dataset)."),
        click.option("--quiet", is_flag=True, help="No progress bar."),
    ]
    for decorate in reversed(decorators):
        function = decorate(function)
    return function


@main.command()
@_generate_options
def generate(out: Path, workers: int, overwrite: bool, quiet: bool, **params: Any) -> None:
    """Write a published random mask family (LaMa, MAT, CoModGAN, DeepFill v2) as a binned dataset."""
    from .families.generate import GenerateOptions, generate_dataset

    options = options_from(GenerateOptions, params)
    result = generate_dataset(out, options, workers=workers, overwrite=overwrite, progress=not quiet)
    info = result.info
    if result.up_to_date:
        click.echo(f"{out}: up to date ({info['mask_protocol']}, same options); nothing to do")
        return
    counts = info["counts"]
    click.echo(f"generated {out}: {options.count} masks of {info['mask_protocol']}, {counts['test_total']} in the "
               f"12 cells, {counts['unbinned']} outside them")
    click.echo("per cell: " + ", ".join(f"{k} {v}" for k, v in counts["test"].items()))
    click.echo(f"fingerprint {info['fingerprint']}")


@main.command()
def families() -> None:
    """List the random mask families (built-in and installed plug-ins)."""
    from .families import list_families

    for name in list_families():
        click.echo(name)


if __name__ == "__main__":  # pragma: no cover
    main()
