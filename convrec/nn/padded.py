"""The padded batch: data plus the true length of each sequence, passed between layers as one value.

Every convrec layer that works on sequences accepts a :class:`Padded` and returns one, so masks flow
through ``nn.Sequential`` with no extra arguments. A layer never reads the data beyond a sequence's
length, and every layer that returns a ``Padded`` leaves zeros there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

from convrec.checks import describe, fail
from convrec.errors import InvalidTypeError
from convrec.nn.checks import floating_tensor


class Padded:
    """A batch of variable-length sequences, padded to a common length, with their lengths.

    Args:
        data: padded values, batch first. Sequences are ``(B, T, C)`` (time on dim 1, the default);
            grids with one variable axis, e.g. spectrograms ``(B, C, F, T)``, name that axis with
            ``time_dim``. Token batches ``(B, T)`` of integers are allowed too.
        lengths: ``(B,)`` integer tensor (or sequence of ints), ``1 <= lengths[b] <= T``; moved to
            the device of ``data``.
        time_dim: the padded axis of ``data``, 1 for sequences.

    Shape:
        data: ``(B, T, *)`` or any layout with the padded axis at ``time_dim``; lengths: ``(B,)``.

    Example:
        >>> batch = Padded(torch.randn(2, 5, 3), torch.tensor([5, 2]))
        >>> batch.mask()
        tensor([[ True,  True,  True,  True,  True],
                [ True,  True, False, False, False]])
    """

    __slots__ = ("data", "lengths", "time_dim")

    def __init__(self, data: Tensor, lengths: Tensor | Sequence[int], time_dim: int = 1) -> None:
        if not isinstance(data, Tensor):
            raise fail("Padded", "data", "a tensor", describe(data), error=InvalidTypeError)
        if isinstance(time_dim, bool) or not isinstance(time_dim, int):
            raise fail("Padded", "time_dim", "an integer", repr(time_dim), error=InvalidTypeError)
        if data.dim() < 2 or not 1 <= time_dim < data.dim():
            raise fail(
                "Padded",
                "time_dim",
                f"an axis of data other than the batch axis (1..{max(data.dim() - 1, 1)})",
                f"{time_dim} for data of shape {tuple(data.shape)}",
            )
        self.data = data
        self.lengths = _checked_lengths(lengths, data.shape[0], data.shape[time_dim], data.device)
        self.time_dim = time_dim

    @classmethod
    def trusted(cls, data: Tensor, lengths: Tensor, time_dim: int = 1) -> Padded:
        """Build without validation, for layers whose output lengths are valid by construction."""
        padded = cls.__new__(cls)
        padded.data = data
        padded.lengths = lengths
        padded.time_dim = time_dim
        return padded

    @classmethod
    def from_sequences(cls, sequences: Sequence[Tensor], padding_value: float = 0.0) -> Padded:
        """Pad a list of ``(T_i, *)`` tensors into one ``(B, max T_i, *)`` batch."""
        if len(sequences) == 0:
            raise fail("Padded.from_sequences", "sequences", "at least one tensor", "an empty list")
        lengths = torch.tensor([len(sequence) for sequence in sequences], dtype=torch.long)
        data = pad_sequence(list(sequences), batch_first=True, padding_value=padding_value)
        return cls(data, lengths)

    @property
    def batch_size(self) -> int:
        return self.data.shape[0]

    @property
    def max_length(self) -> int:
        return self.data.shape[self.time_dim]

    @property
    def shape(self) -> torch.Size:
        return self.data.shape

    @property
    def device(self) -> torch.device:
        return self.data.device

    @property
    def dtype(self) -> torch.dtype:
        return self.data.dtype

    def mask(self) -> Tensor:
        """``(B, T)`` bool, True at valid positions."""
        return sequence_mask(self.lengths, self.max_length)

    def broadcast_mask(self) -> Tensor:
        """The mask shaped to broadcast against ``data``: ``(B, 1, .., T, .., 1)``."""
        return broadcast_mask(self.lengths, self.data, self.time_dim)

    def zeroed(self) -> Padded:
        """The same batch with zeros beyond each length."""
        return Padded.trusted(
            zero_padding(self.data, self.lengths, self.time_dim), self.lengths, self.time_dim
        )

    def map(self, function: Callable[[Tensor], Tensor]) -> Padded:
        """Apply a position-wise ``function`` to the data; batch and time axes must be unchanged."""
        result = function(self.data)
        before, after = self.data.shape, result.shape
        if (
            result.dim() <= self.time_dim
            or after[0] != before[0]
            or after[self.time_dim] != before[self.time_dim]
        ):
            raise fail(
                "Padded.map",
                "function",
                f"a position-wise function keeping axes 0 and {self.time_dim} of {tuple(before)}",
                f"output of shape {tuple(after)}",
            )
        return Padded.trusted(result, self.lengths, self.time_dim)

    def to(self, *args: object, **kwargs: object) -> Padded:
        """Move or cast the data like ``Tensor.to``; lengths follow the device and stay integers."""
        data = self.data.to(*args, **kwargs)
        return Padded.trusted(data, self.lengths.to(data.device), self.time_dim)

    def pin_memory(self) -> Padded:
        return Padded.trusted(self.data.pin_memory(), self.lengths.pin_memory(), self.time_dim)

    def unpad(self) -> list[Tensor]:
        """The sequences without their padding, one tensor per batch item."""
        return [
            item.narrow(self.time_dim - 1, 0, int(length))
            for item, length in zip(self.data, self.lengths.tolist(), strict=True)
        ]

    def __repr__(self) -> str:
        return (
            f"Padded(data={tuple(self.data.shape)} {self.data.dtype}, "
            f"lengths={self.lengths.tolist()}, time_dim={self.time_dim})"
        )


def _checked_lengths(
    lengths: Tensor | Sequence[int], batch_size: int, max_length: int, device: torch.device
) -> Tensor:
    if not isinstance(lengths, Tensor):
        try:
            lengths = torch.as_tensor(lengths)
        except (TypeError, ValueError, RuntimeError) as error:
            raise fail(
                "Padded",
                "lengths",
                "a (B,) integer tensor or a sequence of ints",
                repr(lengths),
                error=InvalidTypeError,
            ) from error
    if torch.is_floating_point(lengths) or lengths.dtype == torch.bool or lengths.is_complex():
        hint = (
            "It contains NaN." if torch.is_floating_point(lengths) and lengths.isnan().any() else ""
        )
        raise fail(
            "Padded",
            "lengths",
            "an integer tensor",
            describe(lengths),
            hint=hint,
            error=InvalidTypeError,
        )
    if lengths.shape != (batch_size,):
        raise fail(
            "Padded",
            "lengths",
            f"shape ({batch_size},), one length per batch item",
            describe(lengths),
        )
    if batch_size > 0:
        shortest, longest = int(lengths.min()), int(lengths.max())
        if shortest < 1 or longest > max_length:
            raise fail(
                "Padded",
                "lengths",
                f"lengths between 1 and the padded length {max_length}",
                f"lengths from {shortest} to {longest}",
            )
    return lengths.to(device=device, dtype=torch.long)


def sequence_mask(lengths: Tensor, max_length: int) -> Tensor:
    """``(B, T)`` bool mask, True where ``t < lengths[b]``."""
    positions = torch.arange(max_length, device=lengths.device)
    return positions < lengths.unsqueeze(-1)


def broadcast_mask(lengths: Tensor, data: Tensor, time_dim: int) -> Tensor:
    """Mask ``(B, 1, .., T, .., 1)``, T at ``time_dim``, that broadcasts against ``data``."""
    shape = [1] * data.dim()
    shape[0], shape[time_dim] = data.shape[0], data.shape[time_dim]
    return sequence_mask(lengths, data.shape[time_dim]).view(shape)


def zero_padding(data: Tensor, lengths: Tensor | None, time_dim: int = 1) -> Tensor:
    """``data`` with zeros beyond each length (NaN or Inf in the padding are cleared too)."""
    if lengths is None:
        return data
    return torch.where(broadcast_mask(lengths, data, time_dim), data, data.new_zeros(()))


def reverse_sequences(data: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each sequence within its length; padding stays where it was.

    Shape:
        data: ``(B, T, *)``; lengths: ``(B,)`` or None (all sequences full, a plain flip).
    """
    if lengths is None:
        return data.flip(1)
    positions = torch.arange(data.shape[1], device=data.device)
    last = (lengths - 1).unsqueeze(-1)
    index = torch.where(positions <= last, last - positions, positions)  # (B, T)
    index = index.view(*index.shape, *([1] * (data.dim() - 2))).expand_as(data)
    return data.gather(1, index)


