"""The ``convrec`` command: train, evaluate, predict, generate; summary, diagnose, report; list
tasks, models and data."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
import yaml
from rich.console import Console
from rich.table import Table

from convrec.data.datasets import DATASETS, SYNTHESISED, load_dataset
from convrec.data.readers import read_sequences_csv, read_sequences_npz
from convrec.data.sources import SOURCES, FetchError, fetch, status
from convrec.data.store import data_dir
from convrec.diagnose.inspection import inspect_model
from convrec.diagnose.report import write_report
from convrec.diagnose.summary import example_input
from convrec.diagnose.summary import summary as model_summary
from convrec.files import atomic_write, write_text
from convrec.models import available, create
from convrec.nn.checks import unknown_name
from convrec.tasks import LanguageModelling, available_tasks
from convrec.train import evaluate as evaluate_run
from convrec.train import load
from convrec.train import train as train_run
from convrec.train.config import read_config_file

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False)
data_app = typer.Typer(no_args_is_help=True, help="Fetch and list the datasets' sources.")
app.add_typer(data_app, name="data")
console = Console(width=max(130, Console().width))  # metric tables are wide


def main() -> None:
    """Entry point: user errors print one red line and exit with status 2, without a traceback."""
    try:
        app()
    except (ValueError, TypeError, FileNotFoundError, FetchError) as error:
        Console(stderr=True).print(f"[bold red]error:[/] {error}", highlight=False)
        raise SystemExit(2) from None


@app.command()
def train(
    task: Annotated[str, typer.Argument(help="task name; `convrec tasks` lists them")],
    model: Annotated[str | None, typer.Option(help="model name; `convrec models`")] = None,
    epochs: Annotated[int | None, typer.Option(help="training epochs")] = None,
    batch_size: Annotated[int | None, typer.Option(help="global batch size")] = None,
    lr: Annotated[float | None, typer.Option(help="peak learning rate")] = None,
    seed: Annotated[int | None, typer.Option(help="random seed")] = None,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, mps or auto")] = None,
    devices: Annotated[int | None, typer.Option(help="processes per node (DDP)")] = None,
    num_nodes: Annotated[int | None, typer.Option(help="machines (DDP)")] = None,
    precision: Annotated[str | None, typer.Option(help="32-true, bf16-mixed, 16-mixed")] = None,
    clip_grad_norm: Annotated[float | None, typer.Option(help="gradient norm limit")] = None,
    patience: Annotated[int | None, typer.Option(help="early-stopping patience")] = None,
    deterministic: Annotated[bool | None, typer.Option(help="deterministic kernels")] = None,
    out: Annotated[str | None, typer.Option(help="directory for run directories")] = None,
    config: Annotated[Path | None, typer.Option(help="YAML file of training options")] = None,
    resume: Annotated[Path | None, typer.Option(help="run directory to resume")] = None,
    finetune: Annotated[
        Path | None, typer.Option(help="run directory whose backbone starts this run")
    ] = None,
    freeze: Annotated[
        str | None, typer.Option(help="'backbone': train only the head (with --finetune)")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="KEY=VALUE for any config key, e.g. model_options.hidden_size=128 (repeatable)",
        ),
    ] = None,
    gradient_flow_every: Annotated[
        int | None, typer.Option(help="record the gradient flow through time every N epochs")
    ] = None,
    logger: Annotated[
        str | None, typer.Option(help="'csv' (history.csv) or 'tensorboard' (also events)")
    ] = None,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
) -> None:
    """Train a model on a task; writes a run directory with metrics, weights and plots."""
    flags = {
        "finetune": None if finetune is None else str(finetune),
        "freeze": freeze,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "device": device,
        "devices": devices,
        "num_nodes": num_nodes,
        "precision": precision,
        "clip_grad_norm": clip_grad_norm,
        "patience": patience,
        "deterministic": deterministic,
        "gradient_flow_every": gradient_flow_every,
        "logger": logger,
        "out": out,
    }
    settings = parse_settings(set_ or [])  # a flag given too wins over its --set
    options = settings | {key: value for key, value in flags.items() if value is not None}
    run = train_run(task, model, config_file=config, resume=resume, progress=progress, **options)
    if run.metrics:
        _print_metrics(run.metrics["test"], f"{task}: test metrics")
        console.print(
            f"{run.metrics['epochs']} epochs in {run.metrics['train_seconds']:.0f} s; "
            f"run directory: [bold]{run.directory}[/] (metrics.json, model.safetensors, *.png)"
        )


def parse_settings(settings: list[str]) -> dict[str, Any]:
    """``['model_options.hidden_size=128', 'lr=0.01']`` to ``{'model_options': {'hidden_size':
    128}, 'lr': 0.01}``; values are read as YAML (numbers, booleans, lists, strings)."""
    values: dict[str, Any] = {}
    for setting in settings:
        key, equals, text = setting.partition("=")
        if not equals or not key:
            raise ValueError(
                f"invalid value for option `--set`: expected KEY=VALUE, got {setting!r}"
            )
        *parents, leaf = key.split(".")
        target = values
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = yaml.safe_load(text)
    return values


@app.command()
def generate(
    run_dir: Annotated[Path, typer.Argument(help="a run directory of a language model")],
    prompt: Annotated[str, typer.Option(help="text to continue")] = "The ",
    length: Annotated[int, typer.Option(help="characters to sample")] = 500,
    temperature: Annotated[float, typer.Option(help="0 for greedy; higher is more random")] = 0.8,
    seed: Annotated[int, typer.Option(help="random seed of the sampling")] = 0,
) -> None:
    """Sample text from a trained language model (e.g. a `char-lm` run)."""
    trained = load(run_dir)
    if not isinstance(trained.task, LanguageModelling):
        raise ValueError(
            f"invalid value for argument `run_dir`: expected a language-model run (task "
            f"'char-lm'), got a run of task {trained.description['task']!r}"
        )
    print(trained.task.generate(trained.model, prompt, length, temperature, seed))


@app.command()
def evaluate(run_dir: Annotated[Path, typer.Argument(help="a run directory")]) -> None:
    """Evaluate a trained run's model on its task's test sets."""
    _print_metrics(evaluate_run(run_dir), f"{run_dir}: test metrics")


@app.command()
def predict(
    run_dir: Annotated[Path, typer.Argument(help="a run directory")],
    input: Annotated[Path, typer.Argument(help=".npz (one array per key) or .csv")],
    out: Annotated[Path | None, typer.Option(help="output file (same format)")] = None,
) -> None:
    """Predict with a trained model. A .npz holds one (T, features) array per key; a .csv has a
    `sequence_id` column and the task's input columns, one row per step."""
    trained = load(run_dir)
    columns = trained.description["input_columns"]
    outputs = trained.description["output_columns"]
    if not input.is_file():
        raise ValueError(f"invalid value for argument `input`: no file at {input}")
    out = out or input.with_name(f"{input.stem}.predictions{input.suffix}")
    if input.suffix == ".npz":
        names, sequences = read_sequences_npz(input)
        predictions = trained.predict(sequences)
        atomic_write(out, lambda file: np.savez(file, **dict(zip(names, predictions, strict=True))))
    elif input.suffix == ".csv":
        names, sequences = read_sequences_csv(input, columns)
        predictions = trained.predict(sequences)
        rows = io.StringIO()
        writer = csv.writer(rows, lineterminator="\n")
        per_step = trained.task.outputs_per_step
        writer.writerow(["sequence_id", *(["step"] if per_step else []), *outputs])
        for name, prediction in zip(names, predictions, strict=True):
            if not per_step:
                writer.writerow([name, *(f"{item:.6g}" for item in prediction)])
                continue
            for step, value in enumerate(np.asarray(prediction).reshape(len(prediction), -1)):
                writer.writerow([name, step, *(f"{item:.6g}" for item in value)])
        write_text(out, rows.getvalue())
    else:
        raise ValueError(
            f"invalid value for argument `input`: expected a .npz or .csv file, got {input.name}"
        )
    console.print(f"{len(predictions)} sequences predicted; written to [bold]{out}[/]")


