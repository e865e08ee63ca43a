"""Checks the zoo's model tests share: every parameter gets a gradient, a tiny batch is learned."""

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from convrec.nn import Padded


def assert_every_parameter_gets_a_gradient(
    model: nn.Module, inputs: Tensor | Padded, targets: Tensor
) -> None:
    model.train()
    F.cross_entropy(model(inputs), targets).backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, f"{name} got no gradient"
        assert parameter.grad.abs().sum() > 0, f"{name} got a zero gradient"


def assert_overfits(
    model: nn.Module, inputs: Tensor | Padded, targets: Tensor, steps: int = 30
) -> None:
    """Adam on one tiny batch: the training loss must fall to under a quarter of its start."""
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(inputs), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 4, f"loss went from {losses[0]:.3f} to {losses[-1]:.3f}"