def last_valid(data: Tensor, lengths: Tensor | None) -> Tensor:
    """The entry at each sequence's last valid step: ``(B, T, *) -> (B, *)``."""
    if lengths is None:
        return data[:, -1]
    index = (lengths - 1).view(-1, 1, *([1] * (data.dim() - 2)))
    index = index.expand(data.shape[0], 1, *data.shape[2:])
    return data.gather(1, index).squeeze(1)


def unwrap(
    owner: str, x: Tensor | Padded, ndim: int, layout: str, time_dims: tuple[int, ...]
) -> tuple[Tensor, Tensor | None, int]:
    """Split a layer's input into ``(data, lengths or None, time_dim)``, checking type, rank, dtype.

    ``time_dims`` lists the axes a ``Padded`` input may pad; the first is the default time axis.
    """
    if isinstance(x, Padded):
        data = floating_tensor(owner, "input", x.data, ndim, layout)
        if x.time_dim not in time_dims:
            raise fail(
                owner,
                "input",
                f"a Padded whose padded axis (time_dim) is one of {time_dims} for data {layout}",
                f"time_dim={x.time_dim}",
            )
        return data, x.lengths, x.time_dim
    return floating_tensor(owner, "input", x, ndim, layout), None, time_dims[0]


def wrap(data: Tensor, lengths: Tensor | None, time_dim: int = 1) -> Tensor | Padded:
    """A layer's output: the plain tensor, or a ``Padded`` with zeros beyond each length."""
    if lengths is None:
        return data
    return Padded.trusted(zero_padding(data, lengths, time_dim), lengths, time_dim)


