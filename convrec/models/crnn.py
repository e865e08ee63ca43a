"""Convolutional recurrent networks for spectrograms and MFCC sequences."""

from __future__ import annotations

from torch import Tensor, nn

from convrec.checks import one_of, positive_int, probability
from convrec.models.arguments import boolean, positive_ints, sequence_features
from convrec.models.registry import register
from convrec.nn import GRU, ConvBNReLU, GlobalPool, Padded, Pool1d

READOUTS = ("mean", "max", "last", "frames")


@register(
    "crnn",
    "conv-BN-ReLU blocks with time pooling over (T, F) features, then a GRU, pooled over time",
    inputs=("sequence",),
)
class CRNN(nn.Module):
    """A convolutional front end over time, a (bidirectional) GRU back end, a linear head.

    Follows Choi, Fazekas, Sandler and Cho, "Convolutional recurrent neural networks for music
    classification" (ICASSP 2017), and Arik et al., "Convolutional recurrent neural networks for
    small-footprint keyword spotting" (Interspeech 2017): convolutions learn local
    time-frequency patterns and shorten the sequence, the GRU summarises it. Here the
    convolutions are 1D over time with the ``F`` features (mel bands, MFCCs) as channels; each
    block is conv-BN-ReLU ('same' padding), then max pooling over time by ``pool_size``.

    Args:
        input_shape: ``(T, F)``: frames (``None`` if they vary) and features per frame.
        output_size: number of classes ``O``.
        channels: filters of each convolutional block.
        kernel_size: kernel of every convolution, in frames.
        pool_size: max-pooling window and stride over time after each block (1 for none); a
            padded batch's lengths shrink to ``ceil(L / pool_size)`` per block.
        hidden_size: GRU units per direction ``H``.
        num_layers: stacked GRU layers.
        bidirectional: run a second GRU from the end of each sequence.
        readout: ``'mean'`` or ``'max'`` over the GRU's valid outputs, or ``'last'``: the
            final state of each direction (the forward one at the last valid frame); or
            ``'frames'``: the head at every frame (for CTC, sequence labelling).
        dropout: drop rate between GRU layers and before the head.

    Shape:
        input: ``(B, T, F)`` or a :class:`Padded` of it; output ``(B, O)`` logits, or with
        ``readout='frames'`` ``(B, T', O)`` (a :class:`Padded` for a padded input), ``T'`` the
        frames left after pooling.

    Example:
        >>> net = CRNN((None, 40), 12, channels=(16,), hidden_size=8)
        >>> net(Padded(torch.randn(2, 30, 40), [30, 11])).shape
        torch.Size([2, 12])
    """

    def __init__(
        self,
        input_shape: tuple[int | None, ...],
        output_size: int,
        channels: tuple[int, ...] = (64, 64),
        kernel_size: int = 3,
        pool_size: int = 2,
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = True,
        readout: str = "mean",
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        features = sequence_features("CRNN", input_shape)
        positive_int("CRNN", "output_size", output_size)
        channels = positive_ints("CRNN", "channels", channels)
        positive_int("CRNN", "kernel_size", kernel_size)
        positive_int("CRNN", "pool_size", pool_size)
        positive_int("CRNN", "hidden_size", hidden_size)
        positive_int("CRNN", "num_layers", num_layers)
        boolean("CRNN", "bidirectional", bidirectional)
        one_of("CRNN", "readout", readout, READOUTS)
        probability("CRNN", "dropout", dropout)
        blocks: list[nn.Module] = []
        for in_channels, out_channels in zip((features, *channels), channels, strict=False):
            blocks.append(ConvBNReLU(in_channels, out_channels, kernel_size))
            if pool_size > 1:
                blocks.append(Pool1d("max", pool_size))
        self.front = nn.Sequential(*blocks)
        self.recurrent = GRU(
            channels[-1],
            hidden_size,
            num_layers,
            dropout=dropout,
            bidirectional=bidirectional,
            return_sequences=readout != "last",
            init="keras",
            reset_after=True,
        )
        self.readout = GlobalPool(readout) if readout in ("mean", "max") else nn.Identity()
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size * (2 if bidirectional else 1), output_size)

    def forward(self, x: Tensor | Padded) -> Tensor | Padded:
        summary = self.readout(self.recurrent(self.front(x)))  # (B, D * H) or (B, T', D * H)
        if isinstance(summary, Padded):
            return summary.map(lambda data: self.head(self.dropout(data)))
        return self.head(self.dropout(summary))