@app.command()
def summary(
    model_or_run: Annotated[str, typer.Argument(help="a model name or a run directory")],
    input_shape: Annotated[
        str | None, typer.Option(help="input shape without the batch, e.g. 1,28,28 or 100,6")
    ] = None,
    output_size: Annotated[int, typer.Option(help="outputs, for a model name")] = 10,
    length: Annotated[int, typer.Option(help="steps where the time axis is open")] = 100,
    seconds_per_step: Annotated[
        float | None, typer.Option(help="seconds between input steps (audio: hop / rate)")
    ] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="NAME=VALUE model option (repeatable)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Per layer: output shape, parameters (per gate and direction for recurrent layers), kernel,
    stride, padding, dilation, jump, receptive field and mult-adds; totals and activation memory."""
    model, example, seconds = _model_and_example(
        model_or_run, input_shape, output_size, length, parse_settings(set_ or [])
    )
    result = model_summary(model, example, seconds_per_step or seconds)
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        console.print(result.table(model_or_run))


def _model_and_example(
    model_or_run: str,
    input_shape: str | None,
    output_size: int,
    length: int,
    options: dict[str, Any],
) -> tuple[Any, Any, float | None]:
    """The model (built, or read from a run), an example input and its seconds per step."""
    if (Path(model_or_run) / "model.json").is_file():
        trained = load(model_or_run)
        arguments = trained.description["model_arguments"]
        shape = _shape(input_shape) if input_shape else arguments["input_shape"]
        example = example_input(shape, arguments.get("input_kind") or "sequence", length)
        return trained.model, example, trained.task.seconds_per_step
    if Path(model_or_run).is_dir():
        raise ValueError(
            f"invalid value for argument `model_or_run`: {model_or_run} has no model.json; "
            "is it a finished convrec run directory?"
        )
    if input_shape is None:
        raise ValueError(
            "invalid value for option `--input-shape`: a model name needs the input shape "
            f"without the batch axis (e.g. 1,28,28), got none for {model_or_run!r}"
        )
    shape = _shape(input_shape)
    model = create(model_or_run, input_shape=shape, output_size=output_size, **options)
    return model.eval(), example_input(shape, "sequence", length), None


def _shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(part) for part in text.split(","))
    except ValueError:
        shape = ()
    if not shape or min(shape) < 1:
        raise ValueError(
            f"invalid value for option `--input-shape`: expected positive integers separated "
            f"by commas, e.g. 1,28,28, got {text!r}"
        )
    return shape


@app.command()
def diagnose(
    run_dir: Annotated[Path, typer.Argument(help="a run directory")],
    sequences: Annotated[int, typer.Option(help="test inputs to average over")] = 32,
) -> None:
    """Measure a trained model on test inputs: the gradient flow through time of its recurrent
    layers (gradient_flow.json, .png) and its first convolution's feature maps."""
    trained = load(run_dir)
    seed = read_config_file(run_dir / "config.yaml")["seed"]
    test = next(iter(trained.task.build_data(seed).tests.values()))
    written = inspect_model(trained.model, trained.task, test, run_dir, sequences)
    flow_path = run_dir / "gradient_flow.json"
    if flow_path.is_file():
        table = Table(
            "layer", "|dh_T/dh_t| ratio 10 / 50 / 100 back", "σ_max", title="gradient flow"
        )
        for flow in json.loads(flow_path.read_text()):
            jacobian = flow["jacobian"]
            ratios = " / ".join(
                f"{jacobian[lag] / jacobian[0]:.2g}" if lag < len(jacobian) else "-"
                for lag in (10, 50, 100)
            )
            norms = ", ".join(f"{k} {v:.2f}" for k, v in flow["recurrent_norm"].items())
            table.add_row(f"{flow['module']} {flow['layer']} {flow['direction']}", ratios, norms)
        console.print(table)
    console.print("written: " + ", ".join(path.name for path in written))


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="a run directory")],
    length: Annotated[int, typer.Option(help="steps of the summary's example input")] = 100,
) -> None:
    """Write RUN_DIR/report.html: one self-contained page with the configuration, metrics, model
    summary, pictures and gradient flow."""
    model, example, seconds = _model_and_example(str(run_dir), None, 0, length, {})
    path = write_report(run_dir, model_summary(model, example, seconds))
    console.print(f"report written to [bold]{path}[/]")


