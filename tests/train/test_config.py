"""Configuration: defaults resolve in order; bad keys and values, and model and task options
the model or task does not take, are refused by name."""

import math

import pytest

from convrec.train.config import (
    make_config,
    read_config_file,
    read_config_mapping,
    written_by_a_run,
)
from convrec.train.resolve import resolve_config


def test_task_defaults_then_file_then_options(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("epochs: 7\nlr: 0.01\n")
    config = resolve_config("maxwell", config_file=path, lr=0.5)
    assert (config.model, config.epochs, config.lr) == ("gru", 7, 0.5)
    assert config.model_options == {"hidden_size": 64, "num_layers": 1}


def test_task_options_of_a_file_and_of_the_call_are_merged_key_by_key(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("task_options:\n  label_column: kind\n  standardise: none\n")
    config = resolve_config("series", config_file=path, task_options={"data": "walks.csv"})
    assert config.task_options == {
        "label_column": "kind",
        "standardise": "none",
        "data": "walks.csv",
    }


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"epochs": 0}, r"`epochs`: Input should be greater than or equal to 1 \(got 0\)"),
        ({"lr": "fast"}, r"`lr`: Input should be a valid number"),
        ({"learning_rate": 0.1}, r"`learning_rate`: Extra inputs are not permitted"),
        (
            {"label_column": "kind"},
            r"own option goes under task_options.label_column or model_options.label_column",
        ),
        ({"batch_size": 5, "devices": 2}, r"batch_size 5 does not split evenly over 2 processes"),
        (
            {"schedule": "step"},
            r"`schedule`: Input should be 'cosine', 'constant' or 'one-cycle' \(got 'step'\)",
        ),
        ({"lr": math.inf}, r"`lr`: Input should be a finite number"),
        ({"weight_decay": math.nan}, r"`weight_decay`: Input should be a finite number"),
        ({"optimizer": "adam"}, r"`optimizer`: Input should be 'adamw' or 'sgd'"),
    ],
)
def test_bad_values_are_refused_naming_the_key(values, message):
    with pytest.raises(ValueError, match=message):
        make_config(task="maxwell", model="gru", **values)


def test_unknown_task_and_model_list_the_choices():
    with pytest.raises(ValueError, match=r"unknown task 'maxwel'.*Did you mean 'maxwell'"):
        resolve_config("maxwel")
    with pytest.raises(
        ValueError, match=r"unknown model 'grux': expected one of .*Did you mean 'gru'"
    ):
        from convrec.models import create

        create("grux", input_shape=(None, 1), output_size=1)


def test_the_resolved_model_and_options_are_checked_before_anything_is_built(tmp_path):
    with pytest.raises(ValueError, match=r"unknown model 'grux'.*Did you mean 'gru'"):
        resolve_config("maxwell", "grux")
    with pytest.raises(ValueError, match=r"^gru: .*`model_options`.*Did you mean 'hidden_size'"):
        resolve_config("maxwell", model_options={"hidden_sise": 8})
    path = tmp_path / "config.yaml"
    path.write_text("task_options: {train_sise: 8}\nmodel: lstm\n")
    with pytest.raises(ValueError, match=r"^maxwell: .*got 'train_sise'.*Did you mean"):
        resolve_config("maxwell", config_file=path)


def test_a_config_file_must_be_a_mapping(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(ValueError, match="expected a mapping"):
        read_config_file(path)
    with pytest.raises(FileNotFoundError, match="no file at"):
        read_config_file(tmp_path / "missing.yaml")


def test_a_runs_own_config_file_is_told_from_one_written_by_hand(tmp_path):
    by_hand, by_a_run = tmp_path / "mine.yaml", tmp_path / "config.yaml"
    by_hand.write_text("epochs: 3\n")
    by_a_run.write_text("epochs: 3\nversions:\n  convrec: 0.1.0\n")
    assert not written_by_a_run(read_config_mapping(by_hand))
    assert written_by_a_run(read_config_mapping(by_a_run))
    assert read_config_file(by_a_run) == {"epochs": 3}
