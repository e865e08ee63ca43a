"""The ``convrec`` command: train, evaluate, predict, generate; summary, diagnose, report; list
tasks, models and data.

Each command imports what it needs when it runs, so ``convrec --help`` loads neither PyTorch nor
the training stack, and ``convrec tasks`` no more than the task registry.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from convrec.errors import InvalidValueError, PathNotFoundError, UnavailableError, UserError

if TYPE_CHECKING:
    from rich.console import Console

DEBUG_VARIABLE = "CONVREC_DEBUG"
"""Set to 1 (or pass ``--debug``) to see the traceback of a user error too."""

RECIPE = "the task's recipe"

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # click's plain help: wraps at any width, truncates nothing
    context_settings={"max_content_width": 100},
)
data_app = typer.Typer(no_args_is_help=True, help="Fetch and list the datasets' sources.")
app.add_typer(data_app, name="data")


IMPORT_VARIABLE = "CONVREC_IMPORT"
"""Plugin modules to import before any command, comma-separated (``--import`` sets it too, so
the processes of a distributed run import them as well)."""


def main() -> None:
    """Entry point: a user error prints one red line and exits with status 2; any other error is
    a bug and shows its traceback.

    Global options, before the command (read here, not by typer: an option of the group would
    make typer import pydantic for every command): ``--debug`` (or ``CONVREC_DEBUG=1``) shows
    the traceback of user errors too; ``--import MODULE`` (repeatable, or
    ``CONVREC_IMPORT=a,b``) imports plugin modules that register datasets, tasks and models.
    """
    try:
        modules = _global_options()
        if modules:
            from convrec.plugins import import_modules

            os.environ[IMPORT_VARIABLE] = ",".join(modules)
            import_modules(modules)
        app()
    except UserError as error:
        if os.environ.get(DEBUG_VARIABLE, "") not in ("", "0"):
            raise
        from rich.console import Console
        from rich.markup import escape

        Console(stderr=True, soft_wrap=True).print(
            f"[bold red]error:[/] {escape(str(error))}", highlight=False
        )
        raise SystemExit(2) from None


def _global_options() -> list[str]:
    """Take ``--debug`` and ``--import MODULE`` from the front of the arguments; return the
    plugin modules to import (those of :data:`IMPORT_VARIABLE` first)."""
    modules = [name for name in os.environ.get(IMPORT_VARIABLE, "").split(",") if name]
    while sys.argv[1:2] in (["--debug"], ["--import"]):
        if sys.argv[1] == "--debug":
            os.environ[DEBUG_VARIABLE] = "1"  # also seen by the processes of a distributed run
            del sys.argv[1]
            continue
        if len(sys.argv) < 3:
            raise InvalidValueError("invalid value for option `--import`: expected a module name")
        modules.append(sys.argv[2])
        del sys.argv[1:3]
    return list(dict.fromkeys(modules))


@app.callback()
def _group() -> None:
    """convrec: convolutional and recurrent networks for sequences and grids.

    Global options, before the command: --debug (or CONVREC_DEBUG=1) shows the traceback of
    bad-input errors too (other errors always show theirs); --import MODULE (repeatable, or
    CONVREC_IMPORT=a,b) imports a plugin module that registers datasets, tasks or models.
    Installed plugins (entry points "convrec.plugins") are found without it."""


def _console() -> Console:
    from rich.console import Console

    return Console(width=max(130, Console().width))  # metric tables are wide


@app.command()
def train(
    task: Annotated[str, typer.Argument(help="task name; `convrec tasks` lists them")],
    model: Annotated[
        str | None, typer.Option(help="model name; `convrec models`", show_default=RECIPE)
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            help="your own data (kinds series, series-regression, forecast, text: a file; "
            "images, audio, text: a folder of class folders)"
        ),
    ] = None,
    test: Annotated[
        Path | None, typer.Option(help="your own test data", show_default="a split of --data")
    ] = None,
    validation: Annotated[
        Path | None,
        typer.Option(help="your own validation data", show_default="a split of --data"),
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="training epochs", show_default=RECIPE)] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="global batch size", show_default=RECIPE)
    ] = None,
    lr: Annotated[
        float | None, typer.Option(help="peak learning rate", show_default=RECIPE)
    ] = None,
    seed: Annotated[int | None, typer.Option(help="random seed", show_default="0")] = None,
    device: Annotated[
        str | None, typer.Option(help="cpu, cuda, mps or auto", show_default="auto")
    ] = None,
    devices: Annotated[
        int | None, typer.Option(help="processes per node (DDP)", show_default="1")
    ] = None,
    num_nodes: Annotated[int | None, typer.Option(help="machines (DDP)", show_default="1")] = None,
    precision: Annotated[
        str | None, typer.Option(help="32-true, bf16-mixed, 16-mixed", show_default="32-true")
    ] = None,
    clip_grad_norm: Annotated[
        float | None, typer.Option(help="gradient norm limit", show_default="1.0")
    ] = None,
    patience: Annotated[
        int | None, typer.Option(help="early-stopping patience in epochs", show_default="off")
    ] = None,
    deterministic: Annotated[
        bool | None, typer.Option(help="deterministic kernels", show_default="off")
    ] = None,
    out: Annotated[
        str | None, typer.Option(help="directory for run directories", show_default="runs")
    ] = None,
    config: Annotated[Path | None, typer.Option(help="YAML file of training options")] = None,
    resume: Annotated[Path | None, typer.Option(help="run directory to resume")] = None,
    finetune: Annotated[
        Path | None,
        typer.Option(help="run directory whose backbone starts this run"),
    ] = None,
    freeze: Annotated[
        str | None,
        typer.Option(help="'backbone': train only the head (with --finetune)"),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="KEY=VALUE for any config key, e.g. model_options.hidden_size=128 (repeatable)",
        ),
    ] = None,
    gradient_flow_every: Annotated[
        int | None,
        typer.Option(
            help="record the gradient flow through time every N epochs", show_default="off"
        ),
    ] = None,
    tbptt_steps: Annotated[
        int | None,
        typer.Option(
            help="truncated BPTT: cut each batch into windows of N steps, carrying the state",
            show_default="off",
        ),
    ] = None,
    logger: Annotated[
        str | None,
        typer.Option(help="'csv' (history.csv) or 'tensorboard' (also events)", show_default="csv"),
    ] = None,
    progress: Annotated[
        bool, typer.Option(help="a progress bar on a terminal, a line per epoch otherwise")
    ] = True,
) -> None:
    """Train a model on a task and write its run directory.

    The run directory holds metrics.json, history.csv, config.yaml, the checkpoints, the shared
    model (model.safetensors, model.json) and the plots."""
    from convrec.train.resolve import refuse_by_name

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
        "tbptt_steps": tbptt_steps,
        "logger": logger,
        "out": out,
    }
    settings = parse_settings(set_ or [])  # a flag given too wins over its --set
    for key in ("data", "test", "validation", "progress", "resume", "config"):
        if key in settings:
            raise InvalidValueError(
                f"invalid value for option `--set`: {key} is an option of its own, "
                f"--{key} (for the task's own: task_options.{key})"
            )
    model = model or settings.pop("model", None)
    settings.pop("model", None)
    refuse_by_name(task, model)  # in seconds, before the training stack loads
    from convrec.train.run import train as train_run

    options = settings | {key: value for key, value in flags.items() if value is not None}
    run = train_run(
        task,
        model,
        config_file=config,
        resume=resume,
        progress=progress,
        data=data,
        test=test,
        validation=validation,
        **options,
    )
    if run.metrics:
        console = _console()
        _print_metrics(console, run.metrics["test"], f"{task}: test metrics")
        epochs_done = run.metrics["epochs"]
        console.print(
            f"{epochs_done} epoch{'s' if epochs_done != 1 else ''} in "
            f"{run.metrics['train_seconds']:.0f} s; run directory: [bold]{run.directory}[/] "
            "(metrics.json, model.safetensors, *.png)"
        )


COMMAND_ARGUMENTS = ("task",)
"""Keys that are arguments of ``convrec train``, not settings."""


def parse_settings(settings: list[str]) -> dict[str, Any]:
    """``['model_options.hidden_size=128', 'lr=0.01']`` to ``{'model_options': {'hidden_size':
    128}, 'lr': 0.01}``; values are read as YAML (numbers, booleans, lists, strings), without
    aliases."""
    from convrec.yaml_files import read_yaml_text

    values: dict[str, Any] = {}
    for setting in settings:
        key, equals, text = setting.partition("=")
        if not equals or not key:
            raise InvalidValueError(
                f"invalid value for option `--set`: expected KEY=VALUE, got {setting!r}"
            )
        if key in COMMAND_ARGUMENTS:
            raise InvalidValueError(
                f"invalid value for option `--set`: `{key}` is the command's argument "
                f"(convrec train TASK), not a setting, got {setting!r}"
            )
        *parents, leaf = key.split(".")
        target = values
        for depth, parent in enumerate(parents):
            target = target.setdefault(parent, {})
            if not isinstance(target, dict):
                raise InvalidValueError(
                    f"invalid value for option `--set`: {'.'.join(parents[: depth + 1])} was set "
                    f"to a value, so {key} cannot be set inside it"
                )
        target[leaf] = read_yaml_text(text, f"--set {key}")
    return values


@app.command()
def generate(
    run_dir: Annotated[Path, typer.Argument(help="a run directory of a language model")],
    prompt: Annotated[str, typer.Option(help="text to continue")] = "The ",
    length: Annotated[int, typer.Option(help="characters to sample")] = 500,
    temperature: Annotated[float, typer.Option(help="0 for greedy; higher is more random")] = 0.8,
    seed: Annotated[int, typer.Option(help="random seed of the sampling")] = 0,
) -> None:
    """Sample text from a trained language model (a char-lm run)."""
    from convrec.tasks import LanguageModelling
    from convrec.train.trained import load

    trained = load(run_dir)
    if not isinstance(trained.task, LanguageModelling):
        raise InvalidValueError(
            f"invalid value for argument `run_dir`: expected a language-model run (task "
            f"'char-lm'), got a run of task {trained.description['task']!r}"
        )
    print(trained.task.generate(trained.model, prompt, length, temperature, seed))


@app.command()
def evaluate(
    runs: Annotated[
        list[Path], typer.Argument(help="a run directory; several: their averaged probabilities")
    ],
    data: Annotated[
        Path | None,
        typer.Option(
            help="labelled data of the run's kind to score on; for a recipe, the folder its "
            "dataset's files are in now",
            show_default="its tests",
        ),
    ] = None,
) -> None:
    """Evaluate a trained run's model on its task's test sets, or on new labelled data (a
    recipe's test sets read from where its files are now, if they moved). Several runs of one
    classification recipe (e.g. its seeds) are evaluated as an ensemble: their class
    probabilities averaged."""
    if len(runs) > 1:
        from convrec.train.ensemble import evaluate_ensemble

        if data is not None:
            raise InvalidValueError(
                "invalid value for option `--data`: an ensemble is scored on its recipe's test "
                "sets; give one run to score it on your data"
            )
        title = f"ensemble of {len(runs)} runs: test metrics"
        _print_metrics(_console(), evaluate_ensemble(runs), title)
        return
    from convrec.train.trained import evaluate as evaluate_run

    (run_dir,) = runs
    _print_metrics(_console(), evaluate_run(run_dir, data), f"{run_dir}: test metrics")


@app.command()
def predict(
    run_dir: Annotated[Path, typer.Argument(help="a run directory")],
    input: Annotated[
        Path,
        typer.Argument(help="inputs: a file (.npz, .csv, .ts, .txt, an image, a clip) or a folder"),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            help="output file (same format); '-' prints the table", show_default="INPUT.predictions"
        ),
    ] = None,
) -> None:
    """Predict with a trained model.

    For a run on your own data: a file or folder like its training data (series: .npz, .csv,
    .ts; images and audio: one file or a folder of them; text: a .txt of one document per line,
    a .csv, a folder of .txt), labels not needed; the output is a CSV of ids, predicted labels
    and class probabilities (regression: the targets; forecast: the next steps after the file's
    last, with their times). Keyword and review recipes read clips and texts the same way; g2p
    reads a .txt of words, one per line, and gives each one's phonemes.
    For the other recipes: a .npz holds one (T, features) array per key; a .csv has a
    `sequence_id` column and the task's input columns, one row per step."""
    from convrec.train.predictions import default_output, predictions_table, write_predictions
    from convrec.train.trained import load

    trained = load(run_dir)
    if not input.exists():
        raise PathNotFoundError(f"invalid value for argument `input`: {input} does not exist")
    if out == Path("-"):
        typer.echo(predictions_table(trained, input), nl=False)
        return
    out = out or default_output(trained, input)
    count = write_predictions(trained, input, out)
    inputs = "1 input" if count == 1 else f"{count} inputs"
    _console().print(f"{inputs} predicted; written to [bold]{out}[/]")


@app.command()
def export(
    run_dir: Annotated[Path, typer.Argument(help="a run directory")],
    format: Annotated[
        str,
        typer.Option(
            "--format",
            help="'onnx', 'exported-program' (torch.export) or 'onnx-step' (a stream's step, "
            "its state in and out)",
        ),
    ] = "onnx",
    out: Annotated[
        Path | None,
        typer.Option(help="file to write", show_default="RUN/model.onnx, .pt2 or _step.onnx"),
    ] = None,
) -> None:
    """Export a trained model to one self-contained file.

    ONNX: the input preprocessing, the model and the output transform as one graph; inputs
    `inputs` (batch, time, features) and `lengths` (batch,) for sequences, any batch size and
    number of steps; class names, vocabulary, columns and convrec's version in the metadata.
    exported-program: the same as a torch.export program (load it with torch.export.load after
    `import convrec.nn`). onnx-step: one push of a stream (a causal model): `chunk` and the
    state in, the outputs after each step and the next state out; the state's shapes are in the
    metadata."""
    if not run_dir.is_dir():
        raise PathNotFoundError(f"invalid value for argument `run_dir`: no directory {run_dir}")
    try:
        from convrec.export import export_run
    except ImportError as error:
        raise UnavailableError(
            f"convrec export needs the export extra ({error.name} is missing): "
            "pip install 'convrec[export]'"
        ) from None
    path = export_run(run_dir, format, out)
    _console().print(f"exported to [bold]{path}[/]")


@app.command()
def stream(
    run_dir: Annotated[Path, typer.Argument(help="a run with a framewise front end")],
    audio: Annotated[Path, typer.Argument(help="a recording (WAV, FLAC, Ogg; any rate)")],
    threshold: Annotated[
        float, typer.Option(help="smoothed posterior at which a keyword is detected")
    ] = 0.8,
    chunk_ms: Annotated[float, typer.Option(help="milliseconds of audio per push")] = 20.0,
    smoothing: Annotated[float, typer.Option(help="seconds of posteriors averaged")] = 0.2,
    refractory: Annotated[float, typer.Option(help="seconds without detection after one")] = 1.0,
    background: Annotated[
        list[str] | None,
        typer.Option(
            help="a class never reported, besides _unknown_ and _silence_ (e.g. noise); "
            "repeat for several"
        ),
    ] = None,
) -> None:
    """Listen to a recording as a live stream: a keyword model (keywords-stream) is fed
    `--chunk-ms` of audio at a time and detects keywords as it goes; prints each keyword heard
    (time, keyword, smoothed posterior), the latency per chunk and the real-time factor."""
    import numpy as np
    from rich.table import Table

    from convrec.data.audio_files import read_audio
    from convrec.tasks.keyword_detection import NOT_KEYWORDS, KeywordDetector, stream_recording
    from convrec.train.trained import load

    trained = load(run_dir)
    spec = trained.task.export_spec()
    if spec.input_kind != "waveform":
        raise InvalidValueError(
            f"invalid value for argument `run_dir`: convrec stream listens to audio, and "
            f"{run_dir} takes {spec.input_kind} inputs; use convrec.load(RUN).stream()"
        )
    if not audio.is_file():
        raise PathNotFoundError(f"invalid value for argument `audio`: no file {audio}")
    if not chunk_ms > 0:
        raise InvalidValueError(
            f"invalid value for option `--chunk-ms`: expected milliseconds > 0, got {chunk_ms}"
        )
    rate, classes = spec.metadata["sample_rate"], spec.metadata["classes"]
    samples = read_audio(audio, rate)
    step, first = spec.features.frame_times()
    ignored = (*NOT_KEYWORDS, *(background or ()))
    detector = KeywordDetector(classes, step, threshold, smoothing, refractory, ignored)
    chunk = max(1, round(chunk_ms * rate / 1000))
    live = trained.stream(every_step=True)
    _, detections, timings = stream_recording(live, samples, chunk, detector, first)
    table = Table(title=f"keywords heard in {audio.name} (threshold {threshold})")
    for column in ("time s", "keyword", "score"):
        table.add_column(column)
    for found in detections:
        table.add_row(f"{found.time:.2f}", classes[found.label], f"{found.score:.3f}")
    console = _console()
    console.print(table)
    seconds = len(samples) / rate
    console.print(
        f"{seconds:.1f} s of audio in {len(timings)} chunks of {chunk_ms:g} ms: latency per "
        f"chunk mean {timings.mean() * 1e3:.2f} ms, p99 {np.percentile(timings, 99) * 1e3:.2f} "
        f"ms; real-time factor {timings.sum() / seconds:.3f}"
    )


@app.command()
def serve(
    runs: Annotated[list[Path], typer.Argument(help="run directories to serve")],
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    max_batch: Annotated[int, typer.Option(help="sequences batched across requests")] = 64,
    max_wait_ms: Annotated[
        float, typer.Option(help="how long a request waits for others to batch with")
    ] = 5.0,
    max_upload_mb: Annotated[float, typer.Option(help="largest request body")] = 16.0,
) -> None:
    """Serve trained models over HTTP: /predict (JSON or a file), /metadata, /health."""
    for run in runs:
        if not run.is_dir():
            raise PathNotFoundError(f"invalid value for argument `runs`: no directory {run}")
    try:
        from convrec.serve import serve as serve_runs
    except ImportError as error:
        raise UnavailableError(
            f"convrec serve needs the serve extra ({error.name} is missing): "
            "pip install 'convrec[serve]'"
        ) from None
    _console().print(f"serving {', '.join(run.name for run in runs)} on http://{host}:{port}")
    serve_runs(runs, host, port, max_batch, max_wait_ms, int(max_upload_mb * 2**20))


@app.command()
def summary(
    model_or_run: Annotated[str, typer.Argument(help="a model name or a run directory")],
    input_shape: Annotated[
        str | None,
        typer.Option(
            help="input shape without the batch, e.g. 1,28,28 or 100,6",
            show_default="the run's, for a run",
        ),
    ] = None,
    output_size: Annotated[int, typer.Option(help="outputs, for a model name")] = 10,
    length: Annotated[
        int | None,
        typer.Option(
            help="steps where the time axis is open", show_default="the run's data, else 100"
        ),
    ] = None,
    seconds_per_step: Annotated[
        float | None,
        typer.Option(
            help="seconds between input steps (audio: hop / rate)", show_default="the run's"
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="NAME=VALUE model option (repeatable)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Shapes, parameters, receptive fields and mult-adds per layer.

    Per layer: output shape, parameters (per gate and direction for recurrent layers), kernel,
    stride, padding, dilation, jump, receptive field and mult-adds; totals and activation memory."""
    import json

    from convrec.diagnose.summary import summary as model_summary

    model, example, seconds = _model_and_example(
        model_or_run,
        "model_or_run",
        input_shape,
        output_size,
        length,
        parse_settings(set_ or []),
    )
    result = model_summary(model, example, seconds_per_step or seconds)
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        _console().print(result.table(model_or_run))


DEFAULT_LENGTH = 100
"""Steps of an example input where neither the run nor the user gives a length."""


def _model_and_example(
    model_or_run: str,
    argument: str,
    input_shape: str | None,
    output_size: int,
    length: int | None,
    options: dict[str, Any],
) -> tuple[Any, Any, float | None]:
    """The model (read from a run, or built by name), an example input and its seconds per
    step. A run's example is as long as the median test input it was trained for."""
    from convrec.diagnose.summary import example_input

    if Path(model_or_run).is_dir():
        from convrec.train.trained import load

        trained = load(Path(model_or_run))
        arguments = trained.description["model_arguments"]
        shape = _shape(input_shape) if input_shape else arguments["input_shape"]
        steps = length or trained.description.get("example_length") or DEFAULT_LENGTH
        example = example_input(shape, arguments.get("input_kind") or "sequence", steps)
        return trained.model, example, trained.task.seconds_per_step
    if argument == "run_dir" or Path(model_or_run).exists() or "/" in model_or_run:
        raise PathNotFoundError(
            f"invalid value for argument `{argument}`: {model_or_run} is not a run directory"
            + ("" if Path(model_or_run).exists() else " (it does not exist)")
        )
    if input_shape is None:
        raise InvalidValueError(
            "invalid value for option `--input-shape`: a model name needs the input shape "
            f"without the batch axis (e.g. 1,28,28), got none for {model_or_run!r}"
        )
    from convrec.models import create

    shape = _shape(input_shape)
    model = create(model_or_run, input_shape=shape, output_size=output_size, **options)
    kind = "tokens" if "vocab_size" in options else "sequence"  # an embedding reads ids
    return model.eval(), example_input(shape, kind, length or DEFAULT_LENGTH), None


def _shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(part) for part in text.split(","))
    except ValueError:
        shape = ()
    if not shape or min(shape) < 1:
        raise InvalidValueError(
            f"invalid value for option `--input-shape`: expected positive integers separated "
            f"by commas, e.g. 1,28,28, got {text!r}"
        )
    return shape


@app.command()
def diagnose(
    run_dir: Annotated[Path, typer.Argument(help="a run directory")],
    sequences: Annotated[int, typer.Option(help="test inputs to average over")] = 32,
) -> None:
    """Measure gradient flow and feature maps of a trained model.

    On test inputs: the gradient flow through time of its recurrent layers (gradient_flow.json,
    .png) and its first convolution's feature maps."""
    from rich.table import Table

    from convrec.diagnose.gradient_flow import read_flows
    from convrec.diagnose.inspection import inspect_model
    from convrec.train.config import read_config_file
    from convrec.train.rundir import run_lock
    from convrec.train.trained import load

    trained = load(run_dir)
    seed = read_config_file(run_dir / "config.yaml")["seed"]
    test = next(iter(trained.task.build_data(seed).tests.values()))
    with run_lock(run_dir):
        written = inspect_model(trained.model, trained.task, test, run_dir, sequences)
    console = _console()
    flow_path = run_dir / "gradient_flow.json"
    if flow_path.is_file():
        table = Table(
            "layer", "|dh_T/dh_t| ratio 10 / 50 / 100 back", "σ_max", title="gradient flow"
        )
        for flow in read_flows(flow_path):
            jacobian = flow.jacobian
            ratios = " / ".join(
                f"{jacobian[lag] / jacobian[0]:.2g}" if lag < len(jacobian) and jacobian[0] else "-"
                for lag in (10, 50, 100)
            )
            norms = ", ".join(f"{k} {v:.2f}" for k, v in flow.recurrent_norm.items())
            table.add_row(flow.label, ratios, norms)
        console.print(table)
    console.print("written: " + ", ".join(path.name for path in written))


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="a run directory")],
    length: Annotated[
        int | None,
        typer.Option(
            help="steps of the summary's example input", show_default="the run's data, else 100"
        ),
    ] = None,
) -> None:
    """Write RUN_DIR/report.html, one self-contained page.

    The page holds the configuration, metrics, model summary, pictures and gradient flow."""
    from convrec.diagnose.report import write_report
    from convrec.diagnose.summary import summary as model_summary
    from convrec.train.rundir import run_lock

    model, example, seconds = _model_and_example(str(run_dir), "run_dir", None, 0, length, {})
    with run_lock(run_dir):
        path = write_report(run_dir, model_summary(model, example, seconds))
    _console().print(f"report written to [bold]{path}[/]")


