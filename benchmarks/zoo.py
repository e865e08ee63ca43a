"""Train every recipe of the model zoo with several seeds and compare with published figures and
classical baselines measured in the same run.

    python benchmarks/zoo.py --seeds 3                     # every row, three seeds
    python benchmarks/zoo.py --rows mnist1d:resnet dna     # some rows (task or task:model)
    python benchmarks/zoo.py --seeds 1 --markdown zoo.md   # also write the table as Markdown

Each row trains ``convrec.train(task, model, seed=s)`` with the recipe's defaults (a headline row
overrides some, e.g. more epochs than the recipe's ten-minute budget), and reports the
test metric's mean and spread (min to max) over the seeds and the mean training time. Baselines
(``benchmarks/baselines.py``) run on the splits of the same seeds; an ensemble row's baseline is
also built as its ensembles are, where the baseline gives probabilities. The transfer row trains
LeNet-5 on Fashion-MNIST, then MNIST with 10 labels per class from scratch and from the
Fashion-MNIST weights (with ``--freeze backbone``: convolutions frozen, dense layers new and
trained; and without it: every layer trained), and reports the frozen run's gain.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import torch
from provenance import revision
from rich.console import Console
from rich.table import Table

import convrec
from convrec.train.ensemble import evaluate_ensemble


@dataclass(frozen=True)
class Row:
    """A recipe to train: its task, model, the metric reported, the goal and the anchor."""

    task: str
    model: str
    metric: str
    goal: str
    anchor: str
    ensemble: int = 1  # runs whose probabilities are averaged per value (convrec evaluate)
    options: dict = field(default_factory=dict)  # training options over the recipe's (epochs)

    @property
    def key(self) -> str:
        return f"{self.task}:{self.model}" + (f"x{self.ensemble}" if self.ensemble > 1 else "")


ROWS = [
    Row("mnist1d", "resnet", "accuracy", ">= 0.95", "CNN 0.94 (mnist1d README)"),
    Row("mnist1d", "gru", "accuracy", ">= 0.92", "GRU 0.91 (mnist1d README)"),
    Row("mnist1d", "mlp", "accuracy", ">= 0.68", "MLP 0.68 (mnist1d README)"),
    Row("fashion-mnist", "lenet5", "accuracy", ">= 0.90", "small CNNs 0.91-0.93"),
    Row("fashion-mnist", "resnet", "accuracy", ">= 0.94", "small CNNs 0.91-0.93"),
    Row("mnist-5k", "lenet5", "accuracy", "", ""),
    Row("digits", "resnet", "accuracy", "", ""),
    Row("basic-motions", "fcn", "accuracy", "1.00", "1.00 (UEA)"),
    Row("japanese-vowels", "fcn", "accuracy", ">= 0.985", "FCN 0.993 (UEA)"),
    Row("plaid", "fcn", "accuracy", "", ""),
    Row("italy-power", "fcn", "accuracy", ">= 0.96", "~0.97 (UCR)"),
    Row("italy-power", "fcn", "accuracy", ">= 0.96", "InceptionTime 0.965 (5 networks)", 5),
    Row("italy-power", "inception-time", "accuracy", ">= 0.96", "InceptionTime 0.965", 5),
    Row("gunpoint", "fcn", "accuracy", ">= 0.99", "1.00 (UCR)"),
    Row("keywords", "crnn", "accuracy", ">= 0.97", "logistic regression on log spectrograms 0.94"),
    Row("welcome", "resnet", "accuracy", "CNN succeeds", "the notes' argument"),
    Row("welcome", "mlp", "accuracy", "MLP fails", "the notes' argument"),
    Row("dna", "deepbind", "accuracy", ">= 4-mer LR + 0.05", "4-mer LR 0.83"),
    Row("reviews", "textcnn", "accuracy", "> TF-IDF LR", "measured"),
    Row("reviews", "textcnn", "accuracy", "> TF-IDF LR", "measured", 5),
    Row("char-lm", "charlm", "bits_per_char", "< n-gram", "measured"),
    Row("sunspots", "forecaster", "mae", "< ARIMA, seasonal naive", "measured"),
    Row("elecdemand", "forecaster", "mae", "< ARIMA, seasonal naive", "measured"),
    Row("maxwell", "gru", "rel_l2_median", "", "in-distribution test set"),
    Row(
        "g2p",
        "seq2seq",
        "wer",
        "< 0.30",
        "encoder-decoder LSTM 0.28-0.29 (Yao & Zweig 2015)",
        options={"epochs": 16},
    ),
    Row(
        "g2p",
        "seq2seq-attention",
        "wer",
        "< 0.25",
        "bi-LSTM 0.236 (Yao & Zweig 2015), DBLSTM-CTC 0.258 (Rao et al. 2015)",
        options={"epochs": 8},
    ),
    Row("digit-strings", "crnn", "der", "< 0.02", "synthetic speech: no published figure"),
    *(
        Row(f"{series}-anomalies", model, "f1", "> every baseline", "measured")
        for series in ("yahoo", "ecg", "elecdemand")
        for model in ("gru", "conv-autoencoder")
    ),
    Row(
        "ecg-anomalies",
        "conv-autoencoder",
        "f1",
        "> every baseline",
        "smooth 32 chosen after seeing the test part: not held out",
        options={"task_options": {"smooth": 32}},
    ),
    Row(
        "ecg-anomalies",
        "conv-autoencoder",
        "f1",
        "> every baseline",
        "aggregate any-window chosen after seeing the test part: not held out",
        options={"task_options": {"aggregate": "any-window"}},
    ),
]
TRANSFER = Row("mnist-few", "lenet5", "accuracy", "gain > 0", "from Fashion-MNIST")


@dataclass
class Result:
    row: Row
    values: list[float]
    seconds: list[float]
    note: str = ""

    def cells(self) -> list[str]:
        mean = statistics.fmean(self.values)
        spread = f"{min(self.values):.4f}-{max(self.values):.4f}" if len(self.values) > 1 else ""
        return [
            self.row.task,
            self.row.model
            + (f" x{self.row.ensemble} (mean probabilities)" if self.row.ensemble > 1 else "")
            + "".join(f", {name} {value}" for name, value in self.row.options.items()),
            self.row.metric,
            f"{mean:.4f}",
            spread,
            self.row.goal,
            self.row.anchor + (f"; {self.note}" if self.note else ""),
            f"{statistics.fmean(self.seconds):.0f}",
        ]


def test_metric(run: convrec.train.Run, metric: str) -> float:
    """The row's metric on the run's test set (``in-distribution`` for maxwell)."""
    tests = run.metrics["test"]
    return tests["test" if "test" in tests else "in-distribution"][metric]


def train_row(row: Row, seeds: list[int], out: Path) -> Result:
    """The row's metric for each seed; for an ensemble of ``M``, seed ``s`` is the ensemble of
    the runs of seeds ``s * M`` to ``s * M + M - 1`` (seconds: all of its runs')."""
    values, seconds = [], []
    for seed in seeds:
        members = range(seed * row.ensemble, (seed + 1) * row.ensemble)
        runs = [
            convrec.train(row.task, row.model, seed=s, out=str(out), progress=False, **row.options)
            for s in members
        ]
        if row.ensemble == 1:
            values.append(test_metric(runs[0], row.metric))
        else:
            metrics = evaluate_ensemble([run.directory for run in runs])
            values.append(metrics["test"][row.metric])
        seconds.append(sum(run.metrics["train_seconds"] for run in runs))
    return Result(row, values, seconds)


def transfer_row(seeds: list[int], out: Path) -> Result:
    """Starting from Fashion-MNIST's convolutions against training from scratch, on the same few
    labels: the gain with those convolutions frozen (new dense layers trained), with the run that
    trains every layer from them in the note."""
    accuracies: dict[str, list[float]] = {"scratch": [], "frozen": [], "whole": []}
    seconds = []
    for seed in seeds:
        source = convrec.train("fashion-mnist", "lenet5", seed=seed, out=str(out), progress=False)
        variants = {
            "scratch": {},
            "frozen": {"finetune": str(source.directory), "freeze": "backbone"},
            "whole": {"finetune": str(source.directory)},
        }
        for name, options in variants.items():
            run = convrec.train(
                "mnist-few", "lenet5", seed=seed, out=str(out), progress=False, **options
            )
            accuracies[name].append(test_metric(run, "accuracy"))
        seconds.append(run.metrics["train_seconds"])
    scratch, frozen, whole = (statistics.fmean(accuracies[name]) for name in accuracies)
    pairs = zip(accuracies["frozen"], accuracies["scratch"], strict=True)
    gains = [transferred - alone for transferred, alone in pairs]
    note = (
        f"scratch {scratch:.4f}; frozen convolutions, new dense layers {frozen:.4f} (gain shown); "
        f"every layer trained from the convolutions {whole:.4f}"
    )
    return Result(TRANSFER, gains, seconds, note)


def baseline_results(datasets: set[str], seeds: list[int]) -> list[Result]:
    """Each classical baseline of the datasets the chosen rows use, on the splits of each seed
    (the validation split, and so the training set, can depend on the seed, as the networks'
    do), so that both sides of a comparison average over the same splits."""
    from baselines import BASELINES

    results = []
    for dataset, calls in BASELINES.items():
        if dataset not in datasets:
            continue
        values: dict[tuple[str, str], list[float]] = {}
        seconds: dict[str, list[float]] = {}
        for seed in seeds:
            splits = convrec.data.load_dataset(dataset, seed=seed)
            for name, function in calls:
                started = time.perf_counter()
                metrics = function(splits)
                seconds.setdefault(name, []).append(time.perf_counter() - started)
                for metric, value in metrics.items():
                    if isinstance(value, float):
                        values.setdefault((name, metric), []).append(value)
        for (name, metric), measured in values.items():
            row = Row(dataset, f"baseline: {name}", metric, "", "measured")
            results.append(Result(row, measured, seconds[name]))
    return results


def ensemble_baseline_results(rows: list[Row], seeds: list[int]) -> list[Result]:
    """For each ensemble row whose dataset has a probabilistic baseline, that baseline built as
    the row's ensembles are: for seed ``s``, one fit per member seed ``s * M`` to
    ``s * M + M - 1`` on that seed's splits, the test probabilities averaged; its accuracy."""
    from baselines import ENSEMBLE_BASELINES

    results = []
    for row in rows:
        dataset = getattr(convrec.tasks.create_task(row.task), "dataset", None)
        if row.ensemble == 1 or dataset not in ENSEMBLE_BASELINES:
            continue
        for name, function in ENSEMBLE_BASELINES[dataset]:
            values, seconds = [], []
            for seed in seeds:
                started = time.perf_counter()
                members = range(seed * row.ensemble, (seed + 1) * row.ensemble)
                fitted = [function(convrec.data.load_dataset(dataset, seed=s)) for s in members]
                labels = fitted[0][1]
                if any(not np.array_equal(other, labels) for _, other in fitted):
                    raise ValueError(f"{dataset}: the members' test labels differ")
                average = np.mean([probabilities for probabilities, _ in fitted], axis=0)
                values.append(float(np.mean(average.argmax(axis=1) == labels)))
                seconds.append(time.perf_counter() - started)
            baseline = Row(dataset, f"baseline: {name}", "accuracy", "", "measured", row.ensemble)
            results.append(Result(baseline, values, seconds))
    return results


def chosen_rows(names: list[str]) -> list[Row]:
    if not names:
        return ROWS
    wanted = [row for row in ROWS if row.key in names or row.task in names]
    known = {row.key for row in ROWS} | {row.task for row in ROWS} | {"transfer"}
    unknown = sorted(set(names) - known)
    if unknown:
        raise SystemExit(f"unknown rows {unknown}; choose among {sorted(known)}")
    return wanted


def machine() -> str:
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return (
        f"{platform.machine()} {platform.processor() or 'CPU'}, {os.cpu_count()} cores, "
        f"{torch.get_num_threads()} torch threads, {device}; torch {torch.__version__}"
    )


HEADER = ["task", "model", "metric", "mean", "spread", "goal", "anchor", "train s"]


def markdown(results: list[Result], command: str, measured_revision: str) -> str:
    """The table with its date, the ``measured_revision``, the machine and the command."""
    lines = [
        f"- Date {date.today()}; revision {measured_revision}; {machine()}.",
        f"- Command: `{command}`",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
    ]
    lines += ["| " + " | ".join(result.cells()) + " |" for result in results]
    return "\n".join(lines) + "\n"


def run(rows: list[Row], seeds: list[int], transfer: bool, out: Path, show: Callable) -> list:
    results = []
    for row in rows:
        started = time.perf_counter()
        results.append(train_row(row, seeds, out))
        show(f"{row.key}: {results[-1].values} in {time.perf_counter() - started:.0f} s")
    if transfer:
        results.append(transfer_row(seeds, out))
        show(f"transfer: {results[-1].values}")
    datasets = {getattr(convrec.tasks.create_task(row.task), "dataset", None) for row in rows}
    results += baseline_results(datasets, seeds)
    results += ensemble_baseline_results(rows, seeds)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="*", default=[], help="task or task:model; 'transfer'")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, help="run directories (default: a temporary folder)")
    parser.add_argument("--markdown", type=Path, help="write the table as Markdown here")
    parser.add_argument("--json", type=Path, help="write every measured value here")
    arguments = parser.parse_args()
    measured_revision = revision()  # now: the checkout may move on during a long run
    console = Console()
    rows = chosen_rows([name for name in arguments.rows if name != "transfer"])
    transfer = not arguments.rows or "transfer" in arguments.rows
    if arguments.rows == ["transfer"]:
        rows = []
    with tempfile.TemporaryDirectory() as temporary:
        out = arguments.out or Path(temporary)
        results = run(rows, list(range(arguments.seeds)), transfer, out, console.print)
    table = Table(*HEADER, title=f"convrec zoo, revision {measured_revision}")
    for result in results:
        table.add_row(*result.cells())
    console.print(table)
    command = "python benchmarks/zoo.py " + " ".join(
        [f"--seeds {arguments.seeds}", *(["--rows", *arguments.rows] if arguments.rows else [])]
    )
    if arguments.markdown:
        arguments.markdown.write_text(markdown(results, command, measured_revision))
    if arguments.json:
        records = [
            {
                "task": r.row.task,
                "model": r.row.model,
                "metric": r.row.metric,
                "values": r.values,
                "seconds": r.seconds,
                "note": r.note,
            }
            for r in results
        ]
        arguments.json.write_text(json.dumps(records, indent=1))


if __name__ == "__main__":
    main()
