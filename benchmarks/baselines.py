"""Classical baselines for the model-zoo benchmark: what a trained network has to beat.

Each baseline is a plain function of a dataset's :class:`~convrec.data.splits.Splits` (and options)
that fits on the training split, makes every choice (regularisation, model order) on the
validation split or on the training part alone, and returns its metrics on the test split, with the
choices it made:

- ``reviews``: :func:`tfidf_logistic`, word unigrams and bigrams, TF-IDF, logistic regression;
  :func:`tfidf_logistic_probabilities` for ensembles of it (:data:`ENSEMBLE_BASELINES`).
- ``dna``: :func:`kmer_logistic`, overlapping k-mer counts, logistic regression.
- ``sunspots``, ``sunspot-month``, ``co2``, ``elecdemand``: :func:`seasonal_naive` (and naive
  persistence) and :func:`arima`, mean absolute and root mean squared error in the series' units.
- ``char-corpus``: :func:`char_ngram`, an interpolated modified Kneser-Ney character n-gram model,
  bits per character.
- ``cmudict``: :func:`nearest_spelling`, the pronunciation of the training word spelt most like
  each test word, word and phoneme error rates.
- ``digit-strings``: :func:`segment_and_classify`, words cut at the noise floor and classified by
  logistic regression on their MFCCs, digit error rate.
- ``ecg-anomalies``, ``yahoo-anomalies``, ``elecdemand-anomalies``: :func:`rolling_zscore` and
  :func:`matrix_profile` (discords, by ``stumpy``), scored and thresholded as the networks are.

:data:`BASELINES` maps each dataset to its ``(baseline name, function)`` pairs. Every baseline is
deterministic, so one run gives its figure (no spread to report). The table gives each baseline's
wall-clock and process CPU seconds (the latter less affected by other loads on a shared machine).

Usage:
    python benchmarks/baselines.py [NAMES...] [--seed 0] [--json results.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial

import numpy as np
import sklearn
import statsmodels
from rich.console import Console
from rich.table import Table
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from statsmodels.tsa.arima.model import ARIMA
from threadpoolctl import threadpool_limits
from torch.utils.data import Dataset

from convrec.checks import fail, positive_int, unknown_name
from convrec.data.datasets import load_dataset
from convrec.data.splits import Splits

Result = dict[str, float | int | str]
"""A baseline's result: its test metrics (``accuracy``, ``mae``, ``rmse``, ``bits_per_char``) are
the float values; the int and str values say what it chose and on how much data."""

C_GRID = tuple(10.0 ** np.arange(-5.0, 3.5, 0.5))
"""Inverse regularisation strengths tried by the logistic baselines."""

SEASONS = {"sunspots": 11, "sunspot-month": 132, "co2": 52, "elecdemand": 48}
"""Season length per series, in steps: the 11-year solar cycle (in years, then months), a year of
weeks, a day of half-hours. 132 months exceeds sunspot-month's 120-step lookback, so its seasonal
naive forecast falls back to persistence."""

ARIMA_ORDERS = tuple(itertools.product(range(4), range(2), range(3)))
"""``(p, d, q)`` orders searched by :func:`arima`: p in 0..3, d in 0..1, q in 0..2."""

SEGMENT_THRESHOLDS_DB = (6.0, 10.0, 14.0)
"""Energies above each recording's noise floor tried by :func:`segment_and_classify` as the
edge of a spoken word."""

SEGMENT_GAPS = (1, 2, 4)
"""Quieter stretches (10 ms frames) shorter than these are tried as pauses inside a word."""

SEGMENT_C_GRID = (0.01, 0.1, 1.0)
"""Inverse regularisation strengths tried by :func:`segment_and_classify`."""

SEGMENT_POINTS = 10
"""Time points each word's MFCC frames are resampled to by :func:`segment_and_classify`."""

ZSCORE_WINDOWS = (8, 16, 32, 64, 128, 256)
"""Past steps tried by :func:`rolling_zscore`."""

DISCORD_LENGTHS = (16, 32, 64, 128)
"""Subsequence lengths tried by :func:`matrix_profile`."""

NGRAM_ORDERS = (3, 4, 5, 6, 7, 8, 9)
"""Character n-gram orders tried by :func:`char_ngram`; 9 is the highest whose codes fit 62 bits
with char-corpus' 114 ids."""


