"""``benchmark`` command line: run, score, export-inputs, leaderboard, models. Parses options, calls the library."""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import click

from inpaint_core.cli import OneLineErrors, dataclass_options, options_from, version_option

from .runner import RunSettings
from .setmetrics import SetMetricOptions
from .thumbnails import THUMB_WIDTH

__all__ = ["main"]


@click.group(cls=OneLineErrors)
@version_option()
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


def _prepare(params: dict, *, quiet: bool = True):
    from .runner import prepare

    return prepare(options_from(RunSettings, params), progress=not quiet)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "model"


def _report(info: dict, out: Path) -> None:
    """The run's figures over all pairs; the distinct failure reasons; a non-zero exit when no pair was
    scored (the run folder is kept: it says why)."""
    import csv

    counts = info["counts"]
    with open(out / "per_image.csv", newline="", encoding="utf-8") as handle:
        reasons = Counter(row["error"] for row in csv.DictReader(handle) if row["status"] != "ok")
    with open(out / "summary.csv", newline="", encoding="utf-8") as handle:
        overall = next((row for row in csv.DictReader(handle) if row["cell"] == "all"), {})
    click.echo(f"{info['model']['name']}: {counts['ok']} pairs scored, {counts['failed']} failed -> {out} "
               f"(mask protocol {info.get('mask_protocol', 'not recorded')})")
    for reason, count in reasons.most_common(5):
        click.echo(f"  failed ({count}): {reason}", err=True)
    if counts["ok"] == 0:
        raise ValueError(f"no pair was scored: all {counts['pairs']} failed ({len(reasons)} distinct "
                                   f"reason{'s' if len(reasons) != 1 else ''}, listed above; details in {out / 'per_image.csv'})")
    click.echo(f"  L1 {overall['l1_mean']} %  L1(hole) {overall['l1_hole_mean']} %  PSNR {overall['psnr_mean']} dB"
               f"  SSIM {overall['ssim_mean']}  LPIPS {overall['lpips_mean'] or '-'}  FID {overall['fid'] or '-'}"
               f"  s/image {overall['seconds_mean']}")
    if counts["failed"]:
        click.echo(f"  partial run: {counts['failed']} pairs failed; the means cover the {counts['ok']} scored pairs, "
                   "and the leaderboard lists it apart from complete runs", err=True)


def _positive_timeout(context: click.Context, parameter: click.Parameter, value: float | None) -> float | None:
    if value is not None and not value > 0:
        raise click.BadParameter(f"must be a positive number of seconds, got {value:g}")
    return value


@main.command()
@click.option("--model", "model_spec", default=None, help="Registered name, package.module:factory or file.py:Name.")
@click.option("--model-cmd", default=None, help="External command with {input_dir} {mask_dir} {output_dir}, run "
              "once over all pending pairs; its folders and log stay in the run folder until the run is written.")
@click.option("--name", default=None, help="Run name (folder under --out); default: the model's name, or for "
              "--model-cmd the script's name and a hash of the command.")
@_data_options
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder of runs.")
@click.option("--timeout", type=float, default=None, callback=_positive_timeout,
              help="Seconds before a model call counts as failed: per pair with --model (a batch of N pairs: N "
                   "times that), the whole command with --model-cmd. Default: no limit.")
@click.option("--start-timeout", type=float, default=600.0, show_default=True, callback=_positive_timeout,
              help="Seconds a --model may take to start (build the model, load its weights).")
@click.option("--weights", default=None, help="Weights file for models that take one (pconv_baseline).")
@click.option("--workers", default=1, show_default=True, help="Model processes scoring pairs in parallel (CPU models).")
@click.option("--batch-size", default=1, show_default=True,
              help="Pairs per model call; a model with inpaint_batch gets them as one torch batch.")
@click.option("--overwrite", is_flag=True, help="Replace a run with other settings in the same folder.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Where pairs are scored: here (--workers model processes), or in shards on a Ray cluster "
                   "(pip install '.[ray]'; --model only; images and masks at the same path on every node).")
@click.option("--ray-address", default=None,
              help="Ray cluster to join (--engine ray; default $RAY_ADDRESS, else a Ray instance here).")
@click.option("--shard-size", default=64, show_default=True, help="Pairs per Ray task (--engine ray).")
@click.option("--gpus-per-worker", default=0.0, show_default=True,
              help="GPUs each Ray worker (one model replica) holds; 1 = one replica per GPU of the cluster.")
