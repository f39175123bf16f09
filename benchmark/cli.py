"""``benchmark`` command line: run, score, export-inputs, leaderboard, models. Parses options, calls the library."""
from __future__ import annotations

import re
from pathlib import Path

import click

from inpaint_core.cli import OneLineErrors, dataclass_options, options_from

from .runner import RunSettings
from .setmetrics import SetMetricOptions

__all__ = ["main"]


@click.group(cls=OneLineErrors)
def main() -> None:
    """Score inpainting models per hole-ratio bucket and publish a leaderboard."""


def _data_options(function):
    """--masks, --images, then RunSettings' own options (--size, --seed, --per-cell)."""
    function = dataclass_options(RunSettings)(function)
    function = click.option("--images", required=True, type=click.Path(path_type=Path), help="Image folder (recursive).")(function)
    function = click.option("--masks", required=True, type=click.Path(path_type=Path),
                            help="Mask dataset (maskgen build / maskgen import).")(function)
    return function


_set_metric_options = dataclass_options(SetMetricOptions)  # --set-metrics/--no-set-metrics ... --device


def _load_set_metrics(params: dict):
    from .setmetrics import SetMetrics

    options = options_from(SetMetricOptions, params)
    metrics = SetMetrics(options)
    for name, reason in metrics.omitted.items():
        if options.enabled:
            click.echo(f"note: {name.upper()} omitted: {reason}", err=True)
    return metrics


def _prepare(params: dict):
    from .runner import prepare

    return prepare(options_from(RunSettings, params))


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "model"


def _report(info: dict, out: Path) -> None:
    counts = info["counts"]
    overall = {}
    import csv

    with open(out / "summary.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["cell"] == "all":
                overall = row
    click.echo(f"{info['model']['name']}: {counts['ok']} pairs scored, {counts['failed']} failed -> {out}")
    if overall:
        click.echo(f"  L1 {overall['l1_mean']} %  L1(hole) {overall['l1_hole_mean']} %  PSNR {overall['psnr_mean']} dB"
                   f"  SSIM {overall['ssim_mean']}  LPIPS {overall['lpips_mean'] or '-'}  FID {overall['fid'] or '-'}"
                   f"  s/image {overall['seconds_mean']}")


@main.command()
@click.option("--model", "model_spec", default=None, help="Registered name, package.module:factory or file.py:Name.")
@click.option("--model-cmd", default=None, help="External command with {input_dir} {mask_dir} {output_dir}.")
@click.option("--name", default=None, help="Run name (folder under --out); default: the model's name.")
@_data_options
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder of runs.")
@click.option("--timeout", type=float, default=None, help="Seconds per image before a call counts as failed.")
@click.option("--weights", default=None, help="Weights file for models that take one (pconv_baseline).")
@click.option("--workers", default=1, show_default=True, help="Model processes scoring pairs in parallel (CPU models).")
@click.option("--batch-size", default=1, show_default=True,
              help="Pairs per model call; a model with inpaint_batch gets them as one torch batch.")
@click.option("--overwrite", is_flag=True, help="Replace a run with other settings in the same folder.")
@click.option("--quiet", is_flag=True)
@_set_metric_options
def run(model_spec: str | None, model_cmd: str | None, name: str | None, out: Path, timeout: float | None,
        weights: str | None, workers: int, batch_size: int, overwrite: bool, quiet: bool, **params) -> None:
    """Score a model on (image, mask) pairs per cell and write a run folder."""
    from .runner import score_run

    if (model_spec is None) == (model_cmd is None):
        raise click.UsageError("give exactly one of --model and --model-cmd")
    prepared = _prepare(params)
    metrics = _load_set_metrics(params)
    if model_cmd is not None:
        from .sources import CommandModel

        run_name = name or "command"
        folder = out / _slug(run_name)
        with CommandModel(model_cmd, timeout=timeout) as command:
            info = score_run(prepared, folder, command, model={"name": run_name, "kind": "command", "spec": model_cmd},
                             overwrite=overwrite, progress=not quiet, set_metrics=metrics)
    else:
        from contextlib import ExitStack

        from .modelhost import HostPoolProvider, ModelHost

        if workers < 1:
            raise click.UsageError("--workers must be >= 1")
        options = {"weights": weights} if weights else None
        with ExitStack() as stack:
            hosts = [stack.enter_context(ModelHost(model_spec, options=options, timeout=timeout))
                     for _ in range(workers)]
            run_name = name or hosts[0].name
            model = {"name": run_name, "kind": "python", "spec": model_spec,
                     "weights_sha256": _weights_sha(hosts[0].weights_path)}
            folder = out / _slug(run_name)
            info = score_run(prepared, folder, HostPoolProvider(hosts, batch_size=batch_size), model=model,
                             overwrite=overwrite, progress=not quiet, set_metrics=metrics)
    _report(info, folder)


def _weights_sha(path: str | None) -> str | None:
    if not path:
        return None
    from inpaint_core.files import sha256_file

    return sha256_file(path)


@main.command()
@click.option("--predictions", required=True, type=click.Path(path_type=Path), help="Folder of <pair_id>.png outputs.")
@click.option("--name", required=True, help="Model name for the run and the leaderboard.")
@_data_options
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--overwrite", is_flag=True)
@click.option("--quiet", is_flag=True)
@_set_metric_options
def score(predictions: Path, name: str, out: Path, overwrite: bool, quiet: bool, **params) -> None:
    """Score outputs made elsewhere (from 'benchmark export-inputs') as a run."""
    from .runner import score_run
    from .sources import PredictionsFolder

    prepared = _prepare(params)
    metrics = _load_set_metrics(params)
    folder = out / _slug(name)
    info = score_run(prepared, folder, PredictionsFolder(predictions),
                     model={"name": name, "kind": "predictions", "spec": str(predictions.resolve())},
                     overwrite=overwrite, progress=not quiet, set_metrics=metrics)
    _report(info, folder)


@main.command(name="export-inputs")
@_data_options
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
def export_inputs_command(out: Path, **params) -> None:
    """Write masked inputs, masks and pairs.csv for a model run elsewhere."""
    from .sources import export_inputs

    count = export_inputs(_prepare(params), out)
    click.echo(f"wrote {count} inputs to {out}/inputs and masks to {out}/masks; put outputs in a folder as "
               "<pair_id>.png and run 'benchmark score --predictions FOLDER ...' with the same options")


@main.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="leaderboard.csv")
@click.option("--rank-by", default="l1", show_default=True, help="Metric that orders the rows.")
@click.option("--plot-metric", default="l1", show_default=True)
def leaderboard(runs: tuple[Path, ...], output: Path, rank_by: str, plot_metric: str) -> None:
    """Merge run folders into leaderboard.csv, leaderboard.md and leaderboard.png."""
    from .leaderboard import collect_runs, write_leaderboard

    written = write_leaderboard(collect_runs(list(runs)), output, rank_by=rank_by, plot_metric=plot_metric)
    click.echo(written["md"].read_text(encoding="utf-8"), nl=False)
    click.echo(f"wrote {written['csv']}, {written['md']}, {written['png']}")


@main.command()
def models() -> None:
    """List the registered models (built-in and installed plug-ins)."""
    from .inpainters import list_inpainters

    for name in list_inpainters():
        click.echo(name)


if __name__ == "__main__":  # pragma: no cover
    main()