def _stack(dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets of a dataset of fixed-shape pairs, stacked: ``(N, ...)`` each."""
    inputs, targets = zip(*(dataset[index] for index in range(len(dataset))), strict=True)
    return np.stack([np.asarray(item) for item in inputs]), np.stack(
        [np.asarray(item) for item in targets]
    )


def _fit_best(
    make: Callable[[float], BaseEstimator],
    features: dict[str, object],
    labels: dict[str, np.ndarray],
) -> tuple[BaseEstimator, float, float]:
    """Fit ``make(C)`` on the training features for each C of :data:`C_GRID`: the model with the
    best validation accuracy (the smallest C on ties), its C and that accuracy."""
    best_accuracy, best_c, best_model = -1.0, 0.0, None
    # One BLAS thread: measured 15 times faster here than the default on two cores.
    with threadpool_limits(1):
        for c in C_GRID:
            model = make(c).fit(features["train"], labels["train"])
            accuracy = model.score(features["validation"], labels["validation"])
            if accuracy > best_accuracy:
                best_accuracy, best_c, best_model = accuracy, c, model
    return best_model, best_c, best_accuracy


def _choose_c(
    make: Callable[[float], BaseEstimator],
    features: dict[str, object],
    labels: dict[str, np.ndarray],
) -> Result:
    """The test accuracy of :func:`_fit_best`'s model, with its C and validation accuracy."""
    model, c, validation_accuracy = _fit_best(make, features, labels)
    return {
        "accuracy": float(model.score(features["test"], labels["test"])),
        "C": f"{c:g}",
        "validation": f"accuracy {validation_accuracy:.4f}",
    }


def _tfidf_features(splits: Splits) -> tuple[dict[str, object], dict[str, np.ndarray]]:
    """TF-IDF features and labels of each split, the vectoriser fitted on the training split."""
    documents, labels = {}, {}
    for split in ("train", "validation", "test"):
        dataset = getattr(splits, split)
        pairs = [dataset[index] for index in range(len(dataset))]
        documents[split] = [" ".join(map(str, ids.tolist())) for ids, _ in pairs]
        labels[split] = np.array([int(label) for _, label in pairs])
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), token_pattern=r"\S+", sublinear_tf=True)
    vectorizer.fit(documents["train"])
    return {split: vectorizer.transform(texts) for split, texts in documents.items()}, labels


def _logistic(c: float) -> LogisticRegression:
    return LogisticRegression(C=c, max_iter=2000)


def tfidf_logistic(splits: Splits) -> Result:
    """TF-IDF of word unigrams and bigrams with logistic regression, C chosen on validation.

    Each review's word ids (the same ``<unk>``-mapped, length-capped tokens the networks see) form
    a document; the vectoriser is fitted on the training split, with sublinear term frequencies.

    Returns:
        ``accuracy`` on the test split, the chosen ``C`` and its ``validation`` accuracy.

    Example:
        >>> tfidf_logistic(load_dataset("reviews"))["accuracy"]  # doctest: +SKIP
    """
    return _choose_c(_logistic, *_tfidf_features(splits))


def tfidf_logistic_probabilities(splits: Splits) -> tuple[np.ndarray, np.ndarray]:
    """The test class probabilities ``(N, classes)`` of :func:`tfidf_logistic`'s model, and the
    test labels ``(N,)``: what an ensemble of baselines averages."""
    features, labels = _tfidf_features(splits)
    model, _, _ = _fit_best(_logistic, features, labels)
    return model.predict_proba(features["test"]), labels["test"]


def _kmer_codes(digits: np.ndarray, both_strands: bool) -> np.ndarray:
    """Base-4 codes of k-mers ``digits (..., k)`` over A C G T (0 to 3); with ``both_strands`` the
    smaller of the k-mer's and its reverse complement's code (complement of base b: 3 - b)."""
    powers = 4 ** np.arange(digits.shape[-1] - 1, -1, -1)
    codes = digits @ powers
    if both_strands:
        codes = np.minimum(codes, (3 - digits[..., ::-1]) @ powers)
    return codes


def kmer_counts(sequences: np.ndarray, k: int = 4, both_strands: bool = True) -> np.ndarray:
    """Counts of the overlapping k-mers of each sequence.

    Args:
        sequences: ids over ``A C G T N`` (0 to 4, :func:`convrec.data.tokenizers.encode_dna`).
        k: k-mer length.
        both_strands: count a k-mer and its reverse complement as one feature (a binding site
            reads the same on either strand).

    Shape:
        sequences: ``(N, T)`` integers. Returns ``(N, F)`` float64, ``F = 4 ** k`` k-mers, or the
        number of reverse-complement classes (136 for k = 4) with ``both_strands``. A k-mer holding
        an ``N`` is not counted.

    Example:
        >>> kmer_counts(np.array([[0, 1, 2, 3]]), k=2, both_strands=False)[0, [1, 6, 11]].tolist()
        [1.0, 1.0, 1.0]
    """
    positive_int("kmer_counts", "k", k)
    if sequences.ndim != 2 or sequences.shape[1] < k:
        raise fail("kmer_counts", "sequences", f"(N, T) ids with T >= k = {k}", sequences.shape)
    windows = np.lib.stride_tricks.sliding_window_view(sequences, k, axis=1)  # (N, T - k + 1, k)
    codes = _kmer_codes(windows, both_strands)
    known = (windows < 4).all(axis=2)
    rows = np.broadcast_to(np.arange(len(sequences))[:, None], codes.shape)
    counts = np.bincount((rows * 4**k + codes)[known], minlength=len(sequences) * 4**k).reshape(
        len(sequences), 4**k
    )
    every_kmer = (np.arange(4**k)[:, None] // 4 ** np.arange(k - 1, -1, -1)) % 4  # (4^k, k)
    return counts[:, np.unique(_kmer_codes(every_kmer, both_strands))].astype(np.float64)


def nearest_series(splits: Splits) -> Result:
    """The UCR archive's standard baseline: each test series gets the label of the training
    series nearest in Euclidean distance, every series z-normalised first (Dau et al. 2019).
    Training and validation series both serve as neighbours, as the whole training file would.

    Returns:
        ``accuracy`` on the test split and the number of ``neighbours`` it searched.
    """
    from sklearn.neighbors import KNeighborsClassifier

    def flat(split: str) -> tuple[np.ndarray, np.ndarray]:
        series, labels = _stack(getattr(splits, split))
        series = series.reshape(len(series), -1).astype(np.float64)
        spread = series.std(axis=1, keepdims=True)
        return (series - series.mean(axis=1, keepdims=True)) / np.maximum(spread, 1e-8), labels

    train, validation, test = (flat(split) for split in ("train", "validation", "test"))
    neighbours = np.concatenate([train[0], validation[0]])
    model = KNeighborsClassifier(1).fit(neighbours, np.concatenate([train[1], validation[1]]))
    return {"accuracy": float(model.score(*test)), "neighbours": len(neighbours)}


def kmer_logistic(splits: Splits, k: int = 4, both_strands: bool = True) -> Result:
    """Overlapping k-mer counts (:func:`kmer_counts`), standardised, with logistic regression;
    C chosen on validation.

    Returns:
        ``accuracy`` on the test split, the chosen ``C`` and its ``validation`` accuracy.

    Example:
        >>> kmer_logistic(load_dataset("dna"))["accuracy"]  # doctest: +SKIP
    """
    if splits.info.get("one_hot"):
        raise fail("kmer_logistic", "splits", "DNA as ids (one_hot=False)", "one-hot sequences")
    features, labels = {}, {}
    for split in ("train", "validation", "test"):
        sequences, labels[split] = _stack(getattr(splits, split))
        features[split] = kmer_counts(sequences, k, both_strands)
    return _choose_c(
        lambda c: make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000)),
        features,
        labels,
    )


