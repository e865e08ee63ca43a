"""Position-wise modules (activations, dropout, ``Linear`` over features) on padded batches."""

from __future__ import annotations

from torch import Tensor, nn

from convrec.checks import describe, fail
from convrec.errors import InvalidTypeError
from convrec.nn.padded import Padded


class Pointwise(nn.Module):
    """Apply ``module`` to the data at every position, keeping a :class:`Padded` batch's lengths.

    Lets ``torch.nn`` modules that act on each position alone (``ReLU``, ``Dropout``, ``Linear``
    on the last axis, ``LayerNorm`` over features) sit in an ``nn.Sequential`` that carries a
    ``Padded`` batch. A plain tensor passes straight to ``module``.

    Args:
        module: a module whose output keeps the batch and time axes of its input.

    Shape:
        input: any tensor or :class:`Padded`; output: ``module``'s output, as a ``Padded`` with
        the same lengths for a ``Padded`` input.

    Example:
        >>> relu = Pointwise(nn.ReLU())
        >>> relu(Padded(torch.tensor([[[-1.0], [2.0]]]), [2])).data.flatten()
        tensor([0., 2.])
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        if not isinstance(module, nn.Module):
            raise fail(
                "Pointwise", "module", "a torch.nn.Module", describe(module), error=InvalidTypeError
            )
        self.module = module

    def forward(self, x: Tensor | Padded) -> Tensor | Padded:
        if isinstance(x, Padded):
            return x.map(self.module).zeroed()
        return self.module(x)