@app.command()
def tasks() -> None:
    """List the tasks (recipes) and the models tuned for them."""
    from rich.table import Table

    from convrec.tasks import available_tasks

    table = Table("task", "default model", "also tuned", "description", title="convrec tasks")
    for task in available_tasks():
        others = ", ".join(name for name in task.models if name != task.default_model)
        table.add_row(task.name, task.default_model, others, task.description)
    _console().print(table)


@app.command()
def models() -> None:
    """List the models, their inputs and their options.

    Set an option with --set model_options.NAME=VALUE."""
    from rich.table import Table

    from convrec.models import available

    table = Table("model", "inputs", "description", "options (default)", title="convrec models")
    for entry in available():
        options = ", ".join(f"{name}={default!r}" for name, default in entry.options().items())
        table.add_row(entry.name, ", ".join(entry.inputs), entry.description, options)
    _console().print(table)


@data_app.command("list")
def data_list() -> None:
    """List the data sources, whether each is fetched, and the datasets each serves."""
    from rich.table import Table

    from convrec.data.datasets import SYNTHESISED, served_by
    from convrec.data.sources import SOURCES, status
    from convrec.data.store import data_dir

    table = Table("source", "status", "datasets", "origin", title=f"convrec data ({data_dir()})")
    for name, entry in SOURCES.items():
        table.add_row(name, status(name), ", ".join(served_by(name)), entry.origin.how)
    speech = "synthesised on first use, cached in keywords/ (needs espeak-ng)"
    table.add_row(SYNTHESISED, "on demand", ", ".join(served_by(SYNTHESISED)), speech)
    _console().print(table)


