"""Run directories: resuming from the newest checkpoint ends, bit for bit, where an uninterrupted
run ends; a run with no checkpoint yet starts over; another run's checkpoints are refused; a run
that fails to start leaves no directory; a saved model predicts, in this process and in another,
bit for bit what it predicted before it was saved."""

import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import convrec
from convrec.tasks.maxwell import Maxwell
from convrec.train import finish, run
from convrec.train.checkpoint import IncompatibleCheckpointError, read_checkpoint

SMALL = {"train_size": 24, "validation_size": 8, "test_size": 4, "segments": 2}
TINY = {
    "train_size": 8,
    "validation_size": 4,
    "test_size": 1,
    "segments": 2,
    "steps_per_segment": 5,
}


def small_run(out, task_options=SMALL, **options):
    return convrec.train(
        "maxwell",
        batch_size=8,
        progress=False,
        out=str(out),
        model_options={"hidden_size": 8, "num_layers": 2, "dropout": 0.2},
        task_options=task_options,
        **options,
    )


@pytest.fixture(scope="module")
def one_epoch_run(tmp_path_factory):
    return small_run(tmp_path_factory.mktemp("runs"), epochs=1)


@pytest.mark.slow  # ~18 s each; test_resume.py kills and resumes runs bit for bit by default
@pytest.mark.parametrize("bucket_by_length", [False, True])
def test_resume_continues_from_the_newest_checkpoint_bit_for_bit(tmp_path, bucket_by_length):
    options = {"schedule": "constant", "bucket_by_length": bucket_by_length}
    whole = small_run(tmp_path / "whole", epochs=3, **options)
    first = small_run(tmp_path / "parts", epochs=2, **options)
    leftovers = [
        first.directory / ".history.csv.k2j4.tmp",
        first.directory / "checkpoints" / ".epoch-0003.x8a1.tmp",
    ]
    leftovers[0].write_text("epoch,")
    leftovers[1].mkdir()
    resumed = convrec.train("maxwell", resume=first.directory, epochs=3, progress=False)
    assert resumed.directory == first.directory and resumed.metrics["epochs"] == 3
    assert not any(path.exists() for path in leftovers)
    expected = read_checkpoint(whole.directory / "checkpoints" / "epoch-0003")
    actual = read_checkpoint(resumed.directory / "checkpoints" / "epoch-0003")
    assert actual["fit"] == expected["fit"]  # losses, optimizer steps, best epoch
    for name, tensor in expected["model"].items():
        assert torch.equal(actual["model"][name], tensor), name
    saved = (resumed.directory / "model.safetensors").read_bytes()
    assert saved == (whole.directory / "model.safetensors").read_bytes()


def test_a_run_killed_before_its_first_checkpoint_starts_over_to_the_same_end(
    one_epoch_run, tmp_path
):
    directory = shutil.copytree(one_epoch_run.directory, tmp_path / "run")
    shutil.rmtree(directory / "checkpoints")
    with pytest.warns(RuntimeWarning, match="has no committed checkpoint .* starts over"):
        convrec.train("maxwell", resume=directory, progress=False)
    original = (one_epoch_run.directory / "model.safetensors").read_bytes()
    assert (directory / "model.safetensors").read_bytes() == original


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (
            {"model_options": {"hidden_size": 16}},
            r"`model_options.hidden_size` is 8 in the checkpoint, 16 in this run",
        ),
        ({"bucket_by_length": True}, r"`bucket_by_length`"),
    ],
)
def test_resuming_with_another_model_or_batching_is_refused_naming_it(one_epoch_run, change, match):
    with pytest.raises(IncompatibleCheckpointError, match=match):
        convrec.train("maxwell", resume=one_epoch_run.directory, epochs=2, progress=False, **change)


@pytest.mark.parametrize("how", ["resume", "config_file"])
def test_a_recipe_changed_since_the_run_does_not_change_the_run_it_resumes_or_repeats(
    one_epoch_run, monkeypatch, tmp_path, how
):
    directory = shutil.copytree(one_epoch_run.directory, tmp_path / "run")
    changed = {"model_options": {"hidden_size": 64, "bidirectional": True}}
    monkeypatch.setitem(Maxwell.models, "gru", changed)
    source = (
        {"resume": directory} if how == "resume" else {"config_file": directory / "config.yaml"}
    )
    again = convrec.train("maxwell", epochs=2, progress=False, out=str(tmp_path), **source)
    assert again.config.model_options == one_epoch_run.config.model_options


def test_a_config_file_with_resume_is_refused(one_epoch_run):
    with pytest.raises(ValueError, match="`config_file`: expected None when resuming"):
        convrec.train(
            "maxwell",
            resume=one_epoch_run.directory,
            config_file=one_epoch_run.directory / "config.yaml",
            progress=False,
        )


def test_load_gives_the_trained_model_for_prediction(one_epoch_run):
    trained = convrec.load(one_epoch_run.directory)
    data = trained.task.build_data(seed=0)
    raw = data.train.raw[0]  # inside the training range, so no OutOfDistributionWarning
    (stress,) = trained.predict([raw])
    assert stress.shape == (len(raw),) and torch.isfinite(torch.as_tensor(stress)).all()


