"""The classical baselines of ``benchmarks/baselines.py`` on tiny synthetic splits: each learns what
a toy problem makes easy, and the n-gram model is a proper distribution."""

import math
from types import ModuleType

import numpy as np
import pytest
import torch

from convrec.data.datasets import available_datasets
from convrec.data.forecasting import chronological_ends, windowed
from convrec.data.splits import Pairs, Splits
from convrec.data.text import TokenWindows
from convrec.data.tokenizers import Tokenizer
from tests.benchmarks.scripts import load_script


@pytest.fixture(scope="module")
def baselines() -> ModuleType:
    return load_script("baselines")


def _classification(name, make_item, sizes=(200, 60, 60), info=None):
    """Splits of ``make_item(label, rng)`` items, labels alternating 0 and 1."""
    rng = np.random.default_rng(0)
    parts = []
    for size in sizes:
        labels = np.arange(size) % 2
        inputs = [make_item(int(label), rng) for label in labels]
        parts.append(Pairs(inputs, torch.from_numpy(labels)))
    return Splits(name, *parts, classes=("zero", "one"), info=info or {})


def _metrics(result):
    """The test metrics of a result: its float values (the harness reads them so)."""
    return {key for key, value in result.items() if isinstance(value, float)}


def test_every_baseline_names_a_registered_dataset(baselines):
    assert set(baselines.BASELINES) <= set(available_datasets())
    assert set(baselines.SEASONS) <= set(baselines.BASELINES)


def test_tfidf_logistic_separates_documents_by_a_word(baselines):
    def review(label, rng):
        noise = rng.integers(4, 40, rng.integers(5, 15))
        return torch.from_numpy(np.r_[noise, 2 + label, noise[:3]])

    splits = _classification("reviews", review)
    result = baselines.tfidf_logistic(splits)
    assert result["accuracy"] >= 0.95 and _metrics(result) == {"accuracy"}
    assert result["C"] in {f"{c:g}" for c in baselines.C_GRID}
    probabilities, labels = baselines.tfidf_logistic_probabilities(splits)
    assert probabilities.shape == (60, 2) and np.allclose(probabilities.sum(axis=1), 1)
    assert np.mean(probabilities.argmax(axis=1) == labels) == result["accuracy"]
    assert labels.tolist() == [0, 1] * 30


def test_kmer_counts_by_hand(baselines):
    # ACGTA: AC CG GT TA, forward strand; AC and GT are reverse complements of each other.
    sequence = np.array([[0, 1, 2, 3, 0]])
    forward = baselines.kmer_counts(sequence, k=2, both_strands=False)
    assert forward.shape == (1, 16)
    assert forward[0, [1, 6, 11, 12]].tolist() == [1, 1, 1, 1] and forward.sum() == 4
    both = baselines.kmer_counts(sequence, k=2, both_strands=True)
    assert both.shape == (1, 10) and sorted(both[0][both[0] > 0].tolist()) == [1, 1, 2]
    assert baselines.kmer_counts(np.zeros((3, 9), dtype=int), k=4).shape == (3, 136)
    with_unknown = baselines.kmer_counts(np.array([[0, 0, 4, 0, 0, 0]]), k=2)
    assert with_unknown.sum() == 3


def test_kmer_counts_rejects_short_sequences(baselines):
    with pytest.raises(ValueError, match=r"kmer_counts: .*`sequences`.*T >= k = 4, got \(2, 3\)"):
        baselines.kmer_counts(np.zeros((2, 3), dtype=int), k=4)


def test_kmer_logistic_finds_a_planted_kmer(baselines):
    def sequence(label, rng):
        bases = rng.integers(0, 4, 40)
        if label:
            for start in (5, 18, 30):
                bases[start : start + 4] = [2, 2, 2, 2]  # GGGG
        return torch.from_numpy(bases)

    splits = _classification("dna", sequence, info={"one_hot": False})
    result = baselines.kmer_logistic(splits)
    assert result["accuracy"] >= 0.9 and _metrics(result) == {"accuracy"}


