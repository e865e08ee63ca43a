"""Checkpoints: a round trip restores everything a resume needs; resuming skips a damaged or
uncommitted newest checkpoint with a warning; a crash at any point of a save and its rotation
leaves the previous checkpoint or the new one, whole; no non-finite tensor is ever saved; another
run's checkpoint is refused naming what differs."""

import contextlib
import random
import re
import shutil

import numpy as np
import pytest
import torch
from torch import nn

from convrec.files import remove_temporaries
from convrec.train.callbacks import Checkpointing
from convrec.train.checkpoint import (
    IncompatibleCheckpointError,
    checkpoint_folders,
    checkpoint_path,
    latest_checkpoint,
    load_checkpoint,
    load_model_weights,
    read_checkpoint,
    save_checkpoint,
)
from convrec.train.loop import TrainingDivergedError
from convrec.train.storage import MANIFEST, WRITE_DELAY_VARIABLE
from tests.train.checkpoint_checks import assert_same_weights, make_loop, next_epoch, weights

FINGERPRINT = {
    "task": "maxwell",
    "task_options": {"train_size": 16},
    "task_state_sha256": "5f0c",
    "model": "gru",
    "model_options": {"hidden_size": 8},
    "seed": 0,
}


def test_a_checkpoint_restores_model_optimizer_scheduler_loop_state_and_every_generator(tmp_path):
    saved = make_loop(seed=0)
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    save_checkpoint(saved, tmp_path / "epoch-0001", FINGERPRINT)
    draws = (random.random(), np.random.normal(), torch.rand(3))
    restored = make_loop(seed=1)
    load_checkpoint(restored, tmp_path / "epoch-0001", FINGERPRINT)
    assert (random.random(), np.random.normal()) == draws[:2] and torch.equal(
        torch.rand(3), draws[2]
    )
    assert_same_weights(weights(restored), weights(saved))
    expected, actual = saved.optimizer.state_dict(), restored.optimizer.state_dict()
    assert actual["param_groups"] == expected["param_groups"]
    torch.testing.assert_close(actual["state"], expected["state"], rtol=0, atol=0)
    assert restored.scheduler.state_dict() == saved.scheduler.state_dict()
    assert restored.state == saved.state


def test_the_best_weights_load_alone_into_a_bare_model(tmp_path):
    loop = make_loop()
    save_checkpoint(loop, tmp_path / "epoch-0001")
    model = nn.Linear(3, 2)
    load_model_weights(model, tmp_path / "epoch-0001")
    assert_same_weights(model.state_dict(), weights(loop))
    other = nn.Linear(3, 2, bias=False)
    before = other.weight.clone()
    with pytest.raises(
        IncompatibleCheckpointError,
        match=r"do not fit this model: `bias` is \(2,\) in the checkpoint, absent in this model",
    ):
        load_model_weights(other, tmp_path / "epoch-0001")
    assert torch.equal(other.weight, before)  # refused whole: not even the matching tensor


def test_rotation_keeps_the_newest_two_and_the_best(tmp_path):
    loop = make_loop()
    callback = Checkpointing(tmp_path, keep_last=2)
    loop.state.best_epoch = 2
    for _ in range(5):
        callback.on_epoch_end(loop)
        next_epoch(loop)
    assert [path.name for path in checkpoint_folders(tmp_path)] == [
        "epoch-0005",
        "epoch-0004",
        "epoch-0002",
    ]
    with pytest.raises(ValueError, match="argument `keep_last`: expected an integer >= 1, got 0"):
        Checkpointing(tmp_path, keep_last=0)


