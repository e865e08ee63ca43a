"""The maxwell task's models in distribution and at rates 10x outside the training range.

    python benchmarks/maxwell_rates.py --floor                        # the integrators, no training
    python benchmarks/maxwell_rates.py --models gru maxwell-cell --seeds 0 1 2

``--floor`` sets :class:`convrec.models.MaxwellCell` to the notes' solid itself
(``E / sigma0``, ``phi(s) = s^(m - 1) / nu0``) and evaluates it on the test sets of seed 0, for
each integration scheme: the error a perfectly learned cell would still make, its integrator's
(median, and 95th percentile in brackets).

Training rows run ``convrec.train("maxwell", MODEL, seed=S)`` with the recipe's options (the
``maxwell-cell`` recipe adds ``task_options.raw_increments``) and report the median relative L2
error of the stress histories on the in-distribution, ``rates-10x-faster`` and
``rates-10x-slower`` test sets (the task's own test sets, in every run's ``metrics.json``): the
mean over seeds, the spread (min-max) and the mean training seconds.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
from datetime import date

import torch
from provenance import revision

import convrec
from convrec.models import MaxwellCellNet
from convrec.tasks.maxwell import Maxwell

TEST_SETS = ("in-distribution", "rates-10x-faster", "rates-10x-slower")
METRIC = "rel_l2_median"
TAIL = "rel_l2_p95"
SCHEMES = [
    ("backward_euler", 1),
    ("backward_euler", 2),
    ("backward_euler", 4),
    ("sdirk2", 1),
    ("sdirk2", 2),
]


def floor_rows(seed: int = 0) -> list[list[str]]:
    """The cell set to the notes' solid, per scheme: the median (and 95th percentile) relative
    error of each test set."""
    task = Maxwell(raw_increments=True)
    data = task.build_data(seed)
    material = task.material
    rows = []
    for scheme, substeps in SCHEMES:
        model = MaxwellCellNet(task.input_shape, 1, scheme=scheme, substeps=substeps)
        model.recurrent.cells[0].load_power_law(
            material.youngs_modulus / material.reference_stress,
            1 / material.viscosity_time,
            material.exponent - 1,
        )
        metrics = [task.evaluate(model, data.tests[name]) for name in TEST_SETS]
        errors = [f"{each[METRIC]:.4f} ({each[TAIL]:.4f})" for each in metrics]
        rows.append([f"{scheme}, {substeps} substep(s)", *errors])
    return rows


def training_rows(models: list[str], seeds: list[int]) -> list[list[str]]:
    rows = []
    with tempfile.TemporaryDirectory() as out:
        for model in models:
            errors: dict[str, list[float]] = {name: [] for name in TEST_SETS}
            seconds = []
            for seed in seeds:
                run = convrec.train("maxwell", model, seed=seed, out=out, progress=False)
                for name in TEST_SETS:
                    errors[name].append(run.metrics["test"][name][METRIC])
                seconds.append(run.metrics["train_seconds"])
                print(model, seed, {name: round(values[-1], 4) for name, values in errors.items()})
            rows.append([model, *(_summary(errors[name]) for name in TEST_SETS)])
            rows[-1].append(f"{statistics.fmean(seconds):.0f}")
    return rows


def _summary(values: list[float]) -> str:
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.4f}"
    return f"{mean:.4f} ({min(values):.4f}-{max(values):.4f})"


def _print_table(header: list[str], rows: list[list[str]]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--floor", action="store_true", help="the integrators on the true law")
    parser.add_argument("--models", nargs="*", default=[], help="models to train")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    arguments = parser.parse_args()
    print(
        f"date {date.today()}, revision {revision()}, torch {torch.__version__}, "
        f"{platform.machine()} {platform.processor() or ''}, threads {torch.get_num_threads()}"
    )
    columns = [f"{name}, median rel. L2" for name in TEST_SETS]
    if arguments.floor:
        _print_table(["the notes' law in the cell", *columns], floor_rows())
    if arguments.models:
        rows = training_rows(arguments.models, arguments.seeds)
        print(f"seeds {arguments.seeds}: mean (min-max)")
        _print_table(["model", *columns, "train s"], rows)


if __name__ == "__main__":
    main()
