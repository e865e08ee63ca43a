"""The training loop: equal to a plain PyTorch loop, stops on divergence and on patience."""

import math

import pytest
import torch
from lightning.fabric import Fabric
from torch.utils.data import DataLoader

from convrec.data.sequences import SequenceDataset, collate_padded
from convrec.models import RecurrentNet
from convrec.nn import Padded
from convrec.nn.losses import sequence_mse
from convrec.train.callbacks import EarlyStopping
from convrec.train.loop import FitState, Loop, TrainingDivergedError, fit
from convrec.train.run import evaluation_loader, train_loader

SEED, EPOCHS, BATCH, LR, CLIP = 3, 2, 4, 1e-2, 0.5


def toy_dataset(count: int = 10) -> SequenceDataset:
    generator = torch.Generator().manual_seed(0)
    lengths = torch.randint(2, 9, (count,), generator=generator).tolist()
    inputs = [torch.randn(length, 3, generator=generator) for length in lengths]
    targets = [x.cumsum(0)[:, :1] * 0.1 for x in inputs]
    return SequenceDataset(inputs, targets)


def make_model() -> RecurrentNet:
    torch.manual_seed(SEED)
    return RecurrentNet((None, 3), 1, cell="lstm", hidden_size=8, num_layers=2, dropout=0.2)


def fabric_run(dataset: SequenceDataset, loss_function=sequence_mse, callbacks=(), epochs=EPOCHS):
    fabric = Fabric(accelerator="cpu", devices=1)
    model = make_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 0.5**epoch)
    model, optimizer = fabric.setup(model, optimizer)
    loader = train_loader(dataset, BATCH, SEED)
    validation = evaluation_loader(dataset, BATCH)
    loop = Loop(fabric, model, optimizer, scheduler, FitState())
    fit(loop, loader, validation, loss_function, epochs, CLIP, callbacks)
    return model.module, loop.state


def plain_pytorch_run(dataset: SequenceDataset) -> RecurrentNet:
    model = make_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 0.5**epoch)
    for epoch in range(EPOCHS):
        model.train()
        order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(SEED + epoch))
        loader = DataLoader(dataset, BATCH, sampler=order.tolist(), collate_fn=collate_padded)
        for inputs, targets in loader:
            loss = sequence_mse(model(inputs), targets)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
            optimizer.step()
        scheduler.step()
    return model


def test_fit_gives_bitwise_the_weights_of_a_plain_pytorch_loop():
    dataset = toy_dataset()
    ours, state = fabric_run(dataset)
    theirs = plain_pytorch_run(dataset)
    assert state.epoch == EPOCHS and state.step == EPOCHS * math.ceil(len(dataset) / BATCH)
    for (name, mine), (_, reference) in zip(
        ours.state_dict().items(), theirs.state_dict().items(), strict=True
    ):
        assert torch.equal(mine, reference), name


def test_history_has_one_row_per_epoch_with_the_learning_rate_used():
    _, state = fabric_run(toy_dataset())
    assert [row["epoch"] for row in state.history] == [1, 2]
    assert [row["lr"] for row in state.history] == [LR, LR / 2]
    assert all(math.isfinite(row["validation_loss"]) for row in state.history)


def test_a_nan_loss_stops_training_naming_the_step():
    def poisoned(prediction: Padded, target: Padded) -> torch.Tensor:
        return sequence_mse(prediction, target) * float("nan")

    with pytest.raises(TrainingDivergedError, match=r"became nan at step 1 .*gradient clipping"):
        fabric_run(toy_dataset(), loss_function=poisoned)


def test_early_stopping_stops_after_patience_epochs_without_improvement():
    def rising(prediction: Padded, target: Padded) -> torch.Tensor:
        # the validation loss grows with every call, so only the first epoch is an improvement
        rising.calls += 1
        return sequence_mse(prediction, target) * 0 + rising.calls

    rising.calls = 0
    _, state = fabric_run(
        toy_dataset(), loss_function=rising, callbacks=[EarlyStopping(2)], epochs=10
    )
    assert state.epoch == 3 and state.best_epoch == 1 and state.stop
