"""Refuse a training batch that holds NaN or Inf before the model sees it.

A non-finite input turns the loss into NaN a step later, and the message then names the loss, not
the data. :func:`check_finite_batch` names the batch, the sample and the position instead::

    NonFiniteInputError: inputs: batch 3, sample 1: expected finite values, got nan at step 4,
    feature 2 (sample shape (20, 6)). Check the data and its normalisation ...
"""

from __future__ import annotations

from torch import Tensor

from convrec.checks import describe, fail
from convrec.errors import InvalidTypeError, InvalidValueError
from convrec.nn.checks import first_non_finite
from convrec.nn.padded import Padded, zero_padding


class NonFiniteInputError(InvalidValueError):
    """An input batch holds NaN or Inf (within each sequence's length, for a ``Padded``).

    Attributes:
        batch: the batch's number, as the caller counts them.
        sample: the sample's index within the batch.
        position: the value's index within the sample (e.g. ``(step, feature)``).
    """

    def __init__(self, message: str, batch: int, sample: int, position: tuple[int, ...]) -> None:
        super().__init__(message)
        self.batch, self.sample, self.position = batch, sample, position


def check_finite_batch(inputs: Tensor | Padded | tuple, batch: int) -> None:
    """Raise :class:`NonFiniteInputError` if ``inputs`` holds NaN or Inf.

    Integer inputs (token ids) pass unchecked; a ``Padded`` batch is checked within each
    sequence's length only (layers zero the padding, whatever it holds).

    Args:
        inputs: a batch ``(B, *)``: a tensor or a :class:`~convrec.nn.Padded`, or a tuple of
            them (an encoder-decoder's source and decoder inputs), each part checked.
        batch: the batch's number, for the message (e.g. the training step).

    Shape:
        inputs: ``(B, T, C)`` (named by step and feature), ``(B, C, H, W)``, any layout with
        the batch first.

    Example:
        >>> check_finite_batch(torch.tensor([[0.0, float("nan")]]), batch=7)
        Traceback (most recent call last):
        ...
        convrec.data.finite.NonFiniteInputError: inputs: batch 7, sample 0: ... at index (1,) ...
    """
    if isinstance(inputs, tuple):
        for part in inputs:
            check_finite_batch(part, batch)
        return
    data = inputs.data if isinstance(inputs, Padded) else inputs
    if not isinstance(data, Tensor):
        raise fail(
            "check_finite_batch",
            "inputs",
            "a tensor or a convrec.nn.Padded",
            describe(inputs),
            error=InvalidTypeError,
        )
    if not data.is_floating_point() and not data.is_complex():
        return
    if isinstance(inputs, Padded):
        data = zero_padding(data, inputs.lengths, inputs.time_dim)
    index = first_non_finite(data)
    if index is None:
        return
    sample, *position = index
    where = (
        f"step {position[0]}, feature {position[1]}"
        if data.dim() == 3
        else f"index {tuple(position)}"
    )
    message = (
        f"inputs: batch {batch}, sample {sample}: expected finite values, got "
        f"{data[index].item()} at {where} (sample shape {tuple(data.shape[1:])}). Check the data "
        "and its normalisation (a zero standard deviation, a log of 0)."
    )
    raise NonFiniteInputError(message, batch, sample, tuple(position))