@app.command()
def tasks() -> None:
    """List the tasks (recipes), their default model and the other models they are tuned for."""
    table = Table("task", "default model", "also tuned", "description", title="convrec tasks")
    for task in available_tasks():
        others = ", ".join(name for name in task.models if name != task.default_model)
        table.add_row(task.name, task.default_model, others, task.description)
    console.print(table)


@app.command()
def models() -> None:
    """List the models, the inputs they take and their options (set with --set
    model_options.NAME=VALUE)."""
    table = Table("model", "inputs", "description", "options (default)", title="convrec models")
    for entry in available():
        options = ", ".join(f"{name}={default!r}" for name, default in entry.options().items())
        table.add_row(entry.name, ", ".join(entry.inputs), entry.description, options)
    console.print(table)


@data_app.command("list")
def data_list() -> None:
    """List the data sources, whether each is fetched, and the datasets each serves."""
    table = Table("source", "status", "datasets", "origin", title=f"convrec data ({data_dir()})")
    for name, entry in SOURCES.items():
        table.add_row(name, status(name), ", ".join(_served_by(name)), entry.origin.how)
    speech = "synthesised on first use, cached in keywords/ (needs espeak-ng)"
    table.add_row(SYNTHESISED, "on demand", ", ".join(_served_by(SYNTHESISED)), speech)
    console.print(table)


