"""Losses over padded batches: padding never counts."""

from __future__ import annotations

from torch import Tensor

from convrec.checks import fail
from convrec.nn.padded import Padded, broadcast_mask


def sequence_mse(prediction: Tensor | Padded, target: Tensor | Padded) -> Tensor:
    """The notes' sequence loss ``L = 1/T sum_j (y_j - y^_j)^2``, each sequence over its own
    ``T`` (its length), then averaged over the batch, so a short sequence weighs as much as a long
    one and the result does not depend on padding.

    Shape:
        prediction, target: ``(B, T, O)`` or ``Padded`` of it (lengths from either); returns ``()``.

    Example:
        >>> target = Padded(torch.zeros(2, 3, 1), [3, 1])
        >>> sequence_mse(Padded(torch.ones(2, 3, 1), [3, 1]), target)
        tensor(1.)
    """
    lengths = next((x.lengths for x in (prediction, target) if isinstance(x, Padded)), None)
    predicted = prediction.data if isinstance(prediction, Padded) else prediction
    wanted = target.data if isinstance(target, Padded) else target
    if predicted.shape != wanted.shape:
        raise fail(
            "sequence_mse",
            "target",
            f"the prediction's shape {tuple(predicted.shape)}",
            f"shape {tuple(wanted.shape)}",
        )
    squared = (predicted - wanted).pow(2).mean(dim=tuple(range(2, predicted.dim())))  # (B, T)
    if lengths is None:
        return squared.mean()
    valid = broadcast_mask(lengths, squared, 1)
    per_sequence = squared.where(valid, 0.0).sum(dim=1) / lengths.to(squared.dtype)
    return per_sequence.mean()
