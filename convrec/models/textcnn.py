"""The convolutional sentence classifier of Kim (2014)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from convrec.checks import positive_int, probability
from convrec.models.arguments import input_kind, positive_ints, sequence_features
from convrec.models.registry import register
from convrec.nn import Conv1d, Embedding, GlobalPool, Padded


@register(
    "textcnn",
    "Kim's sentence CNN: parallel convolutions of widths 3-5, max over time, dropout",
    inputs=("tokens", "sequence"),
)
class TextCNN(nn.Module):
    """Embedding, parallel 1D convolutions of several widths, max over time, dropout, linear head.

    Follows Kim, "Convolutional neural networks for sentence classification" (EMNLP 2014), the
    randomly initialised variant (CNN-rand): for each width ``w`` and filter ``k``,
    ``c_t = relu(w_k . x[t : t + w] + b_k)`` and the sentence feature is ``max_t c_t``.

    Each convolution is wide: ``w - 1`` zeros on both sides, as Kim's code pads every sentence,
    so a sentence of any length, even one token, has ``L + w - 1`` windows, each holding at
    least one real token, and the maximum runs over exactly those. The ReLU is applied after the
    maximum, which gives the same number (ReLU is increasing) for less work.

    Token ids ``(T,)`` go through the embedding (id 0 is padding, its vector zero); float features
    ``(T, F)`` (pretrained word vectors, say) go straight to the convolutions.

    Args:
        input_shape: ``(T,)`` for token ids or ``(T, F)`` for feature vectors (``T`` is ``None``
            when lengths vary).
        output_size: number of classes ``O``.
        vocab_size: number of token ids ``V`` (padding 0 and unknown 1 included); required for
            token input, None for features.
        embedding_dim: size ``E`` of the learned word vectors.
        widths: convolution widths, one set of filters each.
        num_filters: filters per width.
        dropout: drop rate on the pooled features.

    Shape:
        input: ``(B, T)`` int64 ids padded with 0, or ``(B, T, F)`` floats, or a :class:`Padded`
        of either; output ``(B, O)`` logits.

    Example:
        >>> net = TextCNN((None,), 2, vocab_size=50, embedding_dim=8, num_filters=4)
        >>> net(torch.tensor([[5, 7, 9, 2], [3, 0, 0, 0]])).shape
        torch.Size([2, 2])
    """

    def __init__(
        self,
        input_shape: tuple[int | None, ...],
        output_size: int,
        vocab_size: int | None = None,
        embedding_dim: int = 128,
        widths: tuple[int, ...] = (3, 4, 5),
        num_filters: int = 100,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        positive_int("TextCNN", "output_size", output_size)
        positive_int("TextCNN", "embedding_dim", embedding_dim)
        positive_int("TextCNN", "num_filters", num_filters)
        widths = positive_ints("TextCNN", "widths", widths)
        self.embed: nn.Module = nn.Identity()
        if input_kind("TextCNN", input_shape, vocab_size) == "tokens":
            self.embed = Embedding(vocab_size, embedding_dim, padding_idx=0)
            features = embedding_dim
        else:
            features = sequence_features("TextCNN", input_shape)
        self.convs = nn.ModuleList(
            Conv1d(features, num_filters, width, padding=width - 1) for width in widths
        )
        self.pool = GlobalPool("max")
        self.dropout = nn.Dropout(probability("TextCNN", "dropout", dropout))
        self.head = nn.Linear(len(widths) * num_filters, output_size)

    def forward(self, x: Tensor | Padded) -> Tensor:
        words = self.embed(x)  # (B, T, E)
        pooled = torch.cat([self.pool(conv(words)) for conv in self.convs], dim=-1)  # (B, W * K)
        return self.head(self.dropout(pooled.relu()))