def require_output_lengths(owner: str, lengths: Tensor, output_lengths: Tensor, hint: str) -> None:
    """Refuse a batch in which some sequence would have no output position left (not while
    exporting, where lengths are symbolic)."""
    if torch.compiler.is_exporting():
        return
    too_short = output_lengths < 1
    if bool(too_short.any()):
        item = int(too_short.nonzero()[0, 0])
        raise fail(
            owner,
            "input",
            "every sequence long enough to give at least one output position",
            f"batch item {item} of length {int(lengths[item])}, which gives "
            f"{int(output_lengths[item])}",
            hint=hint,
        )


LAYOUTS = {
    3: ("(B, T, C)", (1,)),
    4: ("(B, C, H, W)", (2, 3)),
    5: ("(B, C, D, H, W)", (2, 3, 4)),
}


def unwrap_by_rank(owner: str, x: Tensor | Padded) -> tuple[Tensor, Tensor | None, int]:
    """:func:`unwrap` for layers that take any convrec layout, told apart by rank: sequences
    ``(B, T, C)``, images ``(B, C, H, W)``, volumes ``(B, C, D, H, W)``."""
    source = x.data if isinstance(x, Padded) else x
    rank = source.dim() if isinstance(source, Tensor) else None
    if rank not in LAYOUTS:
        raise fail(
            owner,
            "input",
            "a tensor (B, T, C), (B, C, H, W) or (B, C, D, H, W), or a Padded of one",
            describe(source),
            error=InvalidTypeError if rank is None else ValueError,
        )
    layout, time_dims = LAYOUTS[rank]
    return unwrap(owner, x, rank, layout, time_dims)
