"""Label sequences from per-frame posteriors trained with connectionist temporal classification
(CTC; Graves, Fernandez, Gomez & Schmidhuber 2006).

A network gives, at every frame ``t``, log-probabilities ``log y_t(k)`` over the labels and a
``blank``. A path ``pi`` (one symbol per frame) has probability ``prod_t y_t(pi_t)``; the map
``B`` removes repeated symbols, then blanks (``a a - b b -> a b``; ``a - a -> a a``). A labelling
``l`` has probability ``p(l | x) = sum_{pi in B^-1(l)} p(pi | x)``, the quantity
``torch.nn.functional.ctc_loss`` takes the negative logarithm of.

- Greedy (best-path) decoding: ``B`` of the most probable symbol at every frame.
- Prefix beam search (Hannun et al. 2014, after Graves 2012): frame by frame, keep the
  ``beam_size`` prefixes most probable so far, each probability split into paths ending in a
  blank ``p_b`` and in a label ``p_nb``; with a beam as wide as the number of prefixes, it
  finds the labelling of highest ``p(l | x)``.
"""

from __future__ import annotations

import heapq
import math

import numpy as np
from torch import Tensor

from convrec.checks import fail, non_negative_int, positive_int

NEVER = -math.inf


def _frames(owner: str, log_probs: Tensor | np.ndarray, blank: int) -> np.ndarray:
    frames = np.asarray(log_probs.detach().cpu() if isinstance(log_probs, Tensor) else log_probs)
    if frames.ndim != 2 or frames.shape[0] < 1 or frames.shape[1] < 2:
        raise fail(
            owner,
            "log_probs",
            "per-frame log-probabilities (T, C), T >= 1, C >= 2 (the labels and the blank)",
            f"shape {frames.shape}",
        )
    if np.isnan(frames).any():
        raise fail(owner, "log_probs", "log-probabilities without NaN", "NaN values")
    non_negative_int(owner, "blank", blank)
    if blank >= frames.shape[1]:
        raise fail(owner, "blank", f"a class index below C = {frames.shape[1]}", repr(blank))
    return frames.astype(np.float64)


def ctc_greedy_decode(log_probs: Tensor | np.ndarray, blank: int = 0) -> list[int]:
    """The best path's labelling: the most probable class per frame, repeats merged, blanks
    dropped.

    Shape:
        log_probs: ``(T, C)`` (probabilities work too: only their order counts).

    Example:
        >>> ctc_greedy_decode(torch.tensor([[0.1, 0.9], [0.2, 0.8], [0.9, 0.1], [0.3, 0.7]]).log())
        [1, 1]
    """
    best = _frames("ctc_greedy_decode", log_probs, blank).argmax(axis=1)
    kept = np.ones(len(best), dtype=bool)
    kept[1:] = best[1:] != best[:-1]
    return [int(label) for label in best[kept] if label != blank]


def ctc_prefix_beam_search(
    log_probs: Tensor | np.ndarray, beam_size: int = 8, blank: int = 0
) -> tuple[list[int], float]:
    """The most probable labelling the beam finds, and its log-probability ``log p(l | x)``
    summed over the paths the beam kept: exact when the beam holds every prefix, else a lower
    bound (paths through pruned prefixes are missing).

    At frame ``t`` each kept prefix ``l`` (ending in label ``a``) passes on
    ``p_b(l) += p(l) y_t(blank)``, ``p_nb(l) += p_nb(l) y_t(a)`` (the same label again), and
    to ``l + c`` adds ``p(l) y_t(c)`` for ``c != a`` but only ``p_b(l) y_t(a)`` for ``c = a``
    (a repeat needs a blank between), with ``p(l) = p_b(l) + p_nb(l)``.

    Shape:
        log_probs: ``(T, C)`` log-probabilities (each row's ``logsumexp`` 0).

    Example:
        The best path ``1 - 1`` (0.486) says ``[1, 1]``; the six paths of ``[1]`` add up to more:

        >>> frames = torch.tensor([[0.1, 0.9], [0.6, 0.4], [0.1, 0.9]]).log()
        >>> ctc_greedy_decode(frames)
        [1, 1]
        >>> labels, score = ctc_prefix_beam_search(frames)
        >>> labels, round(math.exp(score), 3)
        ([1], 0.508)
    """
    frames = _frames("ctc_prefix_beam_search", log_probs, blank).tolist()  # floats: fast
    positive_int("ctc_prefix_beam_search", "beam_size", beam_size)
    labels = [label for label in range(len(frames[0])) if label != blank]
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, NEVER)}
    for frame in frames:
        grown: dict[tuple[int, ...], list[float]] = {}
        for prefix, (ends_blank, ends_label) in beams.items():
            whole = _log_add(ends_blank, ends_label)
            same = grown.setdefault(prefix, [NEVER, NEVER])
            same[0] = _log_add(same[0], whole + frame[blank])
            if prefix:
                same[1] = _log_add(same[1], ends_label + frame[prefix[-1]])
            for label in labels:
                longer = grown.setdefault((*prefix, label), [NEVER, NEVER])
                reach = ends_blank if prefix and prefix[-1] == label else whole
                longer[1] = _log_add(longer[1], reach + frame[label])
        kept = heapq.nlargest(beam_size, grown.items(), key=lambda item: _log_add(*item[1]))
        beams = {prefix: (scores[0], scores[1]) for prefix, scores in kept}
    best, (ends_blank, ends_label) = max(beams.items(), key=lambda item: _log_add(*item[1]))
    return list(best), _log_add(ends_blank, ends_label)


def _log_add(first: float, second: float) -> float:
    """``log(exp(first) + exp(second))`` of two floats, either of which may be ``-inf``."""
    if first < second:
        first, second = second, first
    if second == NEVER:
        return first
    return first + math.log1p(math.exp(second - first))