@data_app.command("fetch")
def data_fetch(
    names: Annotated[
        list[str] | None, typer.Argument(help="sources or dataset names (see `convrec data list`)")
    ] = None,
    all_sources: Annotated[bool, typer.Option("--all", help="fetch every source")] = False,
    force: Annotated[bool, typer.Option(help="fetch again even if present")] = False,
) -> None:
    """Fetch sources into the data directory ($CONVREC_DATA, default ~/.cache/convrec), verifying
    every file. `espeak-ng` builds the speech datasets' default splits (not in --all)."""
    from convrec.data.datasets import (
        BUILT_BY_LOADER,
        SYNTHESISED,
        load_dataset,
        served_by,
        source_of,
    )
    from convrec.data.sources import SOURCES, fetch

    wanted = list(SOURCES) if all_sources else [source_of(name) for name in names or []]
    if not wanted:
        raise InvalidValueError(
            "invalid value for argument `names`: expected sources or --all, got none"
        )
    console = _console()
    for name in dict.fromkeys(wanted):
        if name == SYNTHESISED:
            for dataset in served_by(SYNTHESISED):
                console.print(f"{dataset}: {load_dataset(dataset).sizes()} clips built and cached")
            continue
        if name == BUILT_BY_LOADER:
            made = [given for given in names or [] if source_of(given) == BUILT_BY_LOADER]
            console.print(f"{', '.join(made)}: nothing to fetch, the loader makes its data")
            continue
        folder = fetch(name, force=force)
        size = sum(path.stat().st_size for path in folder.iterdir())
        files = len(list(folder.iterdir())) - 1
        console.print(f"{name}: {files} files, {size / 1e6:.1f} MB verified in [bold]{folder}[/]")


def _print_metrics(console: Console, metrics: dict[str, dict[str, float]], title: str) -> None:
    from rich.table import Table

    names = list(next(iter(metrics.values())))
    table = Table("test set", *names, title=title)
    for test_set, values in metrics.items():
        table.add_row(test_set, *(f"{values[name]:.4g}" for name in names))
    console.print(table)


if __name__ == "__main__":
    main()
