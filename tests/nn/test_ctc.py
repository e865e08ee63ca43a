"""CTC decoding against its definition: greedy decoding is the collapse of the best path; prefix
beam search, with a beam wide enough, finds the labelling of highest probability summed over
every path (enumerated here), and its score is PyTorch's CTC loss of that labelling."""

import itertools
import math
from collections import defaultdict

import pytest
import torch
import torch.nn.functional as F

from convrec.errors import InvalidValueError
from convrec.nn.ctc import ctc_greedy_decode, ctc_prefix_beam_search


def collapse(path, blank):
    merged = [
        symbol for index, symbol in enumerate(path) if index == 0 or symbol != path[index - 1]
    ]
    return tuple(symbol for symbol in merged if symbol != blank)


def labelling_probabilities(log_probs, blank):
    """p(l | x) of every labelling, by summing over all C^T paths."""
    frames, classes = log_probs.shape
    totals = defaultdict(float)
    for path in itertools.product(range(classes), repeat=frames):
        score = sum(float(log_probs[t, symbol]) for t, symbol in enumerate(path))
        totals[collapse(path, blank)] += math.exp(score)
    return totals


def random_log_probs(generator, frames, classes, sharpness=2.0):
    return (
        torch.randn(frames, classes, generator=generator, dtype=torch.float64) * sharpness
    ).log_softmax(-1)


def test_greedy_decoding_merges_repeats_then_drops_blanks():
    ids = torch.tensor([1, 1, 0, 1, 2, 2, 0, 0, 2, 1])
    log_probs = F.one_hot(ids, 3).double().add(0.1).log()
    assert ctc_greedy_decode(log_probs) == [1, 1, 2, 2, 1]
    assert ctc_greedy_decode(log_probs, blank=2) == [1, 0, 1, 0, 1]
    assert ctc_greedy_decode(log_probs[:3]) == [1]


@pytest.mark.parametrize(("frames", "classes", "blank"), [(5, 3, 0), (4, 4, 0), (6, 3, 2)])
def test_a_wide_beam_finds_the_most_probable_labelling_over_all_paths(frames, classes, blank):
    generator = torch.Generator().manual_seed(frames * 10 + classes)
    for _ in range(5):
        log_probs = random_log_probs(generator, frames, classes)
        totals = labelling_probabilities(log_probs, blank)
        best = max(totals, key=totals.get)
        labels, score = ctc_prefix_beam_search(log_probs, beam_size=10_000, blank=blank)
        assert tuple(labels) == best
        assert score == pytest.approx(math.log(totals[best]), abs=1e-9)


def test_the_beam_score_is_minus_the_ctc_loss_of_the_labelling_or_below_for_a_narrow_beam():
    generator = torch.Generator().manual_seed(3)
    for frames, beam_size, exact in ((8, 100_000, True), (30, 16, False)):
        log_probs = random_log_probs(generator, frames, 4, sharpness=3.0)
        labels, score = ctc_prefix_beam_search(log_probs, beam_size=beam_size)
        assert labels, "a sharp random posterior gives a non-empty labelling"
        loss = F.ctc_loss(
            log_probs[:, None],
            torch.tensor([labels]),
            torch.tensor([frames]),
            torch.tensor([len(labels)]),
            reduction="sum",
        )
        if exact:
            assert score == pytest.approx(-loss.item(), abs=1e-9)
        else:  # paths through pruned prefixes are missing from the score
            assert score <= -loss.item() + 1e-9


def test_the_beam_beats_the_best_path_where_paths_of_one_labelling_add_up():
    # best path 1 - 1 (0.486); the six paths of [1] add up to 0.508
    log_probs = torch.tensor([[0.1, 0.9], [0.6, 0.4], [0.1, 0.9]]).log()
    assert ctc_greedy_decode(log_probs) == [1, 1]
    labels, score = ctc_prefix_beam_search(log_probs, beam_size=4)
    assert labels == [1] and math.exp(score) == pytest.approx(0.508)


def test_all_blank_posteriors_decode_to_nothing():
    log_probs = torch.tensor([[0.97, 0.01, 0.02]] * 4).log()
    assert ctc_greedy_decode(log_probs) == []
    assert ctc_prefix_beam_search(log_probs)[0] == []


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ctc_greedy_decode(torch.zeros(4)), "log_probs"),
        (lambda: ctc_greedy_decode(torch.zeros(4, 1)), "C >= 2"),
        (lambda: ctc_greedy_decode(torch.zeros(4, 3), blank=3), "blank"),
        (lambda: ctc_prefix_beam_search(torch.zeros(4, 3), beam_size=0), "beam_size"),
        (lambda: ctc_prefix_beam_search(torch.zeros(4, 3), blank=-1), "blank"),
        (lambda: ctc_prefix_beam_search(torch.zeros(0, 3)), "T >= 1"),
        (lambda: ctc_greedy_decode(torch.full((2, 3), float("nan"))), "without NaN"),
    ],
)
def test_bad_arguments_are_refused_by_name(call, message):
    with pytest.raises(InvalidValueError, match=message):
        call()
