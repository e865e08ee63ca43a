"""One self-contained HTML page per run: configuration, metrics, the model summary, every picture
(embedded as data URIs) and the gradient flow. No script, no stylesheet or font from anywhere:
it opens offline and can be mailed as one file."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from convrec.diagnose.gradient_flow import read_flows
from convrec.diagnose.summary import ModelSummary
from convrec.errors import InvalidValueError
from convrec.files import write_text
from convrec.run_files import PICTURE_LIMIT, check_tree, read_bytes, read_json
from convrec.yaml_files import read_yaml_file

PICTURE_ORDER = ("learning_curves", "confusion_matrix", "class_scores", "first_convolution")
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #222; }
h1 { border-bottom: 2px solid #2a6f97; padding-bottom: .3rem; }
h2 { color: #2a6f97; margin-top: 2rem; }
table { border-collapse: collapse; font-size: .9rem; margin: .5rem 0; }
th, td { border: 1px solid #ccc; padding: .25rem .6rem; text-align: left; vertical-align: top; }
th { background: #eef4f8; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1rem 0; }
img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: .85rem; color: #555; }
"""


def write_report(directory: Path, summary: ModelSummary | None = None) -> Path:
    """Write ``directory / 'report.html'`` from the run's files and return its path.

    Args:
        directory: a finished run directory (``config.yaml``, ``metrics.json``, PNG pictures,
            optionally ``gradient_flow.json``).
        summary: the model's :class:`ModelSummary`, shown as a table when given.
    """
    directory = Path(directory)
    metrics_path = directory / "metrics.json"
    if not metrics_path.is_file():
        raise InvalidValueError(
            f"invalid value for argument `run_dir`: {directory} has no metrics.json; "
            "is it a finished convrec run directory?"
        )
    check_tree(directory)  # nothing in it is followed: no link, FIFO or device
    metrics = read_json(metrics_path)
    if not isinstance(metrics, Mapping):
        raise InvalidValueError(f"{metrics_path}: expected a JSON object of metrics")
    config_path = directory / "config.yaml"
    config = read_yaml_file(config_path) if config_path.is_file() else {}
    if not isinstance(config, Mapping):
        raise InvalidValueError(f"{config_path}: expected a mapping of keys to values")
    title = f"convrec run {directory.name}: {metrics.get('task', '')} / {metrics.get('model', '')}"
    tests = metrics.get("test") if isinstance(metrics.get("test"), Mapping) else {}
    sections = [
        f"<h1>{html.escape(title)}</h1>",
        "<h2>Test metrics</h2>",
        _test_table(tests),
        "<h2>Run</h2>",
        _table(_flatten({key: value for key, value in metrics.items() if key != "test"})),
    ]
    if summary is not None:
        sections += ["<h2>Model</h2>", _summary_table(summary)]
    data_path = directory / "data.json"
    if data_path.is_file():
        sections += ["<h2>Data</h2>", _data_table(read_json(data_path), data_path)]
    sections += ["<h2>Pictures</h2>", *(_figure(path) for path in _pictures(directory))]
    flow_path = directory / "gradient_flow.json"
    if flow_path.is_file():
        sections += ["<h2>Gradient flow through time</h2>", _flow_table(flow_path)]
    sections += ["<h2>Configuration</h2>", _table(_flatten(config))]
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(sections)
        + "\n</body>\n</html>\n"
    )
    return write_text(directory / "report.html", page)


def _flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as ``{'test.accuracy': 0.9, ...}``."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat |= _flatten(value, f"{name}.")
        else:
            flat[name] = value
    return flat


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f'<td class="number">{value:.6g}</td>'
    if isinstance(value, int) and not isinstance(value, bool):
        return f'<td class="number">{value:,}</td>'
    return f"<td>{html.escape(str(value))}</td>"