@_set_metric_options
@click.pass_context
def run(context: click.Context, model_spec: str | None, model_cmd: str | None, name: str | None, out: Path,
        timeout: float | None, start_timeout: float, weights: str | None, workers: int, batch_size: int,
        overwrite: bool, quiet: bool, engine: str, ray_address: str | None, shard_size: int,
        gpus_per_worker: float, **params) -> None:
    """Score a model on (image, mask) pairs per cell and write a run folder."""
    from .runner import score_run

    if (model_spec is None) == (model_cmd is None):
        raise click.UsageError("give exactly one of --model and --model-cmd")
    if workers < 1:
        raise click.UsageError("--workers must be >= 1")
    if engine == "local" and (ray_address is not None or gpus_per_worker):
        raise click.UsageError("--ray-address and --gpus-per-worker need --engine ray")
    if engine == "ray" and model_cmd is not None:
        raise click.UsageError("--engine ray scores --model runs; a --model-cmd runs once, on this machine")
    if shard_size < 1 or gpus_per_worker < 0:
        raise click.UsageError("--shard-size must be >= 1 and --gpus-per-worker >= 0")
    prepared = _prepare(params, quiet=quiet)
    metrics = _load_set_metrics(params)
    if engine == "ray":
        from .runner import ShardModel

        given = context.get_parameter_source("workers") is not click.core.ParameterSource.DEFAULT
        folder, info = _run_on_ray(prepared, metrics, ShardModel(
            model_spec, {"weights": weights} if weights else None, timeout, start_timeout, batch_size,
            metrics.options if metrics.options.enabled else None), name=name, out=out,
            workers=workers if given else None, address=ray_address, overwrite=overwrite, quiet=quiet,
            shard_size=shard_size, gpus=gpus_per_worker)
    elif model_cmd is not None:
        from .sources import CommandModel, command_name

        run_name = name or command_name(model_cmd)
        folder = out / _slug(run_name)
        command = CommandModel(model_cmd, timeout=timeout, work_dir=folder / "command", progress=not quiet)
        info = score_run(prepared, folder, command, model={"name": run_name, "kind": "command", "spec": model_cmd},
                         overwrite=overwrite, progress=not quiet, set_metrics=metrics)
        command.finish()
    else:
        from contextlib import ExitStack

        from .modelhost import HostPoolProvider, ModelHost

        options = {"weights": weights} if weights else None
        with ExitStack() as stack:
            hosts = [stack.enter_context(ModelHost(model_spec, options=options, timeout=timeout,
                                                   start_timeout=start_timeout))
                     for _ in range(workers)]
            run_name = name or hosts[0].name
            model = {"name": run_name, "kind": "python", "spec": model_spec,
                     "weights_sha256": _weights_sha(hosts[0].weights_path)}
            folder = out / _slug(run_name)
            info = score_run(prepared, folder, HostPoolProvider(hosts, batch_size=batch_size), model=model,
                             overwrite=overwrite, progress=not quiet, set_metrics=metrics)
    _report(info, folder)


def _run_on_ray(prepared, metrics, shard_model, *, name: str | None, out: Path, workers: int | None,
                address: str | None, overwrite: bool, quiet: bool, shard_size: int, gpus: float):
    """``run --engine ray``: the model is started here once for its name and weights (what run.json
    records, as locally), then the pairs are scored in shards on the cluster."""
    from inpaint_core.engines import create_engine

    from .modelhost import ModelHost
    from .runner import score_run_on

    engine = create_engine("ray", workers=workers, address=address)
    try:
        with ModelHost(shard_model.spec, options=shard_model.options, start_timeout=shard_model.start_timeout) as host:
            run_name = name or host.name
            model = {"name": run_name, "kind": "python", "spec": shard_model.spec,
                     "weights_sha256": _weights_sha(host.weights_path)}
        folder = out / _slug(run_name)
        info = score_run_on(engine, prepared, folder, shard_model, model=model, overwrite=overwrite,
                            progress=not quiet, set_metrics=metrics, shard_size=shard_size, gpus=gpus)
    finally:
        engine.close()
    return folder, info


def _weights_sha(path: str | None) -> str | None:
    if not path:
        return None
    from inpaint_core.files import sha256_file

    return sha256_file(path)


@main.command()
@click.option("--predictions", required=True, type=click.Path(path_type=Path), help="Folder of <pair_id>.png outputs.")
@click.option("--export", "export_dir", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="The folder 'benchmark export-inputs' wrote (its export.json says which pairs the predictions "
                   "answer); default: --predictions or its parent.")
