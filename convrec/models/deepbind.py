"""DeepBind: motif-detector convolutions over DNA (Alipanahi et al. 2015), scanning both strands."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from convrec.checks import fail, positive_int, probability
from convrec.data.tokenizers import DNA_ALPHABET
from convrec.models.arguments import boolean, input_kind, sequence_features
from convrec.models.registry import register
from convrec.nn import Conv1d, GlobalPool, Padded, Pointwise, reverse_sequences
from convrec.nn.embedding import symbol_batch
from convrec.nn.padded import unwrap, wrap

BASES = 4


def reverse_complement(data: Tensor, lengths: Tensor | None) -> Tensor:
    """The reverse complement of one-hot DNA over ``A C G T``, within each length.

    Complementing swaps A with T and C with G, which reverses the channel order; an unknown base
    (0.25 everywhere) stays unknown. Padding stays where it was.

    Shape:
        data: ``(B, T, 4)``; lengths: ``(B,)`` or None; output like ``data``.

    Example:
        >>> reverse_complement(torch.eye(4)[[0, 0, 1]][None], None).argmax(-1)  # AAC -> GTT
        tensor([[2, 3, 3]])
    """
    return reverse_sequences(data, lengths).flip(-1)


@register(
    "deepbind",
    "DeepBind motif scanner for DNA: both strands, max and mean pooling, one hidden layer",
    inputs=("tokens", "sequence"),
)
class DeepBind(nn.Module):
    """Convolutional motif detectors over one-hot DNA, pooled, then a small dense network.

    Follows Alipanahi, Delong, Weirauch and Frey, "Predicting the sequence specificities of
    DNA- and RNA-binding proteins by deep learning" (Nature Biotechnology 2015): each filter is a
    motif detector scanned along the sequence, rectified, then reduced to its maximum and its
    mean over positions; dropout, a hidden layer of ReLU units and a linear read-out follow.

    With ``reverse_complement`` (DeepBind scores both strands) the same filters scan the sequence
    and its reverse complement; the maximum is taken over both strands and the mean averages
    them, so a site and its reverse complement give the same output. Convolutions are wide
    (``filter_width - 1`` zeros at each end): motifs overlapping an end still count, and
    sequences of any length work.

    Token ids ``(T,)`` are those of :func:`convrec.data.tokenizers.encode_dna`: 0 to 3 for
    ``A C G T`` and 4 for ``N``, coded as 0.25 on every base as
    :func:`~convrec.data.tokenizers.one_hot_dna` does. Id 0 is A, not padding: give a batch of
    several lengths as a :class:`Padded`. A float sequence ``(T, 4)`` is that one-hot code.

    Args:
        input_shape: ``(T,)`` for base ids or ``(T, 4)`` for one-hot bases (``T`` is ``None``
            when lengths vary).
        output_size: number of outputs ``O`` (classes, or binding scores).
        vocab_size: 5 for ids over ``A C G T N`` (4 if there is no ``N``); required for ids,
            None for one-hot input.
        num_filters: motif detectors ``K``.
        filter_width: motif length in bases.
        hidden_size: units of the hidden layer.
        dropout: drop rate on the pooled features and on the hidden layer.
        reverse_complement: scan both strands with shared filters.

    Shape:
        input: ``(B, T)`` int64 ids or ``(B, T, 4)`` floats, or a :class:`Padded` of either;
        output ``(B, O)`` logits.

    Example:
        >>> net = DeepBind((200,), 2, vocab_size=5, num_filters=8)
        >>> net(torch.randint(0, 5, (3, 200))).shape
        torch.Size([3, 2])
    """

    def __init__(
        self,
        input_shape: tuple[int | None, ...],
        output_size: int,
        vocab_size: int | None = None,
        num_filters: int = 64,
        filter_width: int = 24,
        hidden_size: int = 32,
        dropout: float = 0.5,
        reverse_complement: bool = True,
    ) -> None:
        super().__init__()
        positive_int("DeepBind", "output_size", output_size)
        positive_int("DeepBind", "num_filters", num_filters)
        positive_int("DeepBind", "filter_width", filter_width)
        positive_int("DeepBind", "hidden_size", hidden_size)
        self.reverse_complement = boolean("DeepBind", "reverse_complement", reverse_complement)
        self.takes_ids = input_kind("DeepBind", input_shape, vocab_size) == "tokens"
        if self.takes_ids and vocab_size not in (BASES, len(DNA_ALPHABET)):
            raise fail(
                "DeepBind",
                "vocab_size",
                f"4 (ids of A C G T) or 5 (ids of {' '.join(DNA_ALPHABET)}, as encode_dna gives)",
                repr(vocab_size),
            )
        if not self.takes_ids and sequence_features("DeepBind", input_shape) != BASES:
            raise fail(
                "DeepBind", "input_shape", "(T, 4): one-hot A C G T", repr(tuple(input_shape))
            )
        codes = torch.cat([torch.eye(BASES), torch.full((1, BASES), 1 / BASES)])  # A C G T N
        self.register_buffer(
            "codes", codes[:vocab_size] if self.takes_ids else None, persistent=False
        )
        self.motifs = nn.Sequential(
            Conv1d(BASES, num_filters, filter_width, padding=filter_width - 1),
            Pointwise(nn.ReLU()),
        )
        self.max_pool = GlobalPool("max")
        self.mean_pool = GlobalPool("mean")
        self.dense = nn.Sequential(
            nn.Dropout(probability("DeepBind", "dropout", dropout)),
            nn.Linear(2 * num_filters, hidden_size),
            nn.ReLU(),
            nn.Dropout(dropout),
        )
        self.head = nn.Linear(hidden_size, output_size)

    def forward(self, x: Tensor | Padded) -> Tensor:
        if self.takes_ids:
            ids, lengths = symbol_batch("DeepBind", x, len(self.codes), None)
            bases = F.embedding(ids, self.codes)  # (B, T, 4)
        else:
            bases, lengths, _ = unwrap("DeepBind", x, 3, "(B, T, 4)", (1,))
        strands = 1
        if self.reverse_complement:
            strands = 2
            bases = torch.cat([bases, reverse_complement(bases, lengths)])  # (2B, T, 4)
            lengths = None if lengths is None else lengths.repeat(2)
        scores = self.motifs(wrap(bases, lengths))  # (S * B, T + W - 1, K)
        highest = self.max_pool(scores).unflatten(0, (strands, -1)).amax(0)  # (B, K)
        average = self.mean_pool(scores).unflatten(0, (strands, -1)).mean(0)  # (B, K)
        return self.head(self.dense(torch.cat([highest, average], dim=-1)))
