"""Discrete symbols (text tokens, DNA letters) to vectors: learned embeddings and one-hot codes.

Seed 004, "Embedding of discrete symbols". A batch of token ids ``(B, T)`` padded with a
``padding_idx`` becomes a :class:`Padded` batch whose lengths end at each row's last non-padding
token, so the mask starts here and flows through the rest of the model.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from convrec.checks import describe, fail, non_negative_int, positive_int
from convrec.errors import InvalidTypeError
from convrec.nn.padded import Padded, wrap


def symbol_batch(
    owner: str, tokens: Tensor | Padded, num_symbols: int, padding_idx: int | None
) -> tuple[Tensor, Tensor | None]:
    """Check a batch of symbol ids and find its lengths.

    Returns:
        ``(ids (B, T), lengths (B,) or None)``: the lengths of a ``Padded`` input, else, with a
        ``padding_idx``, one past each row's last non-padding id.
    """
    ids = tokens.data if isinstance(tokens, Padded) else tokens
    if not isinstance(ids, Tensor) or ids.dim() != 2:
        raise fail(
            owner, "input", "a (B, T) tensor of integer ids, or a Padded of one", describe(ids)
        )
    if torch.is_floating_point(ids) or ids.is_complex() or ids.dtype == torch.bool:
        raise fail(
            owner,
            "input",
            "integer ids",
            describe(ids),
            hint="Convert with .long().",
            error=InvalidTypeError,
        )
    exporting = torch.compiler.is_exporting()  # values are symbolic: the graph checks nothing
    if not exporting and ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= num_symbols):
        raise fail(
            owner,
            "input",
            f"ids in [0, {num_symbols})",
            f"ids from {int(ids.min())} to {int(ids.max())}",
        )
    if isinstance(tokens, Padded):
        return ids, tokens.lengths
    if padding_idx is None:
        return ids, None
    positions = torch.arange(1, ids.shape[1] + 1, device=ids.device)
    lengths = ((ids != padding_idx) * positions).amax(dim=1)
    if not exporting and ids.shape[1] and bool((lengths == 0).any()):
        row = int((lengths == 0).nonzero()[0, 0])
        raise fail(owner, "input", "at least one non-padding id per row", f"row {row} all padding")
    return ids, lengths


def _padding_index(owner: str, padding_idx: int | None, num_symbols: int) -> int | None:
    if (
        padding_idx is not None
        and non_negative_int(owner, "padding_idx", padding_idx) >= num_symbols
    ):
        raise fail(owner, "padding_idx", f"an id in [0, {num_symbols})", repr(padding_idx))
    return padding_idx


class Embedding(nn.Module):
    """A learned vector for each symbol: ``(B, T)`` ids to ``(B, T, E)``.

    Args:
        num_embeddings: vocabulary size ``V``.
        embedding_dim: vector size ``E``.
        padding_idx: the padding id, whose vector is zero and never trained; with it, a plain
            ``(B, T)`` input gives a :class:`Padded` output.

    Shape:
        input: ``(B, T)`` integer ids in ``[0, V)``, or a :class:`Padded` of them; output
        ``(B, T, E)``, a ``Padded`` when the input is one or ``padding_idx`` is set.

    Example:
        >>> embed = Embedding(5, 3, padding_idx=0)
        >>> embed(torch.tensor([[2, 4, 0], [1, 0, 0]])).lengths
        tensor([2, 1])
    """

    def __init__(
        self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None
    ) -> None:
        super().__init__()
        self.num_embeddings = positive_int("Embedding", "num_embeddings", num_embeddings)
        self.embedding_dim = positive_int("Embedding", "embedding_dim", embedding_dim)
        self.padding_idx = _padding_index("Embedding", padding_idx, num_embeddings)
        self.weight = nn.Parameter(torch.randn(num_embeddings, embedding_dim))
        if padding_idx is not None:
            with torch.no_grad():
                self.weight[padding_idx].zero_()

    def forward(self, tokens: Tensor | Padded) -> Tensor | Padded:
        ids, lengths = symbol_batch("Embedding", tokens, self.num_embeddings, self.padding_idx)
        return wrap(F.embedding(ids, self.weight, self.padding_idx), lengths)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}, padding_idx={self.padding_idx}"


class OneHot(nn.Module):
    """One-hot codes: ``(B, T)`` ids to ``(B, T, V)``; the padding id codes as all zeros.

    Args:
        num_classes: number of symbols ``V`` (the padding id included).
        padding_idx: the padding id; with it, a plain input gives a :class:`Padded` output.
        dtype: floating dtype of the codes.

    Shape:
        input: ``(B, T)`` integer ids in ``[0, V)``, or a :class:`Padded`; output ``(B, T, V)``.

    Example:
        >>> OneHot(4)(torch.tensor([[0, 3]]))
        tensor([[[1., 0., 0., 0.],
                 [0., 0., 0., 1.]]])
    """

    def __init__(
        self, num_classes: int, padding_idx: int | None = None, dtype: torch.dtype = torch.float32
    ) -> None:
        super().__init__()
        self.num_classes = positive_int("OneHot", "num_classes", num_classes)
        self.padding_idx = _padding_index("OneHot", padding_idx, num_classes)
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise fail(
                "OneHot", "dtype", "a floating torch.dtype", repr(dtype), error=InvalidTypeError
            )
        self.dtype = dtype

    def forward(self, tokens: Tensor | Padded) -> Tensor | Padded:
        ids, lengths = symbol_batch("OneHot", tokens, self.num_classes, self.padding_idx)
        codes = F.one_hot(ids, self.num_classes).to(self.dtype)
        if self.padding_idx is not None:
            codes[..., self.padding_idx] = 0
        return wrap(codes, lengths)

    def extra_repr(self) -> str:
        return f"{self.num_classes}, padding_idx={self.padding_idx}"
