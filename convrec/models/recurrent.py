"""Recurrent networks: a stack of convrec.nn recurrent layers and a linear read-out."""

from __future__ import annotations

from torch import Tensor, nn

from convrec.models.registry import register
from convrec.nn import GRU, LSTM, RNN, Padded, Pointwise

LAYERS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


class RecurrentNet(nn.Module):
    """Recurrent layers, then a linear layer at every step (many-to-many) or on the last valid
    output (many-to-one).

    Args:
        input_size: features per step ``I``.
        output_size: outputs per step (or per sequence) ``O``.
        cell: ``'rnn'``, ``'lstm'`` or ``'gru'`` (the GRU in its fused, reset-after form).
        hidden_size, num_layers, bidirectional, dropout: as :class:`convrec.nn.LSTM`.
        return_sequences: True for sequence-to-sequence, False for one output per sequence.
        init: ``'keras'`` (orthogonal recurrent weights, forget bias 1) or ``'torch'``.

    Shape:
        input: ``(B, T, I)`` or a :class:`Padded`; output ``(B, T, O)`` (a ``Padded`` for a
        ``Padded`` input) or ``(B, O)``.

    Example:
        >>> net = RecurrentNet(3, 1, cell="lstm", hidden_size=8)
        >>> net(Padded(torch.randn(2, 5, 3), [5, 2])).data.shape
        torch.Size([2, 5, 1])
    """

    def __init__(
        self,
        input_size: int,
        output_size: int,
        cell: str = "gru",
        hidden_size: int = 64,
        num_layers: int = 2,
        bidirectional: bool = False,
        dropout: float = 0.0,
        return_sequences: bool = True,
        init: str = "keras",
    ) -> None:
        super().__init__()
        if cell not in LAYERS:
            raise ValueError(
                f"RecurrentNet: invalid value for argument `cell`: expected one of "
                f"{', '.join(map(repr, LAYERS))}, got {cell!r}."
            )
        options = {"reset_after": True} if cell == "gru" else {}
        self.recurrent = LAYERS[cell](
            input_size,
            hidden_size,
            num_layers,
            dropout=dropout,
            bidirectional=bidirectional,
            return_sequences=return_sequences,
            init=init,
            **options,
        )
        read_out = nn.Linear(hidden_size * (2 if bidirectional else 1), output_size)
        self.read_out = Pointwise(read_out) if return_sequences else read_out

    def forward(self, x: Tensor | Padded) -> Tensor | Padded:
        return self.read_out(self.recurrent(x))


def _entry(cell: str) -> None:
    def build(input_size: int, output_size: int, **options: object) -> RecurrentNet:
        return RecurrentNet(input_size, output_size, cell=cell, **options)

    register(cell, f"{cell.upper()} stack with a linear read-out (many-to-many or many-to-one)")(
        build
    )


for _cell in LAYERS:
    _entry(_cell)
