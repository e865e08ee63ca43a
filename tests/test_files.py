"""Atomic writes: the old file survives a failed write; formats round-trip."""

import csv
import json

import pytest
import yaml

from convrec.files import atomic_write, write_csv, write_json, write_yaml


def test_a_failing_write_leaves_the_previous_file_and_no_temporary(tmp_path):
    path = tmp_path / "metrics.json"
    write_json(path, {"accuracy": 0.9})

    def crash(file):
        file.write(b'{"accura')
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, crash)
    assert json.loads(path.read_text()) == {"accuracy": 0.9}
    assert [item.name for item in tmp_path.iterdir()] == ["metrics.json"]


def test_csv_columns_follow_first_appearance(tmp_path):
    path = write_csv(
        tmp_path / "history.csv", [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.25}]
    )
    with path.open() as file:
        rows = list(csv.DictReader(file))
    assert rows == [{"epoch": "1", "loss": "0.5"}, {"epoch": "2", "loss": "0.25"}]


def test_yaml_round_trips(tmp_path):
    value = {"task": "maxwell", "lr": 0.003, "model_options": {"hidden_size": 64}}
    assert yaml.safe_load(write_yaml(tmp_path / "config.yaml", value).read_text()) == value
