"""Encoder-decoder models: a sequence of tokens to a sequence of other tokens, of another length.

``seq2seq`` is the RNN encoder-decoder of Cho et al. (2014), "Learning Phrase Representations
using RNN Encoder-Decoder for Statistical Machine Translation": a bidirectional GRU encoder reads
the source ``x_1..x_T``; its last states form a context vector ``c``; the decoder GRU starts from
``s_0 = tanh(W_s c)`` and, at every step, reads the previous output and ``c``::

    s_t = GRU(s_{t-1}, [E y_{t-1}; c])
    p(y_t | y_<t, x) = softmax(W_o [s_t; E y_{t-1}; c] + b_o)

(Cho et al. put a maxout layer before the softmax; here it is one linear layer.) The whole source
must pass through the fixed-size ``c``.

``seq2seq-attention`` is Bahdanau, Cho & Bengio (2015): the decoder looks back at every encoder
output ``h_j`` through additive attention (:class:`convrec.nn.AdditiveAttention`), with a context
``c_t`` of its own at each step::

    c_t = sum_j alpha_tj h_j,   alpha_t = attention(s_{t-1}, h)
    s_t = GRU(s_{t-1}, [E y_{t-1}; c_t])
    p(y_t | y_<t, x) = softmax(W_o [s_t; E y_{t-1}; c_t] + b_o)

Training feeds the true previous outputs (teacher forcing): a :class:`Transduction` batch holds
the source and the decoder's inputs, ``<s>`` followed by the target. Prediction feeds back the
model's own outputs, greedily or by beam search (:mod:`convrec.nn.decoding`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from convrec.checks import describe, fail, positive_int, probability
from convrec.errors import InvalidTypeError
from convrec.models.arguments import input_kind
from convrec.models.recurrent import PADDING_ID, build_recurrent
from convrec.models.registry import register
from convrec.nn import Embedding, Padded
from convrec.nn.attention import AdditiveAttention
from convrec.nn.decoding import Carried, beam_search, greedy_decode

START_ID, END_ID = 2, 3
"""The ids of ``<s>`` and ``</s>`` in the output vocabulary (after ``<pad>`` 0 and ``<unk>`` 1)."""
SPECIAL_PENALTY = 1e4
"""How far below the other logits prediction puts those of ``<pad>``, ``<unk>`` and ``<s>``: their
probability is 0 in float32 (``exp(-1e4)``), and the log-probabilities stay finite."""


def without_specials(logits: Tensor) -> Tensor:
    """Logits ``(..., V)`` with ``<pad>``, ``<unk>`` and ``<s>`` (ids 0 to 2) lowered by
    :data:`SPECIAL_PENALTY`: never chosen, yet finite."""
    return torch.cat([logits[..., :END_ID] - SPECIAL_PENALTY, logits[..., END_ID:]], dim=-1)


class Transduction(NamedTuple):
    """A training batch of an encoder-decoder: the ``source`` ids ``(B, T)`` and the decoder's
    inputs ``previous`` ``(B, U)``, ``<s>`` followed by each target but its ``</s>``; both
    :class:`Padded`."""

    source: Padded
    previous: Padded

    @property
    def lengths(self) -> Tensor:
        """The source lengths ``(B,)``."""
        return self.source.lengths

    def to(self, *args: object, **kwargs: object) -> Transduction:
        """Both parts moved or cast like ``Tensor.to``."""
        return Transduction(self.source.to(*args, **kwargs), self.previous.to(*args, **kwargs))


class EncoderDecoder(nn.Module, ABC):
    """What both encoder-decoders share: the embeddings, the bidirectional encoder, the
    decoder's start state and output layer, and prediction.

    Args:
        input_shape: ``(T,)``, ``T`` the source length or None.
        output_size: ``V``, the output vocabulary with ``<pad>``, ``<unk>``, ``<s>``, ``</s>`` as
            ids 0 to 3.
        vocab_size: the source vocabulary (``<pad>`` is 0); required.
        embedding_size: ``E``, for source and output symbols alike.
        hidden_size: ``H``, the encoder's units per direction; the decoder has ``2 H``.
        encoder_layers: stacked bidirectional GRU layers.
        dropout: on the embeddings, between encoder layers and before the output layer.
        max_length: the most output symbols prediction writes.
        beam_size: the prefixes beam search keeps (1: greedy).

    Shape:
        forward: a :class:`Transduction` to logits ``Padded (B, U, V)``, one row per decoder
        input; a source alone (``Padded (B, T)``, or ``(B, T)`` ids padded with 0) to the
        log-probabilities of its greedy decoding, ``Padded (B, L, V)``.
    """

    attends: ClassVar[bool] = False  # the decoder looks back at the encoder's outputs

    def __init__(
        self,
        input_shape: tuple[int | None, ...],
        output_size: int,
        vocab_size: int | None = None,
        embedding_size: int = 64,
        hidden_size: int = 256,
        encoder_layers: int = 2,
        dropout: float = 0.2,
        max_length: int = 40,
        beam_size: int = 5,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        if input_kind(owner, input_shape, vocab_size) != "tokens":
            raise fail(owner, "input_shape", "(T,) for token ids", repr(input_shape))
        if positive_int(owner, "output_size", output_size) <= END_ID + 1:
            raise fail(
                owner, "output_size", "at least 5 (<pad> <unk> <s> </s> and a symbol)", output_size
            )
        self.embedding_size = positive_int(owner, "embedding_size", embedding_size)
        self.hidden_size = positive_int(owner, "hidden_size", hidden_size)
        self.dropout = probability(owner, "dropout", dropout)
        self.max_length = positive_int(owner, "max_length", max_length)
        self.beam_size = positive_int(owner, "beam_size", beam_size)
        self.output_size = output_size
        memory = 2 * hidden_size
        self.source_embedding = Embedding(vocab_size, embedding_size, padding_idx=PADDING_ID)
        self.encoder = build_recurrent(
            owner,
            "gru",
            embedding_size,
            hidden_size,
            positive_int(owner, "encoder_layers", encoder_layers),
            bidirectional=True,
            dropout=dropout,
            return_state=True,
        )
        self.output_embedding = nn.Embedding(output_size, embedding_size, padding_idx=PADDING_ID)
        self.bridge = nn.Linear(memory, memory)
        self.decoder = build_recurrent(owner, "gru", embedding_size + memory, memory, 1)
        self.head = nn.Linear(memory + embedding_size + memory, output_size)
        if self.attends:
            self.attention = AdditiveAttention(memory, memory, memory)

    def encode(self, source: Tensor | Padded) -> Carried:
        """The encoder's outputs and what the decoder starts from, each with the batch first:
        ``memory (B, T, 2H)``, ``lengths (B,)``, ``context (B, 2H)`` (the forward direction's
        last state and the reverse direction's, the one after reading ``x_1``) and the decoder
        state ``state (B, 2H) = tanh(W_s context)``. A plain ``(B, T)`` source ends each row after
        its last id other than padding (0)."""
        embedded = self.source_embedding(source)
        embedded = Padded.trusted(
            F.dropout(embedded.data, self.dropout, self.training), embedded.lengths
        )
        outputs, final = self.encoder(embedded)
        context = torch.cat([final[-2], final[-1]], dim=-1)
        return {
            "memory": outputs.data,
            "lengths": embedded.lengths,
            "context": context,
            "state": torch.tanh(self.bridge(context)),
        }

    @abstractmethod
    def context(self, state: Tensor, carried: Carried) -> Tensor:
        """The context vector the next step reads, ``(B, 2H)``, given the decoder's previous
        state ``(B, 2H)``."""

    def step(self, previous: Tensor, carried: Carried) -> tuple[Tensor, Carried]:
        """One decoding step: previous ids ``(N,)`` to next-id log-probabilities ``(N, V)``
        (see :mod:`convrec.nn.decoding`); ``<pad>``, ``<unk>`` and ``<s>`` are never output."""
        logits, state = self._logits(previous, carried)
        return F.log_softmax(without_specials(logits), dim=-1), carried | {"state": state}

    def _logits(
        self, previous: Tensor, carried: Carried, context: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Logits ``(N, V)`` of the next id and the decoder's next state, given the previous
        ids ``(N,)`` (and the context the step reads, if already computed)."""
        embedded = F.dropout(self.output_embedding(previous), self.dropout, self.training)
        if context is None:
            context = self.context(carried["state"], carried)
        cell = self.decoder.cells[0]
        (state,) = cell.step(torch.cat([embedded, context], dim=-1), (carried["state"],))
        features = torch.cat([state, embedded, context], dim=-1)
        return self.head(F.dropout(features, self.dropout, self.training)), state

    def forward(self, batch: Transduction | Padded | Tensor) -> Padded:
        if isinstance(batch, Padded | Tensor):
            carried = self.encode(batch)
            ids, log_probs = greedy_decode(
                self.step, carried, len(carried["lengths"]), START_ID, END_ID, self.max_length
            )
            lengths = torch.tensor([min(len(row) + 1, log_probs.shape[1]) for row in ids])
            return Padded(log_probs, lengths.to(log_probs.device))
        if not isinstance(batch, Transduction):
            raise fail(
                type(self).__name__,
                "batch",
                "a Transduction (source and decoder inputs), or a source alone",
                describe(batch),
                error=InvalidTypeError,
            )
        carried = self.encode(batch.source)
        return Padded.trusted(
            self.teacher_forced(batch.previous.data, carried), batch.previous.lengths
        )

    def teacher_forced(self, previous: Tensor, carried: Carried) -> Tensor:
        """Logits ``(B, U, V)`` of every step given the true previous outputs ``(B, U)``."""
        logits = []
        for step in range(previous.shape[1]):
            step_logits, state = self._logits(previous[:, step], carried)
            carried = carried | {"state": state}
            logits.append(step_logits)
        return torch.stack(logits, dim=1)

    @torch.no_grad()
    def predict_ids(self, source: Tensor | Padded, beam_size: int | None = None) -> list[list[int]]:
        """The output ids of each source (``</s>`` left out): beam search with ``beam_size``
        prefixes (default: the model's), greedy for 1."""
        beams = (
            self.beam_size
            if beam_size is None
            else positive_int(type(self).__name__, "beam_size", beam_size)
        )
        carried = self.encode(source)
        batch = len(carried["lengths"])
        if beams == 1:
            return greedy_decode(self.step, carried, batch, START_ID, END_ID, self.max_length)[0]
        return beam_search(self.step, carried, batch, START_ID, END_ID, self.max_length, beams)


@register(
    "seq2seq",
    "RNN encoder-decoder (Cho et al. 2014): bidirectional GRU encoder, one context vector",
    inputs=("tokens",),
)
class ContextEncoderDecoder(EncoderDecoder):
    """The encoder-decoder of Cho et al. (2014): every step reads the same context vector.
    Arguments as :class:`EncoderDecoder`.

    Example:
        >>> model = ContextEncoderDecoder((None,), 10, vocab_size=6, hidden_size=8, max_length=4)
        >>> source = Padded(torch.tensor([[4, 5, 3], [2, 0, 0]]), [3, 1])
        >>> [len(ids) <= 4 for ids in model.predict_ids(source)]
        [True, True]
    """

    def context(self, state: Tensor, carried: Carried) -> Tensor:
        return carried["context"]

    def teacher_forced(self, previous: Tensor, carried: Carried) -> Tensor:
        """As :meth:`EncoderDecoder.teacher_forced`, the decoder's inputs known in advance: the
        whole decoder in one pass of the recurrent layer (its fused kernel)."""
        embedded = F.dropout(self.output_embedding(previous), self.dropout, self.training)
        context = carried["context"][:, None, :].expand(-1, previous.shape[1], -1)
        states = self.decoder(torch.cat([embedded, context], dim=-1), carried["state"][None])
        features = torch.cat([states, embedded, context], dim=-1)
        return self.head(F.dropout(features, self.dropout, self.training))


@register(
    "seq2seq-attention",
    "encoder-decoder with additive attention (Bahdanau et al. 2015), bidirectional GRU encoder",
    inputs=("tokens",),
)
class AttentionEncoderDecoder(EncoderDecoder):
    """The encoder-decoder with Bahdanau's attention: step ``t`` reads ``c_t``, the encoder
    outputs weighted by how well each matches the previous state. Arguments as
    :class:`EncoderDecoder`; the attention has as many units as the decoder (``2 H``).

    Example:
        >>> model = AttentionEncoderDecoder((None,), 10, vocab_size=6, hidden_size=8)
        >>> batch = Transduction(Padded(torch.tensor([[4, 5, 3]]), [3]),
        ...                      Padded(torch.tensor([[2, 7]]), [2]))
        >>> model(batch).data.shape
        torch.Size([1, 2, 10])
    """

    attends = True

    def encode(self, source: Tensor | Padded) -> Carried:
        """As :meth:`EncoderDecoder.encode`, plus the attention's ``keys (B, T, A)``."""
        carried = super().encode(source)
        return carried | {"keys": self.attention.keys(carried["memory"])}

    def context(self, state: Tensor, carried: Carried) -> Tensor:
        context, _ = self.attention(state, carried["keys"], carried["memory"], carried["lengths"])
        return context

    @torch.no_grad()
    def alignment(self, source: Padded, previous: Padded) -> Tensor:
        """The attention weights of every decoder step over the source ``(B, U, T)``, the
        decoder fed ``previous``."""
        carried = self.encode(source)
        weights = []
        for step in range(previous.data.shape[1]):
            context, alpha = self.attention(
                carried["state"], carried["keys"], carried["memory"], carried["lengths"]
            )
            weights.append(alpha)
            _, state = self._logits(previous.data[:, step], carried, context)
            carried = carried | {"state": state}
        return torch.stack(weights, dim=1)