def _windows(splits: Splits, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The target column of each window's past ``(N, lookback)`` and its future ``(N, horizon)``,
    standardised, float64."""
    past, future = _stack(getattr(splits, split))
    column = splits.info["columns"].index(splits.info["target"])
    return past[:, :, column].astype(np.float64), future.astype(np.float64)


def _errors(splits: Splits, forecasts: np.ndarray, future: np.ndarray) -> Result:
    """Mean absolute and root mean squared error, in the series' units, over every step and
    window of standardised ``forecasts`` and ``future`` (both ``(N, horizon)``)."""
    column = splits.info["columns"].index(splits.info["target"])
    errors = (forecasts - future) * splits.info["std"][column]
    return {
        "mae": float(np.abs(errors).mean()),
        "rmse": float(np.sqrt((errors**2).mean())),
        "windows": len(errors),
    }


def seasonal_naive(splits: Splits, season: int | None = None) -> Result:
    """Each forecast step repeats the value one season earlier (several seasons earlier for steps
    beyond the first season): ``y[now + h] = y[now - season + h % season]``, h = 0, 1, ...

    Args:
        splits: a forecasting dataset (``convrec.data.forecasting``).
        season: season length in steps; defaults to :data:`SEASONS`. A season longer than the
            lookback falls back to persistence (season 1: the last value, repeated); ``season=1``
            is persistence by choice.

    Returns:
        ``mae`` and ``rmse`` over every test window and step, ``season`` (the one used) and the
        number of ``windows``.

    Example:
        >>> seasonal_naive(load_dataset("co2"))["mae"]  # doctest: +SKIP
    """
    season = positive_int("seasonal_naive", "season", season or SEASONS[splits.name])
    past, future = _windows(splits, "test")
    if season > past.shape[1]:
        season = 1
    steps = np.arange(future.shape[1])
    forecasts = past[:, past.shape[1] - season + steps % season]
    return {**_errors(splits, forecasts, future), "season": season}


def _training_series(splits: Splits) -> np.ndarray:
    """The standardised target series of the training part, rebuilt from its windows (each one
    step after the previous)."""
    past, future = _windows(splits, "train")
    if len(past) > 1 and not np.array_equal(past[1:, :-1], past[:-1, 1:]):
        raise fail("arima", "splits", "training windows one step apart", "windows that are not")
    return np.concatenate([past[0], future[:, 0], future[-1, 1:]])


def arima(
    splits: Splits,
    orders: Sequence[tuple[int, int, int]] = ARIMA_ORDERS,
    max_fit_steps: int = 2500,
) -> Result:
    """ARIMA on the target column, the order chosen by AIC on the training part; each test window
    is forecast from its lookback alone, filtered with the fitted parameters.

    Each ``(p, d, q)`` of ``orders`` is fitted by maximum likelihood (statsmodels' state-space
    ARIMA) with a constant (d = 0) or a drift (d = 1); the converged fit with the lowest AIC is
    kept (the lowest AIC of all fits when none converged). Its parameters are then applied to
    every test window's past (Kalman filter from the model's own initial state), and the horizon
    forecast from there. Non-seasonal: a seasonal ARIMA with a 48- or 52-step season was too slow
    to fit within the time budget.

    Args:
        splits: a forecasting dataset (``convrec.data.forecasting``).
        orders: the ``(p, d, q)`` grid.
        max_fit_steps: fit on at most the last this many training steps (only elecdemand's
            12,264 are more; its last 2,500 steps are 52 days).

    Returns:
        ``mae`` and ``rmse`` over every test window and step, the chosen ``order``, its ``aic``
        and the number of ``windows``.

    Example:
        >>> arima(load_dataset("sunspots"))["order"]  # doctest: +SKIP
    """
    positive_int("arima", "max_fit_steps", max_fit_steps)
    series = _training_series(splits)[-max_fit_steps:]
    past, future = _windows(splits, "test")
    unknown = np.full(future.shape[1], np.nan)
    # One BLAS thread: statsmodels' small matrix products ran several times slower on two; its
    # warnings (starting values, convergence) are expected over a grid and judged by AIC.
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="statsmodels")
        fits = [
            ARIMA(series, order=order, trend="c" if order[1] == 0 else "t").fit()
            for order in orders
        ]
        converged = [fit for fit in fits if fit.mle_retvals["converged"]] or fits
        best = min(converged, key=lambda fit: fit.aic)
        # The one-step predictions over missing values are the multi-step forecasts.
        forecasts = np.stack(
            [
                best.apply(np.concatenate([window, unknown])).fittedvalues[-len(unknown) :]
                for window in past
            ]
        )
    order = "({}, {}, {})".format(*best.model.order)
    return {**_errors(splits, forecasts, future), "order": order, "aic": f"{best.aic:.1f}"}


@dataclass(frozen=True)
class _OrderTable:
    """One order of a Kneser-Ney model: n-grams of ``length`` characters and their contexts.

    Attributes:
        grams: sorted codes of the n-grams seen, ``(G,)``.
        counts: their counts ``(G,)``: raw at the highest order, else continuation counts.
        contexts: sorted codes of their ``(length - 1)``-character contexts, ``(H,)``.
        totals: per context, the sum of its n-grams' counts, ``(H,)``.
        backoff: per context, the mass its discounts free, ``D1 N1 + D2 N2 + D3 N3+``, ``(H,)``.
        discounts: ``(0, D1, D2, D3+)``, by count.
    """

    grams: np.ndarray
    counts: np.ndarray
    contexts: np.ndarray
    totals: np.ndarray
    backoff: np.ndarray
    discounts: np.ndarray


def _discounts(counts: np.ndarray) -> np.ndarray:
    """Chen and Goodman's modified Kneser-Ney discounts ``(0, D1, D2, D3+)`` from the counts of
    counts, ``Dc = c - (c + 1) Y n[c+1] / n[c]`` with ``Y = n1 / (n1 + 2 n2)``; a discount the
    counts leave undefined or outside (0, c] (too few n-grams) falls back to c / 2."""
    n = np.bincount(np.minimum(counts, 5), minlength=6).astype(np.float64)  # n[c]: count c seen
    with np.errstate(divide="ignore", invalid="ignore"):
        y = n[1] / (n[1] + 2 * n[2])
        estimates = np.array([c - (c + 1) * y * n[c + 1] / n[c] for c in (1, 2, 3)])
    cap = np.array([1.0, 2.0, 3.0])
    valid = np.isfinite(estimates) & (estimates > 0) & (estimates <= cap)
    return np.concatenate([[0.0], np.where(valid, estimates, cap / 2)])


def _order_table(grams: np.ndarray, counts: np.ndarray, base: int) -> _OrderTable:
    discounts = _discounts(counts)
    contexts, inverse = np.unique(grams // base, return_inverse=True)
    return _OrderTable(
        grams,
        counts,
        contexts,
        np.bincount(inverse, weights=counts),
        np.bincount(inverse, weights=discounts[np.minimum(counts, 3)]),
        discounts,
    )


def _gram_codes(stream: np.ndarray, length: int, base: int) -> np.ndarray:
    """Code ``sum_j stream[t - j] * base**j`` of the ``length`` characters ending at each
    position ``t`` of ``stream (T,)``; -1 where fewer than ``length`` characters end there."""
    codes = np.zeros(len(stream), dtype=np.int64)
    for j in range(length):
        codes[j:] += stream[: len(stream) - j] * base**j
    codes[: length - 1] = -1
    return codes


class KneserNey:
    """Interpolated modified Kneser-Ney character n-gram model (Chen and Goodman, 1998):

    ``P(w | h) = (max(c(hw) - D(c(hw)), 0) + gamma(h) P(w | h')) / c(h)``, with ``h'`` the
    context ``h`` without its first character, ``gamma(h) = D1 N1(h.) + D2 N2(h.) + D3 N3+(h.)``
    and counts ``c`` raw at the highest order, continuation counts (distinct left extensions)
    below; an unseen context backs off to ``P(w | h')``; below the unigram, the uniform
    ``1 / vocabulary_size``. The probabilities sum to 1 over the vocabulary for every context.

    Build it with :meth:`fit_orders`.

    Example:
        >>> [model] = KneserNey.fit_orders(np.array([2, 3, 4] * 50), [3], vocabulary_size=5)
        >>> float(model.distribution([2, 3]).sum()), int(model.distribution([2, 3]).argmax())
        (1.0, 4)
    """

    def __init__(self, tables: list[_OrderTable], vocabulary_size: int) -> None:
        self.tables, self.vocabulary_size = tables, vocabulary_size

    @property
    def order(self) -> int:
        return len(self.tables)

    @classmethod
    def fit_orders(
        cls, stream: np.ndarray, orders: Sequence[int], vocabulary_size: int
    ) -> list[KneserNey]:
        """One model per order of ``orders`` over a training ``stream`` ``(T,)`` of ids in
        ``[0, vocabulary_size)``, sharing the counts (the continuation counts of an order are
        the same in every model above it)."""
        for order in orders:
            positive_int("KneserNey", "order", order)
        positive_int("KneserNey", "vocabulary_size", vocabulary_size)
        top = max(orders)
        if vocabulary_size**top >= 2**62:
            raise fail(
                "KneserNey",
                "order",
                f"n-gram codes within 62 bits: vocabulary_size ** order < 2 ** 62 "
                f"(order <= {int(62 / math.log2(vocabulary_size))} for {vocabulary_size} ids)",
                top,
            )
        if stream.ndim != 1 or len(stream) < top or stream.min() < 0:
            raise fail("KneserNey", "stream", f"ids (T,) with T >= order = {top}", stream.shape)
        if stream.max() >= vocabulary_size:
            raise fail("KneserNey", "stream", f"ids below {vocabulary_size}", int(stream.max()))
        stream = stream.astype(np.int64)
        seen = {
            length: np.unique(
                _gram_codes(stream, length, vocabulary_size)[length - 1 :], return_counts=True
            )
            for length in sorted(set(range(2, top + 1)) | set(orders))
        }
        continuation = [
            _order_table(
                *np.unique(seen[length + 1][0] % vocabulary_size**length, return_counts=True),
                vocabulary_size,
            )
            for length in range(1, top)
        ]
        return [
            cls(
                [*continuation[: order - 1], _order_table(*seen[order], vocabulary_size)],
                vocabulary_size,
            )
            for order in orders
        ]

    def _probabilities(self, histories: np.ndarray, words: np.ndarray) -> np.ndarray:
        """``P(words[i] | history i)``; ``histories (order, Q)``: row k holds the code of the
        last k characters of each history, -1 where it is shorter."""
        probabilities = np.full(len(words), 1.0 / self.vocabulary_size)
        for table, contexts in zip(self.tables, histories, strict=True):
            slot = np.minimum(np.searchsorted(table.contexts, contexts), len(table.contexts) - 1)
            seen = table.contexts[slot] == contexts
            grams = contexts * self.vocabulary_size + words
            gram_slot = np.minimum(np.searchsorted(table.grams, grams), len(table.grams) - 1)
            counts = np.where(table.grams[gram_slot] == grams, table.counts[gram_slot], 0)
            discounted = np.maximum(counts - table.discounts[np.minimum(counts, 3)], 0)
            interpolated = (discounted + table.backoff[slot] * probabilities) / table.totals[slot]
            probabilities = np.where(seen, interpolated, probabilities)
        return probabilities

    def log2_probabilities(self, stream: np.ndarray) -> np.ndarray:
        """``log2 P(stream[t] | stream[:t])``, t = 1 .. T - 1, of ``stream (T,)``: ``(T - 1,)``."""
        stream = stream.astype(np.int64)
        histories = np.stack(
            [np.zeros(len(stream) - 1, dtype=np.int64)]
            + [_gram_codes(stream, k, self.vocabulary_size)[:-1] for k in range(1, self.order)]
        )
        return np.log2(self._probabilities(histories, stream[1:]))

    def distribution(self, history: Sequence[int]) -> np.ndarray:
        """``P(w | history)`` for every id w: ``(vocabulary_size,)``."""
        recent = np.asarray(history, dtype=np.int64)[::-1]  # the last character first
        codes = [
            int(recent[:k] @ self.vocabulary_size ** np.arange(k)) if k <= len(recent) else -1
            for k in range(self.order)
        ]
        histories = np.repeat(np.array(codes)[:, None], self.vocabulary_size, axis=1)
        return self._probabilities(histories, np.arange(self.vocabulary_size))


def _token_stream(dataset: Dataset) -> np.ndarray:
    """The stream behind consecutive next-token windows: the first input id, then every target."""
    inputs, targets = _stack(dataset)
    return np.concatenate([inputs[0, :1], targets.reshape(-1)]).astype(np.int64)


def char_ngram(splits: Splits, orders: Sequence[int] = NGRAM_ORDERS) -> Result:
    """Interpolated modified Kneser-Ney character n-gram model (:class:`KneserNey`), the order
    chosen by bits per character on the validation stream.

    Each split's windows are joined back into its stream; every test target character is scored
    given the test characters before it (up to ``order - 1`` of them).

    Returns:
        ``bits_per_char`` on the test stream, the chosen ``order`` and its
        ``validation`` bits per character.

    Example:
        >>> char_ngram(load_dataset("char-corpus"))["bits_per_char"]  # doctest: +SKIP
    """
    if splits.tokenizer is None:
        raise fail("char_ngram", "splits", "a token dataset with a tokenizer", splits.name)
    vocabulary_size = len(splits.tokenizer)
    train, validation = _token_stream(splits.train), _token_stream(splits.validation)
    best_bits, best = math.inf, None
    for model in KneserNey.fit_orders(train, orders, vocabulary_size):
        bits = -model.log2_probabilities(validation).mean()
        if bits < best_bits:
            best_bits, best = bits, model
    return {
        "bits_per_char": float(-best.log2_probabilities(_token_stream(splits.test)).mean()),
        "order": best.order,
        "validation": f"bits_per_char {best_bits:.4f}",
    }


def nearest_spelling(splits: Splits, chunk: int = 256) -> Result:
    """Grapheme to phoneme by the nearest neighbour: each test word gets the (first) pronunciation
    of the training word at the smallest Levenshtein distance in letters (ties: the first of the
    spellings sorted as letter ids), scored as the g2p recipe scores a network.

    Returns:
        ``wer`` and ``per`` on the test words, and the ``exact`` share of test words whose
        nearest training word is at distance 0 (none: the split is by word).
    """
    from rapidfuzz.distance import Levenshtein
    from rapidfuzz.process import cdist

    from convrec.tasks.sequence_errors import error_rates

    if not hasattr(splits.test, "alternatives"):
        raise fail(
            "nearest_spelling", "splits", "the cmudict splits (a Lexicon test set)", splits.name
        )
    pronunciation: dict[tuple[int, ...], list[int]] = {}
    for letters, phonemes in splits.train:  # the first listed pronunciation of each word
        pronunciation.setdefault(tuple(letters.tolist()), phonemes.tolist())
    spellings = sorted(pronunciation)
    queries = [tuple(letters.tolist()) for letters, _ in splits.test]
    predictions, exact = [], 0
    for start in range(0, len(queries), chunk):
        distances = cdist(
            queries[start : start + chunk], spellings, scorer=Levenshtein.distance, workers=-1
        )
        nearest = distances.argmin(axis=1)
        exact += int((distances.min(axis=1) == 0).sum())
        predictions += [pronunciation[spellings[index]] for index in nearest]
    references = [[option.tolist() for option in options] for options in splits.test.alternatives]
    return error_rates(predictions, references) | {"exact": f"{exact} of {len(queries)}"}


def _energy_db(waveform: np.ndarray, hop: int) -> np.ndarray:
    """Each ``hop``-sample block's RMS in dB: ``(S,)`` to ``(ceil(S / hop),)``."""
    blocks = np.pad(waveform, (0, -len(waveform) % hop)).reshape(-1, hop)
    return 10 * np.log10(np.mean(blocks.astype(np.float64) ** 2, axis=1) + 1e-12)


def word_segments(
    energy_db: np.ndarray, threshold_db: float, gap: int = 4, shortest: int = 6
) -> list[tuple[int, int]]:
    """``[start, stop)`` frames of the stretches louder than the recording's noise floor (its
    10th percentile) by ``threshold_db``, stretches fewer than ``gap`` frames apart joined, those
    shorter than ``shortest`` frames dropped.

    Example:
        >>> word_segments(np.array([0, 0, 20, 20, 0, 20, 0, 0, 0, 0, 20, 20, 20.0]), 10, 2, 2)
        [(2, 6), (10, 13)]
    """
    loud = np.concatenate(
        [[False], energy_db > np.percentile(energy_db, 10) + threshold_db, [False]]
    )
    edges = np.flatnonzero(np.diff(loud.astype(np.int8)))
    runs: list[list[int]] = []
    for start, stop in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
        if runs and start - runs[-1][1] < gap:
            runs[-1][1] = stop
        else:
            runs.append([start, stop])
    return [(start, stop) for start, stop in runs if stop - start >= shortest]


def _segment_features(frames: np.ndarray, start: int, stop: int) -> np.ndarray:
    """A word's MFCC frames ``frames[start:stop]`` resampled linearly to
    :data:`SEGMENT_POINTS` time points, with the log of its length: ``(points * F + 1,)``."""
    points = np.linspace(start, min(stop, len(frames)) - 1, SEGMENT_POINTS)
    below = np.floor(points).astype(int)
    above = np.minimum(below + 1, len(frames) - 1)
    weight = (points - below)[:, None]
    resampled = frames[below] * (1 - weight) + frames[above] * weight
    return np.concatenate([resampled.ravel(), [np.log(stop - start)]])


def segment_and_classify(splits: Splits) -> Result:
    """Connected digits the way isolated-word recognisers read them: cut each recording into
    words where its energy rises above the noise floor, then classify each word's MFCCs (the
    recipe's front end, resampled to a fixed number of frames) by logistic regression.

    The classifier trains on the words of the training recordings cut into exactly as many
    words as they hold digits; the energy threshold (:data:`SEGMENT_THRESHOLDS_DB`), the longest
    pause inside a word (:data:`SEGMENT_GAPS`) and C (:data:`SEGMENT_C_GRID`) are chosen by the
    validation digit error rate.

    Returns:
        ``der`` and ``string_accuracy`` on the test recordings, as the digit-strings recipe
        scores a network; the chosen threshold and C; the share of training recordings cut right.
    """
    from convrec.tasks.sequence_errors import error_rates
    from convrec.tasks.speech_recognition import DigitStrings

    recipe = DigitStrings()
    hop = recipe.hop_length
    recordings = {}
    for split in ("train", "validation", "test"):
        dataset = getattr(splits, split)
        recordings[split] = [
            (recipe.features(waveform).numpy(), _energy_db(waveform.numpy(), hop), digits.tolist())
            for waveform, digits in (dataset[index] for index in range(len(dataset)))
        ]

    def cut(split: str, threshold: float, gap: int) -> list[list[np.ndarray]]:
        return [
            [
                _segment_features(frames, *segment)
                for segment in word_segments(energy, threshold, gap)
            ]
            for frames, energy, _ in recordings[split]
        ]

    def scored(model: BaseEstimator, words: list[list[np.ndarray]], split: str) -> Result:
        said = [
            [int(label) for label in model.predict(np.stack(item))] if item else []
            for item in words
        ]
        rates = error_rates(said, [[digits] for _, _, digits in recordings[split]])
        return {"der": rates["per"], "string_accuracy": 1 - rates["wer"]}

    best: tuple | None = None
    with threadpool_limits(1):
        for threshold, gap in itertools.product(SEGMENT_THRESHOLDS_DB, SEGMENT_GAPS):
            words = cut("train", threshold, gap)
            right = [
                (item, digits)
                for item, (_, _, digits) in zip(words, recordings["train"], strict=True)
                if len(item) == len(digits)
            ]
            features = np.stack([word for item, _ in right for word in item])
            labels = np.array([digit for _, digits in right for digit in digits])
            validation = cut("validation", threshold, gap)
            for c in SEGMENT_C_GRID:
                model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
                model.fit(features, labels)
                der = scored(model, validation, "validation")["der"]
                if best is None or der < best[0]:
                    best = (der, threshold, gap, c, model, len(right) / len(words))
    der, threshold, gap, c, model, share = best
    return scored(model, cut("test", threshold, gap), "test") | {
        "threshold_db": f"{threshold:g}",
        "gap_frames": gap,
        "C": f"{c:g}",
        "validation": f"der {der:.4f}",
        "train_cut_right": f"{share:.3f}",
    }


def _labelled_stream(splits: Splits) -> tuple[np.ndarray, np.ndarray, dict[str, tuple[int, int]]]:
    """The whole series ``(T,)``, its labels ``(T,)`` and each part's ``[start, stop)``."""
    parts = [getattr(splits, split) for split in ("train", "validation", "test")]
    if not all(hasattr(part, "labels") for part in parts):
        raise fail("anomaly baseline", "splits", "a labelled stream's parts", splits.name)
    values = np.concatenate([part.values[:, 0].numpy() for part in parts]).astype(np.float64)
    labels = np.concatenate([part.labels.numpy() for part in parts])
    return values, labels, splits.info["bounds"]


def _anomaly_result(
    splits: Splits,
    score: Callable[[np.ndarray, int], np.ndarray],
    lengths: Sequence[int],
    smooth: int | None,
) -> Result:
    """Score the stream with each of ``lengths`` (a window, a subsequence), smoothed over
    ``smooth`` steps (by default as the series' recipe smooths its networks' scores); keep the
    length with the best validation AUC-PR (the recipe's window where the validation part has
    no anomaly), the threshold chosen on validation as the recipe chooses it; the test part's
    metrics."""
    from convrec.tasks import create_task
    from convrec.tasks.anomaly_scores import average_precision, choose_threshold, score_report
    from convrec.tasks.stream_anomalies import trailing_mean

    recipe = create_task(splits.name)
    values, labels, bounds = _labelled_stream(splits)
    first, last = bounds["validation"]
    labelled = bool(labels[first:last].any())
    best: tuple[float, int, np.ndarray] | None = None
    for length in lengths if labelled else [recipe.window]:
        scores = trailing_mean(score(values, length), smooth or recipe.smooth)
        quality = average_precision(scores[first:last], labels[first:last]) if labelled else 0.0
        if best is None or quality > best[0]:
            best = (quality, length, scores)
    quality, length, scores = best
    threshold = choose_threshold(scores[first:last], labels[first:last])
    start, stop = bounds["test"]
    return score_report(scores[start:stop], labels[start:stop], threshold) | {
        "length": length,
        "validation": f"auc_pr {quality:.4f}" if labelled else "no anomaly: the recipe's window",
    }


def rolling_zscores(values: np.ndarray, window: int) -> np.ndarray:
    """``|x_t - mean| / std`` of each step against the ``window`` steps before it (fewer at the
    start; 0 for the first two steps), the deviation floored at 1e-12.

    Example:
        >>> rolling_zscores(np.array([1.0, 3.0, 1.0, 3.0, 11.0]), 4).round(3).tolist()
        [0.0, 0.0, 1.0, 1.414, 9.0]
    """
    totals = np.cumsum(np.concatenate([[0.0], values]))
    squares = np.cumsum(np.concatenate([[0.0], values**2]))
    steps = np.arange(2, len(values))
    starts = np.maximum(steps - window, 0)
    counts = steps - starts
    mean = (totals[steps] - totals[starts]) / counts
    variance = np.maximum((squares[steps] - squares[starts]) / counts - mean**2, 0.0)
    scores = np.zeros(len(values))
    scores[2:] = np.abs(values[2:] - mean) / np.maximum(np.sqrt(variance), 1e-12)
    return scores


def rolling_zscore(splits: Splits, smooth: int | None = None) -> Result:
    """Each step's deviation from the mean of the steps before it, in their standard
    deviations (:func:`rolling_zscores`); the window (:data:`ZSCORE_WINDOWS`) chosen on
    validation. Online: a step is scored from its past alone."""
    return _anomaly_result(splits, rolling_zscores, ZSCORE_WINDOWS, smooth)


def discord_scores(values: np.ndarray, length: int) -> np.ndarray:
    """The matrix profile (``stumpy.stump``: each subsequence of ``length`` steps' z-normalised
    distance to its nearest neighbour elsewhere in the series); a step's score is the highest
    profile value of the subsequences holding it. The neighbours come from the whole series,
    future included."""
    import stumpy

    profile = stumpy.stump(values, length)[:, 0].astype(np.float64)
    windows = np.lib.stride_tricks.sliding_window_view(
        np.pad(profile, (length - 1, length - 1), constant_values=-np.inf), length
    )
    return windows.max(axis=1)


def matrix_profile(splits: Splits, smooth: int | None = None) -> Result:
    """Discords of the matrix profile (Yeh et al. 2016) by ``stumpy`` (:func:`discord_scores`);
    the subsequence length (:data:`DISCORD_LENGTHS`) chosen on validation."""
    return _anomaly_result(splits, discord_scores, DISCORD_LENGTHS, smooth)


ANOMALY_BASELINES = [("rolling z-score", rolling_zscore), ("matrix profile", matrix_profile)]


FORECASTING = [
    ("naive", partial(seasonal_naive, season=1)),
    ("seasonal naive", seasonal_naive),
    ("arima", arima),
]

BASELINES: dict[str, list[tuple[str, Callable[[Splits], Result]]]] = {
    "reviews": [("tfidf logistic", tfidf_logistic)],
    "dna": [("4-mer logistic", kmer_logistic)],
    "italy-power": [("1-NN euclidean", nearest_series)],
    **{name: FORECASTING for name in SEASONS},
    "char-corpus": [("kneser-ney n-gram", char_ngram)],
    "cmudict": [("nearest spelling", nearest_spelling)],
    "digit-strings": [("segment and classify", segment_and_classify)],
    **{
        name: ANOMALY_BASELINES
        for name in ("ecg-anomalies", "yahoo-anomalies", "elecdemand-anomalies")
    },
}
"""Dataset name to its baselines, each a ``(name, function of Splits)`` pair."""

ENSEMBLE_BASELINES: dict[str, list[tuple[str, Callable[[Splits], tuple]]]] = {
    "reviews": [("tfidf logistic", tfidf_logistic_probabilities)],
}
"""Dataset name to baselines that give test probabilities and labels, for ensembles of baselines
built as the zoo builds ensembles of networks: one per member seed's splits, probabilities
averaged."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "names", nargs="*", help=f"datasets (default: all of {', '.join(BASELINES)})"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the validation split")
    parser.add_argument("--json", help="also save every result, with the revision, to this file")
    arguments = parser.parse_args()
    for name in arguments.names:
        if name not in BASELINES:
            parser.error(str(unknown_name("dataset", name, list(BASELINES))))
    # Imported here so that the functions above load from this file's path alone.
    from provenance import revision

    console = Console()
    console.width = max(console.width, 150)
    versions = ", ".join(
        f"{module.__name__} {module.__version__}" for module in (np, sklearn, statsmodels)
    )
    measured_revision = revision()
    console.print(f"date {date.today()}, revision {measured_revision}, {versions}")
    console.print(f"machine {platform.machine()}, {os.cpu_count()} cores")
    console.print(f"command: python {' '.join(sys.argv)}; every baseline is deterministic: one run")
    table = Table("dataset", "baseline", "test metrics", "choices", "wall s", "cpu s")
    results = []
    for name in arguments.names or BASELINES:
        splits = load_dataset(name, seed=arguments.seed)
        for baseline, function in BASELINES[name]:
            start, start_cpu = time.perf_counter(), time.process_time()
            result = function(splits)
            seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - start_cpu
            console.print(f"{name} / {baseline}: {seconds:.1f} s, cpu {cpu_seconds:.1f} s")
            table.add_row(
                name,
                baseline,
                ", ".join(f"{key} {v:.4g}" for key, v in result.items() if isinstance(v, float)),
                ", ".join(f"{key} {v}" for key, v in result.items() if not isinstance(v, float)),
                f"{seconds:.1f}",
                f"{cpu_seconds:.1f}",
            )
            results.append(
                {
                    "dataset": name,
                    "baseline": baseline,
                    **result,
                    "seconds": seconds,
                    "cpu_seconds": cpu_seconds,
                }
            )
    console.print(table)
    if arguments.json:
        with open(arguments.json, "w") as handle:
            json.dump(
                {"revision": measured_revision, "command": sys.argv, "results": results}, handle
            )


if __name__ == "__main__":
    main()