def test_nearest_series_matches_shapes_whatever_their_level_and_scale(baselines):
    """A rising ramp against a falling one, each test series at another level and scale:
    z-normalised, the nearest neighbour is the ramp of the same direction."""

    def series(label, rng):
        ramp = np.linspace(-1, 1, 24) * (1 if label else -1) + rng.normal(0, 0.3, 24)
        return torch.from_numpy(rng.uniform(1, 50) * ramp + rng.uniform(-100, 100))[:, None]

    result = baselines.nearest_series(_classification("italy-power", series, (10, 4, 60)))
    assert result["accuracy"] == 1.0 and result["neighbours"] == 14
    assert _metrics(result) == {"accuracy"}


def _forecasting(values, lookback, horizon):
    ends = chronological_ends("toy", len(values), 0.2, 0.2)
    return windowed("toy", values[:, None], ("y",), "y", lookback, horizon, ends)


def test_seasonal_naive_is_exact_on_a_periodic_series(baselines):
    pattern = np.array([3.0, 5.0, 4.0, 9.0, 1.0, 2.0, 7.0])
    splits = _forecasting(np.tile(pattern, 60) * 10 + 100, lookback=14, horizon=10)
    result = baselines.seasonal_naive(splits, season=7)
    assert result["mae"] < 1e-4 and result["rmse"] < 1e-4 and _metrics(result) == {"mae", "rmse"}
    assert result["season"] == 7 and result["windows"] == len(splits.test)
    persistence = baselines.seasonal_naive(splits, season=20)
    assert persistence["season"] == 1 and persistence["mae"] > 10


def test_arima_beats_the_mean_on_an_ar1_series(baselines):
    rng = np.random.default_rng(0)
    values = np.zeros(600)
    for step in range(1, len(values)):
        values[step] = 0.8 * values[step - 1] + rng.normal()
    splits = _forecasting(values, lookback=20, horizon=1)
    result = baselines.arima(splits, orders=[(0, 0, 1), (1, 0, 0)])
    future = np.stack([future.numpy() for _, future in splits.test])
    mean_mae = np.abs(future).mean() * splits.info["std"][0]
    assert result["order"] == "(1, 0, 0)" and _metrics(result) == {"mae", "rmse"}
    assert result["mae"] < 0.8 * mean_mae  # one-step error 0.6 of the mean's, in theory


def _text_splits(text):
    tokenizer = Tokenizer.build([text], "char")
    third = len(text) // 3
    parts = [text[:third], text[third : 2 * third], text[2 * third :]]
    windows = [TokenWindows(tokenizer.encode(part), 16) for part in parts]
    return Splits("text", *windows, tokenizer=tokenizer)


def test_char_ngram_learns_a_repetitive_text(baselines):
    splits = _text_splits("the cat sat on the mat. " * 60)
    result = baselines.char_ngram(splits, orders=[2, 3, 4])
    assert result["bits_per_char"] < 0.5 < math.log2(len(splits.tokenizer))
    assert result["order"] in (2, 3, 4) and _metrics(result) == {"bits_per_char"}


def test_kneser_ney_distributions_sum_to_one(baselines):
    rng = np.random.default_rng(0)
    stream = np.r_[np.tile([2, 3, 4, 5], 30), rng.integers(2, 9, 200)]
    models = baselines.KneserNey.fit_orders(stream, [1, 3, 5], vocabulary_size=10)
    for model in models:
        for history in ([], [2], [2, 3, 4, 5], [9, 9, 9, 9], [0, 1, 5, 4]):
            distribution = model.distribution(history)
            assert distribution.shape == (10,) and (distribution > 0).all()
            assert distribution.sum() == pytest.approx(1.0, abs=1e-12)
    assert models[2].distribution([2, 3, 4, 5, 2, 3, 4]).argmax() == 5
    direct = models[2].log2_probabilities(np.array([2, 3, 4, 5, 2]))
    assert direct[-1] == pytest.approx(np.log2(models[2].distribution([2, 3, 4, 5])[2]))


