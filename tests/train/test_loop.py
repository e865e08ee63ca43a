"""The training loop: equal to a plain PyTorch loop; stops on patience, and on divergence in the
very step it happens, with no checkpoint ever holding a non-finite tensor; clipping keeps an
exploding recurrence finite, and the gradient norm before clipping is reported."""

import io
import math
import re

import pytest
import torch
from lightning.fabric import Fabric
from rich.console import Console
from torch.utils.data import DataLoader

from convrec.data.finite import NonFiniteInputError
from convrec.data.sequences import SequenceDataset, collate_padded
from convrec.models import RecurrentNet
from convrec.nn import Padded
from convrec.nn.losses import sequence_mse
from convrec.train.batches import evaluation_loader, train_loader
from convrec.train.callbacks import Checkpointing, EarlyStopping, ProgressBar
from convrec.train.checkpoint import checkpoint_folders, read_checkpoint
from convrec.train.loop import FitState, Loop, TrainingDivergedError, fit, set_epoch

SEED, EPOCHS, BATCH, LR, CLIP = 3, 2, 4, 1e-2, 0.5
STEPS = math.ceil(10 / BATCH)  # optimizer steps per epoch of toy_dataset()


def halving(step: int) -> float:
    """The schedule steps after every optimizer step: half the rate each epoch."""
    return 0.5 ** (step // STEPS)


def toy_dataset(count: int = 10) -> SequenceDataset:
    generator = torch.Generator().manual_seed(0)
    lengths = torch.randint(2, 9, (count,), generator=generator).tolist()
    inputs = [torch.randn(length, 3, generator=generator) for length in lengths]
    targets = [x.cumsum(0)[:, :1] * 0.1 for x in inputs]
    return SequenceDataset(inputs, targets)


def make_model() -> RecurrentNet:
    torch.manual_seed(SEED)
    return RecurrentNet((None, 3), 1, cell="lstm", hidden_size=8, num_layers=2, dropout=0.2)


def fabric_loop(schedule=halving) -> Loop:
    fabric = Fabric(accelerator="cpu", devices=1)
    model = make_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    model, optimizer = fabric.setup(model, optimizer)
    return Loop(fabric, model, optimizer, scheduler, FitState())


def fabric_run(
    dataset: SequenceDataset, loss_function=sequence_mse, callbacks=(), epochs=EPOCHS, loop=None
):
    loop = loop or fabric_loop()
    loader = train_loader(dataset, BATCH, SEED)
    validation = evaluation_loader(dataset, BATCH)
    fit(loop, loader, validation, loss_function, epochs, CLIP, callbacks)
    return loop.model.module, loop.state


def plain_pytorch_run(dataset: SequenceDataset) -> RecurrentNet:
    model = make_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, halving)
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
    columns = ["epoch", "train_loss", "validation_loss", "lr", "grad_norm_max"]
    assert all(list(row) == columns for row in state.history)
    assert [row["epoch"] for row in state.history] == [1, 2]
    assert [row["lr"] for row in state.history] == [LR, LR / 2]
    assert all(math.isfinite(row["validation_loss"]) for row in state.history)


def test_a_nan_loss_stops_training_naming_the_step():
    def poisoned(prediction: Padded, target: Padded) -> torch.Tensor:
        return sequence_mse(prediction, target) * float("nan")

    with pytest.raises(TrainingDivergedError, match=r"became nan at step 1 .*gradient clipping"):
        fabric_run(toy_dataset(), loss_function=poisoned)


