"""Recurrent networks: a stack of convrec.nn recurrent layers and a linear read-out, over feature
sequences or token ids, many-to-many (tagging, sequence regression) or many-to-one
(classification)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from functools import partial

import torch
from torch import Tensor, nn

from convrec.checks import describe, fail, one_of, positive_int
from convrec.errors import InvalidTypeError
from convrec.models.arguments import input_kind
from convrec.models.registry import register
from convrec.nn import Embedding, GlobalPool, Padded, Pointwise, Recurrent, RecurrentCell
from convrec.nn.cell_protocol import find_cell, registered_cells
from convrec.plugins import load_entry_points

PRESETS = ("rnn", "lstm", "gru")
POOLINGS = ("last", "mean", "max")
PADDING_ID = 0
# the zoo's defaults, given to the cells that take them: orthogonal recurrent weights and a
# forget bias of 1, and the GRU in PyTorch's fused, reset-after form
CELL_DEFAULTS = {"init": "keras", "reset_after": True}


def build_recurrent(
    owner: str,
    cell: str,
    input_size: int,
    hidden_size: int,
    num_layers: int,
    cell_options: Mapping[str, object] | None = None,
    **layer_options: object,
) -> Recurrent:
    """A :class:`convrec.nn.Recurrent` of the registered cell ``cell`` (installed plugins'
    included), with the zoo's :data:`CELL_DEFAULTS` for the options the cell takes, overridden
    by ``cell_options``."""
    if not isinstance(cell, str):
        raise fail(owner, "cell", "the name of a registered cell", describe(cell))
    if cell not in registered_cells():
        load_entry_points()
    if cell not in registered_cells():
        names = ", ".join(map(repr, registered_cells()))
        raise fail(
            owner,
            "cell",
            f"one of {names}",
            repr(cell),
            hint="A cell of your own is registered with convrec.nn.register_cell in a plugin.",
        )
    build = find_cell(cell)
    if cell_options is not None and not isinstance(cell_options, Mapping):
        raise fail(owner, "cell_options", "a mapping of the cell's options", describe(cell_options))
    options = {name: value for name, value in CELL_DEFAULTS.items() if _takes(build, name)} | dict(
        cell_options or {}
    )
    return Recurrent(build, input_size, hidden_size, num_layers, **layer_options, **options)


def _takes(build: Callable[..., RecurrentCell], name: str) -> bool:
    parameters = inspect.signature(build).parameters.values()
    return any(
        parameter.name == name or parameter.kind is parameter.VAR_KEYWORD
        for parameter in parameters
    )


class RecurrentNet(nn.Module):
    """Recurrent layers, then a linear layer at every step (many-to-many) or on one vector per
    sequence (many-to-one), after an optional embedding of token ids.

    Follows the lecture notes' recurrent classifiers and taggers (many-to-one and many-to-many;
    embeddings, pooling over time, padding and masking) with the cells of
    Elman (1990), Hochreiter and Schmidhuber (1997) and Cho et al. (2014).

    Args:
        input_shape: ``(T, I)``: steps (``None`` if they vary) and features per step; ``(T,)``
            for token ids (with ``vocab_size``).
        output_size: outputs per step (or per sequence) ``O``.
        cell: a registered cell: ``'rnn'``, ``'lstm'``, ``'gru'`` (in its fused, reset-after
            form unless ``cell_options`` say ``reset_after: false``), ``'peephole_lstm'``,
            ``'layer_norm_lstm'``, or a plugin's (:func:`convrec.nn.register_cell`).
        hidden_size, num_layers, bidirectional, dropout, recurrent_dropout: as
            :class:`convrec.nn.Recurrent`.
        return_sequences: True for sequence-to-sequence, False for one output per sequence.
        init: ``'keras'`` (orthogonal recurrent weights, forget bias 1) or ``'torch'``, for cells
            that take it.
        cell_options: further options of the cell (``{'reset_after': False}``).
        vocab_size: for token ids, the vocabulary size ``V`` (padding id 0 included); an
            :class:`convrec.nn.Embedding` with padding id 0 then comes first, so a plain
            ``(B, T)`` batch of ids is a padded batch ending at each row's last non-zero id.
        embedding_dim: the embedding size ``E`` (with ``vocab_size`` only).
        pooling: many-to-one read-out: ``'last'``, each direction's output at the end of its
            pass (the forward one at the last valid step); ``'mean'`` or ``'max'`` over the valid
            steps of the output sequence. Only ``'last'`` goes with ``return_sequences=True``.

    Shape:
        input: ``(B, T, I)`` or a :class:`Padded`; token ids ``(B, T)`` int64 or a ``Padded``.
        Output ``(B, T, O)`` (a ``Padded`` for a ``Padded`` input or token ids) or ``(B, O)``.

    Example:
        >>> net = RecurrentNet((None, 3), 1, cell="lstm", hidden_size=8)
        >>> net(Padded(torch.randn(2, 5, 3), [5, 2])).data.shape
        torch.Size([2, 5, 1])
        >>> classifier = RecurrentNet((None,), 4, vocab_size=10, return_sequences=False,
        ...                           pooling="max")
        >>> classifier(torch.tensor([[3, 5, 2], [7, 0, 0]])).shape
        torch.Size([2, 4])
    """

    def __init__(
        self,
        input_shape: tuple[int | None, ...],
        output_size: int,
        cell: str = "gru",
        hidden_size: int = 64,
        num_layers: int = 2,
        bidirectional: bool = False,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        return_sequences: bool = True,
        init: str = "keras",
        vocab_size: int | None = None,
        embedding_dim: int = 64,
        pooling: str = "last",
        cell_options: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__()
        owner = "RecurrentNet"
        one_of(owner, "pooling", pooling, POOLINGS)
        positive_int(owner, "output_size", output_size)
        if return_sequences and pooling != "last":
            raise fail(
                owner,
                "pooling",
                "'last' with return_sequences=True",
                repr(pooling),
                hint="Pooling over time gives one output per sequence: set return_sequences=False.",
            )
        tokens = input_kind(owner, input_shape, vocab_size) == "tokens"
        self.embedding = None
        if tokens:
            self.embedding = Embedding(
                vocab_size, positive_int(owner, "embedding_dim", embedding_dim), PADDING_ID
            )
        self.recurrent = build_recurrent(
            owner,
            cell,
            embedding_dim if tokens else input_shape[-1],
            hidden_size,
            num_layers,
            {"init": init, **(cell_options or {})},
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            bidirectional=bidirectional,
            return_sequences=return_sequences or pooling != "last",
        )
        self.pool = None if return_sequences or pooling == "last" else GlobalPool(pooling)
        read_out = nn.Linear(self.recurrent.output_size, output_size)
        self.head = Pointwise(read_out) if return_sequences else read_out

    def streaming_parts(self) -> list[nn.Module]:
        """The model's layers in order, for :mod:`convrec.nn.streaming`."""
        parts = [self.embedding, self.recurrent, self.pool, self.head]
        return [part for part in parts if part is not None]

    def forward(self, x: Tensor | Padded) -> Tensor | Padded:
        if self.embedding is None:
            data = x.data if isinstance(x, Padded) else x
            if isinstance(data, Tensor) and not torch.is_floating_point(data):
                raise fail(
                    "RecurrentNet",
                    "input",
                    "floating-point features (B, T, F)",
                    describe(data),
                    hint="For token ids, build the model with `vocab_size`.",
                    error=InvalidTypeError,
                )
        else:
            x = self.embedding(x)  # (B, T, E), a Padded
        features = self.recurrent(x)  # (B, T, D * H) or (B, D * H)
        if self.pool is not None:
            features = self.pool(features)  # (B, D * H)
        return self.head(features)


for _cell in PRESETS:
    register(
        _cell,
        f"{_cell.upper()} stack with a linear read-out (many-to-many or many-to-one)",
        inputs=("sequence", "tokens"),
    )(partial(RecurrentNet, cell=_cell))
