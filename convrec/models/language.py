"""Language models: a character-level recurrent model that predicts the next symbol and writes
text by sampling one symbol at a time."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from convrec.checks import describe, fail, positive_int
from convrec.errors import InvalidTypeError
from convrec.models.arguments import input_kind
from convrec.models.recurrent import PADDING_ID, build_recurrent
from convrec.models.registry import register
from convrec.nn import Embedding, Padded, Pointwise

State = Tensor | tuple[Tensor, ...]


def sample_next(
    logits: Tensor, temperature: float = 1.0, generator: torch.Generator | None = None
) -> Tensor:
    """Draw one id per row from ``softmax(logits / temperature)``, never the padding id 0.

    Args:
        logits: ``(B, V)`` scores over the vocabulary.
        temperature: ``> 0`` to sample (lower is more conservative); ``0`` for the argmax
            (greedy decoding), the limit of sampling as the temperature goes to zero.
        generator: the random source of the draw; None for the global one.

    Shape:
        logits: ``(B, V)``; output ``(B,)`` int64 ids in ``[1, V)``.

    Example:
        >>> sample_next(torch.tensor([[9.0, 1.0, 3.0]]), temperature=0)
        tensor([2])
    """
    logits = logits.clone()
    logits[:, PADDING_ID] = float("-inf")
    if temperature == 0:
        return logits.argmax(dim=-1)
    # shifting by the maximum first keeps a tiny temperature from overflowing to inf - inf
    shifted = logits - logits.amax(dim=-1, keepdim=True)  # (B, V), <= 0
    probabilities = F.softmax(shifted / temperature, dim=-1)
    return torch.multinomial(probabilities, 1, generator=generator).squeeze(-1)


@register(
    "charlm",
    "character-level language model: embedding, LSTM/GRU stack, next-symbol logits",
    inputs=("tokens",),
)
class CharLM(nn.Module):
    """A recurrent language model over characters (or any symbols): at every step, logits for
    the next symbol given all the previous ones.

    Follows Karpathy's char-rnn ("The Unreasonable Effectiveness of Recurrent Neural Networks",
    2015) and Graves (2013), "Generating Sequences With Recurrent Neural Networks", and the lecture
    notes' recurrent language model: ``x_t`` is the embedding of symbol ``w_t``,
    ``h_t`` is the recurrent state, ``y_t = softmax(W_ho h_t)`` predicts ``w_{t+1}``.

    Args:
        input_shape: ``(T,)``: steps per window (``None`` if they vary).
        output_size: the vocabulary size ``V`` (padding id 0 and unknown id 1 included): the
            model reads ids in ``[0, V)`` and scores all ``V`` of them.
        cell: a registered cell, ``'lstm'`` or ``'gru'`` (the GRU in its fused, reset-after
            form) or any other (:class:`convrec.models.RecurrentNet` lists them).
        embedding_dim: the embedding size ``E``.
        hidden_size, num_layers, dropout: as :class:`convrec.nn.LSTM` (dropout between layers).
            The default, one layer of 256, is sized for CPU training: a step on a batch of
            64 windows of 128 characters (114 symbols) takes about 0.5 s on one core; after
            120 s of CPU time on the char-lm task (one seed) it reached 2.69 validation bits per
            character, against 3.08 for 2 x 256 and 3.11 for 1 x 512.
        vocab_size: the vocabulary size again, for callers that pass it to every token model;
            must equal ``output_size``.

    Shape:
        input: ids ``(B, T)`` int64 (a padded batch ending at each row's last non-zero id) or a
        :class:`Padded` of them; output: logits ``(B, T, V)`` as a ``Padded``, entry ``t``
        scoring the id at ``t + 1``.

    Example:
        >>> model = CharLM((None,), 6, hidden_size=16, num_layers=1)
        >>> model(torch.tensor([[2, 3, 4], [5, 2, 0]])).data.shape
        torch.Size([2, 3, 6])
        >>> model.generate(torch.tensor([2, 3]), length=4, temperature=0).shape
        torch.Size([4])
    """

    def __init__(
        self,
        input_shape: tuple[int | None, ...],
        output_size: int,
        cell: str = "lstm",
        embedding_dim: int = 64,
        hidden_size: int = 256,
        num_layers: int = 1,
        dropout: float = 0.0,
        vocab_size: int | None = None,
    ) -> None:
        super().__init__()
        owner = "CharLM"
        if isinstance(output_size, bool) or not isinstance(output_size, int) or output_size < 2:
            raise fail(
                owner,
                "output_size",
                "an integer >= 2, the vocabulary size (padding id 0 and at least one symbol)",
                repr(output_size),
            )
        if not isinstance(input_shape, tuple | list) or len(input_shape) != 1:
            raise fail(
                owner,
                "input_shape",
                "(T,) with T a positive integer or None",
                repr(input_shape),
                hint="A language model reads token ids; its vocabulary size is output_size.",
            )
        input_kind(owner, input_shape, output_size)  # checks T
        if vocab_size is not None and vocab_size != output_size:
            raise fail(
                owner,
                "vocab_size",
                f"None or the output_size {output_size} (a language model predicts its own "
                "vocabulary)",
                repr(vocab_size),
            )
        self.vocab_size = output_size
        self.embedding = Embedding(
            output_size, positive_int(owner, "embedding_dim", embedding_dim), PADDING_ID
        )
        self.recurrent = build_recurrent(
            owner, cell, embedding_dim, hidden_size, num_layers, dropout=dropout, return_state=True
        )
        self.head = Pointwise(nn.Linear(self.recurrent.output_size, output_size))

    def streaming_parts(self) -> list[nn.Module]:
        """The model's layers in order, for :mod:`convrec.nn.streaming`."""
        return [self.embedding, self.recurrent, self.head]

    def forward(self, tokens: Tensor | Padded, state: State | None = None) -> Padded:
        """Next-symbol logits ``(B, T, V)`` (a ``Padded``) at every step, starting from ``state``
        (zeros if None)."""
        return self.advance(tokens, state)[0]

    def advance(self, tokens: Tensor | Padded, state: State | None = None) -> tuple[Padded, State]:
        """Read ``tokens`` from ``state`` on: the logits at every step and the recurrent state
        after each row's last valid id, from which the next call continues.

        Shape:
            tokens: ``(B, T)`` or a ``Padded``; state: ``(num_layers, B, H)`` (a pair of them for
            an LSTM) or None; returns logits ``(B, T, V)`` as a ``Padded`` and the state.
        """
        embedded = self.embedding(tokens)  # (B, T, E), a Padded
        hidden, state = self.recurrent(embedded, state)  # (B, T, H)
        return self.head(hidden), state  # (B, T, V)

    @torch.no_grad()
    def generate(
        self,
        prompt_ids: Tensor,
        length: int,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Continue a prompt: read it, then draw one id at a time from
        ``softmax(logits / temperature)`` and feed it back, carrying the recurrent state (each
        step costs one cell update, not a pass over the whole prefix). Runs in eval mode (no
        dropout) and restores the previous mode.

        Args:
            prompt_ids: ``(P,)`` ids in ``[1, V)``, ``P >= 1``.
            length: ids to generate.
            temperature: ``> 0`` to sample; ``0`` for greedy decoding (the argmax at every step,
                deterministic). Padding (id 0) is never drawn.
            generator: the random source; the same seed gives the same text.

        Returns:
            ``(length,)`` int64: the generated ids, without the prompt.
        """
        owner = "CharLM.generate"
        if (
            not isinstance(prompt_ids, Tensor)
            or prompt_ids.dim() != 1
            or prompt_ids.numel() == 0
            or torch.is_floating_point(prompt_ids)
            or prompt_ids.dtype == torch.bool
        ):
            raise fail(owner, "prompt_ids", "a non-empty (P,) integer tensor", describe(prompt_ids))
        if int(prompt_ids.min()) < 1 or int(prompt_ids.max()) >= self.vocab_size:
            raise fail(
                owner,
                "prompt_ids",
                f"ids in [1, {self.vocab_size}) (0 is padding)",
                f"ids from {int(prompt_ids.min())} to {int(prompt_ids.max())}",
            )
        positive_int(owner, "length", length)
        if (
            isinstance(temperature, bool)
            or not isinstance(temperature, int | float)
            or not math.isfinite(temperature)
            or temperature < 0
        ):
            raise fail(
                owner,
                "temperature",
                "a finite number >= 0 (0 for greedy decoding)",
                repr(temperature),
            )
        if generator is not None and not isinstance(generator, torch.Generator):
            raise fail(
                owner,
                "generator",
                "a torch.Generator or None",
                repr(generator),
                error=InvalidTypeError,
            )
        was_training = self.training
        self.eval()
        device = self.embedding.weight.device
        logits, state = self.advance(prompt_ids.to(device).unsqueeze(0))  # (1, P, V)
        generated = []
        for step in range(length):
            next_id = sample_next(logits.data[:, -1], temperature, generator)  # (1,)
            generated.append(next_id)
            if step < length - 1:
                logits, state = self.advance(next_id.unsqueeze(0), state)  # (1, 1, V)
        self.train(was_training)
        return torch.cat(generated)