def tensors(value):
    """Every floating-point tensor in nested dicts, lists and tuples."""
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from tensors(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from tensors(item)


def test_a_forced_divergence_stops_in_its_step_and_no_checkpoint_holds_a_non_finite_tensor(
    tmp_path,
):
    training_losses = []

    def recorded(prediction: Padded, target: Padded) -> torch.Tensor:
        loss = sequence_mse(prediction, target)
        if torch.is_grad_enabled():
            training_losses.append(loss.item())
        return loss

    loop = fabric_loop(schedule=lambda step: 1.0 if step < 2 * STEPS else 1e30)  # epoch 3
    with pytest.raises(TrainingDivergedError) as raised:
        fabric_run(toy_dataset(), recorded, [Checkpointing(tmp_path)], epochs=10, loop=loop)
    first_bad = next(i for i, loss in enumerate(training_losses) if not math.isfinite(loss))
    assert first_bad > 2 * math.ceil(10 / BATCH)  # in epoch 3, after two good checkpoints
    message = f"the training loss became {training_losses[first_bad]} at step {first_bad + 1} "
    assert str(raised.value).startswith(message)
    assert "the last good checkpoint is kept" in str(raised.value)
    assert loop.state.step == first_bad  # the step with the bad loss updated nothing
    folders = checkpoint_folders(tmp_path)
    assert [path.name for path in folders] == ["epoch-0002", "epoch-0001"]
    for path in folders:
        saved = list(tensors(read_checkpoint(path)))
        assert len(saved) > 10 and all(torch.isfinite(tensor).all() for tensor in saved)


def test_a_non_finite_gradient_stops_training_before_the_update():
    def infinite_gradient(prediction: Padded, target: Padded) -> torch.Tensor:
        # sqrt at 0 has an infinite derivative; the loss itself stays finite
        return (
            sequence_mse(prediction, target) + torch.sqrt(prediction.data - prediction.data).sum()
        )

    loop = fabric_loop()
    before = {name: value.clone() for name, value in loop.model.state_dict().items()}
    with pytest.raises(
        TrainingDivergedError, match=r"gradient norm became (nan|inf) at step 1 \(epoch 1\), with"
    ):
        fabric_run(toy_dataset(), infinite_gradient, loop=loop)
    for name, value in loop.model.state_dict().items():
        assert torch.equal(value, before[name]), name


def test_a_non_finite_validation_loss_stops_training_before_the_checkpoint(tmp_path):
    def nan_in_validation(prediction: Padded, target: Padded) -> torch.Tensor:
        loss = sequence_mse(prediction, target)
        return loss if torch.is_grad_enabled() else loss * float("nan")

    with pytest.raises(TrainingDivergedError, match="the validation loss became nan after epoch 1"):
        fabric_run(toy_dataset(), nan_in_validation, [Checkpointing(tmp_path)])
    assert not list(tmp_path.iterdir())


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


def test_a_nan_in_a_training_input_is_named_before_the_forward_pass():
    dataset = toy_dataset()
    dataset.inputs[4][1, 2] = float("nan")
    with pytest.raises(
        NonFiniteInputError, match=r"batch \d+, sample \d+.*nan at step 1, feature 2"
    ):
        fabric_run(dataset)


def exploding_rnn_run(clip: float | None) -> tuple[Loop, torch.Tensor]:
    """A tanh RNN whose recurrent weight is 3 times an orthogonal matrix (spectral radius 3),
    trained 3 epochs of 4 steps of SGD at learning rate 0.5; the loop and the initial weights."""
    torch.manual_seed(SEED)
    model = RecurrentNet((None, 3), 1, cell="rnn", hidden_size=16, num_layers=1)
    with torch.no_grad():
        orthogonal, _ = torch.linalg.qr(torch.randn(16, 16))
        model.recurrent.cells[0].weight_hh.copy_(3 * orthogonal)
        radius = torch.linalg.eigvals(model.recurrent.cells[0].weight_hh).abs().max()
    assert float(radius) == pytest.approx(3, rel=1e-5)
    initial = torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    fabric = Fabric(accelerator="cpu", devices=1)
    model, optimizer = fabric.setup(model, optimizer)
    loop = Loop(fabric, model, optimizer, scheduler, FitState())
    generator = torch.Generator().manual_seed(0)
    inputs = [torch.randn(40, 3, generator=generator) for _ in range(16)]
    dataset = SequenceDataset(inputs, [x.cumsum(0)[:, :1] * 0.1 for x in inputs])
    loader, validation = train_loader(dataset, 4, SEED), evaluation_loader(dataset, 4)
    fit(loop, loader, validation, sequence_mse, 3, clip)
    return loop, initial


def distance_travelled(loop: Loop, initial: torch.Tensor) -> float:
    """How far the loop's weights are from ``initial`` (all of them finite)."""
    weights = torch.nn.utils.parameters_to_vector(loop.model.parameters()).detach()
    assert torch.isfinite(weights).all()
    return float(torch.linalg.vector_norm(weights - initial))


def test_clipping_keeps_an_exploding_recurrence_finite_and_the_norm_before_clipping_is_reported():
    """NAN-4. With SGD every clipped step moves the weights by at most lr * clip; unclipped, the
    same run's weights travel a hundred times that bound (the control)."""
    loop, initial = exploding_rnn_run(clip=1.0)
    bound = loop.state.step * 0.5 * 1.0
    assert distance_travelled(loop, initial) <= bound + 1e-4
    norms = [row["grad_norm_max"] for row in loop.state.history]
    assert len(norms) == 3 and norms[0] > 100  # measured before clipping to 1.0
    assert all(math.isfinite(row["train_loss"]) for row in loop.state.history)
    unclipped, initial = exploding_rnn_run(clip=None)
    assert distance_travelled(unclipped, initial) > 100 * bound


def test_a_bucketed_loader_groups_similar_lengths_in_the_order_of_the_epoch():
    dataset = toy_dataset(60)

    def epoch_batches(loader, epoch):
        set_epoch(loader, epoch)
        return [inputs.lengths.tolist() for inputs, _ in loader]

    bucketed = train_loader(dataset, 4, SEED, bucket_by_length=True)
    first = epoch_batches(bucketed, 1)
    assert epoch_batches(bucketed, 1) == first
    assert epoch_batches(bucketed, 2) != first
    every_length = [length for batch in first for length in batch]
    assert sorted(every_length) == sorted(len(item[0]) for item in dataset)

    def spread(batches):
        return sum(max(lengths) - min(lengths) for lengths in batches)

    assert spread(first) < 0.5 * spread(epoch_batches(train_loader(dataset, 4, SEED), 1))


@pytest.mark.parametrize("terminal", [True, False])
def test_progress_counts_each_epochs_steps_and_prints_a_line_per_epoch(terminal):
    output = io.StringIO()
    console = Console(file=output, force_terminal=terminal, width=120)
    fabric_run(toy_dataset(), callbacks=[ProgressBar(EPOCHS, STEPS, console)])
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output.getvalue())  # no terminal controls
    lines = [line for line in re.split(r"[\r\n]", text) if re.match(r"epoch \d/\d  train", line)]
    assert [line.split("  ")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert "epoch 3" not in text  # the label never runs past the last epoch
    assert (f"{STEPS}/{STEPS} steps" in text) is terminal  # the bar counts one epoch's steps
    assert f"{2 * STEPS}/" not in text