def test_a_run_records_the_tasks_metric_per_epoch_and_its_test_inputs_median_length(
    one_epoch_run,
):
    directory = one_epoch_run.directory
    header, row = (directory / "history.csv").read_text().splitlines()
    assert header.split(",") == [
        "epoch",
        "train_loss",
        "validation_loss",
        "lr",
        "grad_norm_max",
        "validation_rel_l2_median",
    ]
    assert 0 < float(row.split(",")[-1]) < 10
    description = json.loads((directory / "model.json").read_text())
    data = convrec.load(directory).task.build_data(seed=0)
    lengths = sorted(len(history) for history in next(iter(data.tests.values())).raw)
    assert description["example_length"] == lengths[len(lengths) // 2]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"model": "gruu"}, r"unknown model 'gruu'.*Did you mean 'gru'", id="model"),
        pytest.param(
            {"model_options": {"hiden_size": 8}},
            r"`model_options`.*got 'hiden_size'.*Did you mean 'hidden_size'",
            id="model-option",
        ),
        pytest.param(
            {"model_options": {"hidden_size": 0}},
            r"`hidden_size`: expected a positive integer, got 0",
            id="model-option-value",
        ),
        pytest.param(
            {"model": "lenet5"}, r"expected a model that takes sequence input", id="input-kind"
        ),
        pytest.param(
            {"task_options": {**TINY, "segments": 0}},
            r"`segments`: expected a positive integer, got 0",
            id="task-option-value",
        ),
        pytest.param(
            {"model": "fcn", "gradient_flow_every": 1},
            r"`gradient_flow_every`: gradient flow through time needs a recurrent model",
            id="gradient-flow-without-recurrence",
        ),
    ],
)
def test_a_run_that_fails_to_start_leaves_no_directory(tmp_path, options, message):
    out = tmp_path / "runs"
    options = {"task_options": TINY, "epochs": 1, "progress": False, "out": str(out)} | options
    with pytest.raises(ValueError, match=message):
        convrec.train("maxwell", **options)
    assert not out.exists()


@pytest.mark.filterwarnings("ignore::convrec.tasks.envelope.OutOfDistributionWarning")
def test_a_saved_model_predicts_bit_for_bit_what_it_predicted_before_saving(tmp_path, monkeypatch):
    """RES-4: the in-memory model and task (its input normalisation) just before saving, the
    model read back in this process and in a new one give equal bits (pictures not drawn)."""
    monkeypatch.setattr(Maxwell, "plot", lambda self, model, data, directory: [])
    monkeypatch.setattr(finish, "plot_learning_curves", lambda history, path, metric: path)
    monkeypatch.setattr(finish, "inspect_model", lambda model, task, dataset, directory: None)
    generator = np.random.default_rng(0)
    rates = generator.uniform(-0.02, 0.02, size=30)
    sequence = np.stack([1 + np.cumsum(rates * 0.5), rates, np.full(30, 0.5)], axis=-1)
    sequences = [sequence, sequence[:11] + np.array([0.01, 0, 0])]  # two lengths, so one is padded
    before = []
    finish_run = run.finish_run

    def predicting_finish(directory, config, task, model, *rest):
        before.extend(task.predict(model.eval(), sequences))
        return finish_run(directory, config, task, model, *rest)

    monkeypatch.setattr(run, "finish_run", predicting_finish)
    directory = small_run(tmp_path, TINY, epochs=1).directory
    np.save(tmp_path / "inputs.npy", np.concatenate(sequences))
    same_process = convrec.load(directory).predict(sequences)
    script = f"""
        import numpy as np, convrec
        inputs = np.load({str(tmp_path / "inputs.npy")!r})
        predictions = convrec.load({str(directory)!r}).predict([inputs[:30], inputs[30:]])
        np.save({str(tmp_path / "outputs.npy")!r}, np.concatenate(predictions))
    """
    subprocess.run([sys.executable, "-c", textwrap.dedent(script)], check=True, timeout=120)
    new_process = np.load(tmp_path / "outputs.npy")
    assert [len(values) for values in before] == [30, 11]
    for again in (same_process, [new_process[:30], new_process[30:]]):
        for expected, actual in zip(before, again, strict=True):
            assert actual.dtype == expected.dtype
            assert actual.tobytes() == expected.tobytes()


def test_a_frozen_backbone_run_keeps_the_source_convolutions_and_trains_the_dense_layers(
    tmp_path,
):
    options = {"progress": False, "out": str(tmp_path)}
    source = convrec.train("mnist-few", "lenet5", seed=1, epochs=1, **options)
    tuned = convrec.train(
        "mnist-few",
        "lenet5",
        finetune=str(source.directory),
        freeze="backbone",
        epochs=2,
        **options,
    )
    convolutions = convrec.load(source.directory).model.features.state_dict()
    epochs = [
        read_checkpoint(tuned.directory / "checkpoints" / f"epoch-000{epoch}")["model"]
        for epoch in (1, 2)
    ]
    for name, value in convolutions.items():
        assert all(torch.equal(weights[f"features.{name}"], value) for weights in epochs), name
    assert not torch.equal(epochs[0]["head.1.weight"], epochs[1]["head.1.weight"])