def test_kneser_ney_rejects_an_order_beyond_64_bit_codes(baselines):
    with pytest.raises(ValueError, match=r"within 62 bits.*order <= 9 for 114 ids.*got 10"):
        baselines.KneserNey.fit_orders(np.arange(100) % 114, [10], vocabulary_size=114)


def _tone_strings(rng, count):
    """Recordings of 2-4 'digits', each a 0.2 s tone of its own pitch, 0.1-0.2 s of quiet apart."""
    items = []
    for _ in range(count):
        digits = rng.integers(10, size=rng.integers(2, 5))
        parts = [np.zeros(1600)]
        for digit in digits:
            time = np.arange(3200) / 16_000
            parts += [0.3 * np.sin(2 * np.pi * (300 + 150 * digit) * time)]
            parts += [np.zeros(rng.integers(1600, 3200))]
        waveform = np.concatenate(parts) + 0.003 * rng.standard_normal(sum(map(len, parts)))
        items.append((torch.from_numpy(waveform.astype(np.float32)), torch.from_numpy(digits)))
    return Pairs(*map(list, zip(*items, strict=True)))


def test_word_segments_join_short_pauses_and_drop_clicks(baselines):
    energy = np.array([0, 0, 20, 20, 20, 0, 20, 20, 0, 0, 0, 0, 20, 0, 0, 20, 20, 20, 20, 0.0])
    assert baselines.word_segments(energy, 10, gap=2, shortest=2) == [(2, 8), (15, 19)]
    assert baselines.word_segments(energy, 10, gap=1, shortest=2) == [(2, 5), (6, 8), (15, 19)]
    assert baselines.word_segments(energy, 30, gap=2, shortest=1) == []


def test_segment_and_classify_reads_words_apart_by_their_sound(baselines):
    rng = np.random.default_rng(0)
    splits = Splits("tones", _tone_strings(rng, 60), _tone_strings(rng, 20), _tone_strings(rng, 20))
    result = baselines.segment_and_classify(splits)
    assert result["der"] < 0.05 and result["string_accuracy"] > 0.85, result
    assert result["train_cut_right"] == "1.000"


def _planted_stream():
    from convrec.data.anomalies import labelled_splits
    from tests.tasks.test_stream_anomalies import planted_series

    values, labels = planted_series()
    return labelled_splits("yahoo-anomalies", values[:, None], labels, (400, 650))


def test_rolling_zscore_finds_spikes_in_noise_with_the_window_best_on_validation(baselines):
    from convrec.data.anomalies import labelled_splits
    from convrec.tasks.anomaly_scores import average_precision

    rng = np.random.default_rng(0)
    values, labels = rng.normal(0, 1, 1000), np.zeros(1000, dtype=int)
    for step in (450, 520, 600, 700, 850, 930):
        values[step] += 8.0 * rng.choice([-1, 1])
        labels[step] = 1
    splits = labelled_splits("yahoo-anomalies", values[:, None], labels, (400, 650))
    result = baselines.rolling_zscore(splits)
    assert result["event_recall"] == 1.0 and result["precision"] >= 0.75, result
    quality = {
        window: average_precision(
            baselines.rolling_zscores(values, window)[400:650], labels[400:650]
        )
        for window in baselines.ZSCORE_WINDOWS
    }
    assert quality[result["length"]] == max(quality.values())


@pytest.mark.slow  # stumpy's numba kernels compile for about 45 s in every new process
def test_matrix_profile_scores_a_step_by_the_discords_around_it(baselines):
    values = np.sin(np.arange(400) / 5.0)
    values[200:210] = 0.0  # one flat stretch, unlike any other subsequence
    scores = baselines.discord_scores(values, 16)
    assert scores.shape == (400,) and 185 <= int(np.argmax(scores)) <= 225
    result = baselines.matrix_profile(_planted_stream())
    assert result["event_recall"] > 0.5, result