def test_resume_falls_back_to_the_previous_checkpoint_when_the_newest_is_damaged(tmp_path):
    loop = make_loop()
    save_checkpoint(loop, checkpoint_path(tmp_path, 1))
    first = weights(loop)
    next_epoch(loop)
    newest = save_checkpoint(loop, checkpoint_path(tmp_path, 2)) / "state.pt"
    data = bytearray(newest.read_bytes())
    data[len(data) // 3] ^= 0x10
    newest.write_bytes(bytes(data))
    warning = r"skipping checkpoint epoch-0002: .*state\.pt is truncated or damaged"
    with pytest.warns(RuntimeWarning, match=warning):
        path, state = latest_checkpoint(tmp_path)
    assert path.name == "epoch-0001" and state["fit"]["epoch"] == 1
    assert_same_weights(weights(state), first)


def test_an_uncommitted_folder_with_a_higher_epoch_is_skipped_with_a_warning(tmp_path):
    loop = make_loop()
    committed = save_checkpoint(loop, checkpoint_path(tmp_path, 1))
    planted = checkpoint_path(tmp_path, 9)
    shutil.copytree(committed, planted)
    (planted / MANIFEST).unlink()
    with pytest.warns(RuntimeWarning, match="skipping checkpoint epoch-0009: .*never finished"):
        path, _ = latest_checkpoint(tmp_path)
    assert path == committed
    assert latest_checkpoint(tmp_path / "nothing") is None


class Crash(BaseException):
    """The process dying: nothing in convrec may catch it."""


class CrashAt:
    """Count the file-system calls of a save; at call ``number`` copy the checkpoints folder to
    ``image`` (what a killed process leaves on disk) and raise :class:`Crash`."""

    CALLS = ("open", "write", "fsync", "close", "mkdir", "rename", "replace", "unlink", "rmdir")

    def __init__(self, number, folder, image, monkeypatch):
        self.number, self.folder, self.image = number, folder, image
        self.count, self.crashed = 0, False
        for name in self.CALLS:
            monkeypatch.setattr(f"os.{name}", self._counted(getattr(__import__("os"), name)))

    def _counted(self, call):
        def counted(*args, **kwargs):
            if not self.crashed:
                self.count += 1
                if self.count == self.number:
                    self.crashed = True
                    shutil.copytree(self.folder, self.image, symlinks=True)
                    raise Crash(f"crash at file-system call {self.number}")
            return call(*args, **kwargs)

        return counted


def test_a_crash_at_any_point_of_a_save_and_its_rotation_leaves_a_whole_newest_checkpoint(
    tmp_path, monkeypatch
):
    monkeypatch.setenv(WRITE_DELAY_VARIABLE, "0.0001")  # each file written in two halves
    newest_after_crash = set()
    for number in range(1, 200):
        folder, image = tmp_path / f"run-{number}" / "checkpoints", tmp_path / f"image-{number}"
        loop = make_loop()
        callback = Checkpointing(folder, keep_last=2)
        expected = {}
        for _ in range(3):  # epochs 1 to 3 are committed; 1 is the best
            callback.on_epoch_end(loop)
            expected[loop.state.epoch] = weights(loop)
            next_epoch(loop)
        expected[4] = weights(loop)
        with monkeypatch.context() as patch:
            crash = CrashAt(number, folder, image, patch)
            with contextlib.suppress(Crash):
                callback.on_epoch_end(loop)  # commits epoch 4, then deletes epoch 2
        if not crash.crashed:
            break
        remove_temporaries(image)  # what the next start does
        folders = checkpoint_folders(image)
        for path in folders:  # no warning: nothing uncommitted or damaged is visible
            assert_same_weights(weights(read_checkpoint(path)), expected[int(path.name[6:])])
        assert folders[0].name in ("epoch-0003", "epoch-0004"), number
        assert folders[-1].name == "epoch-0001", number
        newest_after_crash.add(folders[0].name)
    assert number > 19, "fewer file-system calls than the stages of a save and a rotation"
    assert newest_after_crash == {"epoch-0003", "epoch-0004"}
    expected_names = ["epoch-0004", "epoch-0003", "epoch-0001"]
    assert [path.name for path in checkpoint_folders(folder)] == expected_names


@pytest.mark.parametrize("where", ["model", "optimizer"])
def test_a_non_finite_tensor_is_never_saved(tmp_path, where):
    loop = make_loop()
    with torch.no_grad():
        if where == "model":
            loop.model.weight[0, 0] = float("nan")
            name = "model.weight"
        else:
            loop.optimizer.state[loop.model.bias]["exp_avg_sq"][1] = float("inf")
            name = "optimizer.state.1.exp_avg_sq"
    with pytest.raises(TrainingDivergedError, match=rf"`{re.escape(name)}` holds NaN or infinite"):
        save_checkpoint(loop, tmp_path / "epoch-0002")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "change, named",
    [
        (
            {"model_options": {"hidden_size": 16}},
            "`model_options.hidden_size` is 8 in the checkpoint, 16 in this run",
        ),
        ({"task": "char-lm"}, "`task` is 'maxwell' in the checkpoint, 'char-lm' in this run"),
        ({"seed": 1}, "`seed` is 0 in the checkpoint, 1 in this run"),
        ({"task_state_sha256": "9d1e"}, "`task_state_sha256` is '5f0c' in the checkpoint"),
        ({"task_options": {}}, "`task_options.train_size` is set only in the checkpoint"),
    ],
)
def test_resuming_another_run_is_refused_naming_what_differs(tmp_path, change, named):
    save_checkpoint(make_loop(), tmp_path / "epoch-0001", FINGERPRINT)
    loop = make_loop(seed=1)
    before = weights(loop)
    with pytest.raises(IncompatibleCheckpointError, match=re.escape(named)):
        load_checkpoint(loop, tmp_path / "epoch-0001", FINGERPRINT | change)
    assert_same_weights(weights(loop), before)


def test_a_model_of_another_shape_is_refused_not_loaded_partly(tmp_path):
    save_checkpoint(make_loop(), tmp_path / "epoch-0001", FINGERPRINT)
    loop = make_loop(outputs=5)
    before = weights(loop)
    with pytest.raises(
        IncompatibleCheckpointError,
        match=r"`bias` is \(2,\) in the checkpoint, \(5,\) in this model; `weight` is \(2, 3\)",
    ):
        load_checkpoint(loop, tmp_path / "epoch-0001", FINGERPRINT)
    assert_same_weights(weights(loop), before)
