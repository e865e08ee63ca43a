"""Run directories: resuming from the newest checkpoint ends, bit for bit, where an uninterrupted
run ends; a run with no checkpoint yet starts over; another run's checkpoints are refused."""

import shutil

import pytest
import torch

import convrec
from convrec.train.checkpoint import IncompatibleCheckpointError, read_checkpoint

SMALL = {"train_size": 24, "validation_size": 8, "test_size": 4, "segments": 2}


def small_run(out, **options):
    return convrec.train(
        "maxwell",
        batch_size=8,
        progress=False,
        out=str(out),
        model_options={"hidden_size": 8, "num_layers": 2, "dropout": 0.2},
        task_options=SMALL,
        **options,
    )


@pytest.fixture(scope="module")
def one_epoch_run(tmp_path_factory):
    return small_run(tmp_path_factory.mktemp("runs"), epochs=1)


def test_resume_continues_from_the_newest_checkpoint_bit_for_bit(tmp_path):
    whole = small_run(tmp_path / "whole", epochs=3, schedule="constant")
    first = small_run(tmp_path / "parts", epochs=2, schedule="constant")
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


def test_resuming_with_another_model_is_refused_naming_the_difference(one_epoch_run):
    with pytest.raises(
        IncompatibleCheckpointError,
        match=r"`model_options.hidden_size` is 8 in the checkpoint, 16 in this run",
    ):
        convrec.train(
            "maxwell",
            resume=one_epoch_run.directory,
            epochs=2,
            progress=False,
            model_options={"hidden_size": 16},
        )


def test_load_gives_the_trained_model_for_prediction(one_epoch_run):
    trained = convrec.load(one_epoch_run.directory)
    data = trained.task.build_data(seed=0)
    raw = data.tests["triangles"].raw[0]
    (stress,) = trained.predict([raw])
    assert stress.shape == (len(raw),) and torch.isfinite(torch.as_tensor(stress)).all()
