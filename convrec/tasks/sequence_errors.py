"""Error rates of predicted symbol sequences against references, by edit distance: a word error
rate for G2P is a string error rate, a phoneme error rate a symbol error rate (as a digit error
rate for spoken digit strings)."""

from __future__ import annotations

from collections.abc import Sequence

from convrec.checks import fail


def error_rates(
    predictions: Sequence[Sequence[int]], references: Sequence[Sequence[Sequence[int]]]
) -> dict[str, float]:
    """Word and phoneme error rates of predicted symbol sequences against each word's
    pronunciations (any one counts as right). A word's phoneme errors are its edit distance to
    the nearest pronunciation; of two as near, the longer counts (the smaller rate).

    Raises:
        InvalidValueError: no predictions, their number is not that of the words, or a word
            without a pronunciation.

    Example:
        >>> error_rates([[5, 6], [7]], [[[5, 6]], [[8, 9], [7, 8]]])
        {'wer': 0.5, 'per': 0.25}
    """
    from rapidfuzz.distance import Levenshtein

    if not predictions or len(predictions) != len(references):
        raise fail(
            "error_rates",
            "predictions",
            f"one prediction per word ({len(references)})",
            f"{len(predictions)} predictions",
        )
    if not all(references):
        raise fail("error_rates", "references", "at least one pronunciation per word", "none")
    wrong = edits = length = 0
    for predicted, options in zip(predictions, references, strict=True):
        distance, longer = min(
            (Levenshtein.distance(predicted, option), -len(option)) for option in options
        )
        wrong += distance > 0
        edits += distance
        length -= longer
    return {"wer": wrong / len(predictions), "per": edits / max(length, 1)}
