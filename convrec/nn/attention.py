"""Additive attention over a padded memory (Bahdanau, Cho & Bengio 2015, "Neural Machine
Translation by Jointly Learning to Align and Translate").

For a query ``s`` (the decoder's previous state) and memory vectors ``h_j`` (the encoder's
annotations, ``j < length``)::

    e_j     = v^T tanh(W s + U h_j + b)
    alpha_j = exp(e_j) / sum_{k < length} exp(e_k)        (positions past the length get 0)
    c       = sum_j alpha_j h_j

``U h_j`` does not depend on the query, so :meth:`AdditiveAttention.keys` computes it once per
sequence and every decoding step reuses it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from convrec.checks import positive_int
from convrec.nn.padded import sequence_mask


class AdditiveAttention(nn.Module):
    """Bahdanau's scoring of memory positions by a query, and the weighted sum it gives.

    Args:
        query_size: features of the query ``s``.
        memory_size: features of each memory vector ``h_j``.
        attention_size: units of the hidden layer ``tanh(W s + U h_j + b)``.

    Shape:
        keys: memory ``(B, T, M)`` to ``(B, T, A)``; forward: query ``(B, Q)``, keys ``(B, T, A)``,
        memory ``(B, T, M)``, lengths ``(B,)``; returns the context ``(B, M)`` and the weights
        ``(B, T)`` (zero past each length, summing to one).

    Example:
        >>> attend = AdditiveAttention(4, 6, 5)
        >>> memory = torch.randn(2, 3, 6)
        >>> context, weights = attend(torch.randn(2, 4), attend.keys(memory), memory,
        ...                           torch.tensor([3, 1]))
        >>> context.shape, weights[1].tolist()[1:]
        (torch.Size([2, 6]), [0.0, 0.0])
    """

    def __init__(self, query_size: int, memory_size: int, attention_size: int) -> None:
        super().__init__()
        positive_int("AdditiveAttention", "query_size", query_size)
        positive_int("AdditiveAttention", "memory_size", memory_size)
        positive_int("AdditiveAttention", "attention_size", attention_size)
        self.query = nn.Linear(query_size, attention_size)
        self.memory = nn.Linear(memory_size, attention_size, bias=False)
        self.score = nn.Linear(attention_size, 1, bias=False)

    def keys(self, memory: Tensor) -> Tensor:
        """``U h_j`` for every position: ``(B, T, M)`` to ``(B, T, A)``."""
        return self.memory(memory)

    def forward(
        self, query: Tensor, keys: Tensor, memory: Tensor, lengths: Tensor
    ) -> tuple[Tensor, Tensor]:
        energies = self.score(torch.tanh(keys + self.query(query)[:, None, :])).squeeze(-1)
        valid = sequence_mask(lengths, memory.shape[1])
        weights = F.softmax(energies.masked_fill(~valid, float("-inf")), dim=-1)
        context = torch.bmm(weights[:, None, :], memory).squeeze(1)
        return context, weights