def _data_table(summary: Any, path: Path) -> str:
    """The run's ``data.json``: items per split and class, and the imbalance; or, for a
    series, windows, steps and time range per split, and the step."""
    try:
        splits = list(summary["sizes"])
        classes = summary.get("classes")
        rows = [["all classes" if classes else "items", *summary["sizes"].values()]]
        for name, counts in (classes or summary.get("rows", {})).items():
            rows.append([name, *(counts.get(split, 0) for split in splits)])
        imbalance = float(summary.get("imbalance", 1))
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        raise InvalidValueError(f"{path}: expected a data summary ({error!r})") from None
    if classes:
        caption = f"<p>Imbalance (largest over smallest training class): {imbalance:.3g}</p>"
    elif summary.get("step"):
        caption = f"<p>Step: {html.escape(str(summary['step']))}</p>"
    else:
        caption = ""
    return _grid(["class" if classes else "", *splits], rows) + caption


def _test_table(tests: Mapping[str, Any]) -> str:
    """One row per test set, one column per metric."""
    sets = {name: values for name, values in tests.items() if isinstance(values, Mapping)}
    names = list(dict.fromkeys(metric for values in sets.values() for metric in values))
    head = "".join(f"<th>{html.escape(str(name))}</th>" for name in ["test set", *names])
    body = "".join(
        f"<tr><th>{html.escape(str(test_set))}</th>"
        + "".join(_cell(values.get(name, "")) for name in names)
        + "</tr>"
        for test_set, values in sets.items()
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _table(rows: Mapping[str, Any]) -> str:
    body = "".join(
        f"<tr><th>{html.escape(key)}</th>{_cell(value)}</tr>" for key, value in rows.items()
    )
    return f"<table>{body}</table>"


def _grid(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(name)}</th>" for name in header)
    body = "".join("<tr>" + "".join(_cell(value) for value in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _summary_table(summary: ModelSummary) -> str:
    rows = [
        [
            row.name,
            row.layer,
            "x".join(map(str, row.output_shape)),
            row.parameters,
            _axes(row.kernel_size),
            _axes(row.stride),
            _axes(row.jump),
            "whole input" if row.sees_whole_input else _axes(row.receptive_field),
            row.mult_adds,
        ]
        for row in summary.rows
    ]
    header = ["layer", "type", "output", "params", "kernel", "stride", "jump", "receptive field"]
    return f"<p>{html.escape(summary.caption())}</p>" + _grid([*header, "mult-adds"], rows)


def _axes(value: Any) -> str:
    if value is None:
        return ""
    return "x".join(map(str, value)) if isinstance(value, tuple | list) else str(value)


def _pictures(directory: Path) -> list[Path]:
    """The run's PNG files, the usual ones first."""
    found = sorted(directory.glob("*.png"))
    rank = {name: index for index, name in enumerate(PICTURE_ORDER)}
    return sorted(found, key=lambda path: (rank.get(path.stem, len(rank)), path.stem))


def _figure(path: Path) -> str:
    encoded = base64.b64encode(read_bytes(path, PICTURE_LIMIT)).decode()
    caption = html.escape(path.stem.replace("_", " "))
    return (
        f'<figure><img alt="{caption}" src="data:image/png;base64,{encoded}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def _flow_table(path: Path) -> str:
    """Per recurrent layer and direction: ``||dh_T/dh_t||`` at a few lags, relative to lag 0,
    and the largest singular value of each gate's recurrent weights."""
    lags = (1, 10, 50, 100)
    rows = []
    for flow in read_flows(path):
        jacobian = flow.jacobian
        ratios = [
            f"{jacobian[lag] / jacobian[0]:.3g}" if lag < len(jacobian) and jacobian[0] else ""
            for lag in lags
        ]
        norms = ", ".join(f"{gate} {value:.3g}" for gate, value in flow.recurrent_norm.items())
        label = flow.label
        rows.append([label, *ratios, norms])
    header = ["layer", *(f"|dh_T/dh_t| / |dh_T/dh_T|, {lag} back" for lag in lags), "sigma_max"]
    return _grid(header, rows)