@click.option("--name", required=True, help="Model name for the run and the leaderboard.")
@_data_options
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder of runs.")
@click.option("--overwrite", is_flag=True, help="Replace a run with other settings in the same folder.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@_set_metric_options
def score(predictions: Path, export_dir: Path | None, name: str, out: Path, overwrite: bool, quiet: bool,
          **params) -> None:
    """Score outputs made elsewhere (from 'benchmark export-inputs') as a run."""
    from .runner import score_run
    from .sources import PredictionsFolder, check_export_matches, find_export_record

    source = PredictionsFolder(predictions)
    record_path, record = find_export_record(predictions, export_dir)
    prepared = _prepare(params, quiet=quiet)
    check_export_matches(record, prepared, record_path)
    metrics = _load_set_metrics(params)
    folder = out / _slug(name)
    info = score_run(prepared, folder, source,
                     model={"name": name, "kind": "predictions", "spec": str(predictions.resolve())},
                     overwrite=overwrite, progress=not quiet, set_metrics=metrics)
    _report(info, folder)


@main.command(name="export-inputs")
@_data_options
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for inputs/, masks/, pairs.csv and export.json.")
def export_inputs_command(out: Path, **params) -> None:
    """Write masked inputs, masks, pairs.csv and export.json for a model run elsewhere."""
    from .sources import export_inputs

    count = export_inputs(_prepare(params), out)
    click.echo(f"wrote {count} inputs to {out}/inputs and masks to {out}/masks; put outputs in a folder as "
               "<pair_id>.png and run 'benchmark score --predictions FOLDER ...' with the same options")


@main.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="leaderboard.csv")
@click.option("--rank-by", default="l1", show_default=True, help="Metric that orders the rows.")
@click.option("--plot-metric", default="l1", show_default=True, help="Metric drawn per cell in leaderboard.png.")
@click.option("--html", "html_dir", default=None, type=click.Path(path_type=Path),
              help="Also write a self-contained web page (index.html, plots, sample grids) into this folder.")
@click.option("--overwrite", is_flag=True, help="Replace an earlier page in the --html folder.")
@click.option("--thumb-width", default=THUMB_WIDTH, show_default=True, type=click.IntRange(16, 4096),
              help="Largest width in px of the sample-grid previews (JPEG) on the --html page.")
@click.option("--full-grids", is_flag=True,
              help="Also publish the full-size sample grids (PNG, about 16 MB per 120-pair run), linked from the "
                   "previews; left out by default.")
def leaderboard(runs: tuple[Path, ...], output: Path, rank_by: str, plot_metric: str, html_dir: Path | None,
                overwrite: bool, thumb_width: int, full_grids: bool) -> None:
    """Merge run folders into leaderboard.csv, leaderboard.md and leaderboard.png, one ranking per mask protocol.

    Figures are recomputed from each run's per_image.csv; runs of different mask protocols are ranked apart,
    never together; complete runs are ranked, partial runs listed apart, runs where every pair failed left
    out with a note. With --html DIR, DIR/index.html is a static page to publish as is (no network): local
    paths cut to their last name (the fingerprints identify the inputs), sample grids as small previews."""
    from .leaderboard import collect_runs, write_leaderboard

    board = collect_runs(list(runs))
    if html_dir is not None:  # before anything is written: a refused page folder leaves nothing half done
        from .publish import check_page_folder

        check_page_folder(board, html_dir, overwrite=overwrite)
    for note in board.notes:
        click.echo(f"note: {note}", err=True)
    written = write_leaderboard(board, output, rank_by=rank_by, plot_metric=plot_metric)
    click.echo(written["md"].read_text(encoding="utf-8"), nl=False)
    click.echo(f"wrote {written['csv']}, {written['md']}, {written['png']}")
    if html_dir is not None:
        from .publish import publish_page

        index = publish_page(board, html_dir, rank_by=rank_by, plot_metric=plot_metric, overwrite=overwrite,
                             thumb_width=thumb_width, full_grids=full_grids)
        click.echo(f"wrote {index} (open it in a browser; copy the folder {html_dir} to publish it)")


@main.command()
def models() -> None:
    """List the registered models (built-in and installed plug-ins)."""
    from .inpainters import list_inpainters

    for name in list_inpainters():
        click.echo(name)


if __name__ == "__main__":  # pragma: no cover
    main()
