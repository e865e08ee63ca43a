"""Watching a training: gradient flow every N epochs, TensorBoard scalars, and the pictures and
measurements every run gets at the end."""

import json

import pytest

import convrec

SMALL = {"train_size": 16, "validation_size": 8, "test_size": 4, "segments": 2}


def tiny_run(out, model="gru", model_options=None, **options):
    return convrec.train(
        "maxwell",
        model,
        batch_size=8,
        epochs=2,
        progress=False,
        out=str(out),
        model_options=model_options or {"hidden_size": 6},
        task_options=SMALL,
        **options,
    )


def test_gradient_flow_is_recorded_during_training_and_measured_at_the_end(tmp_path):
    run = tiny_run(tmp_path, gradient_flow_every=1, logger="tensorboard")
    history = json.loads((run.directory / "gradient_flow_history.json").read_text())
    assert [record["epoch"] for record in history] == [1, 2]
    (flow,) = history[0]["flows"]
    assert flow["cell"] == "GRU" and flow["direction"] == "forward"
    assert all(value > 0 for value in flow["jacobian"])
    assert (run.directory / "gradient_flow_history.png").is_file()
    final = json.loads((run.directory / "gradient_flow.json").read_text())
    assert len(final) == 1 and (run.directory / "gradient_flow.png").is_file()
    assert list((run.directory / "tensorboard").glob("events.out.tfevents.*"))


def test_gradient_flow_of_a_model_without_recurrent_layers_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"argument `gradient_flow_every`.*recurrent"):
        tiny_run(tmp_path, "fcn", {"widths": (4,), "kernel_sizes": (3,)}, gradient_flow_every=1)
