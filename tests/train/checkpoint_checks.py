"""A tiny training loop to checkpoint, and comparisons of the weights it holds."""

import torch
from lightning.fabric import Fabric
from torch import nn

from convrec.train.loop import FitState, Loop


def make_loop(seed: int = 0, outputs: int = 2) -> Loop:
    """A linear model ``3 -> outputs`` after one AdamW step and one scheduler step, one epoch
    into training."""
    torch.manual_seed(seed)
    model = nn.Linear(3, outputs)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 0.5**epoch)
    model(torch.randn(4, 3)).square().sum().backward()
    optimizer.step()
    scheduler.step()
    fabric = Fabric(accelerator="cpu", devices=1)
    model, optimizer = fabric.setup(model, optimizer)
    state = FitState(epoch=1, step=1, best_loss=0.5, best_epoch=1, history=[{"epoch": 1}])
    return Loop(fabric, model, optimizer, scheduler, state)


def next_epoch(loop: Loop) -> None:
    """Pretend an epoch went by: new weights, one more epoch and step."""
    with torch.no_grad():
        for parameter in loop.model.parameters():
            parameter.add_(1.0)
    loop.state.epoch += 1
    loop.state.step += 1


def weights(loop_or_state: Loop | dict) -> dict[str, torch.Tensor]:
    """A copy of the model weights of a loop, or those of a checkpoint's state."""
    if isinstance(loop_or_state, Loop):
        return {name: value.clone() for name, value in loop_or_state.model.state_dict().items()}
    return loop_or_state["model"]


def assert_same_weights(actual: dict, expected: dict) -> None:
    assert actual.keys() == expected.keys()
    for name, value in expected.items():
        assert torch.equal(actual[name], value), name