def _served_by(source: str) -> list[str]:
    return [dataset for dataset, entry in DATASETS.items() if entry.source == source]


@data_app.command("fetch")
def data_fetch(
    names: Annotated[
        list[str] | None, typer.Argument(help="sources or dataset names (see `convrec data list`)")
    ] = None,
    all_sources: Annotated[bool, typer.Option("--all", help="fetch every source")] = False,
    force: Annotated[bool, typer.Option(help="fetch again even if present")] = False,
) -> None:
    """Fetch sources into the data directory ($CONVREC_DATA, default ~/.cache/convrec), verifying
    every file's SHA-256. `espeak-ng` builds the speech datasets' default splits (not in --all)."""
    wanted = list(SOURCES) if all_sources else [_source_of(name) for name in names or []]
    if not wanted:
        raise ValueError("invalid value for argument `names`: expected sources or --all, got none")
    for name in dict.fromkeys(wanted):
        if name == SYNTHESISED:
            for dataset in _served_by(SYNTHESISED):
                console.print(f"{dataset}: {load_dataset(dataset).sizes()} clips built and cached")
            continue
        folder = fetch(name, force=force)
        size = sum(path.stat().st_size for path in folder.iterdir())
        files = len(list(folder.iterdir())) - 1
        console.print(f"{name}: {files} files, {size / 1e6:.1f} MB verified in [bold]{folder}[/]")


def _source_of(name: str) -> str:
    """The source of a dataset name, or the name itself if it names a source."""
    if name in DATASETS:
        return DATASETS[name].source
    if name in SOURCES or name == SYNTHESISED:
        return name
    raise unknown_name("source or dataset", name, sorted({*SOURCES, *DATASETS, SYNTHESISED}))


def _print_metrics(metrics: dict[str, dict[str, float]], title: str) -> None:
    names = list(next(iter(metrics.values())))
    table = Table("test set", *names, title=title)
    for test_set, values in metrics.items():
        table.add_row(test_set, *(f"{values[name]:.4g}" for name in names))
    console.print(table)


if __name__ == "__main__":
    main()
