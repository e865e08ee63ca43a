"""Output sequences from a decoder one step at a time: greedy decoding and beam search.

A decoder is a step function ``step(previous, carried) -> (log_probs, carried)``: the previous
output ids ``(N,)`` and everything it carries between steps (its state and the encoder's memory,
a dict of tensors with the batch on axis 0) give log-probabilities ``(N, V)`` of the next id and
the carried tensors after the step. Greedy decoding takes the most probable id at each step; beam
search keeps the ``beam_size`` most probable prefixes of each sequence (Sutskever, Vinyals & Le
2014), scored by the sum of their log-probabilities, and returns the best that ended.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from convrec.checks import positive_int

Carried = dict[str, Tensor]
Step = Callable[[Tensor, Carried], tuple[Tensor, Carried]]


def select_rows(carried: Carried, rows: Tensor) -> Carried:
    """Every carried tensor's rows ``rows`` (axis 0), in that order."""
    return {name: value.index_select(0, rows) for name, value in carried.items()}


def greedy_decode(
    step: Step, carried: Carried, batch: int, start: int, end: int, max_length: int
) -> tuple[list[list[int]], Tensor]:
    """The most probable id at every step, until each sequence gives ``end`` or has
    ``max_length`` ids.

    Returns:
        The ids of each sequence (``end`` left out) and the log-probabilities of every step
        ``(B, L, V)``, ``L`` the longest sequence's steps (its ``end`` included).
    """
    positive_int("greedy_decode", "max_length", max_length)
    previous = torch.full((batch,), start, dtype=torch.long, device=_device(carried))
    finished = torch.zeros(batch, dtype=torch.bool, device=previous.device)
    outputs, scores = [], []
    for _ in range(max_length):
        log_probs, carried = step(previous, carried)
        previous = log_probs.argmax(dim=-1)
        outputs.append(previous)
        scores.append(log_probs)
        finished |= previous == end
        if bool(finished.all()):
            break
    return _until_end(torch.stack(outputs, dim=1), end), torch.stack(scores, dim=1)


def beam_search(
    step: Step,
    carried: Carried,
    batch: int,
    start: int,
    end: int,
    max_length: int,
    beam_size: int,
) -> list[list[int]]:
    """For each sequence, the most probable output among ``beam_size`` prefixes kept at every
    step (``end`` left out); a beam that never ends by ``max_length`` ids gives its best prefix.

    With ``beam_size=1`` this is greedy decoding.
    """
    positive_int("beam_search", "max_length", max_length)
    positive_int("beam_search", "beam_size", beam_size)
    device = _device(carried)
    beams = beam_size
    carried = select_rows(carried, torch.arange(batch, device=device).repeat_interleave(beams))
    previous = torch.full((batch * beams,), start, dtype=torch.long, device=device)
    scores = torch.full((batch, beams), float("-inf"), device=device)
    scores[:, 0] = 0.0  # one live prefix at the start, not beam_size copies of it
    finished = torch.zeros(batch, beams, dtype=torch.bool, device=device)
    history = torch.zeros(batch, beams, 0, dtype=torch.long, device=device)
    for _ in range(max_length):
        log_probs, carried = step(previous, carried)
        vocabulary = log_probs.shape[-1]
        log_probs = log_probs.view(batch, beams, vocabulary)
        # An ended prefix continues only with `end`, at no cost: its score stays as it was.
        ended = torch.full_like(log_probs[0, 0], float("-inf"))
        ended[end] = 0.0
        log_probs = torch.where(finished[..., None], ended, log_probs)
        totals = (scores[..., None] + log_probs).view(batch, beams * vocabulary)
        scores, chosen = totals.topk(beams, dim=-1)
        origin, token = chosen // vocabulary, chosen % vocabulary
        history = torch.cat(
            [history.gather(1, origin[..., None].expand_as(history)), token[..., None]], -1
        )
        finished = finished.gather(1, origin) | (token == end)
        rows = (origin + beams * torch.arange(batch, device=device)[:, None]).flatten()
        carried = select_rows(carried, rows)
        previous = token.flatten()
        if bool(finished.all()):
            break
    # An ended prefix beats any that did not end; a sequence with none ended takes its best.
    ended_any = finished.any(dim=-1, keepdim=True)
    ranked = torch.where(finished | ~ended_any, scores, float("-inf"))
    best = ranked.argmax(dim=-1)
    return _until_end(history[torch.arange(batch, device=device), best], end)


def _until_end(ids: Tensor, end: int) -> list[list[int]]:
    sequences = []
    for row in ids.tolist():
        sequences.append(row[: row.index(end)] if end in row else row)
    return sequences


def _device(carried: Carried) -> torch.device:
    return next(iter(carried.values())).device
