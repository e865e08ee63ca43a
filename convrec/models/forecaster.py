"""Forecasting: from a lookback window of a multivariate series to the next values of one of its
columns."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from convrec.checks import fail, non_negative_int, positive_int
from convrec.models.arguments import sequence_shape
from convrec.models.registry import register
from convrec.nn import GRU, Padded
from convrec.nn.checks import channels
from convrec.nn.padded import unwrap
from convrec.nn.streaming import SlidingWindow


def last_values(series: Tensor, lengths: Tensor | None, count: int) -> Tensor:
    """The last ``count`` values of each series, oldest first; a series shorter than ``count``
    is preceded by zeros.

    Shape:
        series: ``(B, T)``; lengths: ``(B,)`` or None (all ``T``); output ``(B, count)``.

    Example:
        >>> last_values(torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 0.0]]), torch.tensor([3, 2]), 3)
        tensor([[1., 2., 3.],
                [0., 4., 5.]])
    """
    if lengths is None:
        lengths = torch.full((series.shape[0],), series.shape[1], device=series.device)
    offsets = torch.arange(count, device=series.device) - count  # -count .. -1
    positions = lengths.unsqueeze(-1) + offsets  # (B, count)
    values = series.gather(1, positions.clamp(min=0))
    return values.where(positions >= 0, 0.0)


@register(
    "forecaster",
    "GRU encoder of a lookback window plus a linear autoregressive highway (LSTNet-style)",
    inputs=("sequence",),
)
class Forecaster(nn.Module):
    """Many-to-one forecaster: a lookback window ``(B, T, F)`` to the next ``H`` values of its
    target column.

    Follows Lai et al. (2018), "Modeling Long- and Short-Term Temporal Patterns with Deep Neural
    Networks" (LSTNet), without its convolution and skip layers: a recurrent encoder's final
    state gives the nonlinear part, and a linear autoregressive "highway" over the target's last
    ``w`` values is added to it, keeping the output on the scale of the input::

        h_T = GRU(x_1 .. x_T)                      # final state of the last layer
        y = W_head h_T + b_head + W_ar [x_{T-w+1} .. x_T]_target + b_ar      # (H,)

    Args:
        input_shape: ``(T, F)``: window length (``None`` if it varies) and features per step.
        output_size: the forecast horizon ``H``, steps ahead of the window's end.
        hidden_size, num_layers, dropout: as :class:`convrec.nn.GRU` (dropout between layers).
        ar_window: ``w``, the target values the highway reads, capped at a known ``T``; 0 turns
            the highway off. A window shorter than ``w`` counts as preceded by zeros.
        target_column: the feature forecast, ``0 <= target_column < F``.

    Shape:
        input: ``(B, T, F)`` or a :class:`Padded` (each window ends at its length); output
        ``(B, H)``.

    Example:
        >>> model = Forecaster((48, 3), 6, hidden_size=16)
        >>> model(torch.randn(2, 48, 3)).shape
        torch.Size([2, 6])
    """

    def __init__(
        self,
        input_shape: tuple[int | None, ...],
        output_size: int,
        hidden_size: int = 64,
        num_layers: int = 1,
        dropout: float = 0.0,
        ar_window: int = 24,
        target_column: int = 0,
    ) -> None:
        super().__init__()
        owner = "Forecaster"
        steps, features = sequence_shape(owner, input_shape)
        positive_int(owner, "output_size", output_size)
        non_negative_int(owner, "ar_window", ar_window)
        if non_negative_int(owner, "target_column", target_column) >= features:
            raise fail(
                owner,
                "target_column",
                f"a feature index in [0, {features}) for input_shape {tuple(input_shape)}",
                repr(target_column),
            )
        self.features, self.window = features, steps
        self.target_column = target_column
        self.ar_window = ar_window if steps is None else min(ar_window, steps)
        self.encoder = GRU(
            features,
            hidden_size,
            num_layers,
            dropout=dropout,
            return_sequences=False,
            init="keras",
            reset_after=True,
        )
        self.head = nn.Linear(hidden_size, output_size)
        self.highway = nn.Linear(self.ar_window, output_size) if self.ar_window else None

    def streaming_parts(self) -> list[nn.Module]:
        """The model on each lookback window a stream completes, for
        :mod:`convrec.nn.streaming` (a forecast after every observation)."""
        return [SlidingWindow(self, self.window)]

    def forward(self, x: Tensor | Padded) -> Tensor:
        data, lengths, _ = unwrap("Forecaster", x, 3, "(B, T, F)", (1,))
        channels("Forecaster", data, -1, self.features, "(B, T, F)")
        forecast = self.head(self.encoder(x))  # (B, H)
        if self.highway is not None:
            recent = last_values(data[..., self.target_column], lengths, self.ar_window)  # (B, w)
            forecast = forecast + self.highway(recent)
        return forecast
